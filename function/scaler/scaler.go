// Package scaler is the controller around the decision core: it reads the
// instances afresh (ECS for the cap, CloudMonitor for the traffic), asks
// decide what to do, calls ECS and records the change on the instance
// itself. It holds no rule of its own.
package scaler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

// ECS is what the controller needs from the ECS API; *ecsapi.Client has it.
type ECS interface {
	DescribeInstances(ctx context.Context, ids []string) ([]ecsapi.Instance, error)
	DescribeTagged(ctx context.Context, key, value string) ([]ecsapi.Instance, error)
	ModifyBandwidth(ctx context.Context, r ecsapi.ModifyRequest) (ecsapi.ModifyResult, error)
	WriteTags(ctx context.Context, instanceID string, tags map[string]string) (string, error)
}

// Metrics is what the controller reads from CloudMonitor; *cmsapi.Client
// has it. ids nil means every instance of the region.
type Metrics interface {
	Last(ctx context.Context, metric string, ids []string) ([]cmsapi.Point, error)
	List(ctx context.Context, metric string, ids []string, start, end time.Time) ([]cmsapi.Point, error)
}

// VPC is what the controller needs from the VPC API for EIP-bound VPC
// instances, whose cap is their EIP's; *vpcapi.Client has it.
type VPC interface {
	DescribeEIPs(ctx context.Context, ids []string) ([]vpcapi.EIP, error)
	ModifyBandwidth(ctx context.Context, allocationID string, mbps int) (vpcapi.ModifyResult, error)
	WriteTags(ctx context.Context, allocationID string, tags map[string]string) (string, error)
}

// NamespaceMetrics is what the controller reads of an EIP's traffic
// (namespace acs_vpc_eip); *cmsapi.Client has it. A Metrics without it
// leaves EIP-bound instances to the alarms' values.
type NamespaceMetrics interface {
	LastIn(ctx context.Context, namespace, metric string, ids []string) ([]cmsapi.Point, error)
	ListIn(ctx context.Context, namespace, metric string, ids []string, start, end time.Time) ([]cmsapi.Point, error)
}

// Clients are one region's API clients for the current invocation.
type Clients struct {
	ECS ECS
	// Metrics nil: decide on the alarms' values alone.
	Metrics Metrics
	// VPC nil: EIP-bound instances are left alone ("eip-bound").
	VPC VPC
}

// tagWriter is where a record is written: ECS for an instance, VPC for an EIP.
type tagWriter interface {
	WriteTags(ctx context.Context, id string, tags map[string]string) (string, error)
}

// Connect returns the clients of one region for the current invocation.
type Connect func(region string) (Clients, error)

// lockWindow is how long after a change ECS's status refusals count as its
// lock rather than as a refusal of the change.
const lockWindow = 10 * time.Minute

// Result is the outcome for one instance, as the function reports and logs it.
type Result struct {
	InstanceID string        `json:"instanceId"`
	Region     string        `json:"regionId,omitempty"`
	Action     decide.Action `json:"action"`
	From       int           `json:"from"`
	To         int           `json:"to"`
	Reason     string        `json:"reason"`
	OrderID    string        `json:"orderId,omitempty"`
	RequestID  string        `json:"requestId,omitempty"`
	RetryAfter string        `json:"retryAfter,omitempty"`
	ErrorCode  string        `json:"errorCode,omitempty"`
	Warnings   []string      `json:"warnings,omitempty"`
	// Key is the alarm's delivery key, for the log; not part of the result.
	Key string `json:"-"`
	// Transient marks a failure to read worth a redelivery.
	Transient bool `json:"-"`
}

// ErrTransient is wrapped by Run's error when reading the instances failed
// for a reason that may pass: the caller may make the platform redeliver
// (harmless: every delivery only makes the function look again).
var ErrTransient = errors.New("transient failure")

// Engine turns deliveries into results. It is safe for concurrent use.
type Engine struct {
	Policy *policy.Policy
	Clock  func() time.Time // nil: time.Now
	DryRun bool             // DRY_RUN: decide and report, never modify

	// seen remembers alarm delivery keys this process has looked at, so a
	// redelivery costs no call. Correctness does not depend on it.
	seen keyCache
	// locks serialises work on one instance inside this process.
	locks sync.Map // instance ID -> *sync.Mutex
}

// target is one instance to decide on and what woke it.
type target struct {
	id      string
	trigger decide.Trigger
	alarm   *decide.Alarm
	manual  *decide.Manual
	dryRun  bool
	key     string
	// eip: id is an EIP's allocation ID (an acs_vpc_eip alarm), to be
	// mapped to the instance it is bound to.
	eip bool
}

