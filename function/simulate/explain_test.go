package simulate

import (
	"strings"
	"testing"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

const readmeTable = `table:
  - {upTo: 4,  target: 5}
  - {upTo: 8,  target: 10}
  - {upTo: 16, target: 20}
  - {upTo: 40, target: 50}
  - {upTo: 80, target: 100}
min: 5
max: 100
instances: {ids: [i-a]}
`

func mustPolicy(t testing.TB, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRowTarget(t *testing.T) {
	p := mustPolicy(t, readmeTable)
	for _, c := range []struct {
		rate      float64
		cap, want int
	}{
		{9.6, 10, 20},  // the README's worked example
		{1.6, 20, 5},   // its recovery
		{8, 10, 10},    // 80 %: upTo 8 covers it
		{4, 5, 5},      // 80 % of 5
		{4.75, 5, 10},  // 95 %: saturated, at least the next row above 5
		{90, 100, 100}, // above the last row: the last row's target
		{0, 5, 5},      // clamped to min
	} {
		if got := RowTarget(p, c.rate, c.cap, p.Min, p.Max); got != c.want {
			t.Errorf("RowTarget(%v at %d) = %d, want %d", c.rate, c.cap, got, c.want)
		}
	}
	if got := RowTarget(p, 30, 20, 5, 20); got != 20 {
		t.Errorf("clamp to max: %d, want 20", got)
	}
	if got := RoundUpToRow(p, 12, 5, 100); got != 20 {
		t.Errorf("RoundUpToRow(12) = %d, want 20", got)
	}
}

// oldRules are the first release's advice: an alarm at >= 80 % and one at
// <= 20 %, which the explain warnings must catch.
func oldRules(t *testing.T) []Rule {
	rules, err := ParseRules(strings.NewReader(`[
		{"name": "bw-out-usage-high", "metric": "VPC_PublicIP_InternetOutRate_Percent", "comparison": ">=", "threshold": 80},
		{"name": "bw-out-usage-low", "metric": "VPC_PublicIP_InternetOutRate_Percent", "comparison": "<=", "threshold": 20}]`))
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// The rules derived from the policy can always move a cap.
func TestDefaultRulesMoveCaps(t *testing.T) {
	p := mustPolicy(t, readmeTable)
	e := Explain(p, DefaultRules(p), p.Min, p.Max, p.Min)
	if all := strings.Join(e.Warnings, "\n"); strings.Contains(all, "rule bwas-") {
		t.Errorf("warnings about the derived rules:\n%s", all)
	}
}

func TestExplainWarnings(t *testing.T) {
	p := mustPolicy(t, readmeTable)
	e := Explain(p, oldRules(t), p.Min, p.Max, p.Min)
	if len(e.Caps) != 5 || e.Caps[0] != 5 || e.Caps[4] != 100 || e.Targets[1][8] != 20 { // 90 % of 10
		t.Errorf("caps %v targets %v", e.Caps, e.Targets)
	}
	all := strings.Join(e.Warnings, "\n")
	for _, want := range []string{
		"rule bw-out-usage-high", "10 Mbit/s (reads 8 Mbit/s -> 10)", // the README's example of an idle alarm
		"saturation 95% is above rule bw-out-usage-high's threshold 80%",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "never reached") {
		t.Errorf("every row of the README's table is reachable:\n%s", all)
	}
	// A row above max is never reached; the 1 Mbit/s floor cannot reach 100
	// once max is 50.
	capped := mustPolicy(t, strings.Replace(readmeTable, "max: 100", "max: 50", 1))
	e = Explain(capped, oldRules(t), capped.Min, capped.Max, capped.Min)
	if all := strings.Join(e.Warnings, "\n"); !strings.Contains(all, "table[4] (upTo 80, target 100) is never reached from 5 Mbit/s: it is outside min/max 5..50") {
		t.Errorf("warnings:\n%s", all)
	}
	var b strings.Builder
	if err := e.Write(&b); err != nil || !strings.Contains(b.String(), "cap \\ usage") {
		t.Errorf("Write: %v\n%s", err, b.String())
	}
}
