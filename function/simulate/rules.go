package simulate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarmrules"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// CloudMonitor's limits for a threshold rule (PutResourceMetricRule):
// SilenceTime defaults to 86400 s and may not be below 3600 s; Times
// defaults to 3; Period defaults to 60 s (alarm-events.md §4).
const (
	DefaultSilence = 86400 * time.Second
	MinSilence     = 3600 * time.Second
	DefaultTimes   = 3
	rulePeriod     = 60 // seconds: the only period a one-minute replay can evaluate
)

// Rule is one CloudMonitor threshold alarm rule on an outbound bandwidth
// metric. Threshold is in the metric's unit: % for the _Percent metrics,
// bit/s for the rate metrics.
type Rule struct {
	Name       string  `json:"name"`
	Metric     string  `json:"metric"`
	Statistic  string  `json:"statistic"`  // Average | Maximum; "" means Average
	Comparison string  `json:"comparison"` // > >= < <=
	Threshold  float64 `json:"threshold"`
	Period     int     `json:"period"`      // seconds; 0 means 60
	Times      int     `json:"times"`       // consecutive periods; 0 means 3
	Silence    int     `json:"silenceTime"` // seconds; 0 means 86400
	NotifyOK   *bool   `json:"notifyOK"`    // send the OK (recovery) notification; nil means true
}

// DefaultRules are the rules `bwctl alarms apply` creates for p
// (alarmrules.For): the saturation alarm and, with scaleDown, the recovery
// alarm, notifying on OK too.
func DefaultRules(p *policy.Policy) []Rule { return DefaultRulesFor(p, PostPaidPayByBandwidth) }

// DefaultRulesFor are DefaultRules for instances billed by b: for an EIP
// billing, the same rules on the EIP's usage (acs_vpc_eip
// net_out.rate_percentage), which the README tells the operator to create.
func DefaultRulesFor(p *policy.Policy, b Billing) []Rule {
	metric := alarmrules.Metric
	if b.EIP() {
		metric = alarm.MetricEIPOutRatePercent
	}
	var rules []Rule
	for _, w := range alarmrules.For(p) {
		r := Rule{Name: "bwas-" + w.Suffix, Metric: metric, Statistic: alarmrules.Statistic, Comparison: w.Comparison,
			Threshold: w.Threshold, Period: alarmrules.Period, Times: w.Times, Silence: alarmrules.Silence}
		_ = r.normalize() // valid by construction (TestDefaultRules)
		rules = append(rules, r)
	}
	return rules
}

// ParseRules reads a JSON array of rules, fills the defaults and checks
// each against CloudMonitor's rules; errors name the rule's index and field.
func ParseRules(r io.Reader) ([]Rule, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("alarm rules: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rules []Rule
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("alarm rules: not a JSON array of rules: %v", err)
	}
	if len(rules) == 0 {
		return nil, errors.New("alarm rules: no rule")
	}
	for i := range rules {
		if err := rules[i].normalize(); err != nil {
			return nil, fmt.Errorf("alarm rules: rule %d: %w", i, err)
		}
	}
	return rules, nil
}

// normalize fills the defaults and validates; DefaultRules go through it too.
func (r *Rule) normalize() error {
	switch r.Metric {
	case alarm.MetricVPCInternetOutRatePercent, alarm.MetricInternetOutRatePercent,
		alarm.MetricVPCInternetOutRate, alarm.MetricInternetOutRate,
		alarm.MetricEIPOutRatePercent, alarm.MetricEIPOutRate:
	default:
		return fmt.Errorf("metric %q is not an outbound bandwidth metric (%s, %s, %s, %s; an EIP's: %s, %s)", r.Metric,
			alarm.MetricVPCInternetOutRatePercent, alarm.MetricInternetOutRatePercent, alarm.MetricVPCInternetOutRate, alarm.MetricInternetOutRate,
			alarm.MetricEIPOutRatePercent, alarm.MetricEIPOutRate)
	}
	if r.Name == "" {
		r.Name = r.Metric + r.Comparison + strconv.FormatFloat(r.Threshold, 'g', -1, 64)
	}
	if r.Statistic == "" {
		r.Statistic = "Average"
	}
	switch {
	case r.Statistic != "Average" && r.Statistic != "Maximum":
		return fmt.Errorf("statistic %q is not Average or Maximum", r.Statistic)
	case r.Statistic == "Maximum" && r.percent():
		return fmt.Errorf("statistic Maximum: %s has Average only", r.Metric)
	}
	switch r.Comparison {
	case ">", ">=", "<", "<=":
	default:
		return fmt.Errorf("comparison %q is not one of > >= < <=", r.Comparison)
	}
	if r.Threshold < 0 || r.Threshold != r.Threshold {
		return fmt.Errorf("threshold %v is not 0 or more", r.Threshold)
	}
	if r.Period == 0 {
		r.Period = rulePeriod
	}
	if r.Period != rulePeriod {
		return fmt.Errorf("period %d: the replay evaluates 60-second periods only", r.Period)
	}
	if r.Times == 0 {
		r.Times = DefaultTimes
	}
	if r.Times < 1 {
		return fmt.Errorf("times %d is below 1", r.Times)
	}
	if r.Silence == 0 {
		r.Silence = int(DefaultSilence / time.Second)
	}
	if time.Duration(r.Silence)*time.Second < MinSilence {
		return fmt.Errorf("silenceTime %d is below CloudMonitor's minimum of %d seconds", r.Silence, int(MinSilence/time.Second))
	}
	if r.NotifyOK == nil {
		yes := true
		r.NotifyOK = &yes
	}
	return nil
}