// Run handles one delivery. The error is non-nil (wrapping ErrTransient)
// when the instances could not be read for a reason that may pass; the
// results are complete either way.
func (e *Engine) Run(ctx context.Context, d *alarm.Delivery, connect Connect, defaultRegion string) ([]Result, error) {
	var results []Result
	switch d.Kind {
	case alarm.KindAlarm:
		results = e.runAlarms(ctx, d.Alarms, connect)
	case alarm.KindManual:
		results = e.runManual(ctx, d.Manual, connect, defaultRegion)
	case alarm.KindReconcile:
		results = e.runTimer(ctx, connect, defaultRegion)
	default:
		return nil, fmt.Errorf("scaler: delivery of unknown kind %q", d.Kind)
	}
	var transient []string
	for _, r := range results {
		if r.Transient {
			transient = append(transient, r.InstanceID+": "+r.Reason)
		}
	}
	if len(transient) > 0 {
		return results, fmt.Errorf("%w: %s", ErrTransient, strings.Join(transient, "; "))
	}
	return results, nil
}

func (e *Engine) runAlarms(ctx context.Context, alarms []alarm.Alarm, connect Connect) []Result {
	byRegion := map[string][]target{}
	var regions []string
	var results []Result
	newest := map[string]int{} // region/instance -> index in byRegion[region]
	for _, a := range alarms {
		if h, ok := e.seen.get(a.Key); ok {
			results = append(results, Result{InstanceID: a.InstanceID, Region: a.Region, Action: decide.Duplicate, Key: a.Key,
				From: h.to, To: h.to, Reason: "redelivery of an alarm this process already looked at"})
			continue
		}
		if _, ok := byRegion[a.Region]; !ok {
			regions = append(regions, a.Region)
		}
		t := target{id: a.InstanceID, trigger: decide.ByAlarm, key: a.Key, alarm: &decide.Alarm{
			Metric: a.Metric, Value: a.Value, State: string(a.State), At: a.Time, UnknownMetric: a.UnknownMetric,
		}, eip: a.Namespace == cmsapi.NamespaceEIP || a.Metric == decide.MetricEIPRate || a.Metric == decide.MetricEIPPercent}
		// Several alarms of one instance make one decision, on the newest.
		slot := a.Region + "/" + a.InstanceID
		if i, ok := newest[slot]; ok {
			older := t
			if prev := byRegion[a.Region][i]; !a.Time.Before(prev.alarm.At) {
				byRegion[a.Region][i], older = t, prev
			}
			results = append(results, Result{InstanceID: a.InstanceID, Region: a.Region, Action: decide.Duplicate, Key: older.key,
				Reason: "a newer alarm of this instance in the same delivery decides"})
			continue
		}
		newest[slot] = len(byRegion[a.Region])
		byRegion[a.Region] = append(byRegion[a.Region], t)
	}
	for _, region := range regions {
		results = append(results, e.runRegion(ctx, region, byRegion[region], false, connect)...)
	}
	return results
}

func (e *Engine) runManual(ctx context.Context, m *alarm.Manual, connect Connect, defaultRegion string) []Result {
	if m == nil {
		return []Result{{Action: decide.Failed, Reason: "manual invocation without instance"}}
	}
	region := m.Region
	if region == "" {
		region = defaultRegion
	}
	return e.runRegion(ctx, region, []target{{id: m.InstanceID, trigger: decide.ByManual,
		manual: &decide.Manual{Bandwidth: m.BandwidthOut}, dryRun: m.DryRun}}, false, connect)
}

// runTimer is the control loop: every instance the policy selects, in every
// region it lists, decided from a fresh reading.
func (e *Engine) runTimer(ctx context.Context, connect Connect, defaultRegion string) []Result {
	regions := e.Policy.Regions
	if len(regions) == 0 {
		regions = []string{defaultRegion}
	}
	var results []Result
	for _, region := range regions {
		results = append(results, e.runRegion(ctx, region, nil, true, connect)...)
	}
	return results
}

// reading is what one region's reads found.
type reading struct {
	found    map[string]ecsapi.Instance
	selected []ecsapi.Instance // the policy's selection, when listed
	points   map[string][]decide.Point
	cmsErr   error
	// eips are the EIPs of EIP-bound VPC instances, by instance ID; eipErr
	// says why they could not be read.
	eips   map[string]vpcapi.EIP
	eipErr error
}

