package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// The strategies compared in one replay. The first two run the engine; the
// last two are computed without it.
const (
	StrategyPolicy     = "policy"      // the engine with fresh readings, as deployed
	StrategyAlarmsOnly = "alarms-only" // the engine driven by alarms only
	StrategyFixedPeak  = "fixed-peak"  // the trace's peak rounded up to a table row, all along
	StrategyStartCap   = "start-cap"   // the starting cap, all along
)

// Strategies lists them in report order.
var Strategies = []string{StrategyPolicy, StrategyAlarmsOnly, StrategyFixedPeak, StrategyStartCap}

// Region is the emulated region; the trace's instances all live there.
const Region = "cn-hangzhou"

// simUserID is the account the emulated callbacks name.
const simUserID = "1234567890123456"

// Config configures a replay.
type Config struct {
	Policy   *policy.Policy
	Rules    []Rule // nil: DefaultRules
	Billing  Billing
	Prices   Prices
	StartCap int // 0: each instance's floor (the policy's min or override)
	// NewController builds the engine of an engine strategy; nil means
	// NewController (the real engine over the emulator).
	NewController func(ControllerConfig) (Controller, error)
	// Timeline receives timeline.csv; nil writes none.
	Timeline io.Writer
}

// Figures are one strategy's outcome for one instance or in total.
type Figures struct {
	DemandMbitSeconds float64 `json:"demandMbitSeconds"`
	ServedMbitSeconds float64 `json:"servedMbitSeconds"`
	ServedFraction    float64 `json:"servedFraction"` // of Mbit·s; 1 when nothing was asked
	MinutesSaturated  int     `json:"minutesSaturated"`
	OrdersUp          int     `json:"ordersUp"`
	OrdersDown        int     `json:"ordersDown"`
	CapMbpsHours      float64 `json:"capMbpsHours"`
	Cost              Cost    `json:"cost"`
	FixedCapMbps      int     `json:"fixedCapMbps,omitempty"` // fixed strategies
}

// Order is one change of the cap, as the timeline shows it.
type Order struct {
	Time     time.Time `json:"time"`
	From, To int
}

// InstanceResult is one instance's outcome under every strategy.
type InstanceResult struct {
	ID         string              `json:"instanceId"`
	Min        int                 `json:"min"`
	Max        int                 `json:"max"`
	StartCap   int                 `json:"startCapMbps"`
	PeakDemand float64             `json:"peakDemandMbps"`
	Strategies map[string]*Figures `json:"strategies"`
	plot       *plot
}

// Result is a whole replay's outcome.
type Result struct {
	Start      time.Time           `json:"start"`
	End        time.Time           `json:"end"`
	Minutes    int                 `json:"minutes"`
	Billing    Billing             `json:"billing"`
	LowerBound bool                `json:"demandIsLowerBound"`
	Notes      []string            `json:"notes"`
	Rules      []Rule              `json:"alarmRules"`
	Instances  []*InstanceResult   `json:"instances"`
	Total      map[string]*Figures `json:"total"`
	Best       string              `json:"best"`
	Warnings   []string            `json:"warnings,omitempty"`
}

// run is one strategy's state across all instances.
type run struct {
	name   string
	ctl    Controller        // nil for fixed strategies
	fixed  []int             // per instance, fixed strategies
	meters []*Meter          // per instance
	rules  [][]RuleState     // [instance][rule]
	queue  []*alarm.Delivery // notifications of the last period, to deliver now
	caps   []int             // the cap in force this minute
	acts   []string          // the engine's action this minute
	notes  []string          // notifications delivered this minute (timeline)
	last   []int             // the previous minute's cap, to count changes
	index  map[string]int    // instance ID -> index
	ids    []string          // instance IDs, in order
	err    error
}

