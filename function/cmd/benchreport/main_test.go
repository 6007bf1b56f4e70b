package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	out := `goos: linux
pkg: github.com/ecs-bandwidth-autoscaler/autoscaler/function/e2e
BenchmarkAlarm/noop-2         	     200	   1526863 ns/op	         1.000 describe/alarm	         1.420 p50-ms
BenchmarkAlarm/redelivery-fresh-process-16  	     200	   1599203 ns/op	         0 modify/alarm
BenchmarkAlarmCost-2   	  100000	     12345 ns/op	    2048 B/op	      57 allocs/op
BenchmarkColdStart
BenchmarkBroken-2   	  many	     12345 ns/op
BenchmarkOdd-2   	  10	     12345 ns/op	 7
--- FAIL: BenchmarkStorm/single
PASS
`
	want := map[string]map[string]float64{
		"BenchmarkAlarm/noop":                     {"ns/op": 1526863, "describe/alarm": 1, "p50-ms": 1.42},
		"BenchmarkAlarm/redelivery-fresh-process": {"ns/op": 1599203, "modify/alarm": 0},
		"BenchmarkAlarmCost":                      {"ns/op": 12345, "B/op": 2048, "allocs/op": 57},
	}
	if got := parse([]byte(out)); !reflect.DeepEqual(got, want) {
		t.Errorf("parse =\n%v\nwant\n%v", got, want)
	}
}

// measured is a complete set of results, every goal met.
func measured() results {
	r := results{
		"cost": {"BenchmarkAlarmCost": {"ns/op": 9000, "allocs/op": 60}},
		"e2e": {
			"BenchmarkAlarm/noop":                     {"p50-ms": 1, "p99-ms": 3, "ecs-calls/alarm": 1, "describe/alarm": 1, "fn-cpu-ms/alarm": 1.2},
			"BenchmarkAlarm/change":                   {"p50-ms": 2, "p99-ms": 6, "ecs-calls/alarm": 3, "describe/alarm": 1, "tag/alarm": 1, "modify/alarm": 1, "fn-cpu-ms/alarm": 1.8},
			"BenchmarkAlarm/redelivery":               {"p50-ms": 0.5, "p99-ms": 2, "fn-cpu-ms/alarm": 0.5},
			"BenchmarkAlarm/redelivery-fresh-process": {"p50-ms": 1, "p99-ms": 3, "ecs-calls/alarm": 1, "describe/alarm": 1},
		},
		"storm": {
			"BenchmarkStorm/single":   {"alarms/s": 2500, "orders": 1000, "peak-rss-MB": 16, "scaled/order": 1},
			"BenchmarkStorm/batch100": {"alarms/s": 4000, "orders": 1000, "peak-rss-MB": 18, "scaled/order": 1.2},
		},
		"noderef": {"BenchmarkNodeRef": {"cpu-ms/alarm": 2, "ecs-calls/alarm": 2}},
	}
	for round, ns := range []float64{10e6, 12e6, 30e6} { // the median round is 12 ms against 10 ms
		r[key("cold-function", round)] = map[string]map[string]float64{"BenchmarkColdStart": {"ns/op": ns}}
		r[key("cold-floor", round)] = map[string]map[string]float64{"BenchmarkColdStart": {"ns/op": 10e6}}
	}
	return r
}

func key(prefix string, round int) string { return prefix + "-" + strconv.Itoa(round) }

func TestTable(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "main")
	if err := os.WriteFile(binary, []byte("not an ELF file"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		change  func(results)
		skipped map[string]string
		missed  []string // metrics whose goal is missed, besides the size of a binary that is no ELF file
		absent  []string // metrics reported as not measured
		broken  map[string]bool
	}{
		{name: "all met", change: func(results) {}},
		{name: "slow cold start", change: func(r results) { r["cold-function-1"]["BenchmarkColdStart"]["ns/op"] = 14e6 },
			missed: []string{"cold start ratio"}},
		{name: "a second order", change: func(r results) { r["storm"]["BenchmarkStorm/batch100"]["orders"] = 1001 },
			missed: []string{"storm, 100 alarms per invocation: orders"}},
		{name: "a Modify for a redelivery", change: func(r results) { r["e2e"]["BenchmarkAlarm/redelivery"]["modify/alarm"] = 0.01 },
			missed: []string{"e2e redelivery, same process: ECS calls"}},
		{name: "a no-op that writes", change: func(r results) { r["e2e"]["BenchmarkAlarm/noop"]["tag/alarm"] = 1 },
			missed: []string{"e2e no-op alarm: ECS calls"}},
		{name: "heavy", change: func(r results) {
			r["storm"]["BenchmarkStorm/single"]["peak-rss-MB"] = 41
			r["cost"]["BenchmarkAlarmCost"]["allocs/op"] = 100
		}, missed: []string{"decode + decide per alarm, allocations", "storm: peak RSS"}},
		{name: "slow storm", change: func(r results) { r["storm"]["BenchmarkStorm/single"]["alarms/s"] = 1999 },
			missed: []string{"storm, 1 alarm per invocation: throughput"}},
		{name: "failed storm", change: func(r results) { delete(r, "storm") }, broken: map[string]bool{"storm": true},
			missed: []string{"storm, 1 alarm per invocation: throughput", "storm, 100 alarms per invocation: throughput", "storm: peak RSS"}},
		{name: "more CPU than Node", change: func(r results) { r["noderef"]["BenchmarkNodeRef"]["cpu-ms/alarm"] = 1.7 },
			missed: []string{"CPU per scaling alarm"}},
		{name: "failed reference", change: func(r results) { delete(r, "noderef") }, broken: map[string]bool{"noderef": true},
			missed: []string{"CPU per scaling alarm"}},
		{name: "no node", change: func(r results) { delete(r, "noderef") }, skipped: map[string]string{"noderef": "node not found"}},
		{name: "no alarm cost benchmark", change: func(r results) { delete(r, "cost") },
			absent: []string{"decode + decide per alarm, time", "decode + decide per alarm, allocations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := measured()
			tt.change(res)
			rows := table(res, tt.broken, tt.skipped, binary)
			var missed, absent []string
			for _, r := range rows {
				if r.ok != nil && !*r.ok && r.metric != "binary size" {
					missed = append(missed, r.metric)
				}
				if r.measured == missing {
					absent = append(absent, r.metric)
				}
			}
			if !matches(missed, tt.missed) {
				t.Errorf("missed goals %q, want those starting with %q", missed, tt.missed)
			}
			if !matches(absent, tt.absent) {
				t.Errorf("not measured %q, want %q", absent, tt.absent)
			}
		})
	}
}

