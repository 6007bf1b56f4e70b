package decide

import (
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// The table tests below are the specification of the decision core.

const testPolicy = `
table:
  - {upTo: 4,  target: 5}
  - {upTo: 8,  target: 10}
  - {upTo: 16, target: 20}
  - {upTo: 40, target: 50}
  - {upTo: 80, target: 100}
min: 5
instances:
  tag: {key: bandwidth-autoscaler, value: enabled}
`

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func mustPolicy(t *testing.T, extra string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(testPolicy + extra))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func inst(bw int) Instance {
	return Instance{ID: "i-1", Region: "cn-hangzhou", Status: StatusRunning, InstanceChargeType: PostPaid,
		InternetChargeType: PayByBandwidth, NetworkType: "vpc", BandwidthOut: bw,
		Tags: map[string]string{"bandwidth-autoscaler": "enabled"}}
}

// point is a one-minute datapoint at rate Mbit/s that ended ago before t0.
func point(ago time.Duration, rate float64) Point {
	return Point{Start: t0.Add(-ago - time.Minute), Period: time.Minute, Average: rate * 1e6, Maximum: rate * 1e6}
}

func reading(pts ...Point) Reading { return Reading{Points: pts} }

// changed is a record of a change from → to that took effect ago before t0.
func changed(from, to int, ago time.Duration) Record {
	return Record{Stored: true, Cap: to, From: from, Since: t0.Add(-ago)}
}

func percentAlarm(v float64, at time.Time) *Alarm {
	return &Alarm{Metric: MetricVPCPercent, Value: v, State: "ALERT", At: at}
}

type tcase struct {
	name    string
	policy  string
	inst    Instance
	rec     Record
	reading Reading
	trigger Trigger
	alarm   *Alarm
	manual  *Manual
	dry     bool
	total   int
	recErr  string
	unknown string // RegionUnknown
	// want
	action Action
	to     int
	reason string // a substring of the reason
}

func (tc tcase) input(t *testing.T) Input {
	in := tc.inst
	if in.ID == "" {
		in = inst(10)
	}
	total := tc.total
	if total == 0 {
		total = -1
	}
	return Input{Instance: in, Record: tc.rec, Reading: tc.reading, Trigger: tc.trigger, Alarm: tc.alarm, Manual: tc.manual,
		Policy: mustPolicy(t, tc.policy), Now: t0, DryRun: tc.dry, RegionTotal: total, RecordError: tc.recErr, RegionUnknown: tc.unknown}
}

func run(t *testing.T, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.input(t))
			if d.Action != tc.action || d.To != tc.to || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("got %s to %d: %q\nwant %s to %d containing %q", d.Action, d.To, d.Reason, tc.action, tc.to, tc.reason)
			}
			if (d.Change != nil) != (d.Action == Scaled) {
				t.Errorf("change %+v with action %s", d.Change, d.Action)
			}
			if d.Change != nil && (d.Change.Target != d.To || !d.Save || d.Record.Attempt == nil || d.Record.Attempt.To != d.To) {
				t.Errorf("a change must carry its record: change %+v record %+v save %v", d.Change, d.Record, d.Save)
			}
		})
	}
}

func TestClimb(t *testing.T) {
	run(t, []tcase{
		{name: "saturated climbs one row", reading: reading(point(0, 9.8)), action: Scaled, to: 20, reason: "saturated: 1 row(s) up"},
		{name: "a rate above the next row goes straight to its row", inst: inst(5), reading: reading(point(0, 30)), action: Scaled, to: 50},
		{name: "not saturated, table row is the cap", reading: reading(point(0, 7)), action: Unchanged, to: 10, reason: "already there"},
		{name: "still saturated after an increase skips a row", rec: changed(5, 10, 10*time.Minute), reading: reading(point(0, 9.9)), action: Scaled, to: 50, reason: "2 row(s) up"},
		{name: "PayByTraffic climbs bolder", inst: func() Instance { i := inst(10); i.InternetChargeType = PayByTraffic; return i }(), reading: reading(point(0, 9.9)), action: Scaled, to: 50, reason: "2 row(s) up"},
		{name: "maxStepUp slows it", policy: "maxStepUp: 1\n", inst: inst(5), reading: reading(point(0, 30)), action: Scaled, to: 10, reason: "maxStepUp 1"},
		{name: "policy max caps it", policy: "max: 50\n", inst: inst(50), reading: reading(point(0, 50)), action: Unchanged, to: 50},
		{name: "within the cooldown it waits", rec: changed(5, 10, 2*time.Minute), reading: reading(point(0, 9.9)), action: Deferred, to: 10, reason: "cooldown"},
		{name: "no reading, nothing to judge", action: Unchanged, to: 10, reason: "no datapoint"},
		{name: "a datapoint older than the ECS lock does not decide", reading: reading(point(6*time.Minute, 9.9)), action: Unchanged, to: 10, reason: "no fresh reading: CloudMonitor's newest datapoint ended 6m ago"},
		{name: "not selected", inst: func() Instance { i := inst(10); i.Tags = nil; return i }(), action: Ignored, to: 10, reason: "instances.tag is bandwidth-autoscaler=enabled"},
		{name: "stopped instance", inst: func() Instance { i := inst(10); i.Status = StatusStopped; return i }(), reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "Stopped"},
		{name: "EIP-bound", inst: func() Instance { i := inst(10); i.EIPAllocationID = "eip-1"; return i }(), reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "EIP"},
	})
}

