package emulator

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// CloudMonitor alarm rules (PutResourceMetricRule, PutResourceMetricRules,
// DescribeMetricRuleList, DeleteMetricRules), stored per account: one
// Server is one account. They are signature-verified like every action.
func init() {
	cmsActions["PutResourceMetricRule"] = (*Server).putResourceMetricRule
	cmsActions["PutResourceMetricRules"] = (*Server).putResourceMetricRules
	cmsActions["DescribeMetricRuleList"] = (*Server).describeMetricRuleList
	cmsActions["DeleteMetricRules"] = (*Server).deleteMetricRules
}

// MetricRule is one stored alarm rule: the threshold rule fields the
// autoscaler sets, as CloudMonitor keeps them.
type MetricRule struct {
	RuleID, RuleName, Namespace, MetricName, Resources string
	Period, Webhook, Options, NoDataPolicy             string
	SilenceTime                                        int
	Statistics, ComparisonOperator, Threshold          string // Escalations.Critical
	Times                                              int
}

// ruleFields maps the request parameters to the rule fields.
var ruleFields = []struct {
	name string
	set  func(r *MetricRule, v string) error
}{
	{"RuleId", func(r *MetricRule, v string) error { r.RuleID = v; return nil }},
	{"RuleName", func(r *MetricRule, v string) error { r.RuleName = v; return nil }},
	{"Namespace", func(r *MetricRule, v string) error { r.Namespace = v; return nil }},
	{"MetricName", func(r *MetricRule, v string) error { r.MetricName = v; return nil }},
	{"Resources", func(r *MetricRule, v string) error { r.Resources = v; return nil }},
	{"Period", func(r *MetricRule, v string) error { r.Period = v; return nil }},
	{"Webhook", func(r *MetricRule, v string) error { r.Webhook = v; return nil }},
	{"Options", func(r *MetricRule, v string) error { r.Options = v; return nil }},
	{"NoDataPolicy", func(r *MetricRule, v string) error { r.NoDataPolicy = v; return nil }},
	{"SilenceTime", func(r *MetricRule, v string) (err error) { r.SilenceTime, err = atoiOr(v, 86400); return }},
	{"Escalations.Critical.Statistics", func(r *MetricRule, v string) error { r.Statistics = v; return nil }},
	{"Escalations.Critical.ComparisonOperator", func(r *MetricRule, v string) error { r.ComparisonOperator = v; return nil }},
	{"Escalations.Critical.Threshold", func(r *MetricRule, v string) error { r.Threshold = v; return nil }},
	{"Escalations.Critical.Times", func(r *MetricRule, v string) (err error) { r.Times, err = atoiOr(v, 0); return }},
}

func atoiOr(v string, dflt int) (int, error) {
	if v == "" {
		return dflt, nil
	}
	return strconv.Atoi(v)
}

// ruleBooks holds each Server's rules (guarded by the Server's lock, which
// every action runs under).
var ruleBooks sync.Map // *Server -> map[string]MetricRule

func (s *Server) rules() map[string]MetricRule {
	m, _ := ruleBooks.LoadOrStore(s, map[string]MetricRule{})
	return m.(map[string]MetricRule)
}

// MetricRules returns the stored alarm rules, by RuleId.
func (s *Server) MetricRules() []MetricRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MetricRule, 0, len(s.rules()))
	for _, r := range s.rules() {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RuleID < out[j].RuleID })
	return out
}

// SetMetricRule stores r as a user would in the console.
func (s *Server) SetMetricRule(r MetricRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules()[r.RuleID] = r
}

func (s *Server) putRule(get func(string) string) *apiError {
	var r MetricRule
	for _, f := range ruleFields {
		if err := f.set(&r, get(f.name)); err != nil {
			return errCodef("ParameterInvalid", "%s %q is not a number.", f.name, get(f.name))
		}
	}
	for name, v := range map[string]string{"RuleId": r.RuleID, "RuleName": r.RuleName, "Namespace": r.Namespace, "MetricName": r.MetricName, "Resources": r.Resources} {
		if v == "" {
			return errCodef("ParameterInvalid", "%s is mandatory for this action.", name)
		}
	}
	if r.SilenceTime < 3600 {
		return errCodef("ParameterInvalid", "SilenceTime %d is below the minimum of 3600 seconds.", r.SilenceTime)
	}
	s.rules()[r.RuleID] = r
	return nil
}

