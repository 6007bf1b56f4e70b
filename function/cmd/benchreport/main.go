// Command benchreport is `make bench`: it runs the project's benchmarks with
// `go test -bench`, reads their output and prints one table of what was
// measured against the goals, with the machine it ran on.
//
//	go run ./function/cmd/benchreport -binary function/target/main -floor function/.local/fcfloor
package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func main() {
	binary := flag.String("binary", "function/target/main", "the built function (static, stripped)")
	floor := flag.String("floor", "function/.local/fcfloor", "the fcfloor binary, built the same way")
	strict := flag.Bool("strict", false, "exit 1 when a goal is missed, not only when a benchmark fails")
	verbose := flag.Bool("v", false, "print the benchmarks' own output too")
	flag.Parse()
	if err := run(os.Stdout, os.Stderr, *binary, *floor, *strict, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// coldStartRounds alternate the function and the floor, so that a change
// in the machine's load touches both; the median round is kept.
const coldStartRounds = 5

// bench is one `go test -bench` run.
type bench struct {
	key       string // what the results are filed under
	pkg       string
	pattern   string
	benchtime string
	benchmem  bool
	env       []string
}

// results are benchmark metrics: key → benchmark name (without the
// -GOMAXPROCS suffix) → unit → value.
type results map[string]map[string]map[string]float64

func (r results) get(key, name, unit string) (float64, bool) {
	v, ok := r[key][name][unit]
	return v, ok
}

func run(stdout, stderr io.Writer, binary, floor string, strict, verbose bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	for _, p := range []*string{&binary, &floor} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
		if _, err := os.Stat(*p); err != nil {
			return fmt.Errorf("%w (build it first: make bench)", err)
		}
	}

	var runs []bench
	for round := range coldStartRounds {
		for _, b := range []struct{ who, path string }{{"function", binary}, {"floor", floor}} {
			runs = append(runs, bench{key: fmt.Sprintf("cold-%s-%d", b.who, round), pkg: "./function/fcruntime",
				pattern: "^BenchmarkColdStart$", benchtime: "20x", env: []string{"FC_BINARY=" + b.path}})
		}
	}
	runs = append(runs,
		bench{key: "cost", pkg: "./function/scaler", pattern: "^BenchmarkAlarmCost$", benchtime: "1s", benchmem: true},
		bench{key: "e2e", pkg: "./function/e2e", pattern: "^BenchmarkAlarm$", benchtime: "200x"},
		bench{key: "storm", pkg: "./function/e2e", pattern: "^BenchmarkStorm$", benchtime: "1x"},
	)
	// The Node.js reference needs node and an npm install; without them its
	// row says why it was skipped.
	skipped := map[string]string{}
	modules, cleanup, why := installNodeRef(root, stderr)
	defer cleanup()
	if why != "" {
		skipped["noderef"] = why
		fmt.Fprintln(stderr, "BenchmarkNodeRef skipped:", why)
	} else {
		runs = append(runs, bench{key: "noderef", pkg: "./function/e2e", pattern: "^BenchmarkNodeRef$", benchtime: "200x",
			env: []string{"NODEREF_MODULES=" + modules}})
	}
	res := results{}
	broken := map[string]bool{}
	var failed []string
	for _, b := range runs {
		args := []string{"test", "-count=1", "-run", "^$", "-bench", b.pattern, "-benchtime", b.benchtime}
		if b.benchmem {
			args = append(args, "-benchmem")
		}
		args = append(args, b.pkg)
		fmt.Fprintln(stderr, strings.TrimSpace(strings.Join(b.env, " ")+" go "+strings.Join(args, " ")))
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), b.env...)
		out, err := cmd.CombinedOutput()
		if verbose || err != nil {
			_, _ = stderr.Write(out)
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s %s: %v", b.pkg, b.pattern, err))
			broken[b.key] = true
			continue
		}
		res[b.key] = parse(out)
	}

	rows := table(res, broken, skipped, binary)
	fmt.Fprintf(stdout, "\nMachine: %d CPUs (%s), %s/%s, %s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(stdout, "Reproduce: make bench  (go run ./function/cmd/benchreport -binary %s -floor %s)\n\n", rel(root, binary), rel(root, floor))
	missed := printTable(stdout, rows)
	if len(failed) > 0 {
		return fmt.Errorf("benchmarks failed:\n  %s", strings.Join(failed, "\n  "))
	}
	if strict && missed > 0 {
		return fmt.Errorf("%d goal(s) missed", missed)
	}
	return nil
}