// A change settles before it is judged: datapoints of the old cap, and
// alarms measured before the change, never count against the new one.
func TestSettle(t *testing.T) {
	run(t, []tcase{
		{name: "a point from before the change is not read against the new cap",
			rec: changed(10, 20, 6*time.Minute), inst: inst(20), reading: reading(point(6*time.Minute, 9.9), point(0, 9.9)), action: Unchanged, to: 20, reason: "already there"},
		{name: "points inside the warm-up are not used",
			rec: changed(10, 20, 90*time.Second), inst: inst(20), reading: reading(point(0, 19.9)), action: Unchanged, to: 20, reason: "waiting for a reading"},
		// Issue 9, sequence 1: a late copy of a spike after an up and a down.
		{name: "late percent alarm from before the last change only wakes",
			rec: changed(20, 10, 20*time.Minute), trigger: ByAlarm, alarm: percentAlarm(96, t0.Add(-50*time.Minute)), reading: reading(point(0, 7)), action: Unchanged, to: 10, reason: "by CloudMonitor"},
		{name: "late percent alarm with no reading buys nothing",
			rec: changed(20, 10, 20*time.Minute), trigger: ByAlarm, alarm: percentAlarm(96, t0.Add(-50*time.Minute)), action: Unchanged, to: 10, reason: "no datapoint"},
		{name: "an alarm newer than the newest point decides",
			rec: changed(5, 10, time.Hour), trigger: ByAlarm, alarm: percentAlarm(99, t0.Add(-10*time.Second)), reading: reading(point(2*time.Minute, 5)), action: Scaled, to: 20, reason: "by the alarm"},
		{name: "an alarm older than the newest point does not",
			rec: changed(5, 10, time.Hour), trigger: ByAlarm, alarm: percentAlarm(99, t0.Add(-4*time.Minute)), reading: reading(point(0, 5)), action: Unchanged, to: 10},
		// Issue 9, sequence 4: an alarm from a clock ahead of ours.
		{name: "a future alarm time is clamped, so it never looks newer than the change",
			rec: changed(10, 20, 3*time.Second), inst: inst(20), trigger: ByAlarm, alarm: percentAlarm(99, t0.Add(5*time.Second)), action: Unchanged, to: 20, reason: "waiting"},
		{name: "an alarm value is used no longer than the ECS lock",
			trigger: ByAlarm, alarm: percentAlarm(99, t0.Add(-6*time.Minute)), action: Unchanged, to: 10, reason: "no datapoint"},
		{name: "stale alarm value is not used",
			trigger: ByAlarm, alarm: percentAlarm(99, t0.Add(-2*time.Hour)), action: Unchanged, to: 10, reason: "no datapoint"},
		{name: "INSUFFICIENT_DATA has no value",
			trigger: ByAlarm, alarm: &Alarm{Metric: MetricVPCPercent, Value: 99, State: StateNoData, At: t0}, action: Unchanged, to: 10},
		{name: "unknown metric only wakes; the reading decides",
			trigger: ByAlarm, alarm: &Alarm{UnknownMetric: "公网流出带宽", Value: 99, State: "ALERT", At: t0}, reading: reading(point(0, 9.9)), action: Scaled, to: 20},
		{name: "rate alarm in bit/s",
			trigger: ByAlarm, alarm: &Alarm{Metric: MetricVPCRate, Value: 30e6, State: "ALERT", At: t0}, action: Scaled, to: 50},
	})
}

// window is a downCooldown window of one-minute points at rate, with the
// given peak (Mbit/s) some minutes ago.
func window(rate float64, peakAgo int, peak float64) Reading {
	var pts []Point
	for ago := 31; ago >= 0; ago-- {
		v := rate
		if ago == peakAgo {
			v = peak
		}
		pts = append(pts, point(time.Duration(ago)*time.Minute, v))
	}
	return Reading{Points: pts, Since: t0.Add(-32 * time.Minute)}
}

