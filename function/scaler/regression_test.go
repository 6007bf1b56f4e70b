package scaler_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// CloudMonitor's newest point is read but the downCooldown window is not:
// no decrease is made on the alarm's value without the window's peak.
func TestNoDecreaseWithoutTheWindow(t *testing.T) {
	for _, fail := range []bool{false, true} {
		e := newEnv(t, envOptions{policy: "downCooldown: 10m\n"}, instance("i-a", 20, 18))
		e.setTag("i-a", state.Encode(decide.Record{Cap: 20, From: 10, Since: e.clock.Now().Add(-time.Hour)}))
		e.clock.Advance(8 * time.Minute) // 18 Mbit/s for 8 minutes
		if err := e.emu.SetDemand("i-a", 2); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(4 * time.Minute) // 2 Mbit/s for the last 4
		if fail {
			e.emu.Inject(emulator.Fault{Action: "DescribeMetricList", Code: "InternalError", HTTPStatus: 500, Count: 100})
		}
		low := e.alarm("i-a", 10) // 2 of 20
		low.Alarms[0].State = alarm.StateOK
		r, _ := e.runOne(e.engine(), low, true)
		if r.Action != decide.Unchanged || !strings.Contains(r.Reason, map[bool]string{false: "highest over downCooldown", true: "could not give"}[fail]) {
			t.Errorf("window read fails=%v: %s %d->%d: %s", fail, r.Action, r.From, r.To, r.Reason)
		}
	}
}

// hookECS runs hooks around the calls of one process.
type hookECS struct {
	scaler.ECS
	onWrite  func() // once, before the first WriteTags
	failRead *bool
	once     *sync.Once
	wrote    func() // once, after the first WriteTags
}

func (c hookECS) WriteTags(ctx context.Context, id string, tags map[string]string) (string, error) {
	first := false
	c.once.Do(func() { first = true })
	if first && c.onWrite != nil {
		c.onWrite()
	}
	out, err := c.ECS.WriteTags(ctx, id, tags)
	if first && c.wrote != nil {
		c.wrote()
	}
	return out, err
}

func (c hookECS) DescribeInstances(ctx context.Context, ids []string) ([]ecsapi.Instance, error) {
	if c.failRead != nil && *c.failRead {
		return nil, errors.New("read tcp: i/o timeout")
	}
	return c.ECS.DescribeInstances(ctx, ids)
}

func (c hookECS) DescribeTagged(ctx context.Context, k, v string) ([]ecsapi.Instance, error) {
	if c.failRead != nil && *c.failRead {
		return nil, errors.New("read tcp: i/o timeout")
	}
	return c.ECS.DescribeTagged(ctx, k, v)
}

