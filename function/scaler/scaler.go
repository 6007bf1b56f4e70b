// Package scaler is the controller around the decision core: it reads the
// instances an alarm names, asks decide what to do, calls ECS and records the
// outcome on the instance itself. It holds no rule of its own.
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
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// ECS is what the controller needs from the ECS API; *ecsapi.Client has it.
type ECS interface {
	DescribeInstances(ctx context.Context, ids []string) ([]ecsapi.Instance, error)
	DescribeTagged(ctx context.Context, key, value string) ([]ecsapi.Instance, error)
	ModifyBandwidth(ctx context.Context, r ecsapi.ModifyRequest) (ecsapi.ModifyResult, error)
	WriteTags(ctx context.Context, instanceID string, tags map[string]string) (string, error)
}

// Connect returns the ECS client of one region for the current invocation.
type Connect func(region string) (ECS, error)

// lockRetry is how long ECS refuses changes after one (the seed's 5 minutes);
// a Locked error defers the target by that much.
const lockRetry = 5 * time.Minute

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
	// Transient marks a failure worth a redelivery.
	Transient bool `json:"-"`
}

// ErrTransient is wrapped by Run's error when some change failed for a
// reason that may pass: the caller should make the platform redeliver.
var ErrTransient = errors.New("transient ECS failure")

// Engine turns deliveries into results. It is safe for concurrent use: FC
// runs several invocations of one process at once.
type Engine struct {
	Policy *policy.Policy
	Clock  func() time.Time // nil: time.Now
	DryRun bool             // DRY_RUN: decide and report, never modify

	// seen remembers delivery keys this process has finished with, so a
	// redelivery costs no ECS call. Correctness does not depend on it: the
	// record on the instance catches redeliveries in a fresh process.
	seen keyCache
	// locks serialises work on one instance inside this process.
	locks sync.Map // instance ID -> *sync.Mutex
}

