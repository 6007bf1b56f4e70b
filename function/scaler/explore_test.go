package scaler_test

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// A deterministic simulation of money safety (issue 9 "Proof"): one
// emulated ECS account, a shared virtual clock and several engines, each
// its own process with its own clock offset, driven by a seeded scheduler
// through timer runs, alarms, redeliveries, demand changes and faults. The
// order ledger is checked after every step.
//
// Replay a failing schedule with
//
//	go test ./function/scaler -run '^TestExplore$' -seed=N
var (
	exploreSeed      = flag.Uint64("seed", 0, "TestExplore: replay this one schedule (0: run seeds 1..-schedules)")
	exploreSchedules = flag.Int("schedules", 40, "TestExplore: how many schedules (seeds) to run")
	exploreSteps     = flag.Int("steps", 150, "TestExplore: events per schedule")
)

const (
	// justifyWindow is how far back true demand may justify an increase.
	justifyWindow = 40 * time.Minute
	// livenessSpan is how long an instance may stay saturated, with the
	// timer running and no fault, before its cap must have grown.
	livenessSpan = 15 * time.Minute
	// timerGap is the longest gap between timer runs a liveness span allows.
	timerGap = 2 * time.Minute
	// maxOffset bounds each engine's clock offset.
	maxOffset = 5 * time.Second
	// maxLateness bounds how old a redelivered alarm may be.
	maxLateness = 30 * time.Minute
	// crashDeadline is the context of a delivery whose Modify is abandoned:
	// above the clients' 500 ms deadline margin, so the reads still run.
	crashDeadline = 1200 * time.Millisecond
)

func TestExplore(t *testing.T) {
	if *exploreSeed != 0 {
		seed := *exploreSeed
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { explore(t, seed, *exploreSteps) })
		return
	}
	var failed []uint64
	for seed := uint64(1); seed <= uint64(*exploreSchedules); seed++ {
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { explore(t, seed, *exploreSteps) }) {
			failed = append(failed, seed)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d schedules failed: seeds %v; replay one with: go test ./function/scaler -run '^TestExplore$' -seed=%d -v",
			len(failed), *exploreSchedules, failed, failed[0])
	}
}

// proc is one engine: a process of its own, with its own clock.
type proc struct {
	name   string
	eng    *scaler.Engine
	offset time.Duration
}

// sent is an alarm delivery made, for redeliveries.
type sent struct {
	a  alarm.Alarm
	to int // the engine it went to
}

type demandStep struct {
	at   time.Time
	mbps float64
}

// world is one schedule's state.
type world struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	e     *env
	procs []*proc
	ids   []string
	step  int

	demand  map[string][]demandStep // the true demand over virtual time
	spike   map[string]spikeEnd
	alarms  []sent
	tags    map[string][]string // the state tag as observed after each step
	checked int                 // orders of the ledger already checked
	tokens  map[string]string   // ClientToken -> OrderId

	// calm phases have no faults and a regular timer (liveness is judged
	// there); storms have everything.
	calm     bool
	phaseEnd int

	faultOn    bool
	faultUntil time.Time
	lastTimer  time.Time
	satSince   map[string]time.Time
	// liveness coverage: saturated spans ended by an increase, the longest
	longest time.Duration
	grown   int
	lastCap map[string]int
}

type spikeEnd struct {
	step int
	mbps float64
}

func explore(t *testing.T, seed uint64, steps int) {
	w := newWorld(t, seed)
	t.Logf("replay: go test ./function/scaler -run '^TestExplore$' -seed=%d -v", seed)
	for w.step = 1; w.step <= steps; w.step++ {
		w.phase()
		w.maybeClearFaults()
		w.endSpikes()
		w.event()
		w.checkOrders()
		w.observe()
		if t.Failed() {
			break
		}
	}
	w.checkLedger()
	t.Logf("end at %s: %d orders; liveness: %d saturated spans ended by an increase, longest span %v",
		w.now().Format("15:04:05"), len(w.e.emu.Orders()), w.grown, w.longest)
	if t.Failed() {
		t.Logf("orders:\n%s", describeOrders(w.e.emu.Orders()))
		t.Errorf("schedule failed; replay with: go test ./function/scaler -run '^TestExplore$' -seed=%d -v", seed)
	}
}

