package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/sandbox"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// The benchmarks below measure the built binary end to end: through the FC
// runtime protocol, the real SDK over loopback HTTP and the emulator's
// signature checks. `make bench` (function/cmd/benchreport) runs them and
// compares them with the goals; they assert behaviour, never durations.

const (
	spikePercent = 96 // of 10 Mbit/s: saturated, the next row (20) is bought
	noopPercent  = 70 // of 10 Mbit/s (7 → row 10) or of 20 (14 → row 20): nothing to do
)

// callbackTemplate is events/callback.json, the CloudMonitor callback that
// every benchmark alarm is made from.
func callbackTemplate(tb testing.TB) map[string]any {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "callback.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(b, &tpl); err != nil {
		tb.Fatal(err)
	}
	for _, field := range []string{"dimensions", "timestamp", "curValue"} {
		if _, ok := tpl[field].(string); !ok {
			tb.Fatalf("events/callback.json has no string %q; has its shape changed?", field)
		}
	}
	if !strings.Contains(tpl["dimensions"].(string), "instanceId="+instanceID) {
		tb.Fatalf("events/callback.json's dimensions do not name %s; has it changed?", instanceID)
	}
	return tpl
}

// callback is the template for another instance, time and value. Alarms with
// the same instance, time and value are redeliveries of one another.
func callback(tpl map[string]any, id string, at time.Time, percent float64) map[string]any {
	a := maps.Clone(tpl)
	a["dimensions"] = strings.Replace(tpl["dimensions"].(string), "instanceId="+instanceID, "instanceId="+id, 1)
	a["timestamp"] = strconv.FormatInt(at.UnixMilli(), 10)
	a["curValue"] = strconv.FormatFloat(percent, 'f', -1, 64)
	return a
}

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fleet is n opted-in instances at 10 Mbit/s, shaped like demoInstance.
func fleet(prefix string, n int) []emulator.Instance {
	out := make([]emulator.Instance, n)
	for i := range out {
		in := demoInstance()
		in.InstanceId = fmt.Sprintf("i-bp1%s%06d", prefix, i)
		out[i] = in
	}
	return out
}

// warmID is an instance that only receives no-op alarms, to get processes
// polling and connected before anything is timed.
const warmID = "i-bp1warm000000000000"

// withWarm adds the warm-up instance to instances.
func withWarm(instances []emulator.Instance) []emulator.Instance {
	in := demoInstance()
	in.InstanceId = warmID
	return append(slices.Clip(instances), in)
}

