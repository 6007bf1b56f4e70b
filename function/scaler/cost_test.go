package scaler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
)

// The cost of a delivery in API calls and in the round trips it waits on,
// one after the other (issue 9's goals). Counts, not timings: they are
// exact, so they are tests.

// span is one API call as the engine made it.
type span struct{ start, end time.Time }

// recorder wraps the clients and keeps every call's span.
type recorder struct {
	mu    sync.Mutex
	spans []span
}

func (r *recorder) track(start time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, span{start, time.Now()})
}

// sequential is the longest chain of calls each of which started after
// the previous one ended: the round trips a delivery waits on.
func (r *recorder) sequential() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	depth := make([]int, len(r.spans))
	longest := 0
	for i, s := range r.spans {
		depth[i] = 1
		for j, d := range r.spans[:i] {
			if !d.end.After(s.start) && depth[j]+1 > depth[i] {
				depth[i] = depth[j] + 1
			}
		}
		longest = max(longest, depth[i])
	}
	return longest
}

type recordedECS struct {
	scaler.ECS
	r *recorder
}

func (c recordedECS) DescribeInstances(ctx context.Context, ids []string) ([]ecsapi.Instance, error) {
	defer c.r.track(time.Now())
	return c.ECS.DescribeInstances(ctx, ids)
}

func (c recordedECS) DescribeTagged(ctx context.Context, k, v string) ([]ecsapi.Instance, error) {
	defer c.r.track(time.Now())
	return c.ECS.DescribeTagged(ctx, k, v)
}

func (c recordedECS) ModifyBandwidth(ctx context.Context, m ecsapi.ModifyRequest) (ecsapi.ModifyResult, error) {
	defer c.r.track(time.Now())
	return c.ECS.ModifyBandwidth(ctx, m)
}

func (c recordedECS) WriteTags(ctx context.Context, id string, tags map[string]string) (string, error) {
	defer c.r.track(time.Now())
	return c.ECS.WriteTags(ctx, id, tags)
}

type recordedMetrics struct {
	scaler.Metrics
	r *recorder
}

func (m recordedMetrics) Last(ctx context.Context, metric string, ids []string) ([]cmsapi.Point, error) {
	defer m.r.track(time.Now())
	return m.Metrics.Last(ctx, metric, ids)
}

func (m recordedMetrics) List(ctx context.Context, metric string, ids []string, start, end time.Time) ([]cmsapi.Point, error) {
	defer m.r.track(time.Now())
	return m.Metrics.List(ctx, metric, ids, start, end)
}

// cost runs d on a fresh engine and returns the calls per action and the
// sequential round trips.
func (e *env) cost(d func() []scaler.Result) (map[string]int, int, []scaler.Result) {
	e.t.Helper()
	before := map[string]int{}
	for _, r := range e.emu.Requests() {
		before[r.Action]++
	}
	e.rec = &recorder{}
	res := d()
	calls := map[string]int{}
	for _, r := range e.emu.Requests() {
		calls[r.Action]++
	}
	for a, n := range before {
		calls[a] -= n
	}
	seq := e.rec.sequential()
	e.rec = nil
	return calls, seq, res
}

func fleetOf(n int, bw int, demand float64) []emulator.Instance {
	out := make([]emulator.Instance, n)
	for i := range out {
		out[i] = instance(fmt.Sprintf("i-fleet%03d", i), bw, demand)
	}
	return out
}

// A timer run over 100 instances in one region, when nothing changes:
// one DescribeInstances page, at most 2 DescribeMetricLast calls, no tag.
func TestTimerRunCost(t *testing.T) {
	e := newEnv(t, envOptions{tagged: true}, fleetOf(100, 10, 5)...)
	e.clock.Advance(3 * time.Minute)
	eng := e.engine()
	calls, seq, res := e.cost(func() []scaler.Result { r, _ := e.run(eng, reconcile); return r })
	if len(res) != 100 {
		t.Fatalf("%d results, want 100", len(res))
	}
	for _, r := range res {
		if r.Action != decide.Unchanged {
			t.Fatalf("%+v, want unchanged", r)
		}
	}
	if calls["DescribeInstances"] != 1 || calls["DescribeMetricLast"] > 2 || calls["TagResources"] != 0 || seq != 1 {
		t.Errorf("calls %v, %d sequential; want 1 DescribeInstances page, ≤ 2 DescribeMetricLast, no tag, 1 round trip", calls, seq)
	}
}

// A no-op alarm reads ECS and CloudMonitor at once and writes nothing; a
// scaling alarm waits on at most 3 round trips: read, record, change.
func TestAlarmCost(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 5))
	e.clock.Advance(3 * time.Minute)
	calls, seq, _ := e.cost(func() []scaler.Result { r, _ := e.run(e.engine(), e.alarm("i-a", 50)); return r })
	if calls["DescribeInstances"] != 1 || calls["DescribeMetricLast"] != 1 || calls["TagResources"] != 0 || seq != 1 {
		t.Errorf("no-op alarm: calls %v, %d sequential; want 1 + 1 in parallel, no tag", calls, seq)
	}
	if err := e.emu.SetDemand("i-a", 15); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Minute)
	calls, seq, res := e.cost(func() []scaler.Result { r, _ := e.run(e.engine(), e.alarm("i-a", 99)); return r })
	if res[0].Action != decide.Scaled || calls["ModifyInstanceNetworkSpec"] != 1 || calls["TagResources"] != 1 || seq != 3 {
		t.Errorf("scaling alarm: %+v; calls %v, %d sequential; want scaled with 3 round trips", res[0], calls, seq)
	}
	e.expect(1)
}

// BenchmarkTimerRun100 is a timer run over 100 instances through the real
// SDK; it reports the calls a run makes.
func BenchmarkTimerRun100(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, envOptions{tagged: true}, fleetOf(100, 10, 5)...)
	e.clock.Advance(3 * time.Minute)
	eng := e.engine()
	ctx := context.Background()
	for b.Loop() {
		if _, err := eng.Run(ctx, reconcile, e.connect, region); err != nil {
			b.Fatal(err)
		}
	}
	calls := map[string]int{}
	for _, r := range e.emu.Requests() {
		calls[r.Action]++
	}
	b.ReportMetric(float64(calls["DescribeInstances"])/float64(b.N), "DescribeInstances/run")
	b.ReportMetric(float64(calls["DescribeMetricLast"])/float64(b.N), "DescribeMetricLast/run")
}