// Replay runs the trace through every strategy.
func Replay(ctx context.Context, t *Trace, cfg Config) (*Result, error) {
	if cfg.Policy == nil || len(cfg.Policy.Table) == 0 {
		return nil, errors.New("simulate: no policy")
	}
	if cfg.Billing == "" {
		cfg.Billing = PostPaidPayByBandwidth
	}
	if cfg.Rules == nil {
		cfg.Rules = DefaultRulesFor(cfg.Policy, cfg.Billing)
	}
	for _, r := range cfg.Rules {
		if r.EIP() != cfg.Billing.EIP() {
			if cfg.Billing.EIP() {
				return nil, fmt.Errorf("simulate: alarm rule %s: %s instances alarm on their EIP's metrics (%s, %s of %s)", r.Name, cfg.Billing,
					alarm.MetricEIPOutRatePercent, alarm.MetricEIPOutRate, eipNamespace)
			}
			return nil, fmt.Errorf("simulate: alarm rule %s: %s is an EIP's metric; %s instances have no EIP (use -billing EIP-...)", r.Name, r.Metric, cfg.Billing)
		}
	}
	if cfg.Prices.Currency == "" {
		cfg.Prices = DefaultPrices()
	}
	newCtl := cfg.NewController
	if newCtl == nil {
		newCtl = NewController
	}
	// The replay asks what the policy would do to these instances, whatever
	// its selector says.
	p := *cfg.Policy
	p.Instances = policy.Selector{}
	for _, s := range t.Series {
		p.Instances.IDs = append(p.Instances.IDs, s.ID)
	}
	res := &Result{Start: t.Start, End: t.Start.Add(time.Duration(t.Minutes) * Step), Minutes: t.Minutes,
		Billing: cfg.Billing, LowerBound: t.LowerBound, Rules: cfg.Rules, Total: map[string]*Figures{}}
	res.Notes = notes(t, cfg.Billing)
	setups := make([]InstanceSetup, len(t.Series))
	for i := range t.Series {
		s := &t.Series[i]
		lo, hi := p.BoundsFor(s.ID)
		start := cfg.StartCap
		if start == 0 {
			start = lo
		}
		if start < lo || start > hi {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: start cap %d Mbit/s is outside the policy's bounds %d..%d", s.ID, start, lo, hi))
		}
		setups[i] = InstanceSetup{ID: s.ID, Billing: cfg.Billing, Cap: start, Expires: res.End.AddDate(1, 0, 0)}
		ir := &InstanceResult{ID: s.ID, Min: lo, Max: hi, StartCap: start, PeakDemand: s.Peak(), Strategies: map[string]*Figures{},
			plot: newPlot(t.Minutes)}
		res.Instances = append(res.Instances, ir)
	}

	clock := emulator.NewManualClock(t.Start)
	runs := make([]*run, len(Strategies))
	for k, name := range Strategies {
		r := &run{name: name}
		runs[k] = r
		switch name {
		case StrategyPolicy, StrategyAlarmsOnly:
			ctl, err := newCtl(ControllerConfig{Policy: &p, Clock: clock.Now, Region: Region, Instances: setups, FreshReadings: name == StrategyPolicy})
			if err != nil {
				closeAll(runs)
				return nil, err
			}
			r.ctl = ctl
		case StrategyFixedPeak:
			for i, ir := range res.Instances {
				r.fixed = append(r.fixed, RoundUpToRow(&p, t.Series[i].Peak(), ir.Min, ir.Max))
			}
		case StrategyStartCap:
			for _, ir := range res.Instances {
				r.fixed = append(r.fixed, ir.StartCap)
			}
		}
		for i, su := range setups {
			first := su.Cap // a fixed strategy holds its cap from the start: no order
			if r.fixed != nil {
				first = r.fixed[i]
			}
			r.meters = append(r.meters, NewMeter(cfg.Billing, &cfg.Prices, t.Start, first))
			r.rules = append(r.rules, make([]RuleState, len(cfg.Rules)))
			r.last = append(r.last, first)
		}
		r.caps, r.acts, r.notes = make([]int, len(setups)), make([]string, len(setups)), make([]string, len(setups))
		r.index = make(map[string]int, len(setups))
		for _, su := range setups {
			r.ids = append(r.ids, su.ID)
		}
		for i, ir := range res.Instances {
			f := &Figures{}
			if r.fixed != nil {
				f.FixedCapMbps = r.fixed[i]
			}
			ir.Strategies[name] = f
			r.index[ir.ID] = i
		}
	}
	defer closeAll(runs)

	tl := newTimeline(cfg.Timeline)
	cursors := make([]*Cursor, len(t.Series))
	for i := range t.Series {
		cursors[i] = t.Series[i].Cursor()
	}
	demand := make([]float64, len(t.Series))
	for m := 0; m < t.Minutes; m++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if m > 0 {
			clock.Advance(Step)
		}
		at := t.Start.Add(time.Duration(m) * Step)
		for i, c := range cursors {
			demand[i] = c.At(m)
		}
		var wg sync.WaitGroup
		for _, r := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.err = r.minute(ctx, res, &cfg, at, demand)
			}()
		}
		wg.Wait()
		for _, r := range runs {
			if r.err != nil {
				return nil, r.err
			}
		}
		for i, ir := range res.Instances {
			ir.plot.add(m, i, demand[i], runs)
			if r := runs[0]; r.caps[i] != r.last[i] {
				ir.plot.order(at, r.last[i], r.caps[i])
			}
		}
		for _, r := range runs {
			copy(r.last, r.caps)
		}
		if err := tl.write(at, res.Instances, demand, runs); err != nil {
			return nil, err
		}
	}
	if err := tl.flush(); err != nil {
		return nil, err
	}
	finish(res, runs)
	return res, nil
}