// warm waits until sb's output shows started processes in all, then sends a
// burst of no-op alarms so that every process is polling and connected.
func warm(tb testing.TB, sb *sandbox.Sandbox, tpl map[string]any, started int) {
	tb.Helper()
	for deadline := time.Now().Add(time.Minute); strings.Count(sb.Output(), `"message":"started"`) < started; {
		if time.Now().After(deadline) { // a hang guard, not a speed assertion
			tb.Fatalf("%d function processes did not start:\n%s", started, sb.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	base := time.Now().Add(-2 * time.Minute)
	payloads := make([][]byte, 32)
	for i := range payloads {
		payloads[i] = marshal(tb, callback(tpl, warmID, base.Add(time.Duration(i)*time.Millisecond), noopPercent))
	}
	counts, err := deliver(sb, payloads, len(payloads))
	if err != nil {
		tb.Fatal(err)
	}
	if counts["unchanged"] != len(payloads) {
		tb.Fatalf("warm-up: %v, want %d unchanged", counts, len(payloads))
	}
}

// ecsCalls counts the emulator's requests by action, from index from on.
func ecsCalls(ecs *emulator.Server, from int) (map[string]int, int) {
	reqs := ecs.Requests()
	calls := map[string]int{}
	for _, r := range reqs[from:] {
		calls[r.Action]++
	}
	return calls, len(reqs)
}

// percentile is the p-th percentile (0..100) of sorted durations, in ms.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(float64(len(sorted))*p/100))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// BenchmarkAlarm is the latency of one alarm through the runtime protocol,
// one at a time, and the ECS calls it costs.
func BenchmarkAlarm(b *testing.B) {
	cases := []struct {
		name string
		// fresh restarts the process between the first delivery and the
		// measured one, so nothing is remembered in memory.
		first, fresh bool
		percent      float64
		want         string
	}{
		{name: "noop", percent: noopPercent, want: "unchanged"},
		{name: "change", percent: spikePercent, want: "scaled"},
		{name: "redelivery", first: true, percent: spikePercent, want: "duplicate"},
		// A fresh process decides afresh: no reading since the change yet.
		{name: "redelivery-fresh-process", first: true, fresh: true, percent: spikePercent, want: "unchanged"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			tpl := callbackTemplate(b)
			// noop reuses one instance (an unchanged alarm changes nothing);
			// the others need one instance at 10 Mbit/s per iteration.
			n := b.N
			if bc.name == "noop" {
				n = 1
			}
			instances := fleet("bench", n)
			sb := start(b, sandbox.Options{Instances: withWarm(instances), Lock: 5 * time.Minute})
			base := time.Now().Add(-time.Minute)
			payloads := make([][]byte, b.N)
			for i := range payloads {
				// Distinct times make distinct alarms.
				payloads[i] = marshal(b, callback(tpl, instances[i%n].InstanceId, base.Add(time.Duration(i)*time.Millisecond), bc.percent))
			}
			if bc.first {
				for _, p := range payloads {
					one(b, invoke(b, sb, p), "scaled")
				}
			}
			started := 1
			if bc.fresh {
				if err := sb.Restart(context.Background()); err != nil {
					b.Fatal(err)
				}
				started++
			}
			warm(b, sb, tpl, started)
			_, from := ecsCalls(sb.ECS, 0)
			latencies := make([]time.Duration, 0, b.N)
			results := make([]sandbox.Result, 0, b.N)
			proc := sb.Processes()[len(sb.Processes())-1] // the one serving: a restart replaces it
			cpuBefore, err := processCPU(proc.Pid())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for _, p := range payloads {
				begin := time.Now()
				results = append(results, invoke(b, sb, p))
				latencies = append(latencies, time.Since(begin))
			}
			b.StopTimer()
			cpuAfter, err := processCPU(proc.Pid())
			if err != nil {
				b.Fatal(err)
			}
			for _, res := range results {
				one(b, res, bc.want)
			}
			calls, to := ecsCalls(sb.ECS, from)
			slices.Sort(latencies)
			b.ReportMetric(percentile(latencies, 50), "p50-ms")
			b.ReportMetric(percentile(latencies, 99), "p99-ms")
			b.ReportMetric(float64(to-from)/float64(b.N), "ecs-calls/alarm")
			b.ReportMetric(float64(calls["DescribeInstances"])/float64(b.N), "describe/alarm")
			b.ReportMetric(float64(calls["ModifyInstanceNetworkSpec"])/float64(b.N), "modify/alarm")
			b.ReportMetric(float64(calls["TagResources"])/float64(b.N), "tag/alarm")
			cms := 0
			for action, n := range calls {
				if strings.HasPrefix(action, "DescribeMetric") {
					cms += n
				}
			}
			b.ReportMetric(float64(cms)/float64(b.N), "cms/alarm")
			// The function process's own CPU (user and system, every thread),
			// apart from the emulator and the runtime API; function/cmd/benchreport
			// compares the change's with BenchmarkNodeRef.
			b.ReportMetric(float64(cpuAfter-cpuBefore)/float64(time.Millisecond)/float64(b.N), "fn-cpu-ms/alarm")
			scaled := 0
			if bc.want == "scaled" || bc.first {
				scaled = b.N
			}
			checkMoney(b, sb, scaled, 20)
		})
	}
}

// storm is one alarm storm: each instance gets one spike (96 % of 10 Mbit/s)
// delivered redeliveries times (the same alarm: same rule, time and value)
// plus enough no-op alarms to make alarms in all, shuffled and sent to
// processes processes of the binary, batch alarms per invocation.
type storm struct {
	instances, alarms, redeliveries, processes int
	batch, inFlight                            int
}

// stormStats is what one storm measured.
type stormStats struct {
	elapsed  time.Duration
	fnCPU    time.Duration
	peakRSS  int64
	ecsCalls int
	scaled   int
}

// run delivers the storm and checks the money invariant (exactly one order
// per instance, to 20 Mbit/s, nothing else pending) and the results.
func (st storm) run(tb testing.TB) stormStats {
	tb.Helper()
	tpl := callbackTemplate(tb)
	instances := fleet("storm", st.instances)
	sb := start(tb, sandbox.Options{Instances: withWarm(instances), Lock: 5 * time.Minute, Processes: st.processes})
	defer sb.Close()
	warm(tb, sb, tpl, st.processes)
	payloads := stormPayloads(tb, tpl, instances, st)
	_, from := ecsCalls(sb.ECS, 0)
	cpuBefore := processesCPU(tb, sb)
	if b, ok := tb.(*testing.B); ok {
		b.StartTimer()
		defer b.StopTimer()
	}
	begin := time.Now()
	counts, examples, err := deliverAll(sb, payloads, st.inFlight)
	stats := stormStats{elapsed: time.Since(begin)}
	if err != nil {
		tb.Fatal(err)
	}
	stats.fnCPU = processesCPU(tb, sb) - cpuBefore
	for _, p := range sb.Processes() {
		rss, err := p.PeakRSS()
		if err != nil {
			tb.Fatal(err)
		}
		stats.peakRSS = max(stats.peakRSS, rss)
	}
	_, to := ecsCalls(sb.ECS, from)
	stats.ecsCalls, stats.scaled = to-from, counts["scaled"]
	checkStormMoney(tb, sb, instances)
	if n := counts["failed"] + counts["deferred"] + counts["ignored"] + counts["skipped"]; n > 0 {
		tb.Fatalf("the storm should only scale, skip duplicates and leave no-ops unchanged: %v; examples: %v", counts, examples)
	}
	if got := counts["scaled"] + counts["duplicate"] + counts["unchanged"] + counts["locked"]; got != st.alarms {
		tb.Fatalf("%d results for %d alarms: %v", got, st.alarms, counts)
	}
	return stats
}

// TestStormMoney is a small storm in every test run: redeliveries racing
// across processes must never buy twice (it found a real bug once).
func TestStormMoney(t *testing.T) {
	for _, batch := range []int{1, 10} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			storm{instances: 50, alarms: 500, redeliveries: 4, processes: 4, batch: batch, inFlight: 16}.run(t)
		})
	}
}

