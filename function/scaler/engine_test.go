package scaler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// caps lists the targets of the orders so far.
func (e *env) caps() []int {
	var out []int
	for _, o := range e.emu.Orders() {
		out = append(out, o.To)
	}
	return out
}

func (e *env) wantCaps(want ...int) {
	e.t.Helper()
	got := e.caps()
	if len(got) != len(want) {
		e.t.Fatalf("orders to %v, want %v:\n%s", got, want, describeOrders(e.emu.Orders()))
	}
	for i := range want {
		if got[i] != want[i] {
			e.t.Fatalf("orders to %v, want %v", got, want)
		}
	}
}

// The timer is the control loop: a saturated instance climbs by level, with
// no alarm at all, and comes down one row per downCooldown once demand ends.
func TestClimbAndDescendByLevel(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 5, 80))
	e.ticks(20)
	// 5 → 10 (saturated, one row), then still saturated after an increase:
	// two rows, to the policy max.
	e.wantCaps(10, 50)
	if err := e.emu.SetDemand("i-a", 1); err != nil {
		t.Fatal(err)
	}
	e.ticks(150)
	e.wantCaps(10, 50, 20, 10, 5)
	e.expect(5)
}

// An alarm says "look now": it scales at once, without waiting for the timer.
func TestAlarmLooksNow(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute) // CloudMonitor has datapoints
	r, _ := e.runOne(e.engine(), e.alarm("i-a", 99), false)
	if r.Action != decide.Scaled || r.To != 20 || r.OrderID == "" || r.RequestID == "" {
		t.Fatalf("got %+v", r)
	}
	e.expect(1)
}

// Issue 9, sequence 1: a spike buys, demand falls and the cap comes down,
// then the same spike alarm is redelivered to a fresh process. It buys
// nothing: the reading decides, and the alarm was measured before the
// last change.
func TestLateCopyAfterUpAndDown(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	spike := e.alarm("i-a", 96)
	e.scaled(spike)
	if err := e.emu.SetDemand("i-a", 3); err != nil {
		t.Fatal(err)
	}
	e.ticks(40)
	e.wantCaps(20, 10)
	r, _ := e.runOne(e.engine(), spike, false)
	if r.Action == decide.Scaled {
		t.Fatalf("the late copy bought: %+v", r)
	}
	e.wantCaps(20, 10)
	e.expect(2)
}

// Issue 9, sequence 2: a racing process writes a record read before the
// other's change, erasing it. The cap the record does not explain counts as
// changed now: the copies and the timer buy nothing more.
func TestLostUpdateBetweenProcesses(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	e.setTag("i-a", state.Encode(decide.Record{Cap: 10, From: 5, Since: e.clock.Now().Add(-time.Hour)})) // an earlier change
	before, _ := e.emu.Instance("i-a")
	a := e.alarm("i-a", 99)
	if r, _ := e.runOne(e.engine(), a, false); r.Action != decide.Scaled || r.To != 20 {
		t.Fatalf("first: %+v", r)
	}
	// The other process's write, from what it read before the change.
	e.setTag("i-a", before.Tags[state.TagKey])
	copyOf := *a
	copyOf.Source = "callback-form"
	eng := e.engine()
	if r, _ := e.runOne(eng, &copyOf, false); r.Action == decide.Scaled {
		t.Fatalf("the copy bought: %+v", r)
	}
	e.ticks(3)
	e.wantCaps(20)
	e.expect(1)
}

// Issue 9, sequence 3: the change is applied but answered 500, and the
// retry meets LastTokenProcessing. It is deferred with its record kept; no
// later delivery or timer run buys again.
func TestAppliedButFailedThenInProgress(t *testing.T) {
	for _, code := range []string{"LastTokenProcessing", "LastRequestProcessing", "LastOrderProcessing", "Idempotence.Processing", "InvalidInstanceStatus", "IncorrectInstanceStatus"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
			e.clock.Advance(3 * time.Minute)
			e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: "InternalError", HTTPStatus: 500, ApplyThenFail: true})
			e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: code, Count: 10})
			a := e.alarm("i-a", 99)
			r, err := e.runOne(e.engine(), a, false)
			if err != nil || r.Action != decide.Deferred {
				t.Fatalf("got %+v, %v; want deferred", r, err)
			}
			e.emu.ClearFaults()
			e.buysNothing(a, "the copy")
			e.ticks(3)
			e.wantCaps(20)
			e.expect(1)
		})
	}
}