func TestDecrease(t *testing.T) {
	low := window(2, 20, 3)
	peak := window(2, 20, 15)
	run(t, []tcase{
		{name: "asks for the window first", inst: inst(20), reading: reading(point(0, 2)), action: Unchanged, to: 20, reason: "needs the readings"},
		{name: "one row down per decrease", inst: inst(20), reading: low, action: Scaled, to: 10, reason: "maxStepDown 1"},
		{name: "the highest reading over the window keeps the cap", inst: inst(20), reading: peak, action: Unchanged, to: 20, reason: "highest over downCooldown"},
		{name: "waits for downCooldown after a change", inst: inst(20), rec: changed(10, 20, 10*time.Minute), reading: low, action: Deferred, to: 20, reason: "downCooldown"},
		{name: "scaleDown off", policy: "scaleDown: false\n", inst: inst(20), reading: low, action: Unchanged, to: 20, reason: "scaleDown is off"},
		{name: "flapping guard", policy: "saturation: 70\n", inst: inst(20), reading: window(7.5, 0, 7.5), action: Unchanged, to: 20, reason: "no flapping"},
		{name: "a gap inside the window keeps the cap", inst: inst(20), reading: func() Reading {
			w := window(2, 0, 2)
			w.Points = append(w.Points[:10:10], w.Points[16:]...) // six minutes missing
			return w
		}(), action: Unchanged, to: 20, reason: "CloudMonitor has none from"},
		{name: "a window CloudMonitor could not give keeps the cap", inst: inst(20), reading: Reading{Points: []Point{point(0, 2)}, WindowUnavailable: "InternalError"}, action: Unchanged, to: 20, reason: "could not give (InternalError)"},
		{name: "a window seen only in part keeps the cap", inst: inst(20), reading: Reading{Points: []Point{point(2*time.Minute, 2), point(0, 2)}, Since: t0.Add(-31 * time.Minute)}, action: Unchanged, to: 20, reason: "readings over the whole last 30m0s"},
		{name: "PrePaid PayByBandwidth only grows", inst: func() Instance { i := inst(20); i.InstanceChargeType = PrePaid; return i }(), reading: low, action: Skipped, to: 20, reason: "can only grow"},
		{name: "PrePaid downgrades are opt-in", inst: prepaidTraffic(20), reading: low, action: Skipped, to: 20, reason: "prepaidDowngrades: true"},
		{name: "PrePaid downgrade when allowed", policy: "prepaidDowngrades: true\n", inst: prepaidTraffic(20), reading: low, action: Scaled, to: 10},
		{name: "PrePaid downgrade quota", policy: "prepaidDowngrades: true\n", inst: prepaidTraffic(20), rec: Record{Stored: true, Cap: 20, Downgrades: 3}, reading: low, action: Skipped, to: 20, reason: "3 of the 3"},
		{name: "after a PrePaid downgrade the billing cycle is frozen", policy: "prepaidDowngrades: true\n", inst: prepaidTraffic(20), rec: Record{Stored: true, Cap: 20, Downgrades: 1, FrozenUntil: t0.Add(24 * time.Hour)}, reading: low, action: Skipped, to: 20, reason: "billing cycle ends"},
		{name: "a temporary upgrade ends on its own", inst: inst(20), rec: Record{Stored: true, Cap: 20, TemporaryUntil: t0.Add(time.Hour)}, reading: low, action: Skipped, to: 20, reason: "ends on its own"},
		{name: "no CloudMonitor: the alarm's value alone", inst: inst(20), trigger: ByAlarm, alarm: &Alarm{Metric: MetricVPCRate, Value: 2e6, State: "OK", At: t0}, reading: Reading{Unavailable: "Forbidden.RAM"}, action: Scaled, to: 10},
	})
}

func prepaidTraffic(bw int) Instance {
	i := inst(bw)
	i.InstanceChargeType, i.InternetChargeType = PrePaid, PayByTraffic
	i.ExpiredTime = t0.Add(30 * 24 * time.Hour)
	return i
}

