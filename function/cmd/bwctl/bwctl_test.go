package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

const (
	testKey    = "LTAIbwctlTestKey"
	testSecret = "bwctl-test-secret"
	testToken  = "bwctl-http-t0ken"
	testHook   = "https://fc.example.com/invoke"
)

type fixture struct {
	t     *testing.T
	emu   *emulator.Server
	env   map[string]string
	clock *emulator.ManualClock
}

func newFixture(t *testing.T) *fixture {
	// bwctl runs on the real clock: the world starts a little behind it, so
	// that after a test moves it on, the newest datapoint is fresh.
	clock := emulator.NewManualClock(time.Now().UTC().Add(-4 * time.Minute))
	emu := emulator.New(emulator.Config{Credentials: []emulator.Credential{{AccessKeyID: testKey, AccessKeySecret: testSecret}}, Clock: clock.Now})
	for _, id := range []string{"i-a", "i-b"} {
		emu.AddInstance(emulator.Instance{InstanceId: id, RegionId: "cn-hangzhou", Status: "Running", Demand: 1,
			InstanceChargeType: "PostPaid", InternetChargeType: "PayByBandwidth", InstanceNetworkType: "vpc",
			InternetMaxBandwidthOut: 10, InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.96.1.2"},
			Tags: map[string]string{"bandwidth-autoscaler": "enabled"}})
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &fixture{t: t, emu: emu, clock: clock, env: map[string]string{
		"HOME": t.TempDir(), "ALIBABA_CLOUD_ACCESS_KEY_ID": testKey, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": testSecret,
		"ECS_ENDPOINT": srv.URL, "CMS_ENDPOINT": srv.URL, "VPC_ENDPOINT": srv.URL, "RAM_ENDPOINT": srv.URL, "HTTP_TOKEN": testToken,
	}}
}

// addEIPBound adds a selected VPC instance whose public bandwidth is its
// EIP's (eip-<id>, PayByBandwidth, bw Mbit/s), with demand Mbit/s of traffic.
func (f *fixture) addEIPBound(id string, bw int, demand float64) {
	f.emu.AddInstance(emulator.Instance{InstanceId: id, RegionId: "cn-hangzhou", Status: "Running", Demand: demand,
		InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc",
		Tags: map[string]string{"bandwidth-autoscaler": "enabled"},
		EipAddress: &emulator.EIP{IpAddress: "47.99.0.7", AllocationId: "eip-" + id, Bandwidth: bw,
			InternetChargeType: "PayByBandwidth", ChargeType: "PostPaid"}})
}

// run runs bwctl with the repository's policy and returns the exit code,
// stdout and stderr; neither may show the secret or the token.
func (f *fixture) run(args ...string) (int, string, string) {
	f.t.Helper()
	var out, errw bytes.Buffer
	policy := filepath.Join("..", "..", "policy.yaml")
	code := run(context.Background(), append([]string{"-policy", policy, "-region", "cn-hangzhou"}, args...),
		func(k string) string { return f.env[k] }, strings.NewReader(""), &out, &errw)
	for _, secret := range []string{testSecret, testToken} {
		if strings.Contains(out.String()+errw.String(), secret) {
			f.t.Errorf("bwctl %v printed a secret: %s%s", args, out.String(), errw.String())
		}
	}
	return code, out.String(), errw.String()
}

func TestAlarmsApplyCheckDelete(t *testing.T) {
	f := newFixture(t)
	// A user's own rule, which bwctl must leave alone.
	f.emu.SetMetricRule(emulator.MetricRule{RuleID: "my-cpu-alarm", RuleName: "cpu", Namespace: "acs_ecs_dashboard", MetricName: "CPUUtilization", Resources: `[{"instanceId":"i-a"}]`, SilenceTime: 3600})

	if code, out, errw := f.run("alarms", "check", "-webhook", testHook); code != 1 || !strings.Contains(out, "bwas-i-a-up missing") {
		t.Fatalf("check before apply: %d %q %q", code, out, errw)
	}
	if code, out, errw := f.run("alarms", "apply", "-webhook", testHook, "-dry-run"); code != 0 || !strings.Contains(out, "would put bwas-i-a-up") || len(f.emu.MetricRules()) != 1 {
		t.Fatalf("dry run: %d %q %q, %d rules", code, out, errw, len(f.emu.MetricRules()))
	}
	code, out, errw := f.run("alarms", "apply", "-webhook", testHook)
	if code != 0 || strings.Count(out, "put bwas-") != 4 {
		t.Fatalf("apply: %d %q %q", code, out, errw)
	}
	rules := f.emu.MetricRules()
	if len(rules) != 5 {
		t.Fatalf("rules %+v", rules)
	}
	for _, r := range rules {
		if r.RuleID == "bwas-i-a-up" && (r.Threshold != "95" || r.Times != 2 || r.Statistics != "Average" || r.Period != "60" || r.SilenceTime != 3600 ||
			r.Webhook != testHook+"?token="+testToken || r.MetricName != "VPC_PublicIP_InternetOutRate_Percent") {
			t.Errorf("up rule %+v", r)
		}
		if r.RuleID == "bwas-i-a-down" && (r.Threshold != "32" || r.Times != 5 || r.ComparisonOperator != "LessThanThreshold") {
			t.Errorf("recovery rule %+v", r)
		}
	}
	if code, out, _ := f.run("alarms", "apply", "-webhook", testHook); code != 0 || strings.TrimSpace(out) != "nothing to change" {
		t.Errorf("second apply: %d %q", code, out)
	}
	if code, out, _ := f.run("alarms", "check", "-webhook", testHook); code != 0 || !strings.Contains(out, "in place") {
		t.Errorf("check after apply: %d %q", code, out)
	}
	// Changed by hand: check reports the threshold and the webhook.
	for _, r := range f.emu.MetricRules() {
		if r.RuleID == "bwas-i-b-up" {
			r.Threshold, r.Webhook = "80", "https://elsewhere.example.com/hook"
			f.emu.SetMetricRule(r)
		}
	}
	code, out, _ = f.run("alarms", "check", "-webhook", testHook)
	if code != 1 || !strings.Contains(out, `bwas-i-b-up differs: Threshold "80", want "95"`) || !strings.Contains(out, "points elsewhere") || !strings.Contains(out, "token=****") {
		t.Errorf("check after a hand edit: %d %q", code, out)
	}
	if code, out, errw := f.run("alarms", "delete"); code != 0 || strings.Count(out, "delete bwas-") != 4 {
		t.Fatalf("delete: %d %q %q", code, out, errw)
	}
	if rules := f.emu.MetricRules(); len(rules) != 1 || rules[0].RuleID != "my-cpu-alarm" {
		t.Errorf("after delete: %+v, want the user's rule alone", rules)
	}
}

func TestStatusJSONAfterAChange(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.SetDemand("i-a", 80); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(3 * time.Minute)
	// A change, recorded as the function records it: a manual invoke of
	// the engine would need the function; status must explain any change.
	code, out, errw := f.run("status", "-o", "json")
	if code != 0 {
		t.Fatalf("status: %d %q", code, errw)
	}
	var got struct {
		Status []map[string]any `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got.Status) != 2 || got.Status[0]["instanceId"] != "i-a" || got.Status[0]["cap"] != float64(10) {
		t.Fatalf("status %s", out)
	}
	next := got.Status[0]["next"].(map[string]any)
	if next["action"] != "dry-run" || !strings.Contains(next["reason"].(string), "would scale") || got.Status[0]["rateMbps"] == nil {
		t.Errorf("i-a next %v, rate %v; want a dry-run scale of the saturated instance", next, got.Status[0]["rateMbps"])
	}
	if len(f.emu.Orders()) != 0 {
		t.Errorf("status bought something")
	}
	code, out, _ = f.run("status")
	if code != 0 || !strings.Contains(out, "INSTANCE") || !strings.Contains(out, "i-b") {
		t.Errorf("table: %d %q", code, out)
	}
}

func TestOneLineErrors(t *testing.T) {
	f := newFixture(t)
	f.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "wrong"
	if code, _, errw := f.run("status"); code != 1 || !strings.HasPrefix(errw, "bwctl: credentials refused: SignatureDoesNotMatch") || strings.Count(errw, "\n") != 1 {
		t.Errorf("wrong secret: %d %q", code, errw)
	}
	f.env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = "LTAInobody"
	if code, _, errw := f.run("status"); code != 1 || !strings.HasPrefix(errw, "bwctl: credentials refused: InvalidAccessKeyId.NotFound") {
		t.Errorf("unknown key: %d %q", code, errw)
	}
	f.env["ALIBABA_CLOUD_ACCESS_KEY_ID"], f.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = testKey, testSecret
	f.emu.Inject(emulator.Fault{Action: "PutResourceMetricRule", Code: "Forbidden.RAM", Count: 10})
	if code, _, errw := f.run("alarms", "apply", "-webhook", testHook); code != 1 || !strings.HasPrefix(errw, "bwctl: permission missing: grant cms:PutResourceMetricRule") {
		t.Errorf("forbidden: %d %q", code, errw)
	}
	f.emu.Inject(emulator.Fault{Action: "DescribeInstances", Code: "Forbidden.RAM", Count: 10})
	if code, _, errw := f.run("status"); code != 1 || !strings.HasPrefix(errw, "bwctl: permission missing: grant ecs:DescribeInstances") {
		t.Errorf("forbidden ECS: %d %q", code, errw)
	}
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-policy", filepath.Join("..", "..", "policy.yaml"), "-region", "cn-nowhere-9", "status"},
		func(k string) string { return f.env[k] }, strings.NewReader(""), &out, &errw)
	if code != 1 || !strings.HasPrefix(errw.String(), `bwctl: unknown region "cn-nowhere-9"`) {
		t.Errorf("unknown region: %d %q", code, errw.String())
	}
}

func TestCredentialsFromTheCLIProfile(t *testing.T) {
	f := newFixture(t)
	delete(f.env, "ALIBABA_CLOUD_ACCESS_KEY_ID")
	delete(f.env, "ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	dir := filepath.Join(f.env["HOME"], ".aliyun")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := `{"current":"ops","profiles":[{"name":"default","mode":"AK","access_key_id":"x","access_key_secret":"y"},
	  {"name":"ops","mode":"AK","access_key_id":"` + testKey + `","access_key_secret":"` + testSecret + `","region_id":"cn-hangzhou"}]}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errw := f.run("status", "-o", "json"); code != 0 || !strings.Contains(out, `"i-a"`) {
		t.Errorf("status with the current profile: %d %q %q", code, out, errw)
	}
	f.env["ALIBABA_CLOUD_PROFILE"] = "default"
	if code, _, errw := f.run("status"); code != 1 || !strings.Contains(errw, "credentials refused: InvalidAccessKeyId.NotFound") {
		t.Errorf("ALIBABA_CLOUD_PROFILE=default: %d %q", code, errw)
	}
}

func TestRBAC(t *testing.T) {
	f := newFixture(t)
	code, out, errw := f.run("rbac", "-deploy", filepath.Join("..", "..", "deploy"))
	if code != 0 || !strings.Contains(out, "sts:AssumeRole") || !strings.Contains(out, "ecs:ModifyInstanceNetworkSpec") || !strings.Contains(out, "aliyun ram CreateRole --RoleName ecs-bandwidth-autoscaler") {
		t.Errorf("rbac: %d %q %q", code, out, errw)
	}
}

// An EIP-bound instance's row is its EIP's: cap, billing, traffic and the
// record on the EIP's tags.
func TestStatusOfAnEIPBoundInstance(t *testing.T) {
	f := newFixture(t)
	f.addEIPBound("i-e", 20, 18)
	since := f.clock.Now().Add(-time.Minute)
	if err := f.emu.SetEIPTag("eip-i-e", state.TagKey, state.Encode(decide.Record{Stored: true, Cap: 20, Since: since, From: 10})); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(3 * time.Minute)
	code, out, errw := f.run("status", "-o", "json")
	if code != 0 {
		t.Fatalf("status: %d %q", code, errw)
	}
	var got struct {
		Status []scaler.Status `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var row *scaler.Status
	for i := range got.Status {
		if got.Status[i].InstanceID == "i-e" {
			row = &got.Status[i]
		}
	}
	if row == nil {
		t.Fatalf("no row for i-e: %s", out)
	}
	if row.EIPAllocationID != "eip-i-e" || row.EIPAddress != "47.99.0.7" || row.Cap != 20 || row.InternetChargeType != "PayByBandwidth" || row.InstanceChargeType != "PostPaid" {
		t.Errorf("row %+v, want the EIP's cap and billing", row)
	}
	if row.LastChange == nil || !row.LastChange.Equal(since.Truncate(time.Millisecond)) || row.LastFrom != 10 {
		t.Errorf("last change %v from %d, want the EIP's record (%v from 10)", row.LastChange, row.LastFrom, since)
	}
	if row.RateMbps == nil || *row.RateMbps != 18 || row.UsagePercent == nil || *row.UsagePercent != 90 {
		t.Errorf("rate %v usage %v, want the EIP's 18 Mbit/s (90%%)", row.RateMbps, row.UsagePercent)
	}
	if strings.Contains(row.Next.Reason, "eip-bound") || strings.Contains(row.Next.Reason, "no VPC client") {
		t.Errorf("next %+v: the engine had no VPC client", row.Next)
	}
	if len(f.emu.Orders()) != 0 {
		t.Errorf("status changed an EIP: %+v", f.emu.Orders())
	}
	code, out, _ = f.run("status")
	if code != 0 || !strings.Contains(out, "20 Mbit/s (EIP eip-i-e)") || !strings.Contains(out, "PostPaid/PayByBandwidth") {
		t.Errorf("table: %d %q", code, out)
	}
}

// An EIP-bound instance's rules watch its EIP: namespace acs_vpc_eip, the
// EIP's usage metric, dimension instanceId = the allocation ID, the same
// thresholds; apply twice changes nothing the second time, and check sees
// a rule moved back onto the instance's own metric.
func TestAlarmsForAnEIPBoundInstance(t *testing.T) {
	f := newFixture(t)
	f.addEIPBound("i-e", 10, 1)
	code, out, errw := f.run("alarms", "apply", "-route", "eventbridge")
	if code != 0 || strings.Count(out, "put bwas-") != 6 || !strings.Contains(out, "put bwas-i-e-up (missing)") {
		t.Fatalf("apply: %d %q %q", code, out, errw)
	}
	byID := map[string]emulator.MetricRule{}
	for _, r := range f.emu.MetricRules() {
		byID[r.RuleID] = r
	}
	up, down := byID["bwas-i-e-up"], byID["bwas-i-e-down"]
	if up.Namespace != "acs_vpc_eip" || up.MetricName != "net_out.rate_percentage" || up.Resources != `[{"instanceId":"eip-i-e"}]` ||
		up.Threshold != "95" || up.Times != 2 || up.ComparisonOperator != "GreaterThanOrEqualToThreshold" || up.Statistics != "Average" || up.Period != "60" {
		t.Errorf("EIP up rule %+v", up)
	}
	if down.Namespace != "acs_vpc_eip" || down.Resources != `[{"instanceId":"eip-i-e"}]` || down.Threshold != "32" || down.Times != 5 || down.ComparisonOperator != "LessThanThreshold" {
		t.Errorf("EIP recovery rule %+v", down)
	}
	if a := byID["bwas-i-a-up"]; a.Namespace != "acs_ecs_dashboard" || a.MetricName != "VPC_PublicIP_InternetOutRate_Percent" {
		t.Errorf("an instance's own rule %+v", a)
	}
	if code, out, _ := f.run("alarms", "apply", "-route", "eventbridge"); code != 0 || strings.TrimSpace(out) != "nothing to change" {
		t.Errorf("second apply: %d %q", code, out)
	}
	if code, out, _ := f.run("alarms", "check", "-route", "eventbridge"); code != 0 || !strings.Contains(out, "in place") {
		t.Errorf("check after apply: %d %q", code, out)
	}
	up.Namespace, up.MetricName, up.Resources = "acs_ecs_dashboard", "VPC_PublicIP_InternetOutRate_Percent", `[{"instanceId":"i-e"}]`
	f.emu.SetMetricRule(up)
	code, out, _ = f.run("alarms", "check", "-route", "eventbridge")
	if code != 1 || !strings.Contains(out, `bwas-i-e-up differs: Namespace "acs_ecs_dashboard", want "acs_vpc_eip"`) || !strings.Contains(out, `want "[{\"instanceId\":\"eip-i-e\"}]"`) {
		t.Errorf("check of a rule on the instance's metric: %d %q", code, out)
	}
	if code, out, _ := f.run("alarms", "delete"); code != 0 || strings.Count(out, "delete bwas-") != 6 {
		t.Errorf("delete: %d %q", code, out)
	}
}

// writes are the RAM writes in the emulator's request log.
func (f *fixture) ramWrites() int {
	n := 0
	for _, r := range f.emu.Requests() {
		switch r.Action {
		case "CreateRole", "UpdateRole", "CreatePolicy", "CreatePolicyVersion", "AttachPolicyToRole":
			n++
		}
	}
	return n
}

// rbac -create makes the role, the policy and the attachment through the
// RAM API; a second run finds them all and changes nothing.
func TestRBACCreateIsIdempotent(t *testing.T) {
	f := newFixture(t)
	deploy := filepath.Join("..", "..", "deploy")
	code, out, errw := f.run("rbac", "-deploy", deploy, "-create")
	if code != 0 || out != "role ecs-bandwidth-autoscaler: created\npolicy ecs-bandwidth-autoscaler-policy: created\nattachment of ecs-bandwidth-autoscaler-policy to ecs-bandwidth-autoscaler: attached\n" {
		t.Fatalf("first -create: %d %q %q", code, out, errw)
	}
	trust, _ := os.ReadFile(filepath.Join(deploy, "trust-policy.json"))
	perms, _ := os.ReadFile(filepath.Join(deploy, "ram-policy.json"))
	if r, ok := f.emu.RAMRole("ecs-bandwidth-autoscaler"); !ok || r.AssumeRolePolicyDocument != string(trust) {
		t.Errorf("role %+v", r)
	}
	if p, ok := f.emu.RAMPolicy("ecs-bandwidth-autoscaler-policy"); !ok || len(p.Versions) != 1 || p.Versions[0].PolicyDocument != string(perms) {
		t.Errorf("policy %+v", p)
	}
	if got := f.emu.RAMAttachedPolicies("ecs-bandwidth-autoscaler"); len(got) != 1 || got[0] != "ecs-bandwidth-autoscaler-policy" {
		t.Errorf("attached %v", got)
	}
	writes := f.ramWrites()
	code, out, errw = f.run("rbac", "-deploy", deploy, "-create")
	if code != 0 || out != "role ecs-bandwidth-autoscaler: unchanged\npolicy ecs-bandwidth-autoscaler-policy: unchanged (version v1)\nattachment of ecs-bandwidth-autoscaler-policy to ecs-bandwidth-autoscaler: unchanged\n" {
		t.Errorf("second -create: %d %q %q", code, out, errw)
	}
	if n := f.ramWrites(); n != writes || writes != 3 {
		t.Errorf("%d RAM writes in the first run, %d in the second; want 3 and 0", writes, n-writes)
	}
	// Without -create: the aliyun commands, nothing called.
	if code, out, _ := f.run("rbac", "-deploy", deploy); code != 0 || !strings.Contains(out, "aliyun ram AttachPolicyToRole --PolicyType Custom --PolicyName ecs-bandwidth-autoscaler-policy --RoleName ecs-bandwidth-autoscaler") {
		t.Errorf("rbac: %d %q", code, out)
	}
}

// An existing policy with another document is reported and left alone
// (nor attached); -force makes ram-policy.json its new default version.
func TestRBACCreateWithADifferingPolicy(t *testing.T) {
	f := newFixture(t)
	deploy := filepath.Join("..", "..", "deploy")
	old := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["ecs:DescribeInstances","ecs:DeleteInstance"],"Resource":["*"]}]}`
	f.emu.SetRAMPolicy("ecs-bandwidth-autoscaler-policy", old)
	code, out, errw := f.run("rbac", "-deploy", deploy, "-create")
	if code != 1 || !strings.Contains(out, "role ecs-bandwidth-autoscaler: created") ||
		!strings.Contains(out, "policy ecs-bandwidth-autoscaler-policy: differs from ram-policy.json (version v1: lacks ecs:AssociatePublicIpAddress, ecs:ModifyInstanceNetworkSpec,") ||
		!strings.Contains(out, "also grants ecs:DeleteInstance") || !strings.Contains(errw, "1 RAM objects differ") {
		t.Fatalf("-create over a differing policy: %d %q %q", code, out, errw)
	}
	if p, _ := f.emu.RAMPolicy("ecs-bandwidth-autoscaler-policy"); len(p.Versions) != 1 || p.Versions[0].PolicyDocument != old {
		t.Errorf("the differing policy was changed: %+v", p)
	}
	if got := f.emu.RAMAttachedPolicies("ecs-bandwidth-autoscaler"); len(got) != 0 {
		t.Errorf("the differing policy was attached: %v", got)
	}
	code, out, errw = f.run("rbac", "-deploy", deploy, "-create", "-force")
	if code != 0 || !strings.Contains(out, "role ecs-bandwidth-autoscaler: unchanged") || !strings.Contains(out, "policy ecs-bandwidth-autoscaler-policy: new default version v2") || !strings.Contains(out, ": attached") {
		t.Fatalf("-create -force: %d %q %q", code, out, errw)
	}
	perms, _ := os.ReadFile(filepath.Join(deploy, "ram-policy.json"))
	if p, _ := f.emu.RAMPolicy("ecs-bandwidth-autoscaler-policy"); p.DefaultVersion != "v2" || len(p.Versions) != 2 || p.Versions[1].PolicyDocument != string(perms) {
		t.Errorf("policy after -force %+v", p)
	}
	if code, out, _ := f.run("rbac", "-deploy", deploy, "-create"); code != 0 || strings.Count(out, "unchanged") != 3 {
		t.Errorf("-create after -force: %d %q", code, out)
	}
	// A trust policy that differs (here: another deploy folder's) is
	// reported and left alone; -force replaces it.
	other := t.TempDir()
	perms, _ = os.ReadFile(filepath.Join(deploy, "ram-policy.json"))
	otherTrust := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["fc.aliyuncs.com","ecs.aliyuncs.com"]}}]}`
	if os.WriteFile(filepath.Join(other, "ram-policy.json"), perms, 0o644) != nil || os.WriteFile(filepath.Join(other, "trust-policy.json"), []byte(otherTrust), 0o644) != nil {
		t.Fatal("writing the other deploy folder")
	}
	if code, out, _ := f.run("rbac", "-deploy", other, "-create"); code != 1 || !strings.Contains(out, "role ecs-bandwidth-autoscaler: differs: its trust policy is") {
		t.Errorf("-create with another trust policy: %d %q", code, out)
	}
	if code, out, _ := f.run("rbac", "-deploy", other, "-create", "-force"); code != 0 || !strings.Contains(out, "role ecs-bandwidth-autoscaler: trust policy replaced (-force)") {
		t.Errorf("-create -force with another trust policy: %d %q", code, out)
	}
	if r, _ := f.emu.RAMRole("ecs-bandwidth-autoscaler"); r.AssumeRolePolicyDocument != otherTrust {
		t.Errorf("trust policy after -force: %s", r.AssumeRolePolicyDocument)
	}
	// A refusal names the RAM permission the operator lacks.
	f.emu.Inject(emulator.Fault{Action: "GetRole", Code: "NoPermission", HTTPStatus: 403, Count: 1})
	if code, _, errw := f.run("rbac", "-deploy", deploy, "-create"); code != 1 || !strings.HasPrefix(errw, "bwctl: permission missing: grant ram:GetRole") {
		t.Errorf("no permission: %d %q", code, errw)
	}
}

// Asking for help is no error.
func TestHelpExitsZero(t *testing.T) {
	f := newFixture(t)
	if code, _, errw := f.run("-h"); code != 0 || !strings.Contains(errw, "usage: bwctl") {
		t.Errorf("-h: exit %d, %q", code, errw)
	}
}
