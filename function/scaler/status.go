package scaler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

// Status is one selected instance as an operator sees it: what ECS and
// CloudMonitor say now, what its record says, and what the next timer run
// would do. Times are UTC; a nil time is "none".
type Status struct {
	InstanceID         string `json:"instanceId"`
	Region             string `json:"regionId"`
	InstanceStatus     string `json:"instanceStatus,omitempty"`
	Cap                int    `json:"cap"` // Mbit/s in force now
	InstanceChargeType string `json:"instanceChargeType,omitempty"`
	InternetChargeType string `json:"internetChargeType,omitempty"`
	// EIPAllocationID is set for an EIP-bound VPC instance: then Cap, the
	// billing, the rate and the record are its EIP's.
	EIPAllocationID string `json:"eipAllocationId,omitempty"`
	EIPAddress      string `json:"eipAddress,omitempty"`
	// RateMbps is the newest CloudMonitor datapoint's average; nil when
	// CloudMonitor had none.
	RateMbps     *float64   `json:"rateMbps,omitempty"`
	RateAt       *time.Time `json:"rateAt,omitempty"`
	UsagePercent *float64   `json:"usagePercent,omitempty"`
	// LastChange is when the cap in force took effect, LastFrom the cap
	// before it (when the function made the change).
	LastChange        *time.Time `json:"lastChange,omitempty"`
	LastFrom          int        `json:"lastFrom,omitempty"`
	CooldownUntil     *time.Time `json:"cooldownUntil,omitempty"`
	DownCooldownUntil *time.Time `json:"downCooldownUntil,omitempty"`
	// Downgrades counts PrePaid downgrades made, of DowngradeQuota.
	Downgrades     int        `json:"downgrades"`
	DowngradeQuota int        `json:"downgradeQuota"`
	FrozenUntil    *time.Time `json:"frozenUntil,omitempty"`
	TemporaryUntil *time.Time `json:"temporaryUntil,omitempty"`
	ManualUntil    *time.Time `json:"manualUntil,omitempty"`
	IncreasesToday int        `json:"increasesToday"`
	// Pending is a change asked for that has not taken effect (or awaits
	// payment).
	Pending     *Pending `json:"pending,omitempty"`
	RecordError string   `json:"recordError,omitempty"`
	// Next is what the next timer run would do, from a dry decision on the
	// function's own code path.
	Next Next `json:"next"`
}

// Pending is a recorded attempt that has not taken effect.
type Pending struct {
	To    int       `json:"to"`
	At    time.Time `json:"at"`
	Order string    `json:"order,omitempty"`
}

// Next is the dry decision of the next timer run.
type Next struct {
	Action     decide.Action `json:"action"`
	To         int           `json:"to"`
	Reason     string        `json:"reason"`
	RetryAfter string        `json:"retryAfter,omitempty"`
	ErrorCode  string        `json:"errorCode,omitempty"`
	Warnings   []string      `json:"warnings,omitempty"`
}

// ErrReadOnly is what a status run answers to any attempt to write.
var ErrReadOnly = errors.New("scaler: status is read-only")

// Status runs the timer's control loop dry (DryRun, a reconcile delivery:
// exactly the function's code path) and joins its decisions with what the
// run read: one row per selected instance of the policy's regions. The
// error is non-nil when a region could not be read; the rows of the other
// regions are returned with it.
func (e *Engine) Status(ctx context.Context, connect Connect, defaultRegion string) ([]Status, error) {
	dry := &Engine{Policy: e.Policy, Clock: e.Clock, DryRun: true}
	rec := &recorder{instances: map[string]ecsapi.Instance{}, points: map[string]cmsapi.Point{},
		eips: map[string]vpcapi.EIP{}, eipPoints: map[string]cmsapi.Point{}}
	results, runErr := dry.Run(ctx, &alarm.Delivery{Kind: alarm.KindReconcile, Source: "status"}, rec.wrap(connect), defaultRegion)
	now := dry.now()
	out := make([]Status, 0, len(results))
	var errs []error
	for _, r := range results {
		in, ok := rec.instance(r.InstanceID)
		if r.InstanceID == "" || !ok {
			err := rec.failure(r.Region)
			if err == nil {
				err = errors.New(r.Reason)
			}
			errs = append(errs, fmt.Errorf("region %s: %w", r.Region, err))
			continue
		}
		out = append(out, e.join(rec.view(in), r, now))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].InstanceID < out[j].InstanceID
	})
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	if runErr != nil && !errors.Is(runErr, ErrTransient) {
		return out, runErr
	}
	return out, nil
}

