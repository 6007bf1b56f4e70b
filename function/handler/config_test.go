package handler_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/handler"
)

// validEnv is a complete environment as FC would give the function.
func validEnv() map[string]string {
	return map[string]string{
		"POLICY":                          testPolicy,
		"ECS_ENDPOINT":                    "http://127.0.0.1:9",
		"HTTP_TOKEN":                      httpToken,
		"FC_REGION":                       "cn-shanghai",
		"ALIBABA_CLOUD_REGION_ID":         "cn-beijing",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     accessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": accessKeySecret,
		"ALIBABA_CLOUD_SECURITY_TOKEN":    securityToken,
		"DRY_RUN":                         "true",
		"LOG_LEVEL":                       "INFO",
	}
}

// configFrom runs ConfigFromEnv on validEnv changed by set ("" deletes) and
// fails the test if the log mentions a secret.
func configFrom(t *testing.T, set map[string]string) (handler.Config, string, error) {
	t.Helper()
	env := validEnv()
	for k, v := range set {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	var out bytes.Buffer
	// ".." is function/, where the bundled policy.yaml lives.
	cfg, err := handler.ConfigFromEnv(func(k string) string { return env[k] }, "..", &out)
	for name, secret := range map[string]string{"the AccessKeySecret": accessKeySecret, "the SecurityToken": securityToken, "the HTTP token": httpToken} {
		if strings.Contains(out.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
			t.Errorf("%s leaked into the start logs or error", name)
		}
	}
	return cfg, out.String(), err
}

func TestConfigFromEnvRefusesBadValues(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]string
		want []string // all in the error
	}{
		{"bad LOG_LEVEL", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL", "loud"}},
		{"bad DRY_RUN", map[string]string{"DRY_RUN": "maybe"}, []string{"DRY_RUN", "maybe"}},
		{"POLICY with an unknown field", map[string]string{"POLICY": "cooldwn: 5m\ntable: [{upTo: 4, target: 5}]"}, []string{"cooldwn"}},
		{"POLICY above the API", map[string]string{"POLICY": "max: 501\ntable: [{upTo: 4, target: 5}]"}, []string{"max", "501"}},
		{"POLICY with a bad duration", map[string]string{"POLICY": "cooldown: fast\ntable: [{upTo: 4, target: 5}]"}, []string{"cooldown", "fast"}},
		{"POLICY that is not YAML", map[string]string{"POLICY": "table: [unclosed"}, []string{"policy"}},
		{"POLICY_FILE missing", map[string]string{"POLICY": "", "POLICY_FILE": "/nonexistent/policy.yaml"}, []string{"/nonexistent/policy.yaml"}},
		// Plain http beyond loopback would fail every invocation: refused at start instead.
		{"ECS_ENDPOINT plain http, not loopback", map[string]string{"ECS_ENDPOINT": "http://ecs.cn-hangzhou.aliyuncs.com"}, []string{"ECS_ENDPOINT", "plain http is allowed only to loopback"}},
		{"ECS_ENDPOINT with a path", map[string]string{"ECS_ENDPOINT": "https://ecs.example.com/api"}, []string{"ECS_ENDPOINT", "scheme://host[:port]"}},
		{"ECS_ENDPOINT without a scheme", map[string]string{"ECS_ENDPOINT": "ecs.example.com"}, []string{"ECS_ENDPOINT", "ecs.example.com"}},
		{"CMS_ENDPOINT plain http, not loopback", map[string]string{"CMS_ENDPOINT": "http://metrics.cn-hangzhou.aliyuncs.com"}, []string{"CMS_ENDPOINT", "plain http is allowed only to loopback"}},
		{"CMS_ENDPOINT ftp", map[string]string{"CMS_ENDPOINT": "ftp://127.0.0.1"}, []string{"CMS_ENDPOINT", "scheme must be https"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := configFrom(t, tc.set)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestConfigFromEnvAccepts(t *testing.T) {
	cases := []struct {
		name       string
		set        map[string]string
		region     string
		dryRun     bool
		level      zerolog.Level
		policyFrom string // in the "started" line
		tokenSet   bool
	}{
		{"complete", nil, "cn-shanghai", true, zerolog.InfoLevel, `"policy":"POLICY"`, true},
		{"bundled policy, defaults", map[string]string{"POLICY": "", "DRY_RUN": "", "LOG_LEVEL": "", "FC_REGION": ""}, "cn-beijing", false, zerolog.InfoLevel, "policy.yaml", true},
		{"debug level, no token", map[string]string{"LOG_LEVEL": "debug", "HTTP_TOKEN": "", "DRY_RUN": "false"}, "cn-shanghai", false, zerolog.DebugLevel, `"policy":"POLICY"`, false},
		{"loopback CMS_ENDPOINT", map[string]string{"CMS_ENDPOINT": "http://localhost:8081"}, "cn-shanghai", true, zerolog.InfoLevel, `"policy":"POLICY"`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, logs, err := configFrom(t, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Policy == nil || cfg.Region != tc.region || cfg.DryRun != tc.dryRun || cfg.Endpoint != "http://127.0.0.1:9" {
				t.Errorf("config %+v: want a policy, region %s, dry run %v and the endpoint", cfg, tc.region, tc.dryRun)
			}
			if cfg.CMSEndpoint != tc.set["CMS_ENDPOINT"] {
				t.Errorf("CMSEndpoint %q, want %q", cfg.CMSEndpoint, tc.set["CMS_ENDPOINT"])
			}
			if c := cfg.Credentials; c.AccessKeyID != accessKeyID || c.AccessKeySecret != accessKeySecret || c.SecurityToken != securityToken {
				t.Errorf("credentials not read from the environment")
			}
			if (cfg.HTTPToken == httpToken) != tc.tokenSet {
				t.Errorf("HTTPToken set = %v, want %v", cfg.HTTPToken != "", tc.tokenSet)
			}
			if got := cfg.Log.GetLevel(); got != tc.level {
				t.Errorf("log level %v, want %v", got, tc.level)
			}
			started := ""
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, `"message":"started"`) {
					started = line
				}
			}
			if !strings.Contains(started, tc.policyFrom) {
				t.Errorf("started line %q does not say the policy came from %s", started, tc.policyFrom)
			}
			if warned := strings.Contains(logs, "HTTP_TOKEN is not set"); warned == tc.tokenSet {
				t.Errorf("warning about HTTP_TOKEN = %v, want %v; logs:\n%s", warned, !tc.tokenSet, logs)
			}
		})
	}
}

func TestConfigFromEnvWarnLevelHidesStarted(t *testing.T) {
	_, logs, err := configFrom(t, map[string]string{"LOG_LEVEL": "WARN"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs, `"started"`) {
		t.Errorf("info line logged at level warn: %s", logs)
	}
}

// The Alibaba Cloud SDK reads DEBUG once, at package init (sdk/utils/debug.go
// Init, called from sdk/client.go `var debug = utils.Init("sdk")`), and
// with "sdk" among its comma-separated parts prints every request URL, the
// SecurityToken included. The function must refuse to start instead.
func TestConfigRefusesSDKDebug(t *testing.T) {
	cases := []struct {
		debug  string
		refuse bool
	}{
		{"sdk", true},
		{"tea,sdk", true},
		{"sdk,signer", true},
		{"", false},
		{"tea", false},
		{"sdkx", false}, // the SDK matches whole parts only
	}
	for _, tc := range cases {
		t.Run("DEBUG="+tc.debug, func(t *testing.T) {
			_, _, err := configFrom(t, map[string]string{"DEBUG": tc.debug})
			if tc.refuse && (err == nil || !strings.Contains(err.Error(), "DEBUG")) {
				t.Errorf("error %v, want a refusal naming DEBUG", err)
			}
			if !tc.refuse && err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}
