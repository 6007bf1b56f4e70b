package scaler_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
)

// Status after a change: the row joins the dry decision with the record
// and the newest datapoint, and the dry run writes nothing.
func TestStatusAfterAChange(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 5, 80), instance("i-b", 10, 1))
	eng := e.engine()
	e.clock.Advance(2 * time.Minute) // CloudMonitor has published a datapoint
	e.tick(eng)
	e.wantCaps(10)
	e.expect(1)
	writes := e.calls("TagResources") + e.calls("ModifyInstanceNetworkSpec")

	e.clock.Advance(2 * time.Minute) // past the warmup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := eng.Status(ctx, e.connect, region)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.calls("TagResources") + e.calls("ModifyInstanceNetworkSpec"); n != writes {
		t.Errorf("status made %d writes", n-writes)
	}
	if len(rows) != 2 || rows[0].InstanceID != "i-a" || rows[1].InstanceID != "i-b" {
		t.Fatalf("rows %+v, want i-a and i-b", rows)
	}
	a := rows[0]
	if a.Cap != 10 || a.LastFrom != 5 || a.LastChange == nil || a.CooldownUntil == nil || a.DowngradeQuota != decide.DowngradeQuota || a.IncreasesToday != 1 {
		t.Errorf("i-a row %+v", a)
	}
	if a.RateMbps == nil || *a.RateMbps <= 1 || a.UsagePercent == nil || a.RateAt == nil {
		t.Errorf("i-a rate %v usage %v at %v, want the newest datapoint", a.RateMbps, a.UsagePercent, a.RateAt)
	}
	// Next is what a dry timer run says, word for word.
	dry := e.engine()
	dry.DryRun = true
	want, err := e.run(dry, reconcile)
	if err != nil || len(want) != 2 {
		t.Fatalf("dry run: %v %+v", err, want)
	}
	if a.Next.Action != want[0].Action || a.Next.Reason != want[0].Reason || a.Next.To != want[0].To {
		t.Errorf("i-a next %+v, want the dry run's %+v", a.Next, want[0])
	}
	if !a.CooldownUntil.After(e.clock.Now()) {
		t.Errorf("cooldown ends %v, before now %v", a.CooldownUntil, e.clock.Now())
	}
	if rows[1].Cap != 10 || rows[1].LastChange != nil {
		t.Errorf("i-b row %+v", rows[1])
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"instanceId":"i-a"`, `"cap":10`, `"lastFrom":5`, `"next":{"action":"`, `"downgradeQuota":3`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

// An EIP-bound instance's row is its EIP's: the EIP's bandwidth, billing,
// traffic and record (on the EIP's tags), and status changes nothing.
func TestStatusOfAnEIPBoundInstance(t *testing.T) {
	e := newEnv(t, envOptions{}, eipInstance("i-a", 5, 80))
	eng := e.engine()
	e.clock.Advance(2 * time.Minute)
	e.tick(eng)
	if got := e.eipBandwidth("i-a"); got <= 5 {
		t.Fatalf("EIP at %d after a saturated tick", got)
	}
	writes := e.calls("TagResources") + e.calls("ModifyEipAddressAttribute")
	e.clock.Advance(2 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := eng.Status(ctx, e.connect, region)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.calls("TagResources") + e.calls("ModifyEipAddressAttribute"); n != writes {
		t.Errorf("status made %d writes", n-writes)
	}
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	a := rows[0]
	if a.EIPAllocationID != "eip-i-a" || a.Cap != e.eipBandwidth("i-a") || a.InternetChargeType != "PayByBandwidth" || a.InstanceChargeType != "PostPaid" {
		t.Errorf("row %+v, want the EIP's cap and billing", a)
	}
	if a.LastChange == nil || a.LastFrom != 5 || a.IncreasesToday != 1 {
		t.Errorf("row %+v, want the EIP's record of the change from 5", a)
	}
	if a.RateMbps == nil || *a.RateMbps <= 1 || a.UsagePercent == nil {
		t.Errorf("rate %v usage %v, want the EIP's newest datapoint", a.RateMbps, a.UsagePercent)
	}
	e.expect(1)
}
