package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

const (
	sYAMLPath       = "../../s.yaml"
	ramPolicyPath   = "ram-policy.json"
	trustPolicyPath = "trust-policy.json"
	// fc3's props schema (devsapp/fc3 src/schema.json); kept outside the
	// project tree, at ../shared/reference from the repository root.
	schemaPath = "../../../shared/reference/fc3-props.schema.json"
)

// testEnv is the environment s.yaml is rendered with: the deployer's shell
// never leaks into the tests.
var testEnv = map[string]string{"HTTP_TOKEN": "test-token-3f9a1c"}

// Expressions of the Serverless Devs template language that s.yaml may use.
var (
	exprPattern = regexp.MustCompile(`\$\{([^}]*)\}`)
	varPattern  = regexp.MustCompile(`^vars\.([A-Za-z0-9_]+)$`)
	envPattern  = regexp.MustCompile(`^env\(\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)$`)
)

// expand substitutes ${vars.x}, ${env('X')} and ${env('X', 'default')} in s
// the way `s` does: env without a default fails when the variable is unset
// or empty (s says "env('X') not found"). Other expressions are refused, so
// new syntax in s.yaml cannot pass unrendered.
func expand(s string, vars, env map[string]string) (string, error) {
	var firstErr error
	out := exprPattern.ReplaceAllStringFunc(s, func(expr string) string {
		inner := strings.TrimSpace(expr[2 : len(expr)-1])
		if m := varPattern.FindStringSubmatch(inner); m != nil {
			v, ok := vars[m[1]]
			if !ok && firstErr == nil {
				firstErr = fmt.Errorf("%s: vars.%s is not defined", expr, m[1])
			}
			return v
		}
		if m := envPattern.FindStringSubmatch(inner); m != nil {
			if v := env[m[1]]; v != "" {
				return v
			}
			if strings.Contains(inner, ",") {
				return m[2]
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: env('%s') not found", expr, m[1])
			}
			return ""
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("%s: unsupported expression", expr)
		}
		return expr
	})
	return out, firstErr
}

// expandTree expands every string in a decoded YAML tree, in place.
func expandTree(node any, vars, env map[string]string) (any, error) {
	switch n := node.(type) {
	case string:
		return expand(n, vars, env)
	case map[string]any:
		for k, v := range n {
			e, err := expandTree(v, vars, env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			n[k] = e
		}
	case []any:
		for i, v := range n {
			e, err := expandTree(v, vars, env)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			n[i] = e
		}
	}
	return node, nil
}

// render renders an s.yaml document into JSON: vars first (they may use env
// only), then everything else.
func render(raw []byte, env map[string]string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse s.yaml: %w", err)
	}
	vars := map[string]string{}
	if rawVars, ok := doc["vars"].(map[string]any); ok {
		for k, v := range rawVars {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("vars.%s: %T is not a string", k, v)
			}
			e, err := expand(s, nil, env)
			if err != nil {
				return nil, fmt.Errorf("vars.%s: %w", k, err)
			}
			vars[k] = e
		}
	}
	if _, err := expandTree(doc, vars, env); err != nil {
		return nil, fmt.Errorf("render s.yaml: %w", err)
	}
	return json.Marshal(doc)
}

// sFile is the part of a rendered s.yaml these tests read.
type sFile struct {
	Vars      map[string]string `json:"vars"`
	Resources map[string]struct {
		Component string `json:"component"`
		Actions   map[string][]struct {
			Run  string `json:"run"`
			Path string `json:"path"`
		} `json:"actions"`
		Props json.RawMessage `json:"props"`
	} `json:"resources"`
}

type props struct {
	Region               string            `json:"region"`
	Runtime              string            `json:"runtime"`
	Handler              string            `json:"handler"`
	Code                 string            `json:"code"`
	Timeout              int               `json:"timeout"`
	Role                 string            `json:"role"`
	LogConfig            json.RawMessage   `json:"logConfig"`
	EnvironmentVariables map[string]string `json:"environmentVariables"`
	AsyncInvokeConfig    *struct {
		MaxAsyncRetryAttempts     *int `json:"maxAsyncRetryAttempts"`
		MaxAsyncEventAgeInSeconds *int `json:"maxAsyncEventAgeInSeconds"`
	} `json:"asyncInvokeConfig"`
	Triggers []trigger `json:"triggers"`
}