// BenchmarkStorm delivers an alarm storm of 10,000 alarms over 1,000
// instances to 8 processes of the binary, one alarm per invocation and in
// batches (a JSON array of callbacks per invocation).
func BenchmarkStorm(b *testing.B) {
	for _, bc := range []struct {
		name            string
		batch, inFlight int
	}{
		{"single", 1, 64},
		{"batch100", 100, 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st := storm{instances: 1000, alarms: 10000, redeliveries: 4, processes: 8, batch: bc.batch, inFlight: bc.inFlight}
			var total stormStats
			b.StopTimer()
			for range b.N {
				s := st.run(b)
				total.elapsed += s.elapsed
				total.fnCPU += s.fnCPU
				total.peakRSS = max(total.peakRSS, s.peakRSS)
				total.ecsCalls += s.ecsCalls
				total.scaled += s.scaled
			}
			alarms := float64(b.N * st.alarms)
			b.ReportMetric(alarms/total.elapsed.Seconds(), "alarms/s")
			b.ReportMetric(float64(total.peakRSS)/(1<<20), "peak-rss-MB")
			b.ReportMetric(float64(total.ecsCalls)/alarms, "ecs-calls/alarm")
			// The function's own CPU, apart from the emulator and the runtime
			// API, which share the machine with it.
			b.ReportMetric(float64(total.fnCPU)/float64(time.Millisecond)/alarms, "fn-cpu-ms/alarm")
			b.ReportMetric(float64(st.instances), "orders")
			// More than one "scaled" per order: concurrent deliveries of one
			// spike both called Modify, which the ClientToken made one order.
			b.ReportMetric(float64(total.scaled)/float64(b.N*st.instances), "scaled/order")
		})
	}
}

// stormPayloads shuffles the storm's alarms (with a fixed seed) into
// payloads of batch alarms; batch 1 sends a bare callback object.
func stormPayloads(tb testing.TB, tpl map[string]any, instances []emulator.Instance, st storm) [][]byte {
	tb.Helper()
	batch := st.batch
	perInstance := st.alarms / len(instances)
	base := time.Now().Add(-time.Minute)
	alarms := make([]map[string]any, 0, st.alarms)
	for _, in := range instances {
		spike := callback(tpl, in.InstanceId, base, spikePercent)
		for range st.redeliveries {
			alarms = append(alarms, spike)
		}
		for j := st.redeliveries; j < perInstance; j++ {
			// Measured before the spike: the newest observation decides, so a
			// later no-op would rightly say the spike has passed.
			alarms = append(alarms, callback(tpl, in.InstanceId, base.Add(-time.Duration(j)*time.Millisecond), noopPercent))
		}
	}
	if len(alarms) != st.alarms {
		tb.Fatalf("the storm has %d alarms, want %d", len(alarms), st.alarms)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(alarms), func(i, j int) { alarms[i], alarms[j] = alarms[j], alarms[i] })
	var payloads [][]byte
	for chunk := range slices.Chunk(alarms, batch) {
		if batch == 1 {
			payloads = append(payloads, marshal(tb, chunk[0]))
		} else {
			payloads = append(payloads, marshal(tb, chunk))
		}
	}
	return payloads
}