func newWorld(t *testing.T, seed uint64) *world {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p, err := policy.Parse([]byte(basePolicy))
	if err != nil {
		t.Fatal(err)
	}
	// On a whole minute, as newClock is otherwise: CloudMonitor's periods
	// then fall alike in every replay.
	clock := emulator.NewManualClock(time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Minute))
	emu := emulator.New(emulator.Config{
		Credentials: []emulator.Credential{{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: testCreds.SecurityToken}},
		Clock:       clock.Now,
	})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	w := &world{
		t: t, seed: seed, rng: rng,
		e:      &env{t: t, emu: emu, url: srv.URL, clock: clock, policy: p},
		demand: map[string][]demandStep{}, spike: map[string]spikeEnd{}, tags: map[string][]string{},
		tokens: map[string]string{}, satSince: map[string]time.Time{}, lastCap: map[string]int{},
	}
	caps := []int{5, 10, 20, 50}
	for i, id := range []string{"i-a", "i-b", "i-c"}[:1+rng.IntN(3)] {
		_, hi := p.BoundsFor(id)
		bw := caps[rng.IntN(len(caps))]
		bw = min(bw, hi)
		d := w.pickDemand(bw)
		in := instance(id, bw, d)
		in.PublicIpAddress = []string{fmt.Sprintf("47.96.1.%d", i+2)}
		if rng.IntN(4) == 0 {
			in.InternetChargeType = "PayByTraffic"
		}
		emu.AddInstance(in)
		w.ids = append(w.ids, id)
		w.demand[id] = []demandStep{{clock.Now(), d}}
		w.lastCap[id] = bw
		t.Logf("instance %s %s cap %d demand %.1f", id, in.InternetChargeType, bw, d)
	}
	for i := range 2 + rng.IntN(3) {
		off := time.Duration(rng.Int64N(int64(2*maxOffset+1))) - maxOffset
		pr := &proc{name: fmt.Sprintf("E%d", i), offset: off}
		pr.eng = &scaler.Engine{Policy: p, Clock: func() time.Time { return clock.Now().Add(off) }}
		w.procs = append(w.procs, pr)
		t.Logf("engine %s clock offset %v", pr.name, off)
	}
	clock.Advance(3 * time.Minute) // CloudMonitor has datapoints
	w.lastTimer = clock.Now()
	w.observe()
	return w
}

func (w *world) now() time.Time { return w.e.clock.Now() }