// runRegion reads the region afresh and decides each target; all: every
// selected instance is a target (the timer).
func (e *Engine) runRegion(ctx context.Context, region string, targets []target, all bool, connect Connect) []Result {
	clients, err := connect(region)
	if err != nil {
		return failAll(targets, region, err)
	}
	targets, unresolved := e.resolveEIPs(ctx, clients, region, targets)
	r, err := e.read(ctx, clients, region, targets, all)
	if err != nil {
		return failAll(targets, region, err)
	}
	if all {
		for _, in := range r.selected {
			targets = append(targets, target{id: in.ID, trigger: decide.ByTimer})
		}
		sort.Slice(targets, func(i, j int) bool { return targets[i].id < targets[j].id })
	}
	total, unknown := -1, ""
	if e.Policy.MaxTotalMbps > 0 && r.selected != nil {
		total, unknown = e.committed(r), regionUnknown(r)
	}
	now := e.now()
	decisions := make([]decide.Decision, len(targets))
	inputs := make([]decide.Input, len(targets))
	var windowIDs []string
	var since time.Time
	for i, t := range targets {
		in, ok := r.found[t.id]
		if !ok {
			continue
		}
		inputs[i] = e.input(t, in, r, now, total)
		inputs[i].RegionUnknown = unknown
		decisions[i] = decide.Decide(inputs[i])
		if decisions[i].NeedWindow {
			windowIDs = append(windowIDs, t.id)
			if since.IsZero() || decisions[i].WindowSince.Before(since) {
				since = decisions[i].WindowSince
			}
		}
	}
	if len(windowIDs) > 0 {
		window, err := e.window(ctx, clients.Metrics, inputs, targets, windowIDs, since, now)
		for i, t := range targets {
			if !decisions[i].NeedWindow {
				continue
			}
			if err != nil {
				inputs[i].Reading.WindowUnavailable = explain(err)
			} else {
				inputs[i].Reading = decide.Reading{Points: window[t.id], Since: since}
			}
			decisions[i] = decide.Decide(inputs[i])
		}
	}
	results := make([]Result, 0, len(targets)+len(unresolved))
	results = append(results, unresolved...)
	for i, t := range targets {
		in, ok := r.found[t.id]
		if !ok {
			results = append(results, Result{InstanceID: t.id, Region: region, Action: decide.Failed, Key: t.key,
				Reason: fmt.Sprintf("instance %s was not found in region %s: check the instance ID and the alarm's region", t.id, region)})
			continue
		}
		res := e.execute(ctx, clients, in, inputs[i], decisions[i])
		if res.Action == decide.Scaled && total >= 0 && decisions[i].Change != nil {
			total += decisions[i].Change.Target - decisions[i].From
		}
		res.Key = t.key
		// A deferred alarm may still count when it is redelivered.
		if t.key != "" && !res.Transient && res.Action != decide.Deferred {
			e.seen.add(t.key, seenCaps{to: res.To})
		}
		results = append(results, res)
	}
	return results
}

// read takes the region's fresh reading: ECS and CloudMonitor in parallel.
func (e *Engine) read(ctx context.Context, c Clients, region string, targets []target, all bool) (reading, error) {
	r := reading{found: map[string]ecsapi.Instance{}, points: map[string][]decide.Point{}}
	ids := make([]string, 0, len(targets))
	metric := cmsapi.MetricVPC
	for _, t := range targets {
		ids = append(ids, t.id)
		if t.alarm != nil && strings.HasPrefix(t.alarm.Metric, decide.MetricClassicRate) {
			metric = cmsapi.MetricClassic
		}
	}
	listAll := all || e.Policy.MaxTotalMbps > 0
	var wg sync.WaitGroup
	var ecsErr, selErr error
	var named, selected []ecsapi.Instance
	var last []cmsapi.Point
	if len(ids) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); named, ecsErr = c.ECS.DescribeInstances(ctx, ids) }()
	}
	if listAll {
		wg.Add(1)
		go func() { defer wg.Done(); selected, selErr = e.selection(ctx, c.ECS) }()
	}
	if c.Metrics != nil {
		cmsIDs := ids
		if all {
			cmsIDs = e.Policy.Instances.IDs
			if e.Policy.Instances.Tag != nil {
				cmsIDs = nil // the whole region in one paged call
			}
		}
		if !all || cmsIDs != nil || e.Policy.Instances.Tag != nil {
			wg.Add(1)
			go func() { defer wg.Done(); last, r.cmsErr = c.Metrics.Last(ctx, metric, cmsIDs) }()
		}
	} else {
		r.cmsErr = errors.New("no CloudMonitor client")
	}
	wg.Wait()
	if ecsErr != nil {
		return r, ecsErr
	}
	if selErr != nil {
		return r, selErr
	}
	for _, in := range named {
		r.found[in.ID] = in
	}
	if listAll {
		r.selected = selected
		for _, in := range selected {
			if _, ok := r.found[in.ID]; !ok && (all || contains(ids, in.ID)) {
				r.found[in.ID] = in
			}
		}
	}
	addPoints(r.points, last)
	// Classic-network instances report another metric: a second read, for
	// them alone (the classic network is retired; this is rare).
	var classic []string
	for id, in := range r.found {
		if in.NetworkType == decide.NetworkClassic && len(r.points[id]) == 0 && metric != cmsapi.MetricClassic {
			classic = append(classic, id)
		}
	}
	if len(classic) > 0 && c.Metrics != nil && r.cmsErr == nil {
		sort.Strings(classic)
		more, err := c.Metrics.Last(ctx, cmsapi.MetricClassic, classic)
		if err != nil {
			r.cmsErr = err
		}
		addPoints(r.points, more)
	}
	e.readEIPs(ctx, c, &r)
	return r, nil
}