type trigger struct {
	TriggerName   string          `json:"triggerName"`
	TriggerType   string          `json:"triggerType"`
	TriggerConfig json.RawMessage `json:"triggerConfig"`
}

// scaler is the one fc3 resource of s.yaml, rendered.
type scaler struct {
	name      string
	preDeploy []string // commands run before deploy
	vars      map[string]string
	rawProps  json.RawMessage
	props     props
}

func renderSYAML(t *testing.T, env map[string]string) scaler {
	t.Helper()
	raw, err := os.ReadFile(sYAMLPath)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := render(raw, env)
	if err != nil {
		t.Fatal(err)
	}
	var f sFile
	if err := json.Unmarshal(rendered, &f); err != nil {
		t.Fatalf("decode rendered s.yaml: %v", err)
	}
	if len(f.Resources) != 1 {
		t.Fatalf("s.yaml has %d resources, want exactly one fc3 function", len(f.Resources))
	}
	var s scaler
	for name, r := range f.Resources {
		if r.Component != "fc3" && !strings.HasPrefix(r.Component, "fc3@") {
			t.Fatalf("resource %s: component %q, want fc3", name, r.Component)
		}
		s = scaler{name: name, vars: f.Vars, rawProps: r.Props}
		for _, a := range r.Actions["pre-deploy"] {
			s.preDeploy = append(s.preDeploy, a.Run)
		}
	}
	if err := json.Unmarshal(s.rawProps, &s.props); err != nil {
		t.Fatalf("decode props of %s: %v", s.name, err)
	}
	return s
}