// matches reports whether each of got starts with the prefix of the same index.
func matches(got, prefixes []string) bool {
	if len(got) != len(prefixes) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], prefixes[i]) {
			return false
		}
	}
	return true
}

func TestPrintTableCountsMissedGoals(t *testing.T) {
	var out strings.Builder
	missed := printTable(&out, []row{
		{"a", "1", "≤ 2", check(true)},
		{"b", "3", "≤ 2", check(false)},
		{"c", "4", "", nil},
		{"d", missing, "≤ 2", nil},
	})
	if missed != 1 {
		t.Errorf("missed = %d, want 1", missed)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[1], "| ---") {
		t.Fatalf("not a Markdown table:\n%s", out.String())
	}
	for i, want := range []string{"pass", "FAIL", "", "n/a"} {
		cells := strings.Split(lines[i+2], "|")
		if got := strings.TrimSpace(cells[4]); got != want {
			t.Errorf("row %d: result %q, want %q", i, got, want)
		}
	}
}

// The CPU row from `go test -bench` output as BenchmarkAlarm and
// BenchmarkNodeRef print it, and when the reference could not run.
func TestCPUPerScalingAlarm(t *testing.T) {
	e2e := parse([]byte(`BenchmarkAlarm/noop-2         	     200	   2010736 ns/op	         1.000 cms/alarm	         1.000 describe/alarm	         2.000 ecs-calls/alarm	         1.273 fn-cpu-ms/alarm	         0 modify/alarm	         1.825 p50-ms	         4.257 p99-ms	         0 tag/alarm
BenchmarkAlarm/change-2       	     200	   3108955 ns/op	         1.000 cms/alarm	         1.000 describe/alarm	         4.000 ecs-calls/alarm	         1.972 fn-cpu-ms/alarm	         1.000 modify/alarm	         2.694 p50-ms	         8.826 p99-ms	         1.000 tag/alarm
BenchmarkAlarm/redelivery-2   	     200	    712345 ns/op	         0.480 fn-cpu-ms/alarm	         0.500 p50-ms	         1.800 p99-ms
`))
	node := parse([]byte(`BenchmarkNodeRef
    noderef_test.go:112: node v20.20.2, @alicloud/pop-core 1.8.0
BenchmarkNodeRef-2   	     200	   7632024 ns/op	         2.168 cpu-ms/alarm	         2.000 ecs-calls/alarm	         2.109 user-ms/alarm	         4.139 wall-ms/alarm
`))
	tests := []struct {
		name     string
		res      results
		skipped  map[string]string
		measured string
		ok       *bool
	}{
		{name: "both", res: results{"e2e": e2e, "noderef": node},
			measured: "1.97 / 2.17 ms = 0.91 (function: runtime protocol + decoding 0.48, Describe + CloudMonitor read 0.79, state tag + Modify 0.70)",
			ok:       check(true)},
		{name: "function slower", res: results{"e2e": e2e, "noderef": {"BenchmarkNodeRef": {"cpu-ms/alarm": 1.5}}},
			measured: "1.97 / 1.50 ms = 1.31 (function: runtime protocol + decoding 0.48, Describe + CloudMonitor read 0.79, state tag + Modify 0.70)",
			ok:       check(false)},
		{name: "no npm", res: results{"e2e": e2e}, skipped: map[string]string{"noderef": "npm not found"},
			measured: "skipped: npm not found (function 1.97 ms)"},
		{name: "install failed, no e2e", res: results{}, skipped: map[string]string{"noderef": "npm install @alicloud/pop-core@1.8.0 failed: exit status 1: npm error code E404"},
			measured: "skipped: npm install @alicloud/pop-core@1.8.0 failed: exit status 1: npm error code E404"},
		{name: "reference not measured", res: results{"e2e": e2e}, measured: missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cpuPerScalingAlarm(tt.res, tt.skipped)
			if r.metric != cpuMetric || r.goal != "≤ 1.0" {
				t.Errorf("row %q, goal %q", r.metric, r.goal)
			}
			if r.measured != tt.measured {
				t.Errorf("measured %q\nwant     %q", r.measured, tt.measured)
			}
			if (r.ok == nil) != (tt.ok == nil) || (r.ok != nil && *r.ok != *tt.ok) {
				t.Errorf("ok = %v, want %v", r.ok, tt.ok)
			}
		})
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{"": "", "a\n\nnpm error 404\n": ": npm error 404", "one": ": one"} {
		if got := lastLine([]byte(in)); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInstallNodeRefWithoutNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	modules, cleanup, why := installNodeRef(t.TempDir(), &strings.Builder{})
	defer cleanup()
	if modules != "" || why != "node not found" {
		t.Errorf("installNodeRef = %q, %q; want a skip: node not found", modules, why)
	}
}
