package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
)

// replayPolicy reacts within minutes, so a short trace sees changes both
// ways: no downCooldown beyond ECS's lock.
const replayPolicy = readmeTable + "downCooldown: 5m\n"

// TestReplay replays a flash crowd through the real engine and checks the
// timeline against an independent computation.
func TestReplay(t *testing.T) {
	checkReplay(t, PostPaidPayByBandwidth, nil)
}

// TestReplayEIP replays the flash crowd on EIP-bound VPC instances: the
// engine reads and changes each instance's EIP through the VPC client, the
// alarms are acs_vpc_eip's, and the timeline's cap is the EIP's bandwidth.
func TestReplayEIP(t *testing.T) {
	for _, b := range []Billing{EIPPayByBandwidth, EIPPayByTraffic} {
		t.Run(string(b), func(t *testing.T) {
			var ctls []*engineController
			newCtl := func(cfg ControllerConfig) (Controller, error) {
				c, err := NewController(cfg)
				if err == nil {
					ctls = append(ctls, c.(*engineController))
				}
				return c, err
			}
			res := checkReplay(t, b, newCtl)
			if len(ctls) != 2 {
				t.Fatalf("%d engine controllers, want 2", len(ctls))
			}
			_, internet := b.ChargeTypes()
			for _, c := range ctls {
				for _, in := range c.emu.Instances() {
					if in.EipAddress == nil || in.EipAddress.InternetChargeType != internet || in.InternetMaxBandwidthOut != 0 || len(in.PublicIpAddress) != 0 {
						t.Errorf("%s: %+v with EIP %+v, want a %s EIP and no bandwidth of its own", in.InstanceId, in, in.EipAddress, internet)
					}
				}
				for _, o := range c.emu.Orders() {
					if o.Kind != emulator.KindEIPBandwidth || o.AllocationId != AllocationID(o.InstanceId) {
						t.Errorf("ledger entry %+v is not an EIP change", o)
					}
				}
			}
			alarmsOnly := res.Total[StrategyAlarmsOnly]
			if alarmsOnly.OrdersUp == 0 {
				t.Errorf("alarms-only never raised the EIP: the acs_vpc_eip alarms did not reach it (%+v)", alarmsOnly)
			}
			if res.Total[StrategyPolicy].Cost.Amount <= 0 {
				t.Errorf("the policy's EIP cost nothing: %+v", res.Total[StrategyPolicy].Cost)
			}
			found := false
			for _, n := range res.Notes {
				found = found || strings.Contains(n, "EIP")
			}
			if !found {
				t.Errorf("notes %q do not say the caps are EIPs'", res.Notes)
			}
		})
	}
}