// statusView is an instance as its status row shows it: an EIP-bound VPC
// instance with its EIP's cap, billing, traffic and tags (as the engine
// decides on them).
type statusView struct {
	in   ecsapi.Instance
	eip  *vpcapi.EIP
	pt   *cmsapi.Point
	tags map[string]string
}

func (e *Engine) join(v statusView, r Result, now time.Time) Status {
	in, pt := v.in, v.pt
	s := Status{
		InstanceID: in.ID, Region: in.Region, InstanceStatus: in.Status, Cap: in.BandwidthOut,
		InstanceChargeType: in.InstanceChargeType, InternetChargeType: in.InternetChargeType,
		DowngradeQuota: decide.DowngradeQuota,
		Next:           Next{Action: r.Action, To: r.To, Reason: r.Reason, RetryAfter: r.RetryAfter, ErrorCode: r.ErrorCode, Warnings: r.Warnings},
	}
	if s.Region == "" {
		s.Region = r.Region
	}
	if eip := v.eip; eip != nil {
		s.EIPAllocationID, s.EIPAddress, s.Cap = eip.AllocationID, eip.IPAddress, eip.Bandwidth
		s.InstanceChargeType, s.InternetChargeType = eip.ChargeType, eip.InternetChargeType
	}
	if pt != nil {
		mbps := round(pt.Average/1e6, 3)
		at := pt.Start.Add(pt.Period).UTC()
		s.RateMbps, s.RateAt = &mbps, &at
		if s.Cap > 0 {
			pct := round(100*pt.Average/1e6/float64(s.Cap), 1)
			s.UsagePercent = &pct
		}
	}
	rec, err := state.Decode(v.tags)
	if err != nil {
		s.RecordError = err.Error()
		return s
	}
	if !rec.Stored {
		return s
	}
	since, from := rec.Since, rec.From
	if rec.Day == decide.Day(now) {
		s.IncreasesToday = rec.Increases
	}
	if a := rec.Attempt; a != nil {
		if s.Cap == a.To && a.To != rec.Cap {
			since, from = a.At, rec.Cap // taken effect, not folded yet
			if a.To > rec.Cap && decide.Day(a.At) == decide.Day(now) {
				if rec.Day != decide.Day(now) {
					s.IncreasesToday = 0
				}
				s.IncreasesToday++
			}
		} else {
			s.Pending = &Pending{To: a.To, At: a.At.UTC(), Order: a.Order}
		}
	}
	if !since.IsZero() {
		s.LastChange, s.LastFrom = ptime(since), from
		s.CooldownUntil = ptime(since.Add(e.Policy.Cooldown))
		s.DownCooldownUntil = ptime(since.Add(e.Policy.DownCooldown))
	}
	s.Downgrades = rec.Downgrades
	for _, t := range []struct {
		dst **time.Time
		at  time.Time
	}{{&s.FrozenUntil, rec.FrozenUntil}, {&s.TemporaryUntil, rec.TemporaryUntil}, {&s.ManualUntil, rec.ManualUntil}} {
		if t.at.After(now) {
			*t.dst = ptime(t.at)
		}
	}
	return s
}