func TestManual(t *testing.T) {
	run(t, []tcase{
		{name: "exact value", trigger: ByManual, manual: &Manual{Bandwidth: 35}, action: Scaled, to: 35, reason: "held until"},
		{name: "zero needs the opt-in", trigger: ByManual, manual: &Manual{Bandwidth: 0}, action: Skipped, to: 10, reason: "releases the instance's public IP"},
		{name: "zero with the opt-in", policy: "allowZeroBandwidth: true\n", trigger: ByManual, manual: &Manual{Bandwidth: 0}, action: Scaled, to: 0},
		{name: "outside the policy", trigger: ByManual, manual: &Manual{Bandwidth: 3}, action: Skipped, to: 10, reason: "policy bounds"},
		{name: "outside ECS's range for the billing", trigger: ByManual, manual: &Manual{Bandwidth: 150}, action: Failed, to: 10, reason: "0..100"},
		{name: "PrePaid PayByBandwidth reaches 200", policy: "max: 200\n", inst: func() Instance { i := inst(100); i.InstanceChargeType = PrePaid; return i }(), trigger: ByManual, manual: &Manual{Bandwidth: 200}, action: Scaled, to: 200},
		{name: "obeys the cooldown", rec: changed(5, 10, time.Minute), trigger: ByManual, manual: &Manual{Bandwidth: 50}, action: Deferred, to: 10, reason: "cooldown"},
		{name: "a manual change holds against the loop", inst: inst(50), rec: Record{Stored: true, Cap: 10, Since: t0.Add(-2 * time.Hour), Attempt: &Attempt{To: 50, At: t0.Add(-10 * time.Minute), Manual: true}}, reading: reading(point(0, 1)), action: Unchanged, to: 50, reason: "holds 50 Mbit/s until 2026-12-01T12:50:00Z"},
		{name: "the hold ends", inst: inst(50), rec: Record{Stored: true, Cap: 10, Since: t0.Add(-3 * time.Hour), Attempt: &Attempt{To: 50, At: t0.Add(-2 * time.Hour), Manual: true}}, reading: window(1, 0, 1), action: Scaled, to: 20},
	})
}

func TestBrakes(t *testing.T) {
	today := Day(t0)
	run(t, []tcase{
		{name: "maxIncreasesPerDay", policy: "maxIncreasesPerDay: 2\n", rec: Record{Stored: true, Cap: 10, Since: t0.Add(-time.Hour), Day: today, Increases: 2}, reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "brake maxIncreasesPerDay"},
		{name: "yesterday's increases do not count", policy: "maxIncreasesPerDay: 2\n", rec: Record{Stored: true, Cap: 10, Since: t0.Add(-time.Hour), Day: today - 1, Increases: 2}, reading: reading(point(0, 9.9)), action: Scaled, to: 20},
		{name: "maxTotalMbps lowers the target to fit", policy: "maxTotalMbps: 60\n", total: 20, inst: inst(5), reading: reading(point(0, 30)), action: Scaled, to: 20, reason: "within maxTotalMbps 60"},
		{name: "maxTotalMbps unknown refuses increases", policy: "maxTotalMbps: 60\n", total: 20, unknown: "EIPs unread", reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "cannot be held: EIPs unread"},
		{name: "maxTotalMbps refuses what does not fit", policy: "maxTotalMbps: 60\n", total: 58, inst: inst(10), reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "brake maxTotalMbps 60"},
	})
}

// The record explains the cap where it can; where it cannot, the cap
// counts as changed now, which only ever delays a purchase.
func TestRecordResolution(t *testing.T) {
	inFlight := Record{Stored: true, Cap: 10, Since: t0.Add(-time.Hour), Attempt: &Attempt{To: 20, At: t0.Add(-30 * time.Second)}}
	run(t, []tcase{
		{name: "a change in flight holds other targets back", rec: inFlight, reading: reading(point(0, 30)), action: Deferred, to: 10, reason: "may still be in progress"},
		{name: "the same target retries it", rec: inFlight, reading: reading(point(0, 9.9)), action: Scaled, to: 20},
		{name: "an attempt that never took effect stops holding after InFlight", rec: Record{Stored: true, Cap: 10, Since: t0.Add(-time.Hour), Attempt: &Attempt{To: 20, At: t0.Add(-InFlight)}}, reading: reading(point(0, 30)), action: Scaled, to: 50},
		{name: "an attempt in effect starts the cooldown at its time", inst: inst(20), rec: Record{Stored: true, Cap: 10, Since: t0.Add(-time.Hour), Attempt: &Attempt{To: 20, At: t0.Add(-4 * time.Minute)}}, reading: reading(point(0, 19.9)), action: Deferred, to: 20, reason: "cooldown"},
		// Issue 9, sequences 2 and 5: a record overwritten by a racing
		// process, or read from before the last write.
		{name: "a cap the record does not explain counts as changed now", inst: inst(20), rec: changed(5, 10, time.Hour), reading: reading(point(0, 19.9)), action: Unchanged, to: 20, reason: "waiting for a reading"},
		{name: "unpaid order", rec: Record{Stored: true, Cap: 10, Since: t0.Add(-time.Hour), Attempt: &Attempt{To: 20, At: t0.Add(-time.Hour), Order: "2000001"}}, reading: reading(point(0, 9.9)), action: Deferred, to: 10, reason: "order 2000001 for 20 Mbit/s awaits payment"},
		{name: "damaged record", recErr: "version \"v9\" is unknown", reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "delete the tag"},
	})
}