func (s *Server) putResourceMetricRule(p url.Values) (any, *apiError) {
	if e := s.putRule(p.Get); e != nil {
		return nil, e
	}
	return map[string]any{"Code": "200", "Success": true}, nil
}

func (s *Server) putResourceMetricRules(p url.Values) (any, *apiError) {
	n := 0
	for i := 1; p.Get(fmt.Sprintf("Rules.%d.RuleId", i)) != ""; i++ {
		prefix := fmt.Sprintf("Rules.%d.", i)
		if e := s.putRule(func(k string) string { return p.Get(prefix + k) }); e != nil {
			return nil, e
		}
		n++
	}
	if n == 0 {
		return nil, errCodef("ParameterInvalid", "Rules is mandatory for this action.")
	}
	return map[string]any{"Code": "200", "Success": true, "FailedListResult": map[string]any{"Target": []any{}}}, nil
}

func (s *Server) describeMetricRuleList(p url.Values) (any, *apiError) {
	var ids map[string]bool
	if v := p.Get("RuleIds"); v != "" {
		ids = map[string]bool{}
		for _, id := range strings.Split(v, ",") {
			ids[strings.TrimSpace(id)] = true
		}
	}
	page, _ := atoiOr(p.Get("Page"), 1)
	size, _ := atoiOr(p.Get("PageSize"), 100)
	if page < 1 || size < 1 {
		return nil, errCodef("ParameterInvalid", "Page and PageSize must be positive.")
	}
	var match []MetricRule
	for _, r := range s.rules() {
		switch {
		case ids != nil && !ids[r.RuleID]:
		case p.Get("Namespace") != "" && p.Get("Namespace") != r.Namespace:
		case p.Get("MetricName") != "" && p.Get("MetricName") != r.MetricName:
		case p.Get("RuleName") != "" && !strings.Contains(r.RuleName, p.Get("RuleName")):
		default:
			match = append(match, r)
		}
	}
	sort.Slice(match, func(i, j int) bool { return match[i].RuleID < match[j].RuleID })
	total := len(match)
	start := min((page-1)*size, total)
	match = match[start:min(start+size, total)]
	alarms := make([]map[string]any, 0, len(match))
	for _, r := range match {
		alarms = append(alarms, map[string]any{
			"RuleId": r.RuleID, "RuleName": r.RuleName, "Namespace": r.Namespace, "MetricName": r.MetricName,
			"Resources": r.Resources, "Period": r.Period, "Webhook": r.Webhook, "Options": r.Options,
			"NoDataPolicy": r.NoDataPolicy, "SilenceTime": r.SilenceTime, "EnableState": true, "AlertState": "OK",
			"SourceType": "METRIC",
			"Escalations": map[string]any{"Critical": map[string]any{
				"Statistics": r.Statistics, "ComparisonOperator": r.ComparisonOperator, "Threshold": r.Threshold, "Times": r.Times,
			}},
		})
	}
	return map[string]any{"Code": 200, "Success": true, "Total": strconv.Itoa(total), "Alarms": map[string]any{"Alarm": alarms}}, nil
}

func (s *Server) deleteMetricRules(p url.Values) (any, *apiError) {
	n := 0
	for i := 1; p.Get(fmt.Sprintf("Id.%d", i)) != ""; i++ {
		delete(s.rules(), p.Get(fmt.Sprintf("Id.%d", i)))
		n++
	}
	if n == 0 {
		return nil, errCodef("ParameterInvalid", "Id is mandatory for this action.")
	}
	return map[string]any{"Code": "200", "Success": true}, nil
}