// Issue 9, sequence 4: the alarm's clock runs ahead of the process's, and
// the alarm arrives by both routes.
func TestClockSkewWithBothRoutes(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	a := e.alarm("i-a", 99)
	a.Alarms[0].Time = e.clock.Now().Add(2 * time.Second)
	e.scaled(a)
	e.clock.Advance(3 * time.Second)
	other := *a
	other.Alarms = []alarm.Alarm{a.Alarms[0]}
	other.Alarms[0].Key = newKey() // another route's key, to be sure
	e.buysNothing(&other, "the other route's copy")
	e.wantCaps(20)
	e.expect(1)
}

// Issue 9, sequence 5: tags read from before the last write.
func TestStaleTagRead(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	a := e.alarm("i-a", 99)
	e.scaled(a)
	e.emu.SetTagLag(10 * time.Second)
	e.clock.Advance(2 * time.Second)
	e.buysNothing(a, "the redelivery")
	e.wantCaps(20)
	e.expect(1)
}

// Issue 9, sequence 6: a damaged or foreign state tag leaves the instance
// alone, with a reason that says how to repair it.
func TestDamagedTagSkips(t *testing.T) {
	for _, v := range []string{"v9;x=1", "garbage"} {
		e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
		e.clock.Advance(3 * time.Minute)
		e.setTag("i-a", v)
		for range 2 {
			r, _ := e.runOne(e.engine(), e.alarm("i-a", 99), false)
			if r.Action != decide.Skipped || !strings.Contains(r.Reason, "delete the tag") {
				t.Fatalf("got %+v", r)
			}
		}
		e.wantCaps()
	}
}

// A decision that changes nothing writes no tag.
func TestNoOpWritesNoTag(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 5))
	e.ticks(5)
	e.runOne(e.engine(), e.alarm("i-a", 50), false)
	if n := e.calls("TagResources"); n != 0 {
		t.Errorf("%d TagResources calls for no change", n)
	}
}

// Without CloudMonitor the function works on the alarm's value and says why.
func TestWithoutCloudMonitor(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.emu.Inject(emulator.Fault{Action: "DescribeMetricLast", Code: "Forbidden.RAM", HTTPStatus: 403, Count: 100})
	r, _ := e.runOne(e.engine(), e.alarm("i-a", 99), false)
	if r.Action != decide.Scaled || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "CloudMonitor could not be read") || !strings.Contains(r.Warnings[0], "cms:QueryMetricLast") {
		t.Fatalf("got %+v", r)
	}
	e.expect(1)
}

// Throttling outlasting the retries defers the change to the next loop,
// which then makes it.
func TestThrottlingDefersToTheLoop(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: "Throttling.User", Count: 10})
	r, err := e.runOne(e.engine(), e.alarm("i-a", 99), false)
	if err != nil || r.Action != decide.Deferred || !strings.Contains(r.Reason, "next timer run") {
		t.Fatalf("got %+v, %v", r, err)
	}
	e.emu.ClearFaults()
	e.clock.Advance(decide.InFlight)
	e.tick(e.engine())
	e.wantCaps(20)
	e.expect(1)
}

// A permanent refusal is reported with what to do, and does not hold the
// next decision back.
func TestPermanentRefusal(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: "InvalidAccountStatus.NotEnoughBalance"})
	r, _ := e.runOne(e.engine(), e.alarm("i-a", 99), false)
	if r.Action != decide.Failed || r.ErrorCode != "InvalidAccountStatus.NotEnoughBalance" {
		t.Fatalf("got %+v", r)
	}
	if rec := e.record("i-a"); rec.Attempt != nil {
		t.Errorf("a refused attempt still holds: %+v", rec.Attempt)
	}
	e.tick(e.engine())
	e.wantCaps(20)
	e.expect(1)
}

