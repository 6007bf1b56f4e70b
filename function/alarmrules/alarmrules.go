// Package alarmrules says which CloudMonitor alarm rules a policy needs, so
// that every alarm can actually move a cap: the operator tool (bwctl alarms)
// creates them and the simulator evaluates them, from this one definition.
// It is a tool package: the function never creates rules.
package alarmrules

import (
	"math"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// What every rule shares. SilenceTime is CloudMonitor's minimum (3600 s,
// PutResourceMetricRule's SDK comments): a standing alarm repeats at most
// hourly, which the minute timer makes up for.
const (
	Namespace = "acs_ecs_dashboard"
	Metric    = alarm.MetricVPCInternetOutRatePercent
	Statistic = "Average"
	Period    = 60 // seconds
	Silence   = 3600
	UpTimes   = 2 // consecutive periods before the saturation alarm
	DownTimes = 5 // consecutive periods before the recovery alarm
)

// An EIP-bound VPC instance's rules watch its EIP instead, with the same
// thresholds: namespace acs_vpc_eip, whose instanceId dimension is the EIP's
// allocation ID, and the EIP's usage metric (the name the function's alarm
// decoder reads; see alarm.MetricEIPOutRatePercent for the assumption).
const (
	EIPNamespace = "acs_vpc_eip"
	EIPMetric    = alarm.MetricEIPOutRatePercent
)

// Rule is one threshold rule on Metric.
type Rule struct {
	Suffix     string  // "up" or "down": part of the rule's id and name
	Comparison string  // ">=" or "<"
	Threshold  float64 // percent of the cap
	Times      int
}

// For is the rules p needs: an alarm at the policy's saturation (below it,
// a rate maps to a row at or under the cap, so an earlier alarm could not
// move anything), and with scaleDown a recovery alarm below the usage at
// which every cap's rate fits a lower row.
func For(p *policy.Policy) []Rule {
	rules := []Rule{{Suffix: "up", Comparison: ">=", Threshold: p.Saturation, Times: UpTimes}}
	if t := RecoveryPercent(p); p.ScaleDown && t > 0 {
		rules = append(rules, Rule{Suffix: "down", Comparison: "<", Threshold: t, Times: DownTimes})
	}
	return rules
}

// RecoveryPercent is the lowest usage, over the table's rows, at which the
// rate fits the row below: upTo of a row over the target of the next.
func RecoveryPercent(p *policy.Policy) float64 {
	best := 0.0
	t := p.Table
	for i := 0; i+1 < len(t); i++ {
		if r := 100 * t[i].UpTo / float64(t[i+1].Target); best == 0 || r < best {
			best = r
		}
	}
	return math.Floor(best)
}
