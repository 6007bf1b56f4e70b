package handler

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// ConfigFromEnv reads the function's configuration from its environment
// variables (see the README) and loads the policy; exeDir is where the
// bundled policy.yaml lives. Logs go to out.
func ConfigFromEnv(getenv func(string) string, exeDir string, out io.Writer) (Config, error) {
	// The SDK reads DEBUG once, before main; with "sdk" in it, it prints
	// every request URL, security token included. Refuse to start instead.
	for _, part := range strings.Split(getenv("DEBUG"), ",") {
		if part == "sdk" {
			return Config{}, fmt.Errorf("DEBUG contains \"sdk\": the Alibaba Cloud SDK would print request URLs, which carry the STS security token; remove it")
		}
	}
	level := zerolog.InfoLevel
	if v := getenv("LOG_LEVEL"); v != "" {
		l, err := zerolog.ParseLevel(strings.ToLower(v))
		if err != nil {
			return Config{}, fmt.Errorf("LOG_LEVEL %q is not a zerolog level (debug, info, warn, error)", v)
		}
		level = l
	}
	cfg := Config{
		Endpoint:    getenv("ECS_ENDPOINT"),
		CMSEndpoint: getenv("CMS_ENDPOINT"),
		VPCEndpoint: getenv("VPC_ENDPOINT"),
		HTTPToken:   getenv("HTTP_TOKEN"),
		Region:      firstNonEmpty(getenv("FC_REGION"), getenv("ALIBABA_CLOUD_REGION_ID")),
		Credentials: ecsapi.Credentials{
			AccessKeyID:     getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
			AccessKeySecret: getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
			SecurityToken:   getenv("ALIBABA_CLOUD_SECURITY_TOKEN"),
		},
		Log: zerolog.New(out).Level(level).With().Timestamp().Logger(),
	}
	if v := getenv("DRY_RUN"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("DRY_RUN %q is not true or false", v)
		}
		cfg.DryRun = b
	}
	for _, e := range []struct{ name, url string }{{"ECS_ENDPOINT", cfg.Endpoint}, {"CMS_ENDPOINT", cfg.CMSEndpoint}, {"VPC_ENDPOINT", cfg.VPCEndpoint}} {
		if err := checkEndpoint(e.url); err != nil {
			return Config{}, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	p, source, err := policy.Load(getenv, exeDir)
	if err != nil {
		return Config{}, err
	}
	cfg.Policy = p
	cfg.Log.Info().Str("policy", source).Bool("dryRun", cfg.DryRun).Bool("httpTokenSet", cfg.HTTPToken != "").
		Str("endpoint", cfg.Endpoint).Msg("started")
	for _, w := range p.Warnings {
		cfg.Log.Warn().Str("policy", source).Msg(w)
	}
	if cfg.HTTPToken == "" {
		cfg.Log.Warn().Msg("HTTP_TOKEN is not set: HTTP trigger deliveries will be refused with 401")
	}
	return cfg, nil
}

// checkEndpoint applies the endpoint rule of every client (https, or plain
// http only to loopback, scheme://host[:port] only; openapi.ParseEndpoint)
// at start, so that a bad endpoint stops the function like a bad policy
// instead of failing every invocation.
func checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	_, _, err := openapi.ParseEndpoint(endpoint)
	return err
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