func (w *world) logf(format string, args ...any) {
	w.t.Helper()
	w.t.Logf("step %d @%s: %s", w.step, w.now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// pickDemand is a new demand for an instance at cap bw: low, mid-table,
// saturating or a spike.
func (w *world) pickDemand(bw int) float64 {
	switch w.rng.IntN(4) {
	case 0:
		return 0.5 + w.rng.Float64()*3.5
	case 1:
		return 4 + w.rng.Float64()*26
	case 2:
		return float64(bw) * (1 + w.rng.Float64()*2)
	}
	return 60 + w.rng.Float64()*40
}

func (w *world) cap(id string) int {
	in, _ := w.e.emu.Instance(id)
	return in.InternetMaxBandwidthOut
}

func (w *world) demandNow(id string) float64 {
	h := w.demand[id]
	return h[len(h)-1].mbps
}

func (w *world) setDemand(id string, mbps float64) {
	if err := w.e.emu.SetDemand(id, mbps); err != nil {
		w.t.Fatal(err)
	}
	w.demand[id] = append(w.demand[id], demandStep{w.now(), mbps})
}

// maxDemand is the highest true demand of id in [from, to].
func (w *world) maxDemand(id string, from, to time.Time) float64 {
	best := 0.0
	h := w.demand[id]
	for i, s := range h {
		if s.at.After(to) {
			break
		}
		if i+1 < len(h) && !h[i+1].at.After(from) {
			continue // replaced before the window opened
		}
		best = max(best, s.mbps)
	}
	return best
}

// event runs one event the scheduler picks.
func (w *world) event() {
	type ev struct {
		weight int
		run    func()
	}
	evs := []ev{
		{26, w.advance},
		{26, w.timer},
		{14, w.sendAlarm},
		{9, w.redeliver},
		{10, w.changeDemand},
		{12, w.fault},
		{2, w.crash},
	}
	if w.calm {
		evs = []ev{
			{35, w.advance},
			{40, w.timer},
			{10, w.sendAlarm},
			{5, w.redeliver},
			{4, w.changeDemand},
		}
	}
	total := 0
	for _, e := range evs {
		total += e.weight
	}
	n := w.rng.IntN(total)
	for _, e := range evs {
		if n < e.weight {
			e.run()
			return
		}
		n -= e.weight
	}
}

// phase switches between storms and calm phases.
func (w *world) phase() {
	if w.step < w.phaseEnd {
		return
	}
	w.calm = !w.calm
	if w.calm {
		w.phaseEnd = w.step + 30 + w.rng.IntN(40)
		w.logf("calm until step %d", w.phaseEnd)
	} else {
		w.phaseEnd = w.step + 10 + w.rng.IntN(30)
		w.logf("storm until step %d", w.phaseEnd)
	}
}

func (w *world) advance() {
	d := 10*time.Second + time.Duration(w.rng.Int64N(int64(110*time.Second)))
	d = d.Truncate(time.Second)
	w.e.clock.Advance(d)
	w.logf("advance %v", d)
}

func (w *world) proc() (int, *proc) {
	i := w.rng.IntN(len(w.procs))
	return i, w.procs[i]
}

// deliver runs d on engine p to completion and checks that every order it
// placed is a change it decided on.
func (w *world) deliver(p *proc, d *alarm.Delivery, what string, timeout time.Duration) {
	w.t.Helper()
	before := len(w.e.emu.Orders())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	res, err := p.eng.Run(ctx, d, w.e.connect, region)
	cancel()
	var b strings.Builder
	for _, r := range res {
		fmt.Fprintf(&b, "\n    %s %s %d→%d %s", r.InstanceID, r.Action, r.From, r.To, r.Reason)
		if r.ErrorCode != "" {
			fmt.Fprintf(&b, " [%s]", r.ErrorCode)
		}
		if r.OrderID != "" {
			fmt.Fprintf(&b, " order %s", r.OrderID)
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "\n    error: %v", err)
	}
	w.logf("%s on %s:%s", what, p.name, b.String())
	// Intents: an order appears only during a run that decided to make
	// exactly that change on that instance, and one per instance.
	orders := w.e.emu.Orders()
	per := map[string]int{}
	for _, o := range orders[before:] {
		per[o.InstanceId]++
		if per[o.InstanceId] > 1 {
			w.t.Errorf("money: one run of %s placed %d orders for %s", p.name, per[o.InstanceId], o.InstanceId)
		}
		if !w.intended(res, o) {
			w.t.Errorf("money: order %s (%s %d→%d) placed by a run that decided no such change", o.OrderId, o.InstanceId, o.From, o.To)
		}
	}
}

func (w *world) intended(res []scaler.Result, o emulator.Order) bool {
	in, _ := w.e.emu.Instance(o.InstanceId)
	rec, _ := state.Decode(in.Tags)
	for _, r := range res {
		if r.InstanceID != o.InstanceId {
			continue
		}
		switch r.Action {
		case decide.Scaled:
			return r.To == o.To
		case decide.Deferred, decide.Failed:
			// The call was made and answered an error (an applied change
			// answered 500, then a retry refused or abandoned): the record
			// written before the call names the change.
			return rec.Attempt != nil && rec.Attempt.To == o.To || rec.Cap == o.To
		}
	}
	return false
}

func (w *world) timer() {
	_, p := w.proc()
	w.deliver(p, reconcile, "timer", 30*time.Second)
	if !w.faultOn {
		w.lastTimer = w.now()
	}
}

func (w *world) key() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(w.rng.Uint32())
	}
	return hex.EncodeToString(b[:])
}