// compileSchema compiles fc3's props schema and the given definitions of it,
// skipping the test when the schema file is absent.
func compileSchema(t *testing.T, definitions ...string) (*jsonschema.Schema, map[string]*jsonschema.Schema) {
	t.Helper()
	f, err := os.Open(schemaPath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("fc3 props schema not found at %s (CI has it): skipping schema validation", schemaPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("decode %s: %v", schemaPath, err)
	}
	// Named by its absolute path, so errors point at the real file.
	url, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	root, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	defs := map[string]*jsonschema.Schema{}
	for _, d := range definitions {
		if defs[d], err = c.Compile(url + "#/definitions/" + d); err != nil {
			t.Fatalf("compile %s definition %s: %v", schemaPath, d, err)
		}
	}
	return root, defs
}

// instance decodes JSON the way the schema library wants it.
func instance(t *testing.T, data []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// triggerDefinitions are the schema definitions each trigger kind must match.
// The schema's own triggerConfig is an anyOf that includes an empty object,
// so without this no trigger config is checked at all. eventbridge has none:
// IEventBridge requires keys (eventSinkConfig, runOptions, ...) that fc3's
// own examples for the default bus leave out.
var triggerDefinitions = map[string]string{
	"http":  "IHttpTriggerConfig",
	"timer": "ITimerTriggerConfig",
}

func TestSYAMLPropsMatchFC3Schema(t *testing.T) {
	root, defs := compileSchema(t, slices.Sorted(maps.Values(triggerDefinitions))...)
	s := renderSYAML(t, testEnv)
	if err := root.Validate(instance(t, s.rawProps)); err != nil {
		t.Errorf("resources.%s.props do not match the fc3 schema:\n%v", s.name, err)
	}
	for _, tr := range s.props.Triggers {
		d, ok := triggerDefinitions[tr.TriggerType]
		if !ok {
			continue
		}
		if err := defs[d].Validate(instance(t, tr.TriggerConfig)); err != nil {
			t.Errorf("trigger %s: triggerConfig does not match %s:\n%v", tr.TriggerName, d, err)
		}
	}
}

// errorLocations lists the instance locations ("/memorySize") of every leaf
// error under err.
func errorLocations(err error) []string {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return nil
	}
	var locs []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			locs = append(locs, "/"+strings.Join(e.InstanceLocation, "/"))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	return locs
}

// TestFC3SchemaRejectsBadProps shows the schema check can fail: each
// mistake made to the rendered props is reported at its location.
func TestFC3SchemaRejectsBadProps(t *testing.T) {
	root, _ := compileSchema(t)
	s := renderSYAML(t, testEnv)
	tests := []struct {
		name    string
		mutate  func(p map[string]any)
		wantLoc string
	}{
		{"memory not a multiple of 64", func(p map[string]any) { p["memorySize"] = 100 }, "/memorySize"},
		{"unknown runtime", func(p map[string]any) { p["runtime"] = "go2" }, "/runtime"},
		{"zero timeout", func(p map[string]any) { p["timeout"] = 0 }, "/timeout"},
		{"unquoted boolean env value", func(p map[string]any) {
			p["environmentVariables"].(map[string]any)["DRY_RUN"] = false
		}, "/environmentVariables/DRY_RUN"},
		{"too many async retries", func(p map[string]any) {
			p["asyncInvokeConfig"].(map[string]any)["maxAsyncRetryAttempts"] = 9
		}, "/asyncInvokeConfig/maxAsyncRetryAttempts"},
		{"unknown trigger type", func(p map[string]any) {
			p["triggers"].([]any)[0].(map[string]any)["triggerType"] = "webhook"
		}, "/triggers/0/triggerType"},
		{"go1 without handler", func(p map[string]any) { delete(p, "handler") }, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p map[string]any
			if err := json.Unmarshal(s.rawProps, &p); err != nil {
				t.Fatal(err)
			}
			tt.mutate(p)
			mutated, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			err = root.Validate(instance(t, mutated))
			if err == nil {
				t.Fatal("schema accepted the mutated props")
			}
			if locs := errorLocations(err); !slices.Contains(locs, tt.wantLoc) {
				t.Errorf("errors at %v, want one at %s:\n%v", locs, tt.wantLoc, err)
			}
		})
	}
}

// functionEnv are the environment variables the function reads; each entry
// lists alternatives, one of which must be set.
var functionEnv = [][]string{
	{"ECS_ENDPOINT"}, {"CMS_ENDPOINT"}, {"VPC_ENDPOINT"}, {"POLICY_FILE", "POLICY"}, {"DRY_RUN"}, {"HTTP_TOKEN"}, {"LOG_LEVEL"},
}

