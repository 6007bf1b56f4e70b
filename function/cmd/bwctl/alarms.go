package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cms"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarmrules"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

// The rules bwctl owns carry this RuleId prefix; delete touches no other.
const rulePrefix = "bwas-"

// ruleNamespaces are where bwctl's rules live: the instances' and the EIPs'.
var ruleNamespaces = []string{alarmrules.Namespace, alarmrules.EIPNamespace}

const (
	rulePeriod = "60"
	// ruleOptions: notify on OK too (NotSendOK false), so recovery reaches
	// the function.
	ruleOptions = `{"NotSendOK":false}`
)

var ruleService = openapi.Register(&openapi.Service{
	Name:    "CloudMonitor",
	Package: "bwctl",
	Actions: []string{"PutResourceMetricRule", "DescribeMetricRuleList", "DeleteMetricRules"},
	Codes:   openapi.CommonCodes("CloudMonitor", "cms", "CMS_ENDPOINT", "nothing was changed", nil),
})

// rule is one alarm rule as bwctl wants it and as CloudMonitor has it.
type rule struct {
	ID, Name, Instance, Resources    string
	Statistics, Operator, Threshold  string
	Times, Silence                   int
	Period, Webhook, Options, Metric string
	Namespace                        string
}

// fields are the compared fields, by name.
func (r rule) fields() [][2]string {
	return [][2]string{
		{"RuleName", r.Name}, {"Namespace", r.Namespace}, {"MetricName", r.Metric}, {"Resources", r.Resources}, {"Period", r.Period},
		{"Statistics", r.Statistics}, {"ComparisonOperator", r.Operator}, {"Threshold", r.Threshold},
		{"Times", strconv.Itoa(r.Times)}, {"SilenceTime", strconv.Itoa(r.Silence)}, {"Options", r.Options},
	}
}

func (e *env) alarms(ctx context.Context, args []string) error {
	if len(args) == 0 || !strings.Contains(" apply check delete ", " "+args[0]+" ") {
		return usageError{"alarms apply|check|delete [-webhook URL | -route eventbridge] [-dry-run]"}
	}
	verb := args[0]
	fs := flag.NewFlagSet("alarms "+verb, flag.ContinueOnError)
	fs.SetOutput(e.errw)
	webhook := fs.String("webhook", "", "the function's HTTP trigger URL (the token from HTTP_TOKEN is added)")
	route := fs.String("route", "webhook", "webhook or eventbridge (CloudMonitor's events go to EventBridge, which invokes the function)")
	dryRun := fs.Bool("dry-run", false, "print what apply would change and change nothing")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	hook := ""
	switch *route {
	case "eventbridge":
	case "webhook":
		if verb != "delete" {
			if *webhook == "" {
				return usageError{"alarms " + verb + ": -webhook URL (the HTTP trigger's) or -route eventbridge is required"}
			}
			token := e.getenv("HTTP_TOKEN")
			if token == "" {
				return usageError{"alarms " + verb + ": HTTP_TOKEN is not set: the function refuses callbacks without ?token="}
			}
			u, err := url.Parse(*webhook)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return usageError{fmt.Sprintf("-webhook %q is not an http(s) URL", *webhook)}
			}
			q := u.Query()
			q.Set("token", token)
			u.RawQuery = q.Encode()
			hook = u.String()
		}
	default:
		return usageError{fmt.Sprintf("-route %q: use webhook or eventbridge", *route)}
	}
	if err := e.setup(true); err != nil {
		return err
	}
	mask := func(s string) string {
		if t := e.getenv("HTTP_TOKEN"); t != "" {
			s = strings.ReplaceAll(s, url.QueryEscape(t), "****")
			s = strings.ReplaceAll(s, t, "****")
		}
		return s
	}
	total := 0
	for _, region := range e.regions() {
		n, err := e.alarmsRegion(ctx, verb, region, hook, *dryRun, mask)
		if err != nil {
			return err
		}
		total += n
	}
	switch {
	case verb == "check" && total > 0:
		return fmt.Errorf("%d alarm rules need alarms apply", total)
	case verb == "check":
		fmt.Fprintln(e.out, "all alarm rules are in place")
	case total == 0:
		fmt.Fprintln(e.out, "nothing to change")
	}
	return nil
}