func (w *world) sendAlarm() {
	id := w.ids[w.rng.IntN(len(w.ids))]
	bw := w.cap(id)
	rate := min(w.demandNow(id), float64(bw))
	usage := 0.0
	if bw > 0 {
		usage = rate / float64(bw) * 100
	}
	st := alarm.StateOK
	if usage >= 80 {
		st = alarm.StateAlert
	}
	if w.rng.IntN(5) == 0 {
		if st == alarm.StateOK {
			st = alarm.StateAlert
		} else {
			st = alarm.StateOK
		}
	}
	a := alarm.Alarm{
		InstanceID: id, Region: region, Namespace: "acs_ecs_dashboard", State: st,
		Time: w.now().Add(-time.Duration(1+w.rng.IntN(10)) * time.Second), Key: w.key(),
	}
	if w.rng.IntN(2) == 0 {
		a.Metric, a.Value, a.Unit = alarm.MetricVPCInternetOutRatePercent, usage, "%"
	} else {
		a.Metric, a.Value, a.Unit = alarm.MetricVPCInternetOutRate, rate*1e6, "bit/s"
	}
	i, p := w.proc()
	w.alarms = append(w.alarms, sent{a, i})
	w.deliver(p, &alarm.Delivery{Kind: alarm.KindAlarm, Source: "eventbridge", Alarms: []alarm.Alarm{a}},
		fmt.Sprintf("alarm %s %s %s=%.4g at %s key %.8s", id, a.State, a.Metric, a.Value, a.Time.Format("15:04:05"), a.Key), 30*time.Second)
}

func (w *world) redeliver() {
	var recent []sent
	for _, s := range w.alarms {
		if w.now().Sub(s.a.Time) <= maxLateness {
			recent = append(recent, s)
		}
	}
	if len(recent) == 0 {
		w.sendAlarm()
		return
	}
	s := recent[w.rng.IntN(len(recent))]
	a := s.a
	i := s.to
	how := "same engine"
	switch w.rng.IntN(3) {
	case 0:
		i = w.rng.IntN(len(w.procs))
		how = "any engine"
	case 1:
		i = w.rng.IntN(len(w.procs))
		a.Key = w.key()
		how = "second route, new key"
	}
	w.deliver(w.procs[i], &alarm.Delivery{Kind: alarm.KindAlarm, Source: "callback-form", Alarms: []alarm.Alarm{a}},
		fmt.Sprintf("redelivery (%s, %v late) of %s %s %s=%.4g key %.8s", how, w.now().Sub(a.Time).Truncate(time.Second), a.InstanceID, a.State, a.Metric, a.Value, a.Key), 30*time.Second)
}

func (w *world) changeDemand() {
	id := w.ids[w.rng.IntN(len(w.ids))]
	old := w.demandNow(id)
	d := w.pickDemand(w.cap(id))
	kind := "demand"
	if w.rng.IntN(4) == 0 {
		d = 70 + w.rng.Float64()*30
		w.spike[id] = spikeEnd{w.step + 1 + w.rng.IntN(4), old}
		kind = "spike"
	}
	w.setDemand(id, d)
	w.logf("%s %s %.1f → %.1f Mbit/s", kind, id, old, d)
}

func (w *world) endSpikes() {
	for _, id := range w.ids {
		if s, ok := w.spike[id]; ok && w.step >= s.step {
			delete(w.spike, id)
			w.setDemand(id, s.mbps)
			w.logf("spike on %s ends: demand %.1f Mbit/s", id, s.mbps)
		}
	}
}

const modify = "ModifyInstanceNetworkSpec"