// Run handles one delivery. The error is non-nil (wrapping ErrTransient) when
// a failure that may pass left an intended change undone; the results are
// complete either way.
func (e *Engine) Run(ctx context.Context, d *alarm.Delivery, connect Connect, defaultRegion string) ([]Result, error) {
	var results []Result
	switch d.Kind {
	case alarm.KindAlarm:
		results = e.runAlarms(ctx, d.Alarms, connect)
	case alarm.KindManual:
		results = e.runManual(ctx, d.Manual, connect, defaultRegion)
	case alarm.KindReconcile:
		results = e.runReconcile(ctx, connect, defaultRegion)
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

// work is one observation for one instance.
type work struct {
	id  string
	obs decide.Observation
}

func (e *Engine) runAlarms(ctx context.Context, alarms []alarm.Alarm, connect Connect) []Result {
	byRegion := map[string][]work{}
	var regions []string
	var results []Result
	for _, a := range alarms {
		if h, ok := e.seen.get(a.Key); ok {
			results = append(results, Result{InstanceID: a.InstanceID, Region: a.Region, Action: decide.Duplicate, Key: a.Key,
				From: h.from, To: h.to, Reason: "redelivery of an alarm this function already handled"})
			continue
		}
		if _, ok := byRegion[a.Region]; !ok {
			regions = append(regions, a.Region)
		}
		byRegion[a.Region] = append(byRegion[a.Region], work{id: a.InstanceID, obs: decide.Observation{
			Kind: decide.FromAlarm, Metric: a.Metric, Value: a.Value, State: string(a.State), At: a.Time, Key: a.Key,
		}})
	}
	for _, region := range regions {
		results = append(results, e.runRegion(ctx, region, byRegion[region], connect)...)
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
	return e.runRegion(ctx, region, []work{{id: m.InstanceID, obs: decide.Observation{
		Kind: decide.FromManual, Bandwidth: m.BandwidthOut, DryRun: m.DryRun,
	}}}, connect)
}

// runReconcile re-reads every instance the policy selects in the function's
// region and applies the pending targets whose cooldown has passed.
func (e *Engine) runReconcile(ctx context.Context, connect Connect, region string) []Result {
	client, err := connect(region)
	if err != nil {
		return []Result{failure("", region, err)}
	}
	found := map[string]ecsapi.Instance{}
	if ids := e.Policy.Instances.IDs; len(ids) > 0 {
		insts, err := client.DescribeInstances(ctx, ids)
		if err != nil {
			return []Result{failure("", region, err)}
		}
		for _, in := range insts {
			found[in.ID] = in
		}
	}
	if tag := e.Policy.Instances.Tag; tag != nil {
		insts, err := client.DescribeTagged(ctx, tag.Key, tag.Value)
		if err != nil {
			return []Result{failure("", region, err)}
		}
		for _, in := range insts {
			found[in.ID] = in
		}
	}
	var items []work
	for id, in := range found {
		if rec, err := state.Decode(in.Tags); err == nil && rec.Pending != nil {
			items = append(items, work{id: id, obs: decide.Observation{Kind: decide.FromReconcile}})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].id < items[j].id })
	return e.apply(ctx, client, region, found, items)
}

// runRegion reads the named instances with as few DescribeInstances calls as
// ECS allows, then applies each observation.
func (e *Engine) runRegion(ctx context.Context, region string, items []work, connect Connect) []Result {
	client, err := connect(region)
	if err != nil {
		return failAll(items, region, err)
	}
	ids := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, w := range items {
		if !seen[w.id] {
			seen[w.id] = true
			ids = append(ids, w.id)
		}
	}
	insts, err := client.DescribeInstances(ctx, ids)
	if err != nil {
		return failAll(items, region, err)
	}
	found := make(map[string]ecsapi.Instance, len(insts))
	for _, in := range insts {
		found[in.ID] = in
	}
	return e.apply(ctx, client, region, found, items)
}

func (e *Engine) apply(ctx context.Context, client ECS, region string, found map[string]ecsapi.Instance, items []work) []Result {
	results := make([]Result, 0, len(items))
	for _, w := range items {
		in, ok := found[w.id]
		if !ok {
			results = append(results, Result{InstanceID: w.id, Region: region, Action: decide.Failed, Key: w.obs.Key,
				Reason: fmt.Sprintf("instance %s was not found in region %s: check the instance ID and the alarm's region", w.id, region)})
			continue
		}
		r, after := e.applyOne(ctx, client, in, w.obs)
		found[w.id] = after // later observations of the same instance see this one's effect
		e.remember(w.obs.Key, r)
		results = append(results, r)
	}
	return results
}

// applyOne decides and executes one observation for one instance, and
// returns the instance as it is afterwards.
func (e *Engine) applyOne(ctx context.Context, client ECS, in ecsapi.Instance, obs decide.Observation) (Result, ecsapi.Instance) {
	mu := e.lock(in.ID)
	mu.Lock()
	defer mu.Unlock()

	now := e.now()
	res := Result{InstanceID: in.ID, Region: in.Region, Key: obs.Key}
	rec, err := state.Decode(in.Tags)
	if err != nil {
		// A damaged record must not block scaling; starting from no record
		// only makes the cooldowns count as elapsed, which ECS still guards.
		res.Warnings = append(res.Warnings, fmt.Sprintf("ignored the damaged state tag %s: %v", state.TagKey, err))
	}
	dec := decide.Decide(decide.Input{
		Instance: toDecide(in), Record: rec, Observation: obs, Policy: e.Policy, Now: now, DryRun: e.DryRun,
	})
	res.Action, res.From, res.To, res.Reason = dec.Action, dec.From, dec.To, dec.Reason
	res.Warnings = append(res.Warnings, dec.Warnings...)
	if !dec.RetryAfter.IsZero() {
		res.RetryAfter = dec.RetryAfter.UTC().Format(time.RFC3339)
	}

	if dec.Change == nil || dec.Action == decide.DryRun {
		if dec.Save && dec.Action != decide.DryRun {
			e.save(ctx, client, in.ID, dec.Record, &res)
		}
		return res, in
	}

	// Record the change before making it: another FC instance that reads the
	// instance after ECS applied it must also see the record, or it would
	// read an old alarm against the new cap and buy again. Without the
	// record no change is made at all.
	if err := e.write(ctx, client, in.ID, dec.Record); err != nil {
		res.Action, res.Reason = decide.Failed, fmt.Sprintf("the change to %d Mbit/s was not made, since its record could not be written first: %s", dec.Change.Target, explain(err))
		noteError(&res, err)
		return res, in
	}

	out, err := client.ModifyBandwidth(ctx, ecsapi.ModifyRequest{
		InstanceID: in.ID, BandwidthOut: dec.Change.Target, AllocatePublicIP: dec.Change.AllocatePublicIP,
		StartTime: dec.Change.StartTime, EndTime: dec.Change.EndTime, AutoPay: e.Policy.AutoPay,
		ClientToken: dec.Change.ClientToken,
	})
	if err != nil {
		e.modifyFailed(ctx, client, in, rec, dec, err, now, &res)
		return res, in
	}
	res.OrderID, res.RequestID = out.OrderID, out.RequestID
	if !e.Policy.AutoPay {
		res.Warnings = append(res.Warnings, fmt.Sprintf("order %s is unpaid (autoPay is off): pay it in the ECS console, or ECS refuses further changes to %s", out.OrderID, in.ID))
	}
	in.BandwidthOut = dec.Change.Target
	in.Tags = withTag(in.Tags, state.TagKey, state.Encode(dec.Record))
	return res, in
}

// modifyFailed turns an ECS refusal into a result. The record written
// before the call stays when the change may still happen or may have
// happened: the next decision retries it with the same ClientToken (see
// decide's unconfirmed). A permanent refusal restores the record as it was.
func (e *Engine) modifyFailed(ctx context.Context, client ECS, in ecsapi.Instance, rec decide.Record, dec decide.Decision, err error, now time.Time, res *Result) {
	target := dec.Change.Target
	class := noteError(res, err)
	switch class {
	case ecsapi.Locked:
		res.Action = decide.Deferred
		res.Reason = fmt.Sprintf("ECS refuses changes to %s for now (%s): %d Mbit/s stays pending for the reconcile", in.ID, res.ErrorCode, target)
		res.RetryAfter = now.Add(lockRetry).UTC().Format(time.RFC3339)
	case ecsapi.Transient, ecsapi.InProgress:
		res.Action = decide.Failed
		res.Reason = fmt.Sprintf("ECS failed for now: %v; %d Mbit/s stays pending and the delivery will be retried", err, target)
	default:
		res.Action = decide.Failed
		res.Reason = fmt.Sprintf("ECS refused the change to %d Mbit/s: %s", target, explain(err))
		if rec.Pending != nil && rec.Pending.Target == target {
			rec.Pending = nil // retrying a refused target cannot help
		}
		e.save(ctx, client, in.ID, rec, res)
	}
}

// noteError copies an ECS error's code and RequestId into the result and
// marks a transient one for redelivery; it returns the error's class.
func noteError(res *Result, err error) ecsapi.Class {
	var ee *ecsapi.Error
	if !errors.As(err, &ee) {
		res.Transient = true
		return ecsapi.Transient
	}
	res.ErrorCode, res.RequestID = ee.Code, ee.RequestID
	res.Transient = ee.Class == ecsapi.Transient || ee.Class == ecsapi.InProgress
	return ee.Class
}

// userMustAct says whether an error class is one only the user can resolve.
// Until the engine waits out a StatusConflict itself, it is reported as a
// refusal, as before the class existed.
func userMustAct(class ecsapi.Class) bool {
	return class == ecsapi.Permanent || class == ecsapi.StatusConflict
}

// save writes the record where no money depends on it (a pending target, a
// restored record): a failure is reported, not fatal.
func (e *Engine) save(ctx context.Context, client ECS, id string, rec decide.Record, res *Result) {
	if err := e.write(ctx, client, id, rec); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("state not saved on %s: %s", id, explain(err)))
	}
}