// readEIPs reads the EIPs of the EIP-bound VPC instances found, and their
// traffic (acs_vpc_eip), in parallel: the EIP's is the cap, and its rate
// replaces the instance's. Their allocation IDs come from DescribeInstances
// (EipAddress.AllocationId), so this follows the ECS read.
func (e *Engine) readEIPs(ctx context.Context, c Clients, r *reading) {
	byAlloc := map[string]string{}
	var allocs []string
	for id, in := range r.found {
		if in.EIPAllocationID != "" && in.NetworkType != decide.NetworkClassic {
			byAlloc[in.EIPAllocationID] = id
			allocs = append(allocs, in.EIPAllocationID)
		}
	}
	if len(allocs) == 0 {
		return
	}
	sort.Strings(allocs)
	r.eips = map[string]vpcapi.EIP{}
	if c.VPC == nil {
		r.eipErr = errors.New("the function has no VPC client to read and change EIPs")
		return
	}
	var wg sync.WaitGroup
	var eips []vpcapi.EIP
	var pts []cmsapi.Point
	var cmsErr error
	wg.Add(1)
	go func() { defer wg.Done(); eips, r.eipErr = c.VPC.DescribeEIPs(ctx, allocs) }()
	nm, ok := c.Metrics.(NamespaceMetrics)
	if ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pts, cmsErr = nm.LastIn(ctx, cmsapi.NamespaceEIP, cmsapi.MetricEIPRate, allocs)
		}()
	}
	wg.Wait()
	for _, eip := range eips {
		if id, ok := byAlloc[eip.AllocationID]; ok {
			r.eips[id] = eip
		}
	}
	// The instance's own metric measures a cap it does not have: only the
	// EIP's points count for it.
	for _, id := range byAlloc {
		delete(r.points, id)
	}
	if !ok || cmsErr != nil {
		if r.cmsErr == nil {
			r.cmsErr = cmsErr
			if !ok {
				r.cmsErr = errors.New("no CloudMonitor client for acs_vpc_eip")
			}
		}
		return
	}
	addPoints(r.points, remap(pts, byAlloc))
}

// remap renames points of allocation IDs to the instances bound to them.
func remap(pts []cmsapi.Point, byAlloc map[string]string) []cmsapi.Point {
	out := make([]cmsapi.Point, 0, len(pts))
	for _, p := range pts {
		if id, ok := byAlloc[p.InstanceID]; ok {
			p.InstanceID = id
			out = append(out, p)
		}
	}
	return out
}

// resolveEIPs maps the targets named by an EIP's allocation ID (acs_vpc_eip
// alarms: their instanceId dimension is the allocation ID) to the ECS
// instance the EIP is bound to, with DescribeEipAddresses' InstanceId.
// Targets it cannot map are answered at once.
func (e *Engine) resolveEIPs(ctx context.Context, c Clients, region string, targets []target) ([]target, []Result) {
	var allocs []string
	for _, t := range targets {
		if t.eip {
			allocs = append(allocs, t.id)
		}
	}
	if len(allocs) == 0 {
		return targets, nil
	}
	var eips []vpcapi.EIP
	err := errors.New("the function has no VPC client to read EIPs")
	if c.VPC != nil {
		eips, err = c.VPC.DescribeEIPs(ctx, allocs)
	}
	bound := map[string]vpcapi.EIP{}
	for _, eip := range eips {
		bound[eip.AllocationID] = eip
	}
	out := make([]target, 0, len(targets))
	var failed []Result
	for _, t := range targets {
		if !t.eip {
			out = append(out, t)
			continue
		}
		eip, ok := bound[t.id]
		switch {
		case err != nil:
			r := failure(t.id, region, err)
			r.Reason = "reading the alarm's EIP failed: " + explain(err)
			r.Key = t.key
			failed = append(failed, r)
		case !ok:
			failed = append(failed, Result{InstanceID: t.id, Region: region, Action: decide.Failed, Key: t.key,
				Reason: fmt.Sprintf("EIP %s was not found in region %s: check the alarm's instanceId (the allocation ID) and region", t.id, region)})
		case eip.InstanceType != "EcsInstance" || eip.InstanceID == "":
			failed = append(failed, Result{InstanceID: t.id, Region: region, Action: decide.Ignored, Key: t.key,
				Reason: fmt.Sprintf("EIP %s is not bound to an ECS instance (%s %s): not ours", t.id, eip.InstanceType, eip.InstanceID)})
		default:
			t.id, t.eip = eip.InstanceID, false
			out = append(out, t)
		}
	}
	return out, failed
}