// With autoPay off the unpaid order is named once; later runs say it
// awaits payment instead of asking again.
func TestUnpaidOrderOnce(t *testing.T) {
	e := newEnv(t, envOptions{policy: "autoPay: false\n"}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	r, _ := e.runOne(e.engine(), e.alarm("i-a", 99), false)
	if r.Action != decide.Scaled || r.OrderID == "" {
		t.Fatalf("got %+v", r)
	}
	eng := e.engine()
	for range 5 {
		for _, r := range e.tick(eng) {
			if r.InstanceID == "i-a" && (r.Action != decide.Deferred || !strings.Contains(r.Reason, "awaits payment")) {
				t.Fatalf("timer: %+v", r)
			}
		}
	}
	e.expect(1)
}

// The timer reconciles every region the policy lists.
func TestTimerCoversEveryRegion(t *testing.T) {
	other := instance("i-b", 10, 15)
	other.RegionId = "cn-shanghai"
	e := newEnv(t, envOptions{policy: "regions: [cn-hangzhou, cn-shanghai]\n"}, instance("i-a", 10, 15), other)
	e.ticks(3)
	regions := map[string]bool{}
	for _, o := range e.emu.Orders() {
		in, _ := e.emu.Instance(o.InstanceId)
		regions[in.RegionId] = true
	}
	if !regions["cn-hangzhou"] || !regions["cn-shanghai"] {
		t.Errorf("orders in %v, want both regions", regions)
	}
	e.expect(len(e.emu.Orders()))
}

// maxTotalMbps holds the region's selected instances together under it.
func TestMaxTotalMbps(t *testing.T) {
	e := newEnv(t, envOptions{policy: "maxTotalMbps: 40\n"}, instance("i-a", 10, 80), instance("i-b", 10, 80))
	e.ticks(30)
	total := e.bandwidth("i-a") + e.bandwidth("i-b")
	if total > 40 || total < 30 {
		t.Errorf("total %d Mbit/s, want the most that fits 40", total)
	}
	e.expect(len(e.emu.Orders()))
}

var _ = scaler.ErrTransient

// Without CloudMonitor the function decides on the alarms' values, and the
// same sequences still buy once per intent: a late copy after an up and a
// down, a lost tag update, an applied change answered 500, a copy by the
// other route from a clock ahead of ours, a stale tag read.
func TestSequencesWithoutCloudMonitor(t *testing.T) {
	e := newEnv(t, envOptions{policy: "downCooldown: 10m\n"}, instance("i-a", 10, 15))
	e.noCMS = true
	e.setTag("i-a", state.Encode(decide.Record{Cap: 10, From: 5, Since: e.clock.Now().Add(-time.Hour)})) // an earlier change
	before, _ := e.emu.Instance("i-a")
	e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: "InternalError", HTTPStatus: 500, ApplyThenFail: true})
	spike := e.alarm("i-a", 96)
	spike.Alarms[0].Time = e.clock.Now().Add(2 * time.Second) // a clock ahead of ours
	if r, _ := e.runOne(e.engine(), spike, false); r.Action != decide.Deferred && r.Action != decide.Scaled {
		t.Fatalf("spike: %+v", r)
	}
	e.wantCaps(20) // applied, though answered 500
	e.buysNothing(spike, "the copy after an applied change")
	other := *spike
	other.Alarms = []alarm.Alarm{spike.Alarms[0]}
	other.Alarms[0].Key = newKey()
	e.buysNothing(&other, "the other route's copy")
	e.emu.SetTagLag(10 * time.Second)
	e.clock.Advance(2 * time.Second)
	e.buysNothing(spike, "a copy read against a stale tag")
	e.emu.SetTagLag(0)

	// Down on a low alarm, then the late copy of the spike.
	e.clock.Advance(11 * time.Minute)
	low := e.alarm("i-a", 10)
	low.Alarms[0].State = alarm.StateOK
	if r, _ := e.runOne(e.engine(), low, false); r.Action != decide.Scaled || r.To != 10 {
		t.Fatalf("low: %+v", r)
	}
	e.clock.Advance(6 * time.Minute)
	e.buysNothing(spike, "the late copy of the spike")
	// A lost update: the record from before any change, written back.
	e.setTag("i-a", before.Tags[state.TagKey])
	e.buysNothing(spike, "the late copy after a lost update")
	e.wantCaps(20, 10)
	e.expect(2)
}

// A redelivery to the same process costs no call and reports the cap the
// first delivery left.
func TestRedeliveryInTheSameProcess(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	eng := e.engine()
	a := e.alarm("i-a", 99)
	e.runOne(eng, a, false)
	e.expect(1)
	before := len(e.emu.Requests())
	r, _ := e.runOne(eng, a, false)
	if r.Action != decide.Duplicate || r.From != 20 || r.To != 20 || len(e.emu.Requests()) != before {
		t.Errorf("got %+v after %d calls, want a duplicate at 20 with no call", r, len(e.emu.Requests())-before)
	}
}
