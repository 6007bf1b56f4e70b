package scaler_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// BenchmarkAlarmCost is the CPU cost of one alarm before any network call:
// decoding the HTTP callback of events/spike.json, reading the state tag and
// deciding, for an instance changed an hour earlier. Goal: under 20 µs and
// 100 allocations per alarm.
func BenchmarkAlarmCost(b *testing.B) {
	payload, err := os.ReadFile(filepath.Join("..", "..", "events", "spike.json"))
	if err != nil {
		b.Fatal(err)
	}
	p, err := policy.Parse([]byte(basePolicy))
	if err != nil {
		b.Fatal(err)
	}
	opts := alarm.Options{DefaultRegion: region}
	first, err := alarm.Decode(payload, opts)
	if err != nil || len(first.Alarms) != 1 {
		b.Fatalf("decode spike.json: %v", err)
	}
	a := first.Alarms[0]
	now := a.Time.Add(30 * time.Second) // the sample's own time: not stale
	inst := decide.Instance{
		ID: a.InstanceID, Region: a.Region, Status: decide.StatusRunning,
		InstanceChargeType: decide.PostPaid, InternetChargeType: decide.PayByBandwidth, NetworkType: "vpc",
		BandwidthOut: 10, PublicIPs: []string{"47.96.1.2"},
		Tags: map[string]string{
			"bandwidth-autoscaler": "enabled",
			state.TagKey:           state.Encode(decide.Record{Cap: 10, From: 5, Since: now.Add(-time.Hour)}),
		},
	}
	reading := decide.Reading{Points: []decide.Point{{Start: now.Add(-3 * time.Minute), Period: time.Minute, Average: 5e6, Maximum: 5e6}}}
	decideOne := func() decide.Decision {
		d, err := alarm.Decode(payload, opts)
		if err != nil {
			b.Fatal(err)
		}
		rec, err := state.Decode(inst.Tags)
		if err != nil {
			b.Fatal(err)
		}
		a := &d.Alarms[0]
		return decide.Decide(decide.Input{Instance: inst, Record: rec, Policy: p, Now: now, Reading: reading, Trigger: decide.ByAlarm, RegionTotal: -1,
			Alarm: &decide.Alarm{Metric: a.Metric, Value: a.Value, State: string(a.State), At: a.Time}})
	}
	// Measure the path that leads to a change, not an early refusal.
	if dec := decideOne(); dec.Action != decide.Scaled || dec.To != 20 {
		b.Fatalf("the sample decides %s to %d (%s), want scaled to 20", dec.Action, dec.To, dec.Reason)
	}
	b.ReportAllocs()
	for b.Loop() {
		decideOne()
	}
}