// selection lists the instances the policy selects in the client's region.
func (e *Engine) selection(ctx context.Context, c ECS) ([]ecsapi.Instance, error) {
	return Selection(ctx, c, e.Policy)
}

// Selection lists the instances p selects in the client's region (listed
// by ID or carrying the opt-in tag), by ID.
func Selection(ctx context.Context, c ECS, p *policy.Policy) ([]ecsapi.Instance, error) {
	found := map[string]ecsapi.Instance{}
	if ids := p.Instances.IDs; len(ids) > 0 {
		insts, err := c.DescribeInstances(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			found[in.ID] = in
		}
	}
	if tag := p.Instances.Tag; tag != nil {
		insts, err := c.DescribeTagged(ctx, tag.Key, tag.Value)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			found[in.ID] = in
		}
	}
	out := make([]ecsapi.Instance, 0, len(found))
	for _, in := range found {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// window reads the datapoints since start for a decrease.
func (e *Engine) window(ctx context.Context, m Metrics, inputs []decide.Input, targets []target, ids []string, start, end time.Time) (map[string][]decide.Point, error) {
	if m == nil {
		return nil, errors.New("no CloudMonitor client")
	}
	byID := map[string]decide.Instance{}
	for i, t := range targets {
		byID[t.id] = inputs[i].Instance
	}
	byMetric := map[string][]string{}
	byAlloc := map[string]string{}
	var allocs []string
	for _, id := range ids {
		in := byID[id]
		if in.EIP {
			byAlloc[in.EIPAllocationID] = id
			allocs = append(allocs, in.EIPAllocationID)
			continue
		}
		metric := cmsapi.MetricVPC
		if in.NetworkType == decide.NetworkClassic {
			metric = cmsapi.MetricClassic
		}
		byMetric[metric] = append(byMetric[metric], id)
	}
	out := map[string][]decide.Point{}
	if len(allocs) > 0 {
		nm, ok := m.(NamespaceMetrics)
		if !ok {
			return nil, errors.New("no CloudMonitor client for acs_vpc_eip")
		}
		pts, err := nm.ListIn(ctx, cmsapi.NamespaceEIP, cmsapi.MetricEIPRate, allocs, start, end)
		if err != nil {
			return nil, err
		}
		addPoints(out, remap(pts, byAlloc))
	}
	for metric, ids := range byMetric {
		pts, err := m.List(ctx, metric, ids, start, end)
		if err != nil {
			return nil, err
		}
		addPoints(out, pts)
	}
	return out, nil
}

// committed sums the selected instances' caps, changes in flight at their
// targets.
// regionUnknown says why the region's total cannot be known, or "": an
// EIP-bound instance whose EIP could not be read holds bandwidth nobody saw.
func regionUnknown(r reading) string {
	if r.eipErr == nil {
		return ""
	}
	for _, in := range r.selected {
		if in.EIPAllocationID != "" && in.NetworkType != decide.NetworkClassic {
			return "the EIPs of EIP-bound instances could not be read: " + explain(r.eipErr)
		}
	}
	return ""
}

func (e *Engine) committed(r reading) int {
	now := e.now()
	total := 0
	for _, in := range r.selected {
		inst, tags := e.view(in, r)
		rec, _ := state.Decode(tags)
		total += decide.Committed(inst, rec, now)
	}
	return total
}

// regionRoom re-reads the region after an increase was recorded and before
// it is made, when maxTotalMbps is set: two processes that increased two
// instances at once each saw room for their own change alone. Every
// recorded change is counted, so of two racing increases at least the
// later-recorded one sees the other. It says why the change must not be
// made, or "", and whether the record read back is still the one written.
func (e *Engine) regionRoom(ctx context.Context, clients Clients, in ecsapi.Instance, dec decide.Decision) (why string, ours bool) {
	limit := e.Policy.MaxTotalMbps
	if limit <= 0 || dec.Change.Target <= dec.From {
		return "", false
	}
	selected, err := e.selection(ctx, clients.ECS)
	if err != nil {
		return fmt.Sprintf("brake maxTotalMbps %d: the region could not be read again to hold it (%s); the next timer run decides again", limit, explain(err)), false
	}
	r := reading{found: map[string]ecsapi.Instance{}, selected: selected, points: map[string][]decide.Point{}}
	for _, s := range selected {
		r.found[s.ID] = s
	}
	e.readEIPs(ctx, clients, &r)
	total, mine := 0, 0
	now := e.now()
	for _, s := range selected {
		inst, tags := e.view(s, r)
		rec, _ := state.Decode(tags)
		c := decide.Committed(inst, rec, now)
		if s.ID == in.ID {
			mine = c
			a, w := rec.Attempt, dec.Record.Attempt
			ours = a != nil && w != nil && a.To == w.To && a.At.Equal(w.At)
		}
		total += c
	}
	if u := regionUnknown(r); u != "" {
		return fmt.Sprintf("brake maxTotalMbps %d cannot be held: %s; the next timer run decides again", limit, u), ours
	}
	// Our own record may not show yet (a tag read that lags the write).
	total += max(0, dec.Change.Target-mine)
	if total > limit {
		return fmt.Sprintf("brake maxTotalMbps %d: with the changes recorded meanwhile in the region it would hold %d Mbit/s; withdrawn, the next timer run decides again", limit, total), ours
	}
	return "", false
}

// view is the instance as decisions see it, and the tags its record is in:
// an EIP-bound VPC instance is its EIP's cap, billing and locks, its record
// on the EIP. The tags the policy selects by stay the instance's.
func (e *Engine) view(in ecsapi.Instance, r reading) (decide.Instance, map[string]string) {
	inst := toDecide(in)
	if in.EIPAllocationID == "" || in.NetworkType == decide.NetworkClassic {
		return inst, in.Tags
	}
	eip, ok := r.eips[in.ID]
	if !ok {
		switch {
		case r.eipErr != nil:
			inst.EIPUnreadable = explain(r.eipErr)
		default:
			inst.EIPUnreadable = "DescribeEipAddresses does not list it"
		}
		return inst, in.Tags
	}
	inst.EIP = true
	inst.BandwidthOut, inst.EIPBandwidth = eip.Bandwidth, eip.Bandwidth
	inst.InternetChargeType, inst.InstanceChargeType = eip.InternetChargeType, eip.ChargeType
	inst.EIPBandwidthPackage, inst.EIPStatus = eip.BandwidthPackageID, eip.Status
	inst.Locks = eip.Locks
	return inst, eip.Tags
}

func (e *Engine) input(t target, in ecsapi.Instance, r reading, now time.Time, total int) decide.Input {
	inst, tags := e.view(in, r)
	rec, err := state.Decode(tags)
	input := decide.Input{
		Instance: inst, Record: rec, Trigger: t.trigger, Alarm: t.alarm, Manual: t.manual,
		Policy: e.Policy, Now: now, DryRun: e.DryRun || t.dryRun, RegionTotal: total,
		Reading: decide.Reading{Points: r.points[in.ID]},
	}
	if err != nil {
		input.RecordError = err.Error()
	}
	if r.cmsErr != nil {
		input.Reading.Unavailable = explain(r.cmsErr)
	}
	return input
}

// execute carries out one decision: the record first, then the change.
func (e *Engine) execute(ctx context.Context, clients Clients, in ecsapi.Instance, input decide.Input, dec decide.Decision) Result {
	// The record lives where the cap does: the instance, or its EIP.
	var client tagWriter = clients.ECS
	tagID := in.ID
	if input.Instance.EIP {
		client, tagID = clients.VPC, input.Instance.EIPAllocationID
	}
	mu := e.lock(in.ID)
	mu.Lock()
	defer mu.Unlock()

	res := Result{InstanceID: in.ID, Region: in.Region, Action: dec.Action, From: dec.From, To: dec.To, Reason: dec.Reason, Warnings: dec.Notes}
	if !dec.RetryAfter.IsZero() {
		res.RetryAfter = dec.RetryAfter.UTC().Format(time.RFC3339)
	}
	if dec.Change == nil {
		if dec.Save {
			e.save(ctx, client, tagID, dec.Record, &res)
		}
		return res
	}
	// Record the change before making it: a reader that sees the new cap
	// must also see the change behind it, or the cap would look changed by
	// hand (which only delays, but hides the history). Without the record
	// no change is made at all.
	if err := e.write(ctx, client, tagID, dec.Record); err != nil {
		res.Action, res.To = decide.Failed, dec.From
		res.Reason = fmt.Sprintf("the change to %d Mbit/s was not made, since its record could not be written first: %s", dec.Change.Target, explain(err))
		noteError(&res, err)
		return res
	}
	if why, ours := e.regionRoom(ctx, clients, in, dec); why != "" {
		// The brake holds; the next timer run decides again. The recorded
		// attempt is withdrawn only while the record is still ours: another
		// process may have recorded (and made) a change of its own since.
		if ours {
			rec := dec.Record
			rec.Attempt = nil
			e.save(ctx, client, tagID, rec, &res)
		}
		res.Action, res.To, res.Reason = decide.Skipped, dec.From, why
		return res
	}
	if input.Instance.EIP {
		// No ClientToken: ModifyEipAddressAttribute takes none. The value is
		// absolute, so a retry or a racing process of the same decision asks
		// for what is already in force (see vpcapi.ModifyBandwidth).
		out, err := clients.VPC.ModifyBandwidth(ctx, tagID, dec.Change.Target)
		if err != nil {
			e.modifyFailed(ctx, client, tagID, "VPC", in, dec, err, &res)
			return res
		}
		res.RequestID = out.RequestID
		return res
	}
	out, err := clients.ECS.ModifyBandwidth(ctx, ecsapi.ModifyRequest{
		InstanceID: in.ID, BandwidthOut: dec.Change.Target, AllocatePublicIP: dec.Change.AllocatePublicIP,
		EndTime: dec.Change.EndTime, AutoPay: e.Policy.AutoPay, ClientToken: dec.Change.ClientToken,
	})
	if err != nil {
		e.modifyFailed(ctx, client, tagID, "ECS", in, dec, err, &res)
		return res
	}
	res.OrderID, res.RequestID = out.OrderID, out.RequestID
	if !e.Policy.AutoPay && out.OrderID != "" && !dec.Change.Downgrade {
		// Remember the unpaid order, so that later runs say it awaits
		// payment instead of asking for it again.
		rec := dec.Record
		a := *rec.Attempt
		a.Order = out.OrderID
		rec.Attempt = &a
		e.save(ctx, client, tagID, rec, &res)
		res.Warnings = append(res.Warnings, fmt.Sprintf("order %s is unpaid (autoPay is off): pay it in the ECS console; ECS refuses further changes to %s until then", out.OrderID, in.ID))
	}
	return res
}

// modifyFailed turns an ECS refusal into a result. Nothing is lost: the next
// timer run decides again from a fresh reading. The record written before
// the call stays wherever the change may have happened or may still happen.
func (e *Engine) modifyFailed(ctx context.Context, client tagWriter, tagID, svc string, in ecsapi.Instance, dec decide.Decision, err error, res *Result) {
	target := dec.Change.Target
	class := noteError(res, err)
	res.Transient = false // the timer retries; a redelivery would only add load
	// Within minutes of a change, or after an earlier attempt of this call
	// that may have been applied, a status refusal is the change's lock.
	var ee *ecsapi.Error
	retried := errors.As(err, &ee) && ee.Attempts > 1
	recent := retried || !dec.Record.Since.IsZero() && e.now().Sub(dec.Record.Since) < lockWindow
	later := "; the next timer run decides again"
	res.Action, res.To = decide.Deferred, dec.From
	what := in.ID
	if tagID != in.ID {
		what = "EIP " + tagID + " of " + in.ID
	}
	manual := dec.Record.Attempt != nil && dec.Record.Attempt.Manual
	if manual {
		// The timer acts on traffic, not on a person's request: say when
		// to send it again.
		later = fmt.Sprintf("; send the manual request again after %s", e.now().Add(policy.ECSCooldown).UTC().Format(time.RFC3339))
		res.RetryAfter = e.now().Add(policy.ECSCooldown).UTC().Format(time.RFC3339)
	}
	switch {
	case res.ErrorCode == "InvalidInstance.UnPaidOrder":
		// An order awaits payment, perhaps this change's own from an attempt
		// answered with an error: it holds the instance, and counts in the
		// region, until it is paid or cancelled.
		rec := dec.Record
		a := *rec.Attempt
		a.Order = "unpaid"
		rec.Attempt = &a
		e.save(ctx, client, tagID, rec, res)
		res.Reason = fmt.Sprintf("%s has an unpaid order (%s): pay or cancel it in the console; no new order until then", what, res.ErrorCode)
	case class == ecsapi.Locked:
		res.Reason = fmt.Sprintf("%s refuses changes to %s for now (%s): %d Mbit/s not made yet%s", svc, what, res.ErrorCode, target, later)
	case class == ecsapi.InProgress:
		res.Reason = fmt.Sprintf("%s is still processing a change to %s (%s): nothing new is bought%s", svc, what, res.ErrorCode, later)
	case class == ecsapi.StatusConflict && recent:
		res.Reason = fmt.Sprintf("%s refuses changes to %s minutes after the last one (%s): treated as its lock%s", svc, what, res.ErrorCode, later)
	case class == ecsapi.Transient:
		res.Reason = fmt.Sprintf("%s failed for now: %v%s", svc, err, later)
	default:
		res.Action = decide.Failed
		res.Reason = fmt.Sprintf("%s refused the change of %s to %d Mbit/s: %s", svc, what, target, explain(err))
		if !retried {
			// Refused on the first attempt: it cannot have been applied, so
			// the attempt must not hold other decisions back.
			rec := dec.Record
			rec.Attempt = nil
			e.save(ctx, client, tagID, rec, res)
		}
	}
}

// noteError copies an ECS error's code and RequestId into the result and
// marks a transient one; it returns the error's class.
func noteError(res *Result, err error) ecsapi.Class {
	var ee *ecsapi.Error
	if !errors.As(err, &ee) {
		res.Transient = true
		return ecsapi.Transient
	}
	res.ErrorCode, res.RequestID = ee.Code, ee.RequestID
	res.Transient = ee.Class != ecsapi.Permanent
	return ee.Class
}

// save writes the record where no money depends on it: a failure is
// reported, not fatal.
func (e *Engine) save(ctx context.Context, client tagWriter, id string, rec decide.Record, res *Result) {
	if err := e.write(ctx, client, id, rec); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("state not saved on %s: %s", id, explain(err)))
	}
}

