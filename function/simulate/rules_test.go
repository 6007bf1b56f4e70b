package simulate

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
)

func TestDefaultRules(t *testing.T) {
	p := mustPolicy(t, readmeTable)
	rules := DefaultRules(p)
	if len(rules) != 2 || rules[0].Threshold != p.Saturation || rules[0].Comparison != ">=" || rules[1].Comparison != "<" {
		t.Fatalf("rules %+v, want the saturation alarm and the recovery alarm", rules)
	}
	for _, r := range rules {
		if err := r.normalize(); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
		if r.Silence != 3600 || !*r.NotifyOK || r.Period != 60 {
			t.Errorf("%s: silence %d notifyOK %v period %d, want 3600, true, 60 as bwctl creates them", r.Name, r.Silence, *r.NotifyOK, r.Period)
		}
	}
}

// TestRuleSemantics plays value sequences, one per minute, through a rule
// and lists the notifications: ALERT after Times consecutive breaches, no
// repeat within the silence period, a repeat after it, OK on the first
// period that does not breach.
func TestRuleSemantics(t *testing.T) {
	no := false
	for _, c := range []struct {
		name   string
		rule   Rule
		values []float64
		want   string // minute:state, comma separated
	}{
		{"fires after Times consecutive periods", Rule{Comparison: ">=", Threshold: 80, Times: 3}, []float64{80, 90, 85, 99, 99}, "2:ALERT"},
		{"a gap restarts the count", Rule{Comparison: ">=", Threshold: 80, Times: 3}, []float64{80, 90, 79, 85, 99, 99}, "5:ALERT"},
		{"strict comparison", Rule{Comparison: ">", Threshold: 80, Times: 1}, []float64{80, 80.1}, "1:ALERT"},
		{"recovery on the first good period", Rule{Comparison: ">=", Threshold: 80, Times: 1}, []float64{90, 90, 50, 90}, "0:ALERT,2:OK,3:ALERT"},
		{"no OK when notifyOK is off", Rule{Comparison: ">=", Threshold: 80, Times: 1, NotifyOK: &no}, []float64{90, 50, 90}, "0:ALERT,2:ALERT"},
		{"low-usage rule", Rule{Comparison: "<=", Threshold: 20, Times: 2}, []float64{30, 20, 10, 25}, "2:ALERT,3:OK"},
		{"strict low-usage rule", Rule{Comparison: "<", Threshold: 20, Times: 1}, []float64{20, 19}, "1:ALERT"},
		{"repeat after the silence period, not before", Rule{Comparison: ">=", Threshold: 80, Times: 1, Silence: 3600}, repeat(90, 122), "0:ALERT,60:ALERT,120:ALERT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.rule
			r.Metric = alarm.MetricVPCInternetOutRatePercent
			if err := r.normalize(); err != nil {
				t.Fatal(err)
			}
			var st RuleState
			var got []string
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for m, v := range c.values {
				if n, ok := st.Observe(&r, "i-a", start.Add(time.Duration(m+1)*time.Minute), v); ok {
					got = append(got, strconv.Itoa(m)+":"+string(n.State))
				}
			}
			if s := strings.Join(got, ","); s != c.want {
				t.Errorf("notifications %q, want %q", s, c.want)
			}
		})
	}
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestParseRulesErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`[]`, "no rule"},
		{`{}`, "not a JSON array"},
		{`[{"metric":"CPUUtilization","comparison":">=","threshold":1}]`, "rule 0: metric \"CPUUtilization\""},
		{`[{"metric":"InternetOutRate","comparison":"==","threshold":1}]`, "rule 0: comparison \"==\""},
		{`[{"metric":"InternetOutRate","comparison":">","threshold":1},{"metric":"InternetOutRate","comparison":">","threshold":1,"silenceTime":60}]`, "rule 1: silenceTime 60 is below"},
		{`[{"metric":"InternetOutRate_Percent","statistic":"Maximum","comparison":">","threshold":1}]`, "rule 0: statistic Maximum"},
		{`[{"metric":"InternetOutRate","comparison":">","threshold":1,"period":300}]`, "rule 0: period 300"},
		{`[{"metric":"InternetOutRate","comparison":">","threshold":1,"times":-1}]`, "rule 0: times -1"},
		{`[{"metric":"InternetOutRate","comparison":">","threshold":1,"typo":1}]`, "unknown field"},
	} {
		_, err := ParseRules(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRules(%s) = %v, want %q", c.in, err, c.want)
		}
	}
}