// deliver invokes every payload with inFlight invocations at a time and
// counts the results' actions.
func deliver(sb *sandbox.Sandbox, payloads [][]byte, inFlight int) (map[string]int, error) {
	counts, _, err := deliverAll(sb, payloads, inFlight)
	return counts, err
}

// deliverAll is deliver that also returns the first result of each action.
func deliverAll(sb *sandbox.Sandbox, payloads [][]byte, inFlight int) (map[string]int, map[string]map[string]any, error) {
	var next atomic.Int64
	var mu sync.Mutex
	counts := map[string]int{}
	examples := map[string]map[string]any{}
	var firstErr error
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(payloads) {
					return
				}
				res, err := sb.Invoke(context.Background(), payloads[i])
				if err == nil && res.ErrorText != "" {
					err = fmt.Errorf("the function failed: %s", res.Raw)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for _, r := range res.Results {
					action := fmt.Sprint(r["action"])
					if action == "deferred" && r["errorCode"] == "Throttling" {
						// A racing copy of a change another process just
						// made: it meets the ECS lock, as it must.
						action = "locked"
					}
					counts[action]++
					if examples[action] == nil {
						examples[action] = r
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts, examples, firstErr
}

// processesCPU is the CPU time (user and system) the function processes of
// sb have used so far, from /proc/<pid>/stat. Linux only, like PeakRSS.
func processesCPU(tb testing.TB, sb *sandbox.Sandbox) time.Duration {
	tb.Helper()
	const ticksPerSecond = 100 // USER_HZ, fixed by the Linux ABI on amd64 and arm64
	var total time.Duration
	for _, p := range sb.Processes() {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
		if err != nil {
			tb.Fatal(err)
		}
		// The command name may hold spaces: the fields start after its ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 13 {
			tb.Fatalf("unexpected /proc/%d/stat: %q", p.Pid(), stat)
		}
		for _, f := range fields[11:13] { // utime and stime: fields 14 and 15 of proc(5)
			ticks, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				tb.Fatalf("unexpected /proc/%d/stat: %q", p.Pid(), stat)
			}
			total += time.Duration(ticks) * time.Second / ticksPerSecond
		}
	}
	return total
}

// checkStormMoney is the storm's money invariant: exactly one order per
// instance, from 10 to 20 Mbit/s, every instance at 20, and no other target
// left pending on any instance for a later reconcile to buy.
func checkStormMoney(b testing.TB, sb *sandbox.Sandbox, instances []emulator.Instance) {
	b.Helper()
	perInstance := map[string][]emulator.Order{}
	for _, o := range sb.ECS.Orders() {
		perInstance[o.InstanceId] = append(perInstance[o.InstanceId], o)
	}
	if len(perInstance) != len(instances) {
		b.Fatalf("orders for %d instances, want all %d", len(perInstance), len(instances))
	}
	for _, in := range instances {
		orders := perInstance[in.InstanceId]
		if len(orders) != 1 || orders[0].From != 10 || orders[0].To != 20 {
			b.Fatalf("%s: want exactly one order 10 → 20 Mbit/s, got %+v", in.InstanceId, orders)
		}
		now, _ := sb.ECS.Instance(in.InstanceId)
		if now.InternetMaxBandwidthOut != 20 {
			b.Fatalf("%s is at %d Mbit/s, want 20", in.InstanceId, now.InternetMaxBandwidthOut)
		}
		rec, err := state.Decode(now.Tags)
		if err != nil {
			b.Fatalf("%s: state tag: %v", in.InstanceId, err)
		}
		if a := rec.Attempt; a == nil || a.To != 20 {
			b.Fatalf("%s: the state tag %q does not record the change to 20 Mbit/s", in.InstanceId, now.Tags[state.TagKey])
		}
	}
}
