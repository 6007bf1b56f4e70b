package simulate

import (
	"fmt"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// RowTarget is the cap the policy's table picks for an observed rate at the
// cap in force: the first row whose upTo covers the rate (above the last
// row, the last row's target); at or above saturation % of the cap, at
// least the first row target above the cap; clamped to lo..hi. It is the
// decision core's own table reading (decide.RowTarget, decide.RowsAbove),
// without the rules that depend on an instance's history.
func RowTarget(p *policy.Policy, rateMbps float64, capMbps, lo, hi int) int {
	target := decide.RowTarget(p.Table, rateMbps)
	if capMbps > 0 && rateMbps/float64(capMbps)*100 >= p.Saturation {
		target = max(target, decide.RowsAbove(p.Table, capMbps, 1))
	}
	return min(max(target, lo), hi)
}

// RoundUpToRow is the smallest table target at or above mbps (the last
// row's target above the table), clamped to lo..hi.
func RoundUpToRow(p *policy.Policy, mbps float64, lo, hi int) int {
	target := p.Table[len(p.Table)-1].Target
	for _, r := range p.Table {
		if float64(r.Target) >= mbps {
			target = r.Target
			break
		}
	}
	return min(max(target, lo), hi)
}

// ExplainUsages are the usage columns of the explain table, in %.
var ExplainUsages = []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100}

// Explanation is what a policy does at each cap and usage, and what in it
// or in the alarm rules cannot work.
type Explanation struct {
	Caps     []int // rows: each table target and min/max, ascending
	Usages   []float64
	Targets  [][]int // Targets[i][j]: the target at Caps[i] and Usages[j]
	Warnings []string
}

// Explain tabulates the policy for the instance bounds lo..hi (the
// policy's min/max unless overridden) and checks it against the rules,
// starting from startCap.
func Explain(p *policy.Policy, rules []Rule, lo, hi, startCap int) Explanation {
	e := Explanation{Caps: capsOf(p, lo, hi), Usages: ExplainUsages}
	for _, c := range e.Caps {
		row := make([]int, len(e.Usages))
		for j, u := range e.Usages {
			row[j] = RowTarget(p, u/100*float64(c), c, lo, hi)
		}
		e.Targets = append(e.Targets, row)
	}
	e.Warnings = append(e.Warnings, idleThresholds(p, rules, e.Caps, lo, hi)...)
	e.Warnings = append(e.Warnings, unreachableRows(p, lo, hi, startCap)...)
	for i := range rules {
		r := &rules[i]
		if r.percent() && up(r) && p.Saturation > r.Threshold {
			e.Warnings = append(e.Warnings, fmt.Sprintf(
				"saturation %v%% is above rule %s's threshold %v%%: between the two, the alarm's reading is taken as the true rate, not as a capped lower bound",
				p.Saturation, r.Name, r.Threshold))
		}
	}
	return e
}

func up(r *Rule) bool { return r.Comparison == ">" || r.Comparison == ">=" }

func capsOf(p *policy.Policy, lo, hi int) []int {
	caps := []int{lo, hi}
	for _, r := range p.Table {
		if r.Target >= lo && r.Target <= hi {
			caps = append(caps, r.Target)
		}
	}
	slices.Sort(caps)
	caps = slices.Compact(caps)
	if caps[0] == 0 { // a 0 cap has no usage to read
		caps = caps[1:]
	}
	return caps
}

// idleThresholds names the rules whose first notification, which reads the
// threshold itself, maps to the cap in force at some cap: it changes
// nothing, and CloudMonitor repeats it only after the silence period. At
// the bounds nothing can move in that direction anyway, so those are not
// reported.
func idleThresholds(p *policy.Policy, rules []Rule, caps []int, lo, hi int) []string {
	var out []string
	for i := range rules {
		r := &rules[i]
		var idle []string
		for _, c := range caps {
			if (up(r) && c >= hi) || (!up(r) && c <= lo) {
				continue
			}
			rate := r.Threshold / 1e6
			if r.percent() {
				rate = r.Threshold / 100 * float64(c)
			}
			if rate > float64(c) { // a rate above the cap is never measured
				continue
			}
			t := RowTarget(p, rate, c, lo, hi)
			if (up(r) && t <= c) || (!up(r) && t >= c) {
				idle = append(idle, fmt.Sprintf("%d Mbit/s (reads %s Mbit/s -> %d)", c, trim(rate), t))
			}
		}
		if len(idle) > 0 {
			out = append(out, fmt.Sprintf("rule %s (%s %s %v) cannot move anything at %s: its notification at the threshold maps to the cap in force, and it repeats only after %d s of silence",
				r.Name, r.Metric, r.Comparison, r.Threshold, strings.Join(idle, ", "), r.Silence))
		}
	}
	return out
}

// unreachableRows walks the caps the table can lead to from startCap: at
// each cap, every rate that can be measured (0 up to the cap) is tried at
// the rows' edges and at saturation.
func unreachableRows(p *policy.Policy, lo, hi, startCap int) []string {
	seen := map[int]bool{startCap: true}
	queue := []int{startCap}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		rates := []float64{0, float64(c), p.Saturation / 100 * float64(c)}
		for _, r := range p.Table {
			rates = append(rates, r.UpTo, math.Nextafter(r.UpTo, math.Inf(1)))
		}
		for _, rate := range rates {
			if rate > float64(c) {
				continue
			}
			if t := RowTarget(p, rate, c, lo, hi); !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	var out []string
	for i, r := range p.Table {
		if !seen[r.Target] {
			why := "no rate measurable under a reachable cap maps to it"
			if r.Target < lo || r.Target > hi {
				why = fmt.Sprintf("it is outside min/max %d..%d", lo, hi)
			}
			out = append(out, fmt.Sprintf("table[%d] (upTo %v, target %d) is never reached from %d Mbit/s: %s", i, r.UpTo, r.Target, startCap, why))
		}
	}
	return out
}

func trim(v float64) string { return fmt.Sprintf("%.4g", v) }

// Write prints the explanation as a text table.
func (e Explanation) Write(w io.Writer) error {
	var b strings.Builder
	b.WriteString("cap \\ usage")
	for _, u := range e.Usages {
		fmt.Fprintf(&b, "%6s", trim(u)+"%")
	}
	b.WriteString("\n")
	for i, c := range e.Caps {
		fmt.Fprintf(&b, "%8d   ", c)
		for _, t := range e.Targets[i] {
			mark := " "
			switch {
			case t > c:
				mark = "+"
			case t < c:
				mark = "-"
			}
			fmt.Fprintf(&b, "%5d%s", t, mark)
		}
		b.WriteString("\n")
	}
	b.WriteString("(+ an increase, - a decrease; decreases also wait downCooldown and move at most maxStepDown rows)\n")
	if len(e.Warnings) == 0 {
		b.WriteString("no warnings\n")
	}
	for _, w := range e.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