func (r *Rule) percent() bool {
	return r.Metric == alarm.MetricVPCInternetOutRatePercent || r.Metric == alarm.MetricInternetOutRatePercent ||
		r.Metric == alarm.MetricEIPOutRatePercent
}

// EIP reports whether the rule is on an EIP's metric (namespace
// acs_vpc_eip, dimension instanceId = the EIP's allocation ID).
func (r *Rule) EIP() bool {
	return r.Metric == alarm.MetricEIPOutRatePercent || r.Metric == alarm.MetricEIPOutRate
}

// namespace is the rule's CloudMonitor namespace.
func (r *Rule) namespace() string {
	if r.EIP() {
		return eipNamespace
	}
	return alarmrules.Namespace
}

// eipNamespace is CloudMonitor's namespace of EIP metrics.
const eipNamespace = "acs_vpc_eip"

// holds reports whether the rule's condition holds for value.
func (r *Rule) holds(value float64) bool {
	switch r.Comparison {
	case ">":
		return value > r.Threshold
	case ">=":
		return value >= r.Threshold
	case "<":
		return value < r.Threshold
	}
	return value <= r.Threshold
}

// Value is what the rule's metric reads for a period in which the instance
// sent servedMbps under capMbps: bit/s for a rate, % of the cap for usage.
// The replay's rate is constant within a minute, so Average and Maximum
// are the same number.
func (r *Rule) Value(servedMbps float64, capMbps int) float64 {
	if !r.percent() {
		return servedMbps * 1e6
	}
	if capMbps <= 0 {
		return 0
	}
	return servedMbps / float64(capMbps) * 100
}

// Notification is one alarm notification CloudMonitor sends.
type Notification struct {
	Rule *Rule
	// InstanceID is the alarm's instanceId dimension: the instance, or for
	// an EIP rule the EIP's allocation ID.
	InstanceID string
	State      alarm.State // ALERT or OK
	Value      float64     // the period's value, in the metric's unit
	Time       time.Time   // end of the period that decided it
}

// RuleState is one rule's evaluation state for one instance.
//
// Semantics (CloudMonitor's documentation, alarm-events.md §4): an ALERT
// fires when the condition has held for Times consecutive periods and the
// rule is not alerting; while it keeps holding, the alert is sent again at
// most once per silence period. Assumption, as the documentation does not
// say how many periods clear an alert: the first period in which the
// condition does not hold returns the rule to OK, with an OK notification
// when NotifyOK is set. After OK, Times consecutive periods are needed again.
type RuleState struct {
	streak   int
	alerting bool
	lastSent time.Time
}

// Observe evaluates one period that ended at end and returns the
// notification it sends, if any.
func (s *RuleState) Observe(r *Rule, instanceID string, end time.Time, value float64) (Notification, bool) {
	n := Notification{Rule: r, InstanceID: instanceID, Value: value, Time: end}
	if !r.holds(value) {
		s.streak = 0
		if !s.alerting {
			return n, false
		}
		s.alerting = false
		n.State = alarm.StateOK
		return n, *r.NotifyOK
	}
	s.streak++
	switch {
	case !s.alerting && s.streak >= r.Times:
		s.alerting = true
	case s.alerting && end.Sub(s.lastSent) >= time.Duration(r.Silence)*time.Second:
	default:
		return n, false
	}
	s.lastSent = end
	n.State = alarm.StateAlert
	return n, true
}

// Callback is the alert callback body CloudMonitor would POST for n, as a
// form with the fields of events/callback.json.
func (n Notification) Callback(region, userID string) []byte {
	level, pre := "WARN", "null"
	if n.State == alarm.StateOK {
		level, pre = "OK", "WARN"
	}
	unit := "bit/s"
	if n.Rule.percent() {
		unit = "%"
	}
	ms := strconv.FormatInt(n.Time.UnixMilli(), 10)
	v := url.Values{
		"alertName":       {n.Rule.Name},
		"alertState":      {string(n.State)},
		"curValue":        {strconv.FormatFloat(n.Value, 'f', -1, 64)},
		"dimensions":      {"{userId=" + userID + ", instanceId=" + n.InstanceID + "}"},
		"expression":      {"$" + n.Rule.Statistic + n.Rule.Comparison + strconv.FormatFloat(n.Rule.Threshold, 'g', -1, 64)},
		"metricName":      {n.Rule.Metric},
		"rawMetricName":   {n.Rule.Metric},
		"metricProject":   {n.Rule.namespace()},
		"namespace":       {n.Rule.namespace()},
		"preTriggerLevel": {pre},
		"triggerLevel":    {level},
		"ruleId":          {"sim-" + n.Rule.Name},
		"timestamp":       {ms},
		"transId":         {"sim-" + n.InstanceID + "-" + ms},
		"userId":          {userID},
		"regionId":        {region},
		"unit":            {unit},
	}
	return []byte(v.Encode())
}