// parse reads the benchmark lines of `go test -bench` output:
// "BenchmarkX/sub-2   200   1234 ns/op   1.5 p50-ms ...".
func parse(out []byte) map[string]map[string]float64 {
	got := map[string]map[string]float64{}
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		metrics := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				metrics[fields[i+1]] = v
			}
		}
		got[name] = metrics
	}
	return got
}

// row is one line of the table. ok is nil for a measurement without a goal.
type row struct {
	metric, measured, goal string
	ok                     *bool
}

func check(b bool) *bool { return &b }

const missing = "not measured"

// table compares res with the goals. A goal whose benchmark failed (broken)
// counts as missed: a failed benchmark is a broken invariant, not a gap. A
// benchmark that could not run here (skipped: key → why) has no verdict.
func table(res results, broken map[string]bool, skipped map[string]string, binary string) []row {
	rows := goals(res, skipped, binary)
	for i, r := range rows {
		if r.measured == missing && r.goal != "" && brokenAny(broken, r.metric) {
			rows[i].measured, rows[i].ok = "benchmark failed (output above)", check(false)
		}
	}
	return rows
}

// goals compares res with the goals, one row per metric.
func goals(res results, skipped map[string]string, binary string) []row {
	var rows []row
	num := func(key, name, unit string, format string, scale float64) (string, float64, bool) {
		v, ok := res.get(key, name, unit)
		if !ok {
			return missing, 0, false
		}
		return fmt.Sprintf(format, v*scale), v, true
	}

	// Binary size.
	if st, err := os.Stat(binary); err == nil {
		mb := float64(st.Size()) / (1 << 20)
		m := fmt.Sprintf("%.1f MB", mb)
		if !stripped(binary) {
			m += " (NOT stripped)"
		}
		rows = append(rows, row{"binary size", m, "< 12 MB stripped", check(mb < 12 && stripped(binary))})
	}

	// Cold start: the median round of each.
	fn, fnOK := median(res, "cold-function", "BenchmarkColdStart", "ns/op")
	fl, flOK := median(res, "cold-floor", "BenchmarkColdStart", "ns/op")
	fnRSS, _ := median(res, "cold-function", "BenchmarkColdStart", "peak-rss-B")
	flRSS, _ := median(res, "cold-floor", "BenchmarkColdStart", "peak-rss-B")
	if fnOK && flOK {
		rows = append(rows,
			row{"cold start: exec → first poll, function", fmt.Sprintf("%.1f ms (RSS %.1f MB)", fn/1e6, fnRSS/(1<<20)), "", nil},
			row{"cold start: exec → first poll, fc.Start floor", fmt.Sprintf("%.1f ms (RSS %.1f MB)", fl/1e6, flRSS/(1<<20)), "", nil},
			row{"cold start ratio function / floor", fmt.Sprintf("%.2f", fn/fl), "≤ 1.3", check(fn/fl <= 1.3)},
		)
	} else {
		rows = append(rows, row{"cold start ratio function / floor", missing, "≤ 1.3", nil})
	}

	// Per-alarm cost without network.
	if m, v, ok := num("cost", "BenchmarkAlarmCost", "ns/op", "%.1f µs", 1e-3); ok {
		rows = append(rows, row{"decode + decide per alarm, time", m, "< 20 µs", check(v < 20000)})
	} else {
		rows = append(rows, row{"decode + decide per alarm, time", m, "< 20 µs", nil})
	}
	if m, v, ok := num("cost", "BenchmarkAlarmCost", "allocs/op", "%.0f allocs", 1); ok {
		rows = append(rows, row{"decode + decide per alarm, allocations", m, "< 100", check(v < 100)})
	} else {
		rows = append(rows, row{"decode + decide per alarm, allocations", m, "< 100", nil})
	}

	// End to end, one alarm at a time.
	type calls struct{ describe, tag, modify float64 }
	for _, c := range []struct {
		sub, what, goal string
		want            func(calls) bool
	}{
		{"noop", "no-op alarm", "1 DescribeInstances", func(c calls) bool { return c.describe == 1 && c.tag == 0 && c.modify == 0 }},
		{"change", "alarm that scales", "Describe + state write + Modify", func(c calls) bool { return c.describe == 1 && c.tag == 1 && c.modify == 1 }},
		{"redelivery", "redelivery, same process", "no Modify", func(c calls) bool { return c.modify == 0 }},
		{"redelivery-fresh-process", "redelivery, fresh process", "no Modify", func(c calls) bool { return c.modify == 0 }},
	} {
		name := "BenchmarkAlarm/" + c.sub
		p50, _, ok50 := num("e2e", name, "p50-ms", "%.2f", 1)
		p99, _, ok99 := num("e2e", name, "p99-ms", "%.2f", 1)
		if !ok50 || !ok99 {
			rows = append(rows, row{"e2e " + c.what, missing, c.goal, nil})
			continue
		}
		rows = append(rows, row{"e2e " + c.what + ": latency p50 / p99", p50 + " / " + p99 + " ms", "", nil})
		var got calls
		got.describe, _ = res.get("e2e", name, "describe/alarm")
		got.tag, _ = res.get("e2e", name, "tag/alarm")
		got.modify, _ = res.get("e2e", name, "modify/alarm")
		total, _ := res.get("e2e", name, "ecs-calls/alarm")
		cms, _ := res.get("e2e", name, "cms/alarm")
		m := fmt.Sprintf("%.2f (Describe %.2f, CloudMonitor %.2f, TagResources %.2f, Modify %.2f)", total, got.describe, cms, got.tag, got.modify)
		rows = append(rows, row{"e2e " + c.what + ": ECS calls per alarm", m, c.goal, check(c.want(got))})
	}

	rows = append(rows, cpuPerScalingAlarm(res, skipped))

	// The storm.
	var peak float64
	peakOK := false
	for _, sub := range []string{"single", "batch100"} {
		name := "BenchmarkStorm/" + sub
		what := map[string]string{"single": "1 alarm per invocation", "batch100": "100 alarms per invocation"}[sub]
		m, v, ok := num("storm", name, "alarms/s", "%.0f alarms/s", 1)
		r := row{metric: fmt.Sprintf("storm, %s: throughput", what), measured: m, goal: "≥ 2000 alarms/s"}
		if ok {
			r.ok = check(v >= 2000)
			if cpu, ok := res.get("storm", name, "fn-cpu-ms/alarm"); ok {
				r.measured += fmt.Sprintf(" (function CPU %.2f ms/alarm)", cpu)
			}
		}
		rows = append(rows, r)
		if orders, ok := res.get("storm", name, "orders"); ok {
			perOrder, _ := res.get("storm", name, "scaled/order")
			rows = append(rows, row{fmt.Sprintf("storm, %s: orders", what),
				fmt.Sprintf("%.0f for 1000 instances (%.2f scaled results per order)", orders, perOrder),
				"exactly 1 per instance", check(orders == 1000)})
		}
		if v, ok := res.get("storm", name, "peak-rss-MB"); ok {
			peak, peakOK = max(peak, v), true
		}
	}
	r := row{metric: "storm: peak RSS per function process", measured: missing, goal: "< 40 MB"}
	if peakOK {
		r.measured, r.ok = fmt.Sprintf("%.1f MB", peak), check(peak < 40)
	}
	rows = append(rows, r)
	return rows
}