// alarmsRegion does verb in one region and returns the number of rules
// changed (apply, delete) or wrong (check).
func (e *env) alarmsRegion(ctx context.Context, verb, region, hook string, dryRun bool, mask func(string) string) (int, error) {
	api, err := openapi.New(ruleService, cms.NewClientWithOptions, openapi.Config{Region: region, Endpoint: e.getenv("CMS_ENDPOINT"), Credentials: e.creds, Retry: e.retry})
	if err != nil {
		return 0, err
	}
	have, err := listRules(ctx, api)
	if err != nil {
		return 0, err
	}
	if verb == "delete" {
		var ids []string
		for id := range have {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			fmt.Fprintf(e.out, "%s: delete %s\n", region, id)
		}
		if len(ids) == 0 || dryRun {
			return len(ids), nil
		}
		req := cms.CreateDeleteMetricRulesRequest()
		req.Id = &ids
		_, err := api.Call(ctx, "DeleteMetricRules", strings.Join(ids, ","), req, func(c *cms.Client) error {
			resp, err := c.DeleteMetricRules(req)
			if err == nil && !resp.Success {
				return fmt.Errorf("DeleteMetricRules: %s %s", resp.Code, resp.Message)
			}
			return err
		})
		return len(ids), err
	}
	ecs, err := e.ecs(region)
	if err != nil {
		return 0, err
	}
	instances, err := e.selected(ctx, ecs)
	if err != nil {
		return 0, err
	}
	want := map[string]rule{}
	for _, in := range instances {
		for _, r := range e.wantRules(in, hook) {
			want[r.ID] = r
		}
	}
	ids := make([]string, 0, len(want)+len(have))
	for id := range want {
		ids = append(ids, id)
	}
	for id := range have {
		if _, ok := want[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	n := 0
	for _, id := range ids {
		w, wanted := want[id]
		h, exists := have[id]
		var problem string
		switch {
		case !wanted:
			problem = "not needed: its instance is no longer selected (alarms delete removes every bwas- rule)"
		case !exists:
			problem = "missing"
		default:
			var diffs []string
			for i, f := range w.fields() {
				if hf := h.fields()[i]; hf[1] != f[1] {
					diffs = append(diffs, fmt.Sprintf("%s %q, want %q", f[0], hf[1], f[1]))
				}
			}
			if h.Webhook != w.Webhook {
				diffs = append(diffs, fmt.Sprintf("points elsewhere: webhook %q, want %q", mask(h.Webhook), mask(w.Webhook)))
			}
			if len(diffs) > 0 {
				problem = "differs: " + strings.Join(diffs, "; ")
			}
		}
		if problem == "" {
			continue
		}
		n++
		switch {
		case verb == "check" || !wanted:
			fmt.Fprintf(e.out, "%s: %s %s\n", region, id, problem)
			if verb == "apply" {
				n-- // reported, not changed
			}
		case dryRun:
			fmt.Fprintf(e.out, "%s: would put %s (%s)\n", region, id, problem)
		default:
			if err := putRule(ctx, api, w); err != nil {
				return n, err
			}
			fmt.Fprintf(e.out, "%s: put %s (%s)\n", region, id, problem)
		}
	}
	return n, nil
}

// wantRules are the rules one instance needs (alarmrules.For): on its own
// metric, or for an EIP-bound VPC instance (as the engine tells one) on its
// EIP's, dimension instanceId = the allocation ID. The RuleId names the
// instance either way.
func (e *env) wantRules(in ecsapi.Instance, hook string) []rule {
	instance := in.ID
	base := rule{Instance: instance, Resources: fmt.Sprintf(`[{"instanceId":"%s"}]`, instance),
		Namespace: alarmrules.Namespace, Metric: alarmrules.Metric,
		Statistics: alarmrules.Statistic, Period: rulePeriod, Silence: alarmrules.Silence, Webhook: hook, Options: ruleOptions}
	label := instance
	if in.EIPAllocationID != "" && in.NetworkType != decide.NetworkClassic {
		base.Resources = fmt.Sprintf(`[{"instanceId":"%s"}]`, in.EIPAllocationID)
		base.Namespace, base.Metric = alarmrules.EIPNamespace, alarmrules.EIPMetric
		label = instance + " (EIP " + in.EIPAllocationID + ")"
	}
	operators := map[string]string{">=": "GreaterThanOrEqualToThreshold", "<": "LessThanThreshold"}
	names := map[string]string{"up": "saturated", "down": "recovered"}
	var out []rule
	for _, w := range alarmrules.For(e.policy) {
		r := base
		r.ID, r.Name = rulePrefix+instance+"-"+w.Suffix, "bandwidth-autoscaler "+label+" "+names[w.Suffix]
		r.Operator, r.Threshold, r.Times = operators[w.Comparison], formatPercent(w.Threshold), w.Times
		out = append(out, r)
	}
	return out
}

func formatPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// selected lists the instances the policy selects in the client's region,
// by ID, as the function does.
func (e *env) selected(ctx context.Context, c *ecsapi.Client) ([]ecsapi.Instance, error) {
	return scaler.Selection(ctx, c, e.policy)
}

// listRules returns the rules bwctl owns (RuleId prefix bwas-) in
// ruleNamespaces, by RuleId.
func listRules(ctx context.Context, api *openapi.Client[*cms.Client]) (map[string]rule, error) {
	out := map[string]rule{}
	for _, ns := range ruleNamespaces {
		if err := listRulesIn(ctx, api, ns, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func listRulesIn(ctx context.Context, api *openapi.Client[*cms.Client], namespace string, out map[string]rule) error {
	for page := 1; page <= 100; page++ {
		req := cms.CreateDescribeMetricRuleListRequest()
		req.Namespace, req.Page, req.PageSize = namespace, requests.NewInteger(page), requests.NewInteger(100)
		var resp *cms.DescribeMetricRuleListResponse
		_, err := api.Call(ctx, "DescribeMetricRuleList", namespace, req, func(c *cms.Client) (err error) {
			resp, err = c.DescribeMetricRuleList(req)
			return err
		})
		if err != nil {
			return err
		}
		for _, a := range resp.Alarms.Alarm {
			if !strings.HasPrefix(a.RuleId, rulePrefix) {
				continue
			}
			c := a.Escalations.Critical
			out[a.RuleId] = rule{ID: a.RuleId, Name: a.RuleName, Resources: a.Resources, Metric: a.MetricName, Namespace: a.Namespace,
				Statistics: c.Statistics, Operator: c.ComparisonOperator, Threshold: c.Threshold, Times: c.Times,
				Silence: a.SilenceTime, Period: a.Period, Webhook: a.Webhook, Options: a.Options}
		}
		total, _ := strconv.Atoi(resp.Total)
		if len(resp.Alarms.Alarm) < 100 || page*100 >= total {
			break
		}
	}
	return nil
}

func putRule(ctx context.Context, api *openapi.Client[*cms.Client], r rule) error {
	req := cms.CreatePutResourceMetricRuleRequest()
	req.RuleId, req.RuleName, req.Namespace, req.MetricName, req.Resources = r.ID, r.Name, r.Namespace, r.Metric, r.Resources
	req.Period, req.Webhook, req.Options, req.SilenceTime = r.Period, r.Webhook, r.Options, requests.NewInteger(r.Silence)
	req.EscalationsCriticalStatistics, req.EscalationsCriticalComparisonOperator = r.Statistics, r.Operator
	req.EscalationsCriticalThreshold, req.EscalationsCriticalTimes = r.Threshold, requests.NewInteger(r.Times)
	_, err := api.Call(ctx, "PutResourceMetricRule", r.ID, req, func(c *cms.Client) error {
		resp, err := c.PutResourceMetricRule(req)
		if err == nil && !resp.Success {
			return fmt.Errorf("PutResourceMetricRule %s: %s %s", r.ID, resp.Code, resp.Message)
		}
		return err
	})
	return err
}
