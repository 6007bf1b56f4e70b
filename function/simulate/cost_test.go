package simulate

import (
	"math"
	"strings"
	"testing"
	"time"
)

// testPrices are round numbers so that the expected costs read at a glance.
var testPrices = Prices{
	Currency:         "CNY",
	BandwidthHourly:  Tiered{FirstTierMbps: 5, FirstTier: 0.1, Above: 1},
	BandwidthMonthly: Tiered{FirstTierMbps: 5, FirstTier: 20, Above: 100},
	TrafficPerGB:     1, BytesPerGB: 1e9, DowngradeQuota: 3,
	EIPBandwidthHourly: Tiered{FirstTierMbps: 5, FirstTier: 0.2, Above: 2},
	EIPTrafficPerGB:    2,
}

var month0 = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) // April: 30 days

// meter plays caps (and served rates) minute by minute from month0.
func meter(b Billing, startCap int, minutes int, capAt func(m int) (int, float64)) Cost {
	m := NewMeter(b, &testPrices, month0, startCap)
	for i := 0; i < minutes; i++ {
		c, s := capAt(i)
		m.Minute(month0.Add(time.Duration(i)*time.Minute), c, s)
	}
	return m.Cost()
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestDefaultPrices(t *testing.T) {
	p := DefaultPrices()
	if p.Currency == "" || !strings.Contains(p.Source, "alibabacloud.com") || p.BandwidthHourly.FirstTierMbps != 5 || p.DowngradeQuota != 3 {
		t.Errorf("DefaultPrices = %+v", p)
	}
}

func TestTiered(t *testing.T) {
	tier := testPrices.BandwidthHourly
	for cap, want := range map[int]float64{0: 0, 3: 0.3, 5: 0.5, 6: 1.5, 20: 15.5} {
		if got := tier.Of(cap); !near(got, want) {
			t.Errorf("Of(%d) = %v, want %v", cap, got, want)
		}
	}
}

func TestPostPaidPayByBandwidth(t *testing.T) {
	// Two hours at 10 Mbit/s (5×0.1 + 5×1 = 5.5 an hour), then one at 5: 11.5.
	got := meter(PostPaidPayByBandwidth, 10, 180, func(m int) (int, float64) {
		if m < 120 {
			return 10, 3
		}
		return 5, 3
	})
	if !near(got.Amount, 11.5) || got.TrafficGB != 0 {
		t.Errorf("cost = %+v, want 11.5", got)
	}
}

func TestPayByTraffic(t *testing.T) {
	// 10 Mbit/s for an hour is 10e6/8 × 3600 = 4.5e9 bytes = 4.5 GB; the
	// 100 Mbit/s cap would have let it cost 45.
	for _, b := range []Billing{PostPaidPayByTraffic, PrePaidPayByTraffic} {
		got := meter(b, 100, 60, func(int) (int, float64) { return 100, 10 })
		if !near(got.Amount, 4.5) || !near(got.TrafficGB, 4.5) || !near(got.BoundAtCap, 45) {
			t.Errorf("%s: cost = %+v, want 4.5 (4.5 GB, bound 45)", b, got)
		}
	}
}

// An EIP is priced at the EIP's prices, never ECS's.
func TestEIPCost(t *testing.T) {
	// Two hours at 10 Mbit/s (5×0.2 + 5×2 = 11 an hour), then one at 5: 23.
	bw := meter(EIPPayByBandwidth, 10, 180, func(m int) (int, float64) {
		if m < 120 {
			return 10, 3
		}
		return 5, 3
	})
	if !near(bw.Amount, 23) || bw.TrafficGB != 0 {
		t.Errorf("EIP PayByBandwidth: cost = %+v, want 23", bw)
	}
	// 4.5 GB at 2 a GB; the 100 Mbit/s cap bounds it at 90.
	tr := meter(EIPPayByTraffic, 100, 60, func(int) (int, float64) { return 100, 10 })
	if !near(tr.Amount, 9) || !near(tr.TrafficGB, 4.5) || !near(tr.BoundAtCap, 90) {
		t.Errorf("EIP PayByTraffic: cost = %+v, want 9 (4.5 GB, bound 90)", tr)
	}
	for _, b := range []Billing{EIPPayByBandwidth, EIPPayByTraffic} {
		if instance, _ := b.ChargeTypes(); !b.EIP() || instance != "PostPaid" {
			t.Errorf("%s: EIP %v, instance %s", b, b.EIP(), instance)
		}
	}
	if p := DefaultPrices(); p.EIPBandwidthHourly.FirstTierMbps != 5 || p.EIPTrafficPerGB <= 0 || !strings.Contains(p.Source, "eip") {
		t.Errorf("DefaultPrices has no EIP prices: %+v", p)
	}
}

func TestPrePaidPayByBandwidth(t *testing.T) {
	minute := func(d time.Duration) int { return int(d / time.Minute) }
	half := minute(15 * 24 * time.Hour) // half of April
	// 5 Mbit/s (100 a month) raised to 10 (600) halfway: 100 + 500/2.
	up := meter(PrePaidPayByBandwidth, 5, half+1, func(m int) (int, float64) {
		if m >= half {
			return 10, 0
		}
		return 5, 0
	})
	if !near(up.Amount, 350) || up.Downgrades != 0 {
		t.Errorf("upgrade: %+v, want 350", up)
	}
	// Lowered back at three quarters: refund 500/4.
	threeQ := minute(45 * 12 * time.Hour) // 22.5 days
	down := meter(PrePaidPayByBandwidth, 5, threeQ+1, func(m int) (int, float64) {
		if m >= half && m < threeQ {
			return 10, 0
		}
		return 5, 0
	})
	if !near(down.Amount, 225) || down.Downgrades != 1 || down.DowngradesOverQuota != 0 {
		t.Errorf("upgrade then downgrade: %+v, want 225 with 1 downgrade", down)
	}
	// Renewal: the second month is paid at the cap in force at its start.
	renew := meter(PrePaidPayByBandwidth, 10, minute(30*24*time.Hour)+1, func(int) (int, float64) { return 10, 0 })
	if !near(renew.Amount, 1200) {
		t.Errorf("renewal: %+v, want 2 months × 600", renew)
	}
	// The fourth downgrade is beyond ECS's quota of three.
	flap := meter(PrePaidPayByBandwidth, 10, 8, func(m int) (int, float64) { return []int{10, 5}[m%2], 0 })
	if flap.Downgrades != 4 || flap.DowngradesOverQuota != 1 {
		t.Errorf("quota: %+v, want 4 downgrades, 1 over quota", flap)
	}
}

func TestParsePricesErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"currency":"CNY","bytesPerGB":1e9,"payByTrafficPerGB":-1}`, "payByTrafficPerGB -1"},
		{`{"currency":"CNY","bytesPerGB":0}`, "bytesPerGB 0"},
		{`{"bytesPerGB":1e9}`, "currency is missing"},
		{`{"currency":"CNY","bytesPerGB":1e9,"postPaidPayByBandwidthPerMbpsHour":{"abovePrice":-2}}`, "postPaidPayByBandwidthPerMbpsHour.abovePrice -2"},
		{`{"currency":"CNY","price":1}`, "unknown field"},
	} {
		_, err := ParsePrices(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePrices(%s) = %v, want %q", c.in, err, c.want)
		}
	}
	if _, err := ParseBilling("prepaid-paybytraffic"); err != nil {
		t.Error(err)
	}
	if _, err := ParseBilling("Free"); err == nil {
		t.Error("ParseBilling(Free) succeeded")
	}
}