const cpuMetric = "CPU per scaling alarm: function / Node pop-core Describe+Modify"

// cpuPerScalingAlarm compares the function's CPU for an alarm that scales
// (BenchmarkAlarm/change: one alarm per invocation, through the FC runtime
// protocol) with a minimal Node.js function's for DescribeInstances +
// ModifyInstanceNetworkSpec through @alicloud/pop-core (BenchmarkNodeRef), and
// splits the function's by the other e2e cases: a redelivery to the same
// process makes no API call (the runtime protocol, decoding, logging), a no-op
// adds the reads (DescribeInstances, CloudMonitor), a change adds the writes
// (the state tag, Modify).
func cpuPerScalingAlarm(res results, skipped map[string]string) row {
	r := row{metric: cpuMetric, measured: missing, goal: "≤ 1.0"}
	fn, fnOK := res.get("e2e", "BenchmarkAlarm/change", "fn-cpu-ms/alarm")
	if why, ok := skipped["noderef"]; ok {
		r.measured = "skipped: " + why
		if fnOK {
			r.measured += fmt.Sprintf(" (function %.2f ms)", fn)
		}
		return r
	}
	node, nodeOK := res.get("noderef", "BenchmarkNodeRef", "cpu-ms/alarm")
	if !fnOK || !nodeOK || node <= 0 {
		return r
	}
	r.measured = fmt.Sprintf("%.2f / %.2f ms = %.2f", fn, node, fn/node)
	noop, noopOK := res.get("e2e", "BenchmarkAlarm/noop", "fn-cpu-ms/alarm")
	dup, dupOK := res.get("e2e", "BenchmarkAlarm/redelivery", "fn-cpu-ms/alarm")
	if noopOK && dupOK {
		r.measured += fmt.Sprintf(" (function: runtime protocol + decoding %.2f, Describe + CloudMonitor read %.2f, state tag + Modify %.2f)",
			dup, noop-dup, fn-noop)
	}
	r.ok = check(fn/node <= 1.0)
	return r
}