// write stores the record as the instance's state tag.
func (e *Engine) write(ctx context.Context, client ECS, id string, rec decide.Record) error {
	_, err := client.WriteTags(ctx, id, map[string]string{state.TagKey: state.Encode(rec)})
	return err
}

// explain is err with what the user can do about it, for the errors that
// only the user can fix (the function retries the others itself).
func explain(err error) string {
	var ee *ecsapi.Error
	if errors.As(err, &ee) && userMustAct(ee.Class) {
		if hint := ee.Hint(); hint != "" {
			return fmt.Sprintf("%v (%s)", err, hint)
		}
	}
	return err.Error()
}

func (e *Engine) remember(key string, r Result) {
	if key != "" && !r.Transient {
		e.seen.add(key, handled{from: r.From, to: r.To})
	}
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

func failAll(items []work, region string, err error) []Result {
	out := make([]Result, 0, len(items))
	for _, w := range items {
		r := failure(w.id, region, err)
		r.Key = w.obs.Key
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
		r.Transient = !userMustAct(ee.Class)
	}
	return r
}

func withTag(tags map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(tags)+1)
	for key, val := range tags {
		out[key] = val
	}
	out[k] = v
	return out
}

func toDecide(in ecsapi.Instance) decide.Instance {
	return decide.Instance{
		ID: in.ID, Region: in.Region, Status: in.Status,
		InstanceChargeType: in.InstanceChargeType, InternetChargeType: in.InternetChargeType, NetworkType: in.NetworkType,
		BandwidthOut: in.BandwidthOut, BandwidthIn: in.BandwidthIn, PublicIPs: in.PublicIPs,
		EIPAddress: in.EIPAddress, EIPAllocationID: in.EIPAllocationID, EIPBandwidth: in.EIPBandwidth,
		Locks: in.Locks, ExpiredTime: in.ExpiredTime, Tags: in.Tags,
	}
}