// A process T and a manual request M on the same instance both read before
// either wrote. T records, M records over it and makes its change, T's
// re-read for maxTotalMbps fails: T must not write back its own base
// record over M's, which would erase the manual change and its hold.
func TestWithdrawalKeepsAnotherProcessRecord(t *testing.T) {
	e := newEnv(t, envOptions{policy: "maxTotalMbps: 100\ndownCooldown: 10m\n"}, instance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	mReady, tWrote, mDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	fail := false
	mConnect := func(r string) (scaler.Clients, error) {
		c, err := e.connect(r)
		c.ECS = hookECS{ECS: c.ECS, once: &sync.Once{}, onWrite: func() { close(mReady); <-tWrote }}
		return c, err
	}
	tConnect := func(r string) (scaler.Clients, error) {
		c, err := e.connect(r)
		c.ECS = hookECS{ECS: c.ECS, once: &sync.Once{}, failRead: &fail,
			onWrite: func() { <-mReady },
			wrote:   func() { close(tWrote); <-mDone; fail = true }}
		return c, err
	}
	var mRes []scaler.Result
	go func() {
		defer close(mDone)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mRes, _ = e.engine().Run(ctx, &alarm.Delivery{Kind: alarm.KindManual, Manual: &alarm.Manual{InstanceID: "i-a", BandwidthOut: 30}}, mConnect, region)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tRes, _ := e.engine().Run(ctx, e.alarm("i-a", 99), tConnect, region)
	<-mDone
	if mRes[0].Action != decide.Scaled || tRes[0].Action != decide.Skipped {
		t.Fatalf("M: %+v\nT: %+v", mRes[0], tRes[0])
	}
	if a := e.record("i-a").Attempt; a == nil || !a.Manual || a.To != 30 {
		t.Errorf("record %+v, want M's manual attempt", e.record("i-a"))
	}
	e.expect(1)
	if err := e.emu.SetDemand("i-a", 2); err != nil {
		t.Fatal(err)
	}
	eng := e.engine()
	for i := 1; i <= 20; i++ {
		for _, r := range e.tick(eng) {
			if r.InstanceID == "i-a" && r.Action == decide.Scaled {
				t.Errorf("minute %d after the manual 30 (manualHold 1h): timer changed it %d->%d: %s", i, r.From, r.To, r.Reason)
				e.expect(1)
			}
		}
	}
}

// DescribeEipAddresses fails: an EIP-bound instance's bandwidth is unknown,
// so no increase under maxTotalMbps may take what could be its room.
func TestUnreadEIPHoldsTheRegionTotal(t *testing.T) {
	e := newEnv(t, envOptions{policy: "maxTotalMbps: 50\n"}, instance("i-a", 10, 15), eipInstance("i-b", 40, 1))
	e.clock.Advance(3 * time.Minute)
	e.emu.Inject(emulator.Fault{Action: "DescribeEipAddresses", Code: "InternalError", HTTPStatus: 500, Count: 100})
	r, _ := e.runOne(e.engine(), e.alarm("i-a", 99), true)
	if r.Action != decide.Skipped || !strings.Contains(r.Reason, "cannot be held") {
		t.Errorf("i-a: %+v", r)
	}
	if total := e.bandwidth("i-a") + e.eipBandwidth("i-b"); total > 50 {
		t.Errorf("maxTotalMbps 50 broken: i-a %d + EIP of i-b %d = %d", e.bandwidth("i-a"), e.eipBandwidth("i-b"), total)
	}
}

// autoPay off, the change is applied (an unpaid order) but answered 500 on
// every attempt, so its order is never named: the next attempt meets
// UnPaidOrder, which keeps the change counted in the region until paid.
func TestUnnamedUnpaidOrderStaysCounted(t *testing.T) {
	e := newEnv(t, envOptions{policy: "maxTotalMbps: 30\nautoPay: false\n"}, instance("i-a", 10, 15), instance("i-b", 10, 15))
	e.clock.Advance(3 * time.Minute)
	e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: "InternalError", HTTPStatus: 500, ApplyThenFail: true})
	e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: "InternalError", HTTPStatus: 500, Count: 10})
	e.runOne(e.engine(), e.alarm("i-a", 99), true)
	e.emu.ClearFaults()
	e.clock.Advance(decide.InFlight + time.Minute)
	e.ticks(1)
	e.clock.Advance(decide.InFlight + time.Minute)
	e.ticks(1)
	for _, o := range e.emu.Orders() {
		if !o.Paid {
			if err := e.emu.PayOrder(o.OrderId); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.expect(len(e.emu.Orders()))
	if total := e.bandwidth("i-a") + e.bandwidth("i-b"); total > 30 {
		t.Errorf("maxTotalMbps 30 broken once paid: i-a %d + i-b %d = %d", e.bandwidth("i-a"), e.bandwidth("i-b"), total)
	}
}

// A manual request that meets the ECS lock says when to send it again: the
// timer acts on traffic, never on a person's request.
func TestManualRequestMeetingTheLock(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 2))
	e.clock.Advance(3 * time.Minute)
	e.emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Code: "Throttling", Count: 1})
	r, _ := e.runOne(e.engine(), &alarm.Delivery{Kind: alarm.KindManual, Manual: &alarm.Manual{InstanceID: "i-a", BandwidthOut: 30}}, true)
	if r.Action != decide.Deferred || r.RetryAfter == "" || !strings.Contains(r.Reason, "send the manual request again after "+r.RetryAfter) {
		t.Errorf("manual: %+v", r)
	}
}