// TestCallbackDecodes sends the emulated callback through the real intake.
func TestCallbackDecodes(t *testing.T) {
	rules := DefaultRules(mustPolicy(t, readmeTable))
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, state := range []alarm.State{alarm.StateAlert, alarm.StateOK} {
		n := Notification{Rule: &rules[0], InstanceID: "i-bp1x", State: state, Value: 96, Time: at}
		d, err := alarm.Decode(n.Callback(Region, simUserID), alarm.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a := d.Alarms[0]
		if d.Kind != alarm.KindAlarm || d.Source != "callback-form" || a.InstanceID != "i-bp1x" || a.State != state || a.Value != 96 ||
			a.Metric != alarm.MetricVPCInternetOutRatePercent || a.Unit != "%" || !a.Time.Equal(at) || a.Region != Region || a.Key == "" {
			t.Errorf("decoded %+v %+v", d, a)
		}
	}
	rate := Rule{Metric: alarm.MetricInternetOutRate, Comparison: ">=", Threshold: 8e6}
	if err := rate.normalize(); err != nil {
		t.Fatal(err)
	}
	if v := rate.Value(9, 10); v != 9e6 {
		t.Errorf("rate value = %v, want 9e6 bit/s", v)
	}
	if v := rules[0].Value(9, 10); v != 90 {
		t.Errorf("percent value = %v, want 90", v)
	}
}

// An EIP's rules are on acs_vpc_eip and name the allocation ID; the intake
// decodes them as the EIP's alarms, which the engine maps to the instance.
func TestEIPCallbackDecodes(t *testing.T) {
	p := mustPolicy(t, readmeTable)
	rules := DefaultRulesFor(p, EIPPayByTraffic)
	if len(rules) != len(DefaultRules(p)) {
		t.Fatalf("%d EIP rules, %d instance rules", len(rules), len(DefaultRules(p)))
	}
	for _, r := range rules {
		if r.Metric != alarm.MetricEIPOutRatePercent || !r.EIP() || !r.percent() {
			t.Errorf("EIP rule %+v", r)
		}
	}
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	n := Notification{Rule: &rules[0], InstanceID: AllocationID("i-bp1x"), State: alarm.StateAlert, Value: 96, Time: at}
	d, err := alarm.Decode(n.Callback(Region, simUserID), alarm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := d.Alarms[0]
	if a.Namespace != "acs_vpc_eip" || a.InstanceID != "eip-i-bp1x" || a.Metric != alarm.MetricEIPOutRatePercent || a.Unit != "%" || a.Value != 96 {
		t.Errorf("decoded %+v", a)
	}
	rate := Rule{Metric: alarm.MetricEIPOutRate, Comparison: ">=", Threshold: 8e6, Statistic: "Maximum"}
	if err := rate.normalize(); err != nil || rate.percent() || !rate.EIP() {
		t.Errorf("net_tx.rate rule: %v %+v", err, rate)
	}
	// Rules and billing must agree: an ECS metric says nothing of an EIP.
	tr := &Trace{Start: at, Minutes: 1, Series: []Series{}}
	if _, err := Replay(context.Background(), tr, Config{Policy: p, Billing: EIPPayByBandwidth, Rules: DefaultRules(p)}); err == nil || !strings.Contains(err.Error(), "acs_vpc_eip") {
		t.Errorf("ECS rules on EIPs: %v", err)
	}
	if _, err := Replay(context.Background(), tr, Config{Policy: p, Rules: rules}); err == nil || !strings.Contains(err.Error(), "EIP") {
		t.Errorf("EIP rules on ECS instances: %v", err)
	}
}