func TestSYAMLFacts(t *testing.T) {
	s := renderSYAML(t, testEnv)
	p := s.props

	if p.Runtime != "go1" || p.Handler != "main" || p.Code != "./function/target" {
		t.Errorf("runtime %q, handler %q, code %q; want go1, main, ./function/target (fc-runtime-go-sdk runs only on go1)",
			p.Runtime, p.Handler, p.Code)
	}
	if p.Timeout < 30 {
		t.Errorf("timeout %d s is shorter than the ECS client's retries (30 s)", p.Timeout)
	}
	// A change asked for stops holding others back after decide.InFlight:
	// by then the invocation that asked for it must be over.
	if time.Duration(p.Timeout)*time.Second >= decide.InFlight {
		t.Errorf("timeout %d s is not shorter than decide.InFlight %v", p.Timeout, decide.InFlight)
	}
	if !slices.Contains(s.preDeploy, "make build") {
		t.Errorf("pre-deploy actions %q do not run make build", s.preDeploy)
	}
	if p.Role == "" || p.Role == "auto" {
		t.Errorf("role %q: want a dedicated role (auto means the broad AliyunFCDefaultRole)", p.Role)
	}
	if a := p.AsyncInvokeConfig; a == nil || a.MaxAsyncRetryAttempts == nil || a.MaxAsyncEventAgeInSeconds == nil {
		t.Error("asyncInvokeConfig must bound both maxAsyncRetryAttempts and maxAsyncEventAgeInSeconds")
	}

	env := p.EnvironmentVariables
	for _, alternatives := range functionEnv {
		if !slices.ContainsFunc(alternatives, func(name string) bool { _, ok := env[name]; return ok }) {
			t.Errorf("environmentVariables set none of %v", alternatives)
		}
	}
	for _, name := range []string{"ECS_ENDPOINT", "CMS_ENDPOINT", "VPC_ENDPOINT"} {
		if env[name] != "" {
			t.Errorf("%s %q: a deployment must use the regional endpoint", name, env[name])
		}
	}
	if env["HTTP_TOKEN"] != testEnv["HTTP_TOKEN"] {
		t.Errorf("HTTP_TOKEN %q does not come from the deployer's HTTP_TOKEN", env["HTTP_TOKEN"])
	}
	if _, err := strconv.ParseBool(env["DRY_RUN"]); err != nil {
		t.Errorf("DRY_RUN: %v", err)
	}
	if _, err := zerolog.ParseLevel(env["LOG_LEVEL"]); err != nil {
		t.Errorf("LOG_LEVEL: %v", err)
	}

	byType := map[string][]trigger{}
	for _, tr := range p.Triggers {
		byType[tr.TriggerType] = append(byType[tr.TriggerType], tr)
	}
	if len(p.Triggers) != 3 || len(byType["http"]) != 1 || len(byType["eventbridge"]) != 1 || len(byType["timer"]) != 1 {
		t.Fatalf("triggers %+v: want one http, one eventbridge and one timer trigger", p.Triggers)
	}

	var httpCfg struct {
		AuthType string   `json:"authType"`
		Methods  []string `json:"methods"`
	}
	decodeConfig(t, byType["http"][0], &httpCfg)
	if httpCfg.AuthType != "anonymous" || !slices.Equal(httpCfg.Methods, []string{"POST"}) {
		t.Errorf("http trigger: authType %q, methods %q; want anonymous (CloudMonitor cannot sign) and [POST]",
			httpCfg.AuthType, httpCfg.Methods)
	}

	var ebCfg struct {
		TriggerEnable bool `json:"triggerEnable"`
		// A pointer: the default (false) is synchronous, so it must be set.
		AsyncInvocationType    *bool  `json:"asyncInvocationType"`
		EventRuleFilterPattern string `json:"eventRuleFilterPattern"`
	}
	decodeConfig(t, byType["eventbridge"][0], &ebCfg)
	var pattern map[string][]string
	if err := json.Unmarshal([]byte(ebCfg.EventRuleFilterPattern), &pattern); err != nil {
		t.Errorf("eventbridge filter %q: %v", ebCfg.EventRuleFilterPattern, err)
	}
	// Only the documented type: no public sample shows the source.
	wantPattern := map[string][]string{"type": {alarm.AlertWebHookType}}
	if !ebCfg.TriggerEnable || !reflect.DeepEqual(pattern, wantPattern) {
		t.Errorf("eventbridge trigger: enabled %v, filter %v; want enabled, %v", ebCfg.TriggerEnable, pattern, wantPattern)
	}
	// asyncInvokeConfig's retries apply only to asynchronous invocations.
	if a := ebCfg.AsyncInvocationType; a == nil || !*a {
		got := "unset"
		if a != nil {
			got = strconv.FormatBool(*a)
		}
		t.Errorf("eventbridge trigger: asyncInvocationType %s, want true (asynchronous, retried under asyncInvokeConfig)", got)
	}

	var timerCfg struct {
		CronExpression string `json:"cronExpression"`
		Enable         bool   `json:"enable"`
		Payload        string `json:"payload"`
	}
	decodeConfig(t, byType["timer"][0], &timerCfg)
	everyMinute := []string{"@every 1m", "0 * * * * *", "0 */1 * * * *"}
	if !timerCfg.Enable || !slices.Contains(everyMinute, timerCfg.CronExpression) {
		t.Errorf("timer trigger: enabled %v, cron %q; want enabled, every minute", timerCfg.Enable, timerCfg.CronExpression)
	}
	var payload map[string]any
	if err := json.Unmarshal([]byte(timerCfg.Payload), &payload); err != nil {
		t.Errorf("timer payload %q: %v", timerCfg.Payload, err)
	} else if want := map[string]any{"action": "reconcile"}; !reflect.DeepEqual(payload, want) {
		t.Errorf("timer payload %q decodes to %v, want %v", timerCfg.Payload, payload, want)
	}
}