func TestUnexplainedCapIsRecorded(t *testing.T) {
	tc := tcase{inst: inst(20), rec: changed(5, 10, time.Hour), reading: reading(point(0, 19.9))}
	d := Decide(tc.input(t))
	if !d.Save || d.Record.Cap != 20 || !d.Record.Since.Equal(t0) || d.Record.Day != Day(t0) || d.Record.Increases != 1 {
		t.Errorf("want the cap recorded as changed now and counted as an increase, got save %v %+v", d.Save, d.Record)
	}
	if len(d.Notes) == 0 || !strings.Contains(d.Notes[0], "not the 10 Mbit/s the state tag accounts for") {
		t.Errorf("notes %q", d.Notes)
	}
}

func TestDryRunSaysWhatWouldHappen(t *testing.T) {
	run(t, []tcase{
		{name: "would scale", dry: true, reading: reading(point(0, 9.9)), action: DryRun, to: 20, reason: "dry-run: would scale"},
		{name: "would defer", dry: true, rec: changed(5, 10, 3*time.Minute), reading: reading(point(0, 9.9)), action: DryRun, to: 10, reason: "dry-run: would defer"},
	})
	d := Decide(tcase{dry: true, inst: inst(20), rec: changed(5, 10, time.Hour), reading: reading(point(0, 19.9))}.input(t))
	if d.Save || d.Change != nil {
		t.Errorf("a dry run leaves no trace: save %v change %+v", d.Save, d.Change)
	}
}

// Tokens depend on the record decided on, never on the clock: a retry in
// another invocation, a minute later, asks ECS for the same order.
func TestTokensStableAcrossInvocations(t *testing.T) {
	temp := "temporaryUpgrade: {duration: 6h}\n"
	pre := func() Instance { i := inst(10); i.InstanceChargeType = PrePaid; return i }()
	first := Decide(tcase{policy: temp, inst: pre, rec: changed(5, 10, time.Hour), reading: reading(point(0, 9.9))}.input(t))
	if first.Change == nil || first.Change.EndTime.IsZero() {
		t.Fatalf("want a temporary upgrade, got %+v", first)
	}
	retry := tcase{policy: temp, inst: pre, rec: first.Record, reading: reading(point(0, 9.9))}.input(t)
	retry.Now = t0.Add(70 * time.Second)
	second := Decide(retry)
	if second.Change == nil || second.Change.ClientToken != first.Change.ClientToken || !second.Change.EndTime.Equal(first.Change.EndTime) {
		t.Errorf("retry: %+v, want the first attempt's token %s and window", second.Change, first.Change.ClientToken)
	}
	other := Decide(tcase{policy: temp, inst: pre, rec: changed(5, 10, 2*time.Hour), reading: reading(point(0, 9.9))}.input(t))
	if other.Change.ClientToken == first.Change.ClientToken {
		t.Error("a change decided on another record must have another token")
	}
}

func TestDecideIsPure(t *testing.T) {
	in := tcase{rec: changed(5, 10, time.Hour), reading: reading(point(0, 9.9))}.input(t)
	a, b := Decide(in), Decide(in)
	if a.Reason != b.Reason || a.Change.ClientToken != b.Change.ClientToken {
		t.Error("the same input must give the same decision")
	}
}

// A temporary upgrade that ended on its own brings the cap back as bought:
// no change made by hand, and nothing counted against the brakes.
func TestEndedTemporaryUpgradeIsExplained(t *testing.T) {
	pre := inst(10)
	pre.InstanceChargeType = PrePaid
	ended := t0.Add(-2 * time.Hour)
	d := Decide(tcase{inst: pre, rec: Record{Stored: true, Cap: 20, From: 10, Since: ended.Add(-6 * time.Hour), TemporaryUntil: ended}, reading: reading(point(0, 5))}.input(t))
	if d.Save || len(d.Notes) != 0 || d.Action != Unchanged {
		t.Errorf("got %s save %v notes %q, want unchanged with nothing to record", d.Action, d.Save, d.Notes)
	}
}