func (w *world) fault() {
	var desc string
	switch w.rng.IntN(8) {
	case 0:
		w.e.emu.Inject(emulator.Fault{Action: modify, Code: "InternalError", HTTPStatus: 500, ApplyThenFail: true})
		desc = "Modify applied but answered 500"
		if w.rng.IntN(2) == 0 {
			code := []string{"LastTokenProcessing", "LastOrderProcessing", "Idempotence.Processing"}[w.rng.IntN(3)]
			w.e.emu.Inject(emulator.Fault{Action: modify, Code: code, Count: 1 + w.rng.IntN(5)})
			desc += ", then " + code
		}
	case 1:
		code := []string{"LastTokenProcessing", "LastOrderProcessing", "Idempotence.Processing"}[w.rng.IntN(3)]
		n := 1 + w.rng.IntN(5)
		w.e.emu.Inject(emulator.Fault{Action: modify, Code: code, Count: n})
		desc = fmt.Sprintf("Modify answers %s ×%d", code, n)
	case 2:
		code := []string{"Throttling", "IncorrectInstanceStatus"}[w.rng.IntN(2)]
		n := 1 + w.rng.IntN(5)
		w.e.emu.Inject(emulator.Fault{Action: modify, Code: code, Count: n})
		desc = fmt.Sprintf("Modify answers %s ×%d", code, n)
	case 3:
		n := 1 + w.rng.IntN(10)
		w.e.emu.Inject(emulator.Fault{Action: "DescribeMetricLast", Code: "Throttling.User", Count: n})
		desc = fmt.Sprintf("CloudMonitor DescribeMetricLast Throttling.User ×%d", n)
	case 4:
		lag := time.Duration(w.rng.IntN(11)) * time.Second
		w.e.emu.SetTagLag(lag)
		desc = fmt.Sprintf("tag reads lag %v", lag)
	case 5, 6:
		id := w.ids[w.rng.IntN(len(w.ids))]
		h := w.tags[id]
		if len(h) < 2 {
			return
		}
		back := 1 + w.rng.IntN(min(5, len(h)-1))
		v := h[len(h)-1-back]
		if v == "" {
			return // no record then: the lost write would delete it, which SetTag cannot
		}
		if err := w.e.emu.SetTag(id, state.TagKey, v); err != nil {
			w.t.Fatal(err)
		}
		desc = fmt.Sprintf("lost update: state tag of %s set back %d steps to %q", id, back, v)
	case 7:
		// The record is written, then the call fails on every attempt: as
		// if the process died between the two.
		w.e.emu.Inject(emulator.Fault{Action: modify, Code: "ServiceUnavailable", HTTPStatus: 503, Count: fastRetry.MaxAttempts})
		desc = "Modify fails 503 on every attempt (the change never lands)"
	}
	w.raise(desc)
}

// raise marks a fault active for a while.
func (w *world) raise(desc string) {
	until := w.now().Add(time.Duration(30+w.rng.IntN(240)) * time.Second)
	if until.After(w.faultUntil) {
		w.faultUntil = until
	}
	w.faultOn = true
	w.logf("fault: %s (faults until %s)", desc, w.faultUntil.Format("15:04:05"))
}

// crash abandons a delivery's Modify: the record is written, the call
// stalls past the context deadline, the client goes away and ECS never
// applies it.
func (w *world) crash() {
	w.e.emu.Inject(emulator.Fault{Action: modify, Latency: 10 * time.Second})
	w.raise("crash: the next Modify stalls past the deadline of a short-lived delivery")
	_, p := w.proc()
	w.deliver(p, reconcile, "timer (crashing)", crashDeadline)
	// An unused stall must not slow a later delivery down.
	w.e.emu.ClearFaults()
}

func (w *world) maybeClearFaults() {
	if w.faultOn && !w.now().Before(w.faultUntil) {
		w.e.emu.ClearFaults()
		w.e.emu.SetTagLag(0)
		w.faultOn = false
		w.lastTimer = time.Time{}
		w.logf("faults cleared")
	}
}

// observe notes the tags and checks liveness at the end of a step.
func (w *world) observe() {
	now := w.now()
	for _, id := range w.ids {
		in, _ := w.e.emu.Instance(id)
		w.tags[id] = append(w.tags[id], in.Tags[state.TagKey])
		bw := in.InternetMaxBandwidthOut
		_, hi := w.e.policy.BoundsFor(id)
		hi = min(hi, 100)
		saturated := bw > 0 && w.demandNow(id)/float64(bw)*100 >= w.e.policy.Saturation+0.5
		ok := saturated && !w.faultOn && !w.lastTimer.IsZero() && now.Sub(w.lastTimer) <= timerGap && bw < hi
		if s := w.satSince[id]; !s.IsZero() {
			w.longest = max(w.longest, now.Sub(s))
			if bw > w.lastCap[id] {
				w.grown++
			}
		}
		switch {
		case !ok:
			w.satSince[id] = time.Time{}
		case bw != w.lastCap[id] || w.satSince[id].IsZero():
			w.satSince[id] = now
		}
		w.lastCap[id] = bw
		if s := w.satSince[id]; !s.IsZero() && now.Sub(s) >= livenessSpan {
			w.t.Errorf("liveness: %s saturated (demand %.1f at cap %d, ceiling %d) since %s with the timer running and no fault, and its cap did not grow",
				id, w.demandNow(id), bw, hi, s.Format("15:04:05"))
			w.satSince[id] = time.Time{}
		}
	}
}