func closeAll(runs []*run) {
	for _, r := range runs {
		if r != nil && r.ctl != nil {
			r.ctl.Close()
			r.ctl = nil
		}
	}
}

// minute plays one minute of one strategy: deliver the notifications of
// the period that just ended, run the minute timer, read the caps, then
// evaluate the alarm rules on what was sent in this minute.
func (r *run) minute(ctx context.Context, res *Result, cfg *Config, at time.Time, demand []float64) error {
	for i := range r.acts {
		r.acts[i], r.notes[i] = "", ""
	}
	if r.ctl != nil {
		for i, ir := range res.Instances {
			r.ctl.SetDemand(ir.ID, demand[i])
		}
		queue := r.queue
		r.queue = r.queue[:0:0]
		queue = append(queue, &alarm.Delivery{Kind: alarm.KindReconcile, Source: "timer"})
		for _, d := range queue {
			outs, err := r.ctl.Handle(ctx, d)
			if err != nil {
				return fmt.Errorf("simulate: %s at %s: %w", r.name, at.Format(time.RFC3339), err)
			}
			r.record(outs)
		}
		r.caps = r.ctl.Caps(r.ids, r.caps)
	} else {
		copy(r.caps, r.fixed)
	}
	for i, ir := range res.Instances {
		served := math.Min(demand[i], float64(r.caps[i]))
		f := ir.Strategies[r.name]
		f.DemandMbitSeconds += demand[i] * Step.Seconds()
		f.ServedMbitSeconds += served * Step.Seconds()
		f.CapMbpsHours += float64(r.caps[i]) * Step.Hours()
		if demand[i] > 0 && demand[i] >= float64(r.caps[i]) {
			f.MinutesSaturated++
		}
		switch {
		case r.caps[i] > r.last[i]:
			f.OrdersUp++
		case r.caps[i] < r.last[i]:
			f.OrdersDown++
		}
		r.meters[i].Minute(at, r.caps[i], served)
		if r.ctl == nil {
			continue
		}
		dimension := ir.ID
		if cfg.Billing.EIP() {
			dimension = AllocationID(ir.ID) // an acs_vpc_eip alarm names the EIP
		}
		for k := range cfg.Rules {
			rule := &cfg.Rules[k]
			n, ok := r.rules[i][k].Observe(rule, dimension, at.Add(Step), rule.Value(served, r.caps[i]))
			if !ok {
				continue
			}
			d, err := alarm.Decode(n.Callback(Region, simUserID), alarm.Options{DefaultRegion: Region})
			if err != nil {
				return fmt.Errorf("simulate: the intake refused an emulated callback: %w", err)
			}
			r.queue = append(r.queue, d)
			r.notes[i] = join(r.notes[i], string(n.State)+" "+rule.Name)
		}
	}
	return nil
}