func ptime(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// recorder keeps what a status run read, and refuses every write.
type recorder struct {
	mu        sync.Mutex
	instances map[string]ecsapi.Instance
	points    map[string]cmsapi.Point // newest per instance
	eips      map[string]vpcapi.EIP   // by allocation ID
	eipPoints map[string]cmsapi.Point // newest per allocation ID (acs_vpc_eip)
	failures  map[string]error        // region -> first read error
}

// view is in as the engine saw it: an EIP-bound VPC instance (as the
// engine tells one) whose EIP was read shows the EIP's cap, traffic and
// record.
func (r *recorder) view(in ecsapi.Instance) statusView {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := statusView{in: in, tags: in.Tags}
	if p, ok := r.points[in.ID]; ok {
		v.pt = &p
	}
	if in.EIPAllocationID == "" || in.NetworkType == decide.NetworkClassic {
		return v
	}
	v.pt = nil // the instance's own metric measures a cap it does not have
	if p, ok := r.eipPoints[in.EIPAllocationID]; ok {
		v.pt = &p
	}
	if eip, ok := r.eips[in.EIPAllocationID]; ok {
		v.eip, v.tags = &eip, eip.Tags
	}
	return v
}

func (r *recorder) wrap(connect Connect) Connect {
	return func(region string) (Clients, error) {
		c, err := connect(region)
		if err != nil {
			r.fail(region, err)
			return c, err
		}
		out := Clients{ECS: &recordECS{ECS: c.ECS, r: r, region: region}}
		if c.Metrics != nil {
			m := &recordMetrics{Metrics: c.Metrics, r: r}
			out.Metrics = m
			if nm, ok := c.Metrics.(NamespaceMetrics); ok {
				out.Metrics = &recordNamespaceMetrics{recordMetrics: m, ns: nm}
			}
		}
		if c.VPC != nil {
			out.VPC = &recordVPC{VPC: c.VPC, r: r}
		}
		return out, nil
	}
}

func (r *recorder) fail(region string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures == nil {
		r.failures = map[string]error{}
	}
	if _, ok := r.failures[region]; !ok {
		r.failures[region] = err
	}
}

func (r *recorder) failure(region string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures[region]
}

func (r *recorder) instance(id string) (ecsapi.Instance, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in, ok := r.instances[id]
	return in, ok
}

func (r *recorder) found(region string, ins []ecsapi.Instance, err error) {
	if err != nil {
		r.fail(region, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, in := range ins {
		if in.Region == "" {
			in.Region = region
		}
		r.instances[in.ID] = in
	}
}

type recordECS struct {
	ECS
	r      *recorder
	region string
}

func (c *recordECS) DescribeInstances(ctx context.Context, ids []string) ([]ecsapi.Instance, error) {
	ins, err := c.ECS.DescribeInstances(ctx, ids)
	c.r.found(c.region, ins, err)
	return ins, err
}

func (c *recordECS) DescribeTagged(ctx context.Context, key, value string) ([]ecsapi.Instance, error) {
	ins, err := c.ECS.DescribeTagged(ctx, key, value)
	c.r.found(c.region, ins, err)
	return ins, err
}

func (c *recordECS) ModifyBandwidth(context.Context, ecsapi.ModifyRequest) (ecsapi.ModifyResult, error) {
	return ecsapi.ModifyResult{}, ErrReadOnly
}

func (c *recordECS) WriteTags(context.Context, string, map[string]string) (string, error) {
	return "", ErrReadOnly
}

type recordMetrics struct {
	Metrics
	r *recorder
}

func (m *recordMetrics) Last(ctx context.Context, metric string, ids []string) ([]cmsapi.Point, error) {
	pts, err := m.Metrics.Last(ctx, metric, ids)
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	newest(m.r.points, pts)
	return pts, err
}

// newest keeps the newest of pts per ID in into.
func newest(into map[string]cmsapi.Point, pts []cmsapi.Point) {
	for _, p := range pts {
		if old, ok := into[p.InstanceID]; !ok || p.Start.After(old.Start) {
			into[p.InstanceID] = p
		}
	}
}

// recordNamespaceMetrics is recordMetrics with the acs_vpc_eip reads of a
// client that has them; the EIP's points are kept by allocation ID.
type recordNamespaceMetrics struct {
	*recordMetrics
	ns NamespaceMetrics
}

func (m *recordNamespaceMetrics) LastIn(ctx context.Context, namespace, metric string, ids []string) ([]cmsapi.Point, error) {
	pts, err := m.ns.LastIn(ctx, namespace, metric, ids)
	if namespace == cmsapi.NamespaceEIP {
		m.r.mu.Lock()
		defer m.r.mu.Unlock()
		newest(m.r.eipPoints, pts)
	}
	return pts, err
}

func (m *recordNamespaceMetrics) ListIn(ctx context.Context, namespace, metric string, ids []string, start, end time.Time) ([]cmsapi.Point, error) {
	return m.ns.ListIn(ctx, namespace, metric, ids, start, end)
}

// recordVPC keeps the EIPs a status run read, and refuses every write.
type recordVPC struct {
	VPC
	r *recorder
}

func (c *recordVPC) DescribeEIPs(ctx context.Context, ids []string) ([]vpcapi.EIP, error) {
	eips, err := c.VPC.DescribeEIPs(ctx, ids)
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	for _, e := range eips {
		c.r.eips[e.AllocationID] = e
	}
	return eips, err
}

func (c *recordVPC) ModifyBandwidth(context.Context, string, int) (vpcapi.ModifyResult, error) {
	return vpcapi.ModifyResult{}, ErrReadOnly
}

func (c *recordVPC) WriteTags(context.Context, string, map[string]string) (string, error) {
	return "", ErrReadOnly
}
