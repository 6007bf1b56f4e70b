package simulate

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Billing is an instance's billing method and network billing method.
type Billing string

// The billing combinations ECS offers for a static public IP, and those of
// a pay-as-you-go EIP bound to a VPC instance (whose cap is the EIP's
// bandwidth; a subscription EIP cannot be changed through the API).
const (
	PostPaidPayByBandwidth Billing = "PostPaid-PayByBandwidth"
	PostPaidPayByTraffic   Billing = "PostPaid-PayByTraffic"
	PrePaidPayByBandwidth  Billing = "PrePaid-PayByBandwidth"
	PrePaidPayByTraffic    Billing = "PrePaid-PayByTraffic"
	EIPPayByBandwidth      Billing = "EIP-PayByBandwidth"
	EIPPayByTraffic        Billing = "EIP-PayByTraffic"
)

var billings = []Billing{PostPaidPayByBandwidth, PostPaidPayByTraffic, PrePaidPayByBandwidth, PrePaidPayByTraffic, EIPPayByBandwidth, EIPPayByTraffic}

// ParseBilling reads a -billing value.
func ParseBilling(s string) (Billing, error) {
	for _, b := range billings {
		if strings.EqualFold(s, string(b)) {
			return b, nil
		}
	}
	return "", fmt.Errorf("billing %q is not one of %v", s, billings)
}

// ChargeTypes are the ECS InstanceChargeType and InternetChargeType; for an
// EIP billing, the instance is PostPaid and internet is the EIP's
// InternetChargeType (the EIP itself is PostPaid).
func (b Billing) ChargeTypes() (instance, internet string) {
	instance, internet, _ = strings.Cut(string(b), "-")
	if b.EIP() {
		instance = "PostPaid"
	}
	return instance, internet
}

// EIP reports whether the instances are VPC instances with a pay-as-you-go
// EIP bound, whose bandwidth is the cap.
func (b Billing) EIP() bool { return strings.HasPrefix(string(b), "EIP-") }

func (b Billing) byTraffic() bool { return strings.HasSuffix(string(b), "PayByTraffic") }

// Tiered is a price per Mbit/s with one price up to FirstTierMbps and
// another above: ECS's public bandwidth is tiered at 5 Mbit/s.
type Tiered struct {
	FirstTierMbps int     `json:"firstTierMbps"`
	FirstTier     float64 `json:"firstTierPrice"`
	Above         float64 `json:"abovePrice"`
}

// Of is the price of capMbps.
func (t Tiered) Of(capMbps int) float64 {
	first := min(capMbps, t.FirstTierMbps)
	return float64(first)*t.FirstTier + float64(capMbps-first)*t.Above
}

// Prices are the list prices the cost model uses (prices.json).
type Prices struct {
	Source           string  `json:"source"`
	Currency         string  `json:"currency"`
	BandwidthHourly  Tiered  `json:"postPaidPayByBandwidthPerMbpsHour"`
	BandwidthMonthly Tiered  `json:"prePaidPayByBandwidthPerMbpsMonth"`
	TrafficPerGB     float64 `json:"payByTrafficPerGB"`
	// A pay-as-you-go EIP's bandwidth (tiered like ECS's) and traffic.
	EIPBandwidthHourly Tiered  `json:"eipPayByBandwidthPerMbpsHour"`
	EIPTrafficPerGB    float64 `json:"eipPayByTrafficPerGB"`
	BytesPerGB         float64 `json:"bytesPerGB"`
	DowngradeQuota     int     `json:"prePaidDowngradeQuota"`
	Note               string  `json:"note,omitempty"`
}

// defaultPrices is prices.json, so the built-in defaults and the editable
// file cannot drift apart.
//
//go:embed prices.json
var defaultPrices []byte

// DefaultPrices returns the built-in prices (see prices.json "source").
func DefaultPrices() Prices {
	p, err := ParsePrices(bytes.NewReader(defaultPrices))
	if err != nil {
		return Prices{} // unreachable: TestDefaultPrices parses the file
	}
	return p
}

// ParsePrices reads a prices file; errors name the field.
func ParsePrices(r io.Reader) (Prices, error) {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	var p Prices
	if err := dec.Decode(&p); err != nil {
		return Prices{}, fmt.Errorf("prices: %v", err)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"postPaidPayByBandwidthPerMbpsHour.firstTierPrice", p.BandwidthHourly.FirstTier},
		{"postPaidPayByBandwidthPerMbpsHour.abovePrice", p.BandwidthHourly.Above},
		{"prePaidPayByBandwidthPerMbpsMonth.firstTierPrice", p.BandwidthMonthly.FirstTier},
		{"prePaidPayByBandwidthPerMbpsMonth.abovePrice", p.BandwidthMonthly.Above},
		{"payByTrafficPerGB", p.TrafficPerGB},
		{"eipPayByBandwidthPerMbpsHour.firstTierPrice", p.EIPBandwidthHourly.FirstTier},
		{"eipPayByBandwidthPerMbpsHour.abovePrice", p.EIPBandwidthHourly.Above},
		{"eipPayByBandwidthPerMbpsHour.firstTierMbps", float64(p.EIPBandwidthHourly.FirstTierMbps)},
		{"eipPayByTrafficPerGB", p.EIPTrafficPerGB},
		{"postPaidPayByBandwidthPerMbpsHour.firstTierMbps", float64(p.BandwidthHourly.FirstTierMbps)},
		{"prePaidPayByBandwidthPerMbpsMonth.firstTierMbps", float64(p.BandwidthMonthly.FirstTierMbps)},
		{"prePaidDowngradeQuota", float64(p.DowngradeQuota)},
	} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return Prices{}, fmt.Errorf("prices: %s %v is not 0 or more", f.name, f.v)
		}
	}
	if !(p.BytesPerGB > 0) || math.IsInf(p.BytesPerGB, 0) {
		return Prices{}, fmt.Errorf("prices: bytesPerGB %v is not positive", p.BytesPerGB)
	}
	if p.Currency == "" {
		return Prices{}, fmt.Errorf("prices: currency is missing")
	}
	return p, nil
}