// record keeps the engine's most telling action per instance this minute:
// anything but "nothing to do".
func (r *run) record(outs []Outcome) {
	for _, o := range outs {
		switch o.Action {
		case "unchanged", "ignored", "duplicate", "":
			continue
		}
		if i, ok := r.index[o.InstanceID]; ok && r.acts[i] == "" {
			r.acts[i] = o.Action
		}
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// notes are what a reader must know to read the figures.
func notes(t *Trace, b Billing) []string {
	n := []string{"servedMbps = min(demand, cap) every minute; CloudMonitor notifications are assumed to arrive at the start of the next minute."}
	if t.LowerBound {
		n = append(n, "The demand comes from a CloudMonitor history export: it was clipped at the cap in force then, so it is a lower bound of the real demand; minutes at the old cap may have wanted more.")
	}
	if b.EIP() {
		n = append(n, "EIP-bound VPC instances: the cap is the bandwidth of each instance's pay-as-you-go EIP, changed with VPC ModifyEipAddressAttribute; the alarms are on acs_vpc_eip.")
	}
	if b.byTraffic() {
		n = append(n, "PayByTraffic: the cost is the traffic actually sent; the cap only bounds it (boundAtCap is the most it could have cost).")
	}
	return n
}

// finish sums the totals, cross-checks the engine's orders with the
// emulator's ledger and names the best strategy.
func finish(res *Result, runs []*run) {
	for k, r := range runs {
		total := &Figures{}
		res.Total[r.name] = total
		var ledger map[string]int
		if r.ctl != nil {
			ledger = r.ctl.Orders()
		}
		for i, ir := range res.Instances {
			f := ir.Strategies[Strategies[k]]
			f.Cost = r.meters[i].Cost()
			f.ServedFraction = fraction(f.ServedMbitSeconds, f.DemandMbitSeconds)
			if ledger != nil && ledger[ir.ID] != f.OrdersUp+f.OrdersDown {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s: the emulator's ledger has %d orders, the timeline %d changes", r.name, ir.ID, ledger[ir.ID], f.OrdersUp+f.OrdersDown))
			}
			total.add(f)
		}
		total.ServedFraction = fraction(total.ServedMbitSeconds, total.DemandMbitSeconds)
	}
	res.Best = best(res)
}

func (f *Figures) add(g *Figures) {
	f.DemandMbitSeconds += g.DemandMbitSeconds
	f.ServedMbitSeconds += g.ServedMbitSeconds
	f.MinutesSaturated += g.MinutesSaturated
	f.OrdersUp += g.OrdersUp
	f.OrdersDown += g.OrdersDown
	f.CapMbpsHours += g.CapMbpsHours
	f.Cost.Billing, f.Cost.Currency = g.Cost.Billing, g.Cost.Currency
	f.Cost.Amount += g.Cost.Amount
	f.Cost.TrafficGB += g.Cost.TrafficGB
	f.Cost.BoundAtCap += g.Cost.BoundAtCap
	f.Cost.Downgrades += g.Cost.Downgrades
	f.Cost.DowngradesOverQuota += g.Cost.DowngradesOverQuota
}

func fraction(a, b float64) float64 {
	if b == 0 {
		return 1
	}
	return a / b
}

// best is the sentence naming the strategy that served the most demand per
// unit of cost, with its share of the demand so a cheap starvation diet is
// not mistaken for a bargain.
func best(res *Result) string {
	name, top := "", -1.0
	for _, s := range Strategies {
		f := res.Total[s]
		if f.Cost.Amount <= 0 {
			continue
		}
		if v := f.ServedMbitSeconds / f.Cost.Amount; v > top {
			name, top = s, v
		}
	}
	if name == "" {
		return "No strategy cost anything, so none served more demand per unit of cost."
	}
	f := res.Total[name]
	return fmt.Sprintf("%s served the most demand per unit of cost: %.4g Gbit per %s (%.1f%% of the demand served, %.2f %s in all).",
		name, top/1e3, f.Cost.Currency, f.ServedFraction*100, f.Cost.Amount, f.Cost.Currency)
}