// checkOrders checks the orders placed since the last check.
func (w *world) checkOrders() {
	orders := w.e.emu.Orders()
	p := w.e.policy
	for i := w.checked; i < len(orders); i++ {
		o := orders[i]
		w.logf("order %s %s %s %d→%d at %s token %s", o.OrderId, o.InstanceId, o.Kind, o.From, o.To, o.Time.Format("15:04:05"), o.ClientToken)
		lo, hi := p.BoundsFor(o.InstanceId)
		if o.To > hi {
			w.t.Errorf("money: order %s bought %d Mbit/s for %s, above its ceiling %d", o.OrderId, o.To, o.InstanceId, hi)
		}
		switch prev, dup := w.tokens[o.ClientToken]; {
		case o.ClientToken == "":
			w.t.Errorf("money: order %s has no ClientToken", o.OrderId)
		case dup:
			w.t.Errorf("money: orders %s and %s share ClientToken %s", prev, o.OrderId, o.ClientToken)
		}
		w.tokens[o.ClientToken] = o.OrderId
		for _, q := range orders[:i] {
			if q.InstanceId == o.InstanceId && o.Time.Sub(q.Time) < 5*time.Minute {
				w.t.Errorf("money: orders %s and %s for %s %v apart, inside ECS's 5-minute lock", q.OrderId, o.OrderId, o.InstanceId, o.Time.Sub(q.Time))
			}
		}
		if o.To < o.From && o.To < lo {
			w.t.Errorf("money: order %s lowered %s to %d Mbit/s, below its floor %d", o.OrderId, o.InstanceId, o.To, lo)
		}
		if o.To > o.From {
			if bound, why := w.justified(orders[:i], o); o.To > bound {
				w.t.Errorf("money: order %s bought %d Mbit/s for %s, more than the true demand justifies: at most %d (%s)", o.OrderId, o.To, o.InstanceId, bound, why)
			}
		}
	}
	w.checked = len(orders)
}

// justified is the most an increase could buy from the true demand: the
// table row of the highest demand in the last justifyWindow, or the rows a
// saturated link climbs above the cap it came from (one; two when still
// saturated after an increase; doubled for PayByTraffic).
func (w *world) justified(earlier []emulator.Order, o emulator.Order) (int, string) {
	p := w.e.policy
	d := w.maxDemand(o.InstanceId, o.Time.Add(-justifyWindow), o.Time)
	rows := 1
	for _, q := range earlier {
		if q.InstanceId == o.InstanceId && q.To > q.From && o.Time.Sub(q.Time) <= p.Cooldown+10*time.Minute+2*maxOffset {
			rows = 2
		}
	}
	in, _ := w.e.emu.Instance(o.InstanceId)
	if in.InternetChargeType == "PayByTraffic" {
		rows *= 2
	}
	byDemand := tableTarget(p.Table, d)
	bySat := rowsUp(p.Table, o.From, rows)
	lo, _ := p.BoundsFor(o.InstanceId)
	return max(byDemand, bySat, lo), fmt.Sprintf("peak demand %.1f Mbit/s in the last %v → %d; %d row(s) above %d → %d", d, justifyWindow, byDemand, rows, o.From, bySat)
}

func tableTarget(table []policy.Row, rate float64) int {
	for _, r := range table {
		if rate <= r.UpTo {
			return r.Target
		}
	}
	return table[len(table)-1].Target
}

func rowsUp(table []policy.Row, from, n int) int {
	for _, r := range table {
		if r.Target > from {
			n--
			if n == 0 {
				return r.Target
			}
		}
	}
	return max(table[len(table)-1].Target, from)
}

// checkLedger checks the whole ledger once more at the end, as checkMoney
// does (the count of intents is checked run by run in deliver).
func (w *world) checkLedger() {
	w.checkOrders()
	downgrades := map[string]int{}
	for _, o := range w.e.emu.Orders() {
		if in, ok := w.e.emu.Instance(o.InstanceId); ok && in.InstanceChargeType == "PrePaid" && o.Kind == emulator.KindDowngrade {
			downgrades[o.InstanceId]++
		}
	}
	for id, n := range downgrades {
		if n > decide.DowngradeQuota {
			w.t.Errorf("money: %d downgrades of PrePaid %s, more than the %d ECS allows", n, id, decide.DowngradeQuota)
		}
	}
}