// Cost is what one instance's network cost over the replay.
type Cost struct {
	Billing  Billing `json:"billing"`
	Currency string  `json:"currency"`
	Amount   float64 `json:"amount"`
	// PayByTraffic: the traffic actually sent, and what the cap would have
	// let it cost at most. The cap bounds the spending; it does not set it.
	TrafficGB  float64 `json:"trafficGB,omitempty"`
	BoundAtCap float64 `json:"boundAtCap,omitempty"`
	// PrePaid PayByBandwidth: decreases of the subscribed cap (each refunds
	// the pro-rated difference) and those beyond ECS's quota, which ECS
	// would refuse.
	Downgrades          int `json:"downgrades,omitempty"`
	DowngradesOverQuota int `json:"downgradesOverQuota,omitempty"`
}

// Meter adds up one instance's cost minute by minute, in bounded memory.
//
// Models, per billing method:
//   - PostPaid PayByBandwidth: the hourly tiered price of the cap in force,
//     pro-rated to the minute (pay-as-you-go is metered by the second).
//   - PayByTraffic (PostPaid or PrePaid instance): the GB actually sent.
//   - EIP PayByBandwidth: the EIP's hourly tiered price of the bandwidth
//     in force, pro-rated to the minute. Assumption: the EIP page says it
//     is charged "based on the maximum bandwidth value and the usage
//     duration", settled daily; an older page said the day's highest
//     bandwidth counts for the whole day, which would cost more after a
//     climb. No configuration fee: none is charged for an EIP bound to a
//     VPC ECS instance.
//   - EIP PayByTraffic: the GB actually sent, at the EIP's price.
//   - PrePaid PayByBandwidth: a month's subscription at the start cap, paid
//     at the start; each change pays (upgrade) or refunds (downgrade) the
//     difference of the monthly prices pro-rated to the rest of the month;
//     renewals at each month boundary pay a month at the cap in force.
//     Assumptions: the subscription month starts with the replay; refunds
//     are pro-rated like upgrades. A temporary upgrade's end counts as a
//     decrease here, which nets to the window's pro-rated price.
type Meter struct {
	billing     Billing
	prices      *Prices
	cap         int
	monthStart  time.Time
	monthEnd    time.Time
	cost        Cost
	bytesPerMin float64 // bytes one Mbit/s sends in a minute
}

// NewMeter starts a meter at start with startCap in force.
func NewMeter(b Billing, p *Prices, start time.Time, startCap int) *Meter {
	m := &Meter{billing: b, prices: p, cap: startCap, monthStart: start, monthEnd: start.AddDate(0, 1, 0),
		cost: Cost{Billing: b, Currency: p.Currency}, bytesPerMin: 1e6 / 8 * Step.Seconds()}
	if b == PrePaidPayByBandwidth {
		m.cost.Amount = p.BandwidthMonthly.Of(startCap)
	}
	return m
}

// Minute accounts for the minute starting at at, in which capMbps was in
// force and servedMbps was sent. Minutes must come in order.
func (m *Meter) Minute(at time.Time, capMbps int, servedMbps float64) {
	p := m.prices
	switch {
	case m.billing.byTraffic():
		perGB := p.TrafficPerGB
		if m.billing.EIP() {
			perGB = p.EIPTrafficPerGB
		}
		gb := servedMbps * m.bytesPerMin / p.BytesPerGB
		m.cost.TrafficGB += gb
		m.cost.Amount += gb * perGB
		m.cost.BoundAtCap += float64(capMbps) * m.bytesPerMin / p.BytesPerGB * perGB
	case m.billing == PostPaidPayByBandwidth:
		m.cost.Amount += p.BandwidthHourly.Of(capMbps) * Step.Hours()
	case m.billing == EIPPayByBandwidth:
		m.cost.Amount += p.EIPBandwidthHourly.Of(capMbps) * Step.Hours()
	default: // PrePaid PayByBandwidth
		for !at.Before(m.monthEnd) {
			m.cost.Amount += p.BandwidthMonthly.Of(m.cap)
			m.monthStart, m.monthEnd = m.monthEnd, m.monthEnd.AddDate(0, 1, 0)
		}
		if capMbps != m.cap {
			rest := m.monthEnd.Sub(at).Seconds() / m.monthEnd.Sub(m.monthStart).Seconds()
			m.cost.Amount += (p.BandwidthMonthly.Of(capMbps) - p.BandwidthMonthly.Of(m.cap)) * rest
			if capMbps < m.cap {
				m.cost.Downgrades++
				if m.cost.Downgrades > p.DowngradeQuota {
					m.cost.DowngradesOverQuota++
				}
			}
		}
	}
	m.cap = capMbps
}

// Cost is the cost so far.
func (m *Meter) Cost() Cost { return m.cost }
