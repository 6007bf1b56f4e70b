package scaler_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// eipInstance is a running VPC instance whose public bandwidth is its EIP's
// (the instance's own is 0), opted in by tag, with demand Mbit/s of traffic.
func eipInstance(id string, bw int, demand float64) emulator.Instance {
	in := instance(id, 0, demand)
	in.PublicIpAddress = nil
	in.EipAddress = &emulator.EIP{IpAddress: "47.99.0.1", AllocationId: "eip-" + id, Bandwidth: bw,
		InternetChargeType: "PayByBandwidth", ChargeType: "PostPaid"}
	return in
}

func (e *env) eipBandwidth(id string) int {
	e.t.Helper()
	in, ok := e.emu.Instance(id)
	if !ok || in.EipAddress == nil {
		e.t.Fatalf("no EIP-bound instance %s", id)
	}
	return in.EipAddress.Bandwidth
}

func (e *env) eipRecord(id string) decide.Record {
	e.t.Helper()
	in, _ := e.emu.Instance(id)
	rec, err := state.Decode(in.EipAddress.Tags)
	if err != nil {
		e.t.Fatalf("state tag of EIP of %s: %v", id, err)
	}
	return rec
}

// An EIP-bound instance climbs and comes down by its EIP, through the real
// SDK: the record lives on the EIP, the instance's own tags stay untouched.
func TestEIPClimbAndDescend(t *testing.T) {
	e := newEnv(t, envOptions{}, eipInstance("i-a", 5, 80))
	e.ticks(20)
	e.wantCaps(10, 50)
	if got := e.eipBandwidth("i-a"); got != 50 {
		t.Fatalf("EIP at %d, want 50", got)
	}
	if rec := e.eipRecord("i-a"); !rec.Stored || rec.Attempt == nil || rec.Attempt.To != 50 {
		t.Fatalf("EIP record %+v", rec)
	}
	if in, _ := e.emu.Instance("i-a"); in.Tags[state.TagKey] != "" || in.InternetMaxBandwidthOut != 0 {
		t.Fatalf("the instance itself was changed: %+v", in)
	}
	if n := e.calls("ModifyInstanceNetworkSpec"); n != 0 {
		t.Fatalf("%d ModifyInstanceNetworkSpec calls for an EIP-bound instance", n)
	}
	if err := e.emu.SetDemand("i-a", 1); err != nil {
		t.Fatal(err)
	}
	e.ticks(150)
	e.wantCaps(10, 50, 20, 10, 5)
	for _, o := range e.emu.Orders() {
		if o.Kind != emulator.KindEIPBandwidth || o.AllocationId != "eip-i-a" {
			t.Errorf("ledger entry %+v is not the EIP's", o)
		}
	}
	e.expect(5)
}

// An acs_vpc_eip alarm names the EIP (instanceId = the allocation ID): it
// is mapped to the instance and scales its EIP at once; its redeliveries to
// fresh processes and the timer buy nothing more.
func TestEIPAlarmAndRedeliveries(t *testing.T) {
	e := newEnv(t, envOptions{}, eipInstance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	a := &alarm.Delivery{Kind: alarm.KindAlarm, Source: "eventbridge", Alarms: []alarm.Alarm{{
		InstanceID: "eip-i-a", Region: region, Metric: alarm.MetricEIPOutRatePercent, Namespace: "acs_vpc_eip",
		Value: 99, Unit: "%", State: alarm.StateAlert, Time: e.clock.Now().Add(-30 * time.Second), Key: newKey(),
	}}}
	r, _ := e.runOne(e.engine(), a, false)
	if r.Action != decide.Scaled || r.To != 20 || r.InstanceID != "i-a" || !strings.Contains(r.Reason, "EIP eip-i-a") {
		t.Fatalf("got %+v", r)
	}
	for range 3 {
		e.buysNothing(a, "a redelivery")
	}
	e.ticks(3)
	e.wantCaps(20)
	e.expect(1)
}

// Two processes race on the same reading: both write the same record and
// ask for the same absolute bandwidth; the EIP changes once.
func TestEIPRacingEngines(t *testing.T) {
	e := newEnv(t, envOptions{}, eipInstance("i-a", 10, 15))
	e.clock.Advance(3 * time.Minute)
	a := e.alarm("i-a", 99)
	var wg sync.WaitGroup
	results := make([][]scaler.Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyOf := *a
			copyOf.Alarms = []alarm.Alarm{a.Alarms[0]}
			copyOf.Alarms[0].Key = newKey()
			results[i], _ = e.run(e.engine(), &copyOf)
		}()
	}
	wg.Wait()
	for range 3 {
		e.tick(e.engine())
	}
	e.wantCaps(20)
	if got := e.eipBandwidth("i-a"); got != 20 {
		t.Fatalf("EIP at %d, want 20", got)
	}
	e.expect(1)
}

// A subscription EIP and one in an Internet Shared Bandwidth package are
// skipped with the reason; nothing is bought or written.
func TestEIPSkipped(t *testing.T) {
	prepaid := eipInstance("i-a", 10, 80)
	prepaid.EipAddress.ChargeType = "PrePaid"
	shared := eipInstance("i-b", 10, 80)
	shared.EipAddress.BandwidthPackageId = "cbwp-1"
	e := newEnv(t, envOptions{}, prepaid, shared)
	eng := e.engine()
	var last []scaler.Result
	for range 5 {
		last = e.tick(eng)
	}
	want := map[string]string{"i-a": "subscription (PrePaid) EIP", "i-b": "Internet Shared Bandwidth cbwp-1"}
	for _, r := range last {
		if w, ok := want[r.InstanceID]; ok {
			if r.Action != decide.Skipped || !strings.Contains(r.Reason, w) {
				t.Errorf("%s: got %+v, want skipped: %s", r.InstanceID, r, w)
			}
			delete(want, r.InstanceID)
		}
	}
	if len(want) > 0 {
		t.Errorf("no result for %v", want)
	}
	e.wantCaps()
	if n := e.calls("TagResources"); n != 0 {
		t.Errorf("%d TagResources calls", n)
	}
}

// Without a VPC client the EIP-bound instance stays eip-bound, saying why.
func TestEIPWithoutVPC(t *testing.T) {
	e := newEnv(t, envOptions{}, eipInstance("i-a", 10, 80))
	eng := e.engine()
	connect := func(r string) (scaler.Clients, error) {
		c, err := e.connect(r)
		c.VPC = nil
		return c, err
	}
	e.clock.Advance(3 * time.Minute)
	res, err := eng.Run(t.Context(), e.alarm("i-a", 99), connect, region)
	if err != nil || len(res) != 1 || res[0].Action != decide.Skipped || !strings.Contains(res[0].Reason, "eip-bound") || !strings.Contains(res[0].Reason, "no VPC client") {
		t.Fatalf("got %+v, %v", res, err)
	}
}
