package decide

import "testing"

// eipInst is an EIP-bound VPC instance as the scaler builds it: the cap,
// billing and locks are the EIP's.
func eipInst(bw int, charge, internet string) Instance {
	i := inst(bw)
	i.BandwidthOut = bw
	i.EIP, i.EIPAllocationID, i.EIPAddress, i.EIPBandwidth, i.EIPStatus = true, "eip-1", "47.1.2.3", bw, "InUse"
	i.InstanceChargeType, i.InternetChargeType = charge, internet
	return i
}

func TestEIP(t *testing.T) {
	postpaid := eipInst(10, PostPaid, PayByBandwidth)
	prepaid := eipInst(10, PrePaid, PayByBandwidth)
	pkg := eipInst(10, PostPaid, PayByTraffic)
	pkg.EIPBandwidthPackage = "cbwp-1"
	locked := eipInst(10, PostPaid, PayByTraffic)
	locked.Locks = []string{"financial"}
	associating := eipInst(10, PostPaid, PayByTraffic)
	associating.EIPStatus = "Associating"
	unread := inst(0)
	unread.EIPAllocationID, unread.EIPUnreadable = "eip-1", "no VPC client"
	big := eipInst(100, PostPaid, PayByBandwidth)
	traffic := eipInst(100, PostPaid, PayByTraffic)
	run(t, []tcase{
		{name: "scales up by its EIP", inst: postpaid, reading: reading(point(0, 9.9)), action: Scaled, to: 20, reason: "EIP eip-1: "},
		{name: "scales down by its EIP", inst: eipInst(20, PostPaid, PayByBandwidth), rec: changed(10, 20, 2*60*60e9),
			reading: window(1, 0, 1), action: Scaled, to: 10, reason: "EIP eip-1"},
		{name: "subscription EIP skipped", inst: prepaid, reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "subscription (PrePaid) EIP"},
		{name: "subscription EIP decrease skipped", inst: prepaid, rec: changed(5, 10, 2*60*60e9), reading: Reading{Points: []Point{point(0, 1)}, Since: t0.Add(-31 * 60e9)}, action: Skipped, to: 10, reason: "subscription"},
		{name: "shared bandwidth skipped", inst: pkg, reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "Internet Shared Bandwidth cbwp-1"},
		{name: "locked EIP skipped", inst: locked, reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "locked"},
		{name: "EIP not InUse skipped", inst: associating, reading: reading(point(0, 9.9)), action: Skipped, to: 10, reason: "not InUse"},
		{name: "unreadable EIP stays eip-bound", inst: unread, reading: reading(point(0, 9.9)), action: Skipped, to: 0, reason: "eip-bound"},
		{name: "no change unchanged", inst: postpaid, reading: reading(point(0, 6)), action: Unchanged, to: 10, reason: "already there"},
		// The policy's own ceiling is 200 (policy.APIMaxBandwidth): a
		// PayByBandwidth EIP meets the policy's bound, a PayByTraffic one
		// VPC's range.
		{name: "PayByBandwidth EIP to 200", policy: "max: 200\n", inst: big, trigger: ByManual, manual: &Manual{Bandwidth: 200}, action: Scaled, to: 200},
		{name: "PayByBandwidth EIP above the policy", policy: "max: 200\n", inst: big, trigger: ByManual, manual: &Manual{Bandwidth: 201}, action: Skipped, to: 100, reason: "policy bounds"},
		{name: "PayByTraffic EIP not above 200", policy: "max: 200\n", inst: traffic, trigger: ByManual, manual: &Manual{Bandwidth: 201}, action: Failed, to: 100, reason: "VPC accepts for EIP eip-1"},
		{name: "EIP manual 0 refused", inst: postpaid, trigger: ByManual, manual: &Manual{Bandwidth: 0}, action: Failed, to: 10, reason: "1 Mbit/s or more"},
		{name: "EIP alarm rate", inst: postpaid, trigger: ByAlarm, alarm: &Alarm{Metric: MetricEIPRate, Value: 9.9e6, State: "ALERT", At: t0}, action: Scaled, to: 20},
		{name: "EIP alarm percent", inst: postpaid, trigger: ByAlarm, alarm: &Alarm{Metric: MetricEIPPercent, Value: 99, State: "ALERT", At: t0}, action: Scaled, to: 20},
	})
}

func TestEIPAPIMax(t *testing.T) {
	for _, c := range []struct {
		in   Instance
		want int
	}{
		{eipInst(5, PostPaid, PayByBandwidth), 500},
		{eipInst(5, PostPaid, PayByTraffic), 200},
		{inst(5), 100},
	} {
		if got := APIMax(c.in); got != c.want {
			t.Errorf("APIMax(%s %s EIP=%v) = %d, want %d", c.in.InstanceChargeType, c.in.InternetChargeType, c.in.EIP, got, c.want)
		}
	}
}