// write stores the record as the instance's state tag.
func (e *Engine) write(ctx context.Context, client tagWriter, id string, rec decide.Record) error {
	_, err := client.WriteTags(ctx, id, map[string]string{state.TagKey: state.Encode(rec)})
	return err
}

// explain is err with what the user can do about it, for the errors that
// only the user can fix.
func explain(err error) string {
	var ee *ecsapi.Error
	if errors.As(err, &ee) && (ee.Class == ecsapi.Permanent || ee.Class == ecsapi.StatusConflict) {
		if hint := ee.Hint(); hint != "" {
			return fmt.Sprintf("%v (%s)", err, hint)
		}
	}
	return err.Error()
}

func (e *Engine) lock(id string) *sync.Mutex {
	mu, _ := e.locks.LoadOrStore(id, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

func (e *Engine) now() time.Time {
	if e.Clock != nil {
		return e.Clock()
	}
	return time.Now()
}

func failAll(targets []target, region string, err error) []Result {
	if len(targets) == 0 {
		return []Result{failure("", region, err)}
	}
	out := make([]Result, 0, len(targets))
	for _, t := range targets {
		r := failure(t.id, region, err)
		r.Key = t.key
		out = append(out, r)
	}
	return out
}

// failure reports an error met before any decision (reading instances).
func failure(id, region string, err error) Result {
	r := Result{InstanceID: id, Region: region, Action: decide.Failed, Reason: "reading instances failed: " + explain(err)}
	var ee *ecsapi.Error
	if errors.As(err, &ee) {
		r.ErrorCode, r.RequestID = ee.Code, ee.RequestID
		r.Transient = ee.Class != ecsapi.Permanent
	}
	return r
}

func addPoints(dst map[string][]decide.Point, pts []cmsapi.Point) {
	for _, p := range pts {
		dst[p.InstanceID] = append(dst[p.InstanceID], decide.Point{Start: p.Start, Period: p.Period, Average: p.Average, Maximum: p.Maximum})
	}
	for id := range dst {
		list := dst[id]
		sort.Slice(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func toDecide(in ecsapi.Instance) decide.Instance {
	return decide.Instance{
		ID: in.ID, Region: in.Region, Status: in.Status,
		InstanceChargeType: in.InstanceChargeType, InternetChargeType: in.InternetChargeType, NetworkType: in.NetworkType,
		BandwidthOut: in.BandwidthOut, PublicIPs: in.PublicIPs,
		EIPAddress: in.EIPAddress, EIPAllocationID: in.EIPAllocationID, EIPBandwidth: in.EIPBandwidth,
		Locks: in.Locks, ExpiredTime: in.ExpiredTime, Tags: in.Tags,
	}
}