// checkReplay replays the flash crowd with billing b and checks the
// timeline against an independent computation.
func checkReplay(t *testing.T, b Billing, newCtl func(ControllerConfig) (Controller, error)) *Result {
	t.Helper()
	p := mustPolicy(t, replayPolicy)
	tr, err := ParseTrace(bytes.NewReader(examples["flash-crowd"]()))
	if err != nil {
		t.Fatal(err)
	}
	rules := DefaultRulesFor(p, b)
	for i := range rules {
		rules[i].Times = 1
		rules[i].Silence = 3600
	}
	dir := t.TempDir()
	res, err := ReplayToDir(context.Background(), tr, Config{Policy: p, Rules: rules, Billing: b, NewController: newCtl}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Billing != b {
		t.Errorf("billing %s, want %s", res.Billing, b)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %s", w)
	}
	f, err := os.Open(filepath.Join(dir, "timeline.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := ReadTimeline(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != tr.Minutes*len(tr.Series) {
		t.Fatalf("%d rows, want %d", len(rows), tr.Minutes)
	}
	var summary Result
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &summary); err != nil {
		t.Fatal(err)
	}
	id := tr.Series[0].ID
	cur := tr.Series[0].Cursor()
	lo, hi := p.BoundsFor(id)
	prev, lastChange := lo, time.Time{}
	up, down := 0, 0
	var served, demand float64
	for m, row := range rows {
		at, err := time.Parse(time.RFC3339, row["time"])
		if err != nil || !at.Equal(tr.Start.Add(time.Duration(m)*time.Minute)) || row["instanceId"] != id {
			t.Fatalf("row %d: time %q instance %q", m, row["time"], row["instanceId"])
		}
		// The trace keeps float32 demand; the timeline prints it as such.
		d, c, s := number(t, row["demandMbps"]), int(number(t, row["capMbps"])), number(t, row["servedMbps"])
		if want := float64(float32(cur.At(m))); d != want {
			t.Errorf("%s: demand %v, trace says %v", row["time"], d, want)
		}
		if s != float64(float32(math.Min(d, float64(c)))) {
			t.Errorf("%s: served %v, want min(%v, %d)", row["time"], s, d, c)
		}
		if c < lo || c > hi {
			t.Errorf("%s: cap %d outside %d..%d", row["time"], c, lo, hi)
		}
		if c != prev {
			if !lastChange.IsZero() && at.Sub(lastChange) < 5*time.Minute {
				t.Errorf("%s: cap changed %v after the previous change (ECS locks for 5m)", row["time"], at.Sub(lastChange))
			}
			if row["action"] != "scaled" {
				t.Errorf("%s: cap %d -> %d with action %q", row["time"], prev, c, row["action"])
			}
			if c > prev {
				up++
			} else {
				down++
			}
			lastChange = at
		}
		prev = c
		served += s * 60
		demand += d * 60
	}
	got := summary.Instances[0].Strategies[StrategyPolicy]
	if got.OrdersUp != up || got.OrdersDown != down {
		t.Errorf("summary orders %d up / %d down, timeline %d / %d", got.OrdersUp, got.OrdersDown, up, down)
	}
	if up == 0 || down == 0 {
		t.Errorf("the flash crowd should raise and lower the cap: %d up, %d down", up, down)
	}
	if !near(got.ServedMbitSeconds, served) || !near(got.DemandMbitSeconds, demand) {
		t.Errorf("summary served %v of %v, timeline %v of %v", got.ServedMbitSeconds, got.DemandMbitSeconds, served, demand)
	}
	// The fixed strategies, computed without the engine.
	peak := summary.Instances[0].Strategies[StrategyFixedPeak]
	if peak.FixedCapMbps != 100 || peak.OrdersUp != 0 || peak.MinutesSaturated != 0 || !near(peak.ServedFraction, 1) {
		t.Errorf("fixed-peak = %+v, want 100 Mbit/s serving everything", peak)
	}
	start := summary.Instances[0].Strategies[StrategyStartCap]
	if start.FixedCapMbps != 5 || !near(start.CapMbpsHours, 5*float64(tr.Minutes)/60) {
		t.Errorf("start-cap = %+v", start)
	}
	if summary.Best == "" || summary.Total[StrategyPolicy].OrdersUp != up {
		t.Errorf("summary total/best: %+v %q", summary.Total[StrategyPolicy], summary.Best)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("<svg")) || !bytes.Contains(html, []byte(id)) || !bytes.Contains(html, []byte("per unit of cost")) {
		t.Errorf("report.html: %v, %d bytes", err, len(html))
	}
	return res
}

func number(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

// TestReplayLowerBound: a history export is reported as a lower bound.
func TestReplayLowerBound(t *testing.T) {
	in := `{"Period":"60","Datapoints":[{"timestamp":1772409600000,"instanceId":"i-h","Maximum":5000000},{"timestamp":1772409660000,"instanceId":"i-h","Maximum":5000000}]}`
	tr, err := ParseTrace(bytes.NewReader([]byte(in)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Replay(context.Background(), tr, Config{Policy: mustPolicy(t, readmeTable), Billing: PostPaidPayByTraffic})
	if err != nil {
		t.Fatal(err)
	}
	if !res.LowerBound || len(res.Notes) != 3 {
		t.Errorf("lowerBound %v notes %q", res.LowerBound, res.Notes)
	}
}

// benchDays shortens the benchmark's trace, for profiling.
var benchDays = flag.Int("replay-days", 30, "days of trace in BenchmarkReplay30Days100Instances")

// BenchmarkReplay30Days100Instances is the speed target: a 30-day,
// one-minute trace of 100 instances in under a minute on 2 cores.
func BenchmarkReplay30Days100Instances(b *testing.B) {
	if testing.Short() {
		b.Skip("a long benchmark")
	}
	instances, minutes := 100, *benchDays*24*60
	var csv bytes.Buffer
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for m := 0; m < minutes; m += 10 { // demand moves every 10 minutes
		for i := 0; i < instances; i++ {
			v := 2 + 20*math.Max(0, math.Sin(math.Pi*float64(m%1440-360)/720)) + float64(i%7)
			fmt.Fprintf(&csv, "%d,i-bench-%03d,%.1f\n", start.Add(time.Duration(m)*time.Minute).Unix(), i, v)
		}
	}
	tr, err := ParseTrace(bytes.NewReader(csv.Bytes()))
	if err != nil {
		b.Fatal(err)
	}
	tr.Minutes = minutes
	p := mustPolicy(b, readmeTable)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Replay(context.Background(), tr, Config{Policy: p}); err != nil {
			b.Fatal(err)
		}
	}
}