func decodeConfig(t *testing.T, tr trigger, v any) {
	t.Helper()
	if err := json.Unmarshal(tr.TriggerConfig, v); err != nil {
		t.Fatalf("trigger %s: decode triggerConfig: %v", tr.TriggerName, err)
	}
}

// TestSYAMLRefusesMissingHTTPToken: a deploy without a token fails instead
// of shipping an HTTP trigger guarded by an empty secret.
func TestSYAMLRefusesMissingHTTPToken(t *testing.T) {
	raw, err := os.ReadFile(sYAMLPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]map[string]string{
		"unset": {},
		"empty": {"HTTP_TOKEN": ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(raw, env)
			if err == nil || !strings.Contains(err.Error(), "env('HTTP_TOKEN') not found") {
				t.Errorf("render with HTTP_TOKEN %s: error %v, want env('HTTP_TOKEN') not found", name, err)
			}
		})
	}
}

func TestSYAMLEnvOverrides(t *testing.T) {
	tests := []struct {
		name                 string
		env                  map[string]string
		wantRegion, wantRole string
	}{
		{"defaults", map[string]string{}, "cn-hangzhou", "ecs-bandwidth-autoscaler"},
		{"overridden", map[string]string{"REGION": "cn-shanghai", "ROLE_NAME": "my-scaler-role"}, "cn-shanghai", "my-scaler-role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HTTP_TOKEN": testEnv["HTTP_TOKEN"]}
			for k, v := range tt.env {
				env[k] = v
			}
			p := renderSYAML(t, env).props
			if p.Region != tt.wantRegion || p.Role != tt.wantRole {
				t.Errorf("region %q, role %q; want %q, %q", p.Region, p.Role, tt.wantRegion, tt.wantRole)
			}
		})
	}
}

// stringList is a RAM policy field that is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*l = []string{one}
		return nil
	}
	return json.Unmarshal(data, (*[]string)(l))
}

type ramPolicy struct {
	Version   string `json:"Version"`
	Statement []struct {
		Effect    string          `json:"Effect"`
		Action    stringList      `json:"Action"`
		Resource  stringList      `json:"Resource"`
		Principal json.RawMessage `json:"Principal"`
		Condition json.RawMessage `json:"Condition"`
	} `json:"Statement"`
}

// readPolicy decodes a RAM policy strictly: NotAction or NotResource (which
// grant everything but a list) are refused as unknown fields.
func readPolicy(t *testing.T, path string) ramPolicy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p ramPolicy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if p.Version != "1" || len(p.Statement) == 0 {
		t.Fatalf("%s: Version %q with %d statements, want Version 1 with statements", path, p.Version, len(p.Statement))
	}
	return p
}

// logActions are what FC needs from the function's role to deliver its logs
// to the logConfig project.
var logActions = []string{"log:PostLogStoreLogs"}

// associatedActions are the "associated operations" of the ECS actions the
// function calls: permissions RAM checks as well when the call does what the
// function asks of it. ModifyInstanceNetworkSpec, which the function calls
// with AllocatePublicIp, lists ecs:AssociatePublicIpAddress (its API
// reference, "Authorization information": help.aliyun.com/en/ecs/
// developer-reference/api-ecs-2014-05-26-modifyinstancenetworkspec).
var associatedActions = []string{"ecs:AssociatePublicIpAddress"}