// installNodeRef installs noderef/package.json's pinned dependencies into a
// temporary directory and returns its node_modules, or why it cannot.
func installNodeRef(root string, log io.Writer) (modules string, cleanup func(), why string) {
	cleanup = func() {}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", cleanup, tool + " not found"
		}
	}
	manifest, err := os.ReadFile(filepath.Join(root, "function", "cmd", "benchreport", "noderef", "package.json"))
	if err != nil {
		return "", cleanup, err.Error()
	}
	var pkg struct{ Dependencies map[string]string }
	if err := json.Unmarshal(manifest, &pkg); err != nil {
		return "", cleanup, "noderef/package.json: " + err.Error()
	}
	what := "@alicloud/pop-core@" + pkg.Dependencies["@alicloud/pop-core"]
	dir, err := os.MkdirTemp("", "benchreport-noderef-")
	if err != nil {
		return "", cleanup, err.Error()
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	if err := os.WriteFile(filepath.Join(dir, "package.json"), manifest, 0o644); err != nil {
		return "", cleanup, err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"install", "--no-audit", "--no-fund", "--no-package-lock", "--omit=dev", "--loglevel=error"}
	fmt.Fprintln(log, "npm "+strings.Join(args, " ")+"  (in "+dir+": "+what+")")
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", cleanup, fmt.Sprintf("npm install %s failed: %v%s", what, err, lastLine(out))
	}
	modules = filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@alicloud", "pop-core", "package.json")); err != nil {
		return "", cleanup, "npm install " + what + " installed no @alicloud/pop-core"
	}
	return modules, cleanup, ""
}

// lastLine is ": " and the last non-empty line of out, or "".
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return ": " + last
	}
	return ""
}

// brokenAny reports whether the benchmark behind a table metric failed.
func brokenAny(broken map[string]bool, metric string) bool {
	switch {
	case strings.HasPrefix(metric, "storm"):
		return broken["storm"]
	case strings.HasPrefix(metric, "e2e"):
		return broken["e2e"]
	case strings.HasPrefix(metric, cpuMetric):
		return broken["e2e"] || broken["noderef"]
	case strings.HasPrefix(metric, "decode"):
		return broken["cost"]
	case strings.HasPrefix(metric, "cold"):
		for k := range broken {
			if strings.HasPrefix(k, "cold-") {
				return true
			}
		}
	}
	return false
}

// median is the median over the cold-start rounds filed as prefix-N.
func median(res results, prefix, name, unit string) (float64, bool) {
	var vs []float64
	for round := range coldStartRounds {
		if v, ok := res.get(fmt.Sprintf("%s-%d", prefix, round), name, unit); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return math.NaN(), false
	}
	slices.Sort(vs)
	return vs[len(vs)/2], true
}

// printTable prints rows as a Markdown table and returns how many goals were missed.
func printTable(w io.Writer, rows []row) int {
	all := [][4]string{{"metric", "measured", "goal", "result"}}
	missed := 0
	for _, r := range rows {
		verdict := ""
		switch {
		case r.ok != nil && *r.ok:
			verdict = "pass"
		case r.ok != nil:
			verdict = "FAIL"
			missed++
		case r.goal != "":
			verdict = "n/a"
		}
		all = append(all, [4]string{r.metric, r.measured, r.goal, verdict})
	}
	var width [4]int
	for _, c := range all {
		for i, s := range c {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	line := func(c [4]string, pad string) {
		var b strings.Builder
		for i, s := range c {
			fmt.Fprintf(&b, "| %s%s ", s, strings.Repeat(pad, width[i]-utf8.RuneCountInString(s)))
		}
		fmt.Fprintln(w, b.String()+"|")
	}
	line(all[0], " ")
	line([4]string{}, "-")
	for _, c := range all[1:] {
		line(c, " ")
	}
	return missed
}

// stripped reports whether an ELF binary has no symbol table.
func stripped(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Section(".symtab") == nil
}

func cpuModel() string {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for line := range strings.Lines(string(info)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU model unknown"
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run benchreport inside the module (the repository root)")
	}
	return filepath.Dir(gomod), nil
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