func TestRAMPolicyGrantsExactlyWhatTheFunctionCalls(t *testing.T) {
	p := readPolicy(t, ramPolicyPath)
	var granted []string
	for i, st := range p.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %d: Effect %q, want Allow (nothing here needs a Deny)", i, st.Effect)
		}
		if len(st.Resource) == 0 {
			t.Errorf("statement %d grants %v on no resource", i, st.Action)
		}
		granted = append(granted, st.Action...)
	}

	// The VPC actions of EIP-bound instances (vpcapi.RAMActions).
	want := slices.Concat(associatedActions, cmsapi.RAMActions, vpcapi.RAMActions)
	for _, a := range ecsapi.Actions {
		want = append(want, "ecs:"+a)
	}
	if s := renderSYAML(t, testEnv); len(s.props.LogConfig) > 0 {
		want = append(want, logActions...)
	}
	slices.Sort(want)
	slices.Sort(granted)
	if !slices.Equal(granted, want) {
		t.Errorf("%s grants %v; the function needs exactly %v (ecsapi.Actions, their associated actions, "+
			"the CloudMonitor reads, vpcapi.RAMActions and log delivery)", ramPolicyPath, granted, want)
	}
}

func TestTrustPolicyTrustsOnlyFunctionCompute(t *testing.T) {
	p := readPolicy(t, trustPolicyPath)
	for i, st := range p.Statement {
		var principal struct {
			Service stringList `json:"Service"`
		}
		dec := json.NewDecoder(bytes.NewReader(st.Principal))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&principal); err != nil {
			t.Errorf("statement %d: principal %s: %v", i, st.Principal, err)
		}
		if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"sts:AssumeRole"}) ||
			!slices.Equal(principal.Service, []string{"fc.aliyuncs.com"}) {
			t.Errorf("statement %d: %s %v by %s; want Allow sts:AssumeRole by service fc.aliyuncs.com",
				i, st.Effect, st.Action, st.Principal)
		}
	}
}

// TestSPreviewAgreesWithRender runs the real Serverless Devs CLI, when it is
// on PATH, to show this file's renderer reads s.yaml as `s` does.
func TestSPreviewAgreesWithRender(t *testing.T) {
	sBin, err := exec.LookPath("s")
	if err != nil {
		t.Skip("Serverless Devs CLI `s` not on PATH (npm install @serverless-devs/s@3.1.10)")
	}
	raw, err := os.ReadFile(sYAMLPath)
	if err != nil {
		t.Fatal(err)
	}
	preview := func(t *testing.T, env map[string]string) ([]byte, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, sBin, "preview", "-t", sYAMLPath, "-o", "json", "--silent")
		cmd.Env = previewEnv(t, raw, env)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if ctx.Err() != nil {
			t.Fatalf("s preview did not finish: %v", ctx.Err())
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s%s", err, out, stderr.Bytes())
		}
		return out, nil
	}

	t.Run("renders like the tests", func(t *testing.T) {
		out, err := preview(t, testEnv)
		if err != nil {
			t.Fatalf("s preview: %v", err)
		}
		ours, err := render(raw, testEnv)
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("decode s preview output: %v\n%s", err, out)
		}
		if err := json.Unmarshal(ours, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("s preview renders\n%s\nthe tests render\n%s", out, ours)
		}
	})
	t.Run("refuses a missing HTTP_TOKEN", func(t *testing.T) {
		_, err := preview(t, map[string]string{})
		if err == nil || !strings.Contains(err.Error(), "HTTP_TOKEN") {
			t.Errorf("s preview without HTTP_TOKEN: error %v, want one naming HTTP_TOKEN", err)
		}
	})
}

// previewEnv is the process environment minus every variable s.yaml reads,
// plus env, with a throwaway HOME so `s` keeps its logs and config out of
// the user's.
func previewEnv(t *testing.T, sYAML []byte, env map[string]string) []string {
	read := map[string]bool{"HOME": true}
	for _, m := range regexp.MustCompile(`env\(\s*'([^']+)'`).FindAllSubmatch(sYAML, -1) {
		read[string(m[1])] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !read[name] {
			out = append(out, kv)
		}
	}
	out = append(out, "HOME="+t.TempDir())
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
