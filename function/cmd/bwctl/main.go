// Command bwctl is the operator's tool: what the autoscaler would do now
// (status), the CloudMonitor alarm rules it needs (alarms apply|check|delete),
// a local invocation of the built function (invoke) and the RAM role it runs
// with (rbac). Credentials come from the standard Alibaba Cloud chain: the
// ALIBABA_CLOUD_* variables, else the aliyun CLI's current profile.
// ECS_ENDPOINT, CMS_ENDPOINT, VPC_ENDPOINT and RAM_ENDPOINT point it
// elsewhere (the emulator).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

const usage = `usage: bwctl [-policy FILE] [-region REGION] COMMAND [flags]

commands:
  status [-o json]                    one row per selected instance, and what the next timer run would do
  alarms apply|check|delete [-webhook URL | -route eventbridge] [-dry-run]
                                      the CloudMonitor alarm rules the policy needs
  invoke [-event FILE] [-instances FILE] [-binary FILE]
                                      run the built function under the local FC runtime
  rbac [-create [-force]] [-role NAME]
                                      the RAM role the function needs (-create: make it through the RAM API)
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// env is one bwctl invocation's settings.
type env struct {
	getenv     func(string) string
	out, errw  io.Writer
	in         io.Reader
	policyPath string
	region     string
	policy     *policy.Policy
	creds      ecsapi.Credentials
	credSource string
	retry      ecsapi.RetryPolicy
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bwctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	e := &env{getenv: getenv, out: stdout, errw: stderr, in: stdin}
	fs.StringVar(&e.policyPath, "policy", "function/policy.yaml", "the policy file the function runs with")
	fs.StringVar(&e.region, "region", "", "the region (default: ALIBABA_CLOUD_REGION_ID, the CLI profile's, else cn-hangzhou)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // asked for: the usage is the answer
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var err error
	switch rest[0] {
	case "status":
		err = e.status(ctx, rest[1:])
	case "alarms":
		err = e.alarms(ctx, rest[1:])
	case "invoke":
		err = e.invoke(ctx, rest[1:])
	case "rbac", "role":
		err = e.rbac(ctx, rest[1:])
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "bwctl:", ue.msg)
			return 2
		}
		fmt.Fprintln(stderr, "bwctl: "+oneLine(err))
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// setup loads the policy and the credentials, and checks the region.
func (e *env) setup(needCreds bool) error {
	data, err := os.ReadFile(e.policyPath)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if e.policy, err = policy.Parse(data); err != nil {
		return fmt.Errorf("policy %s: %w", e.policyPath, err)
	}
	if needCreds {
		var profileRegion string
		if e.creds, profileRegion, e.credSource, err = loadCredentials(e.getenv); err != nil {
			return err
		}
		if e.region == "" {
			e.region = firstNonEmpty(e.getenv("ALIBABA_CLOUD_REGION_ID"), profileRegion)
		}
	}
	if e.region == "" {
		e.region = "cn-hangzhou"
	}
	for _, r := range append([]string{e.region}, e.policy.Regions...) {
		if !knownRegion(r) {
			return unknownRegionError{r}
		}
	}
	e.retry = ecsapi.RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	return nil
}

// regions are the regions the policy covers.
func (e *env) regions() []string {
	if len(e.policy.Regions) > 0 {
		return e.policy.Regions
	}
	return []string{e.region}
}

func (e *env) ecs(region string) (*ecsapi.Client, error) {
	return ecsapi.New(ecsapi.Config{Region: region, Endpoint: e.getenv("ECS_ENDPOINT"), Credentials: e.creds, Retry: e.retry})
}

// connect is the engine's view of a region, as the function has it.
func (e *env) connect(region string) (scaler.Clients, error) {
	ecs, err := e.ecs(region)
	if err != nil {
		return scaler.Clients{}, err
	}
	cms, err := cmsapi.New(cmsapi.Config{Region: region, Endpoint: e.getenv("CMS_ENDPOINT"), Credentials: e.creds, Retry: e.retry})
	if err != nil {
		return scaler.Clients{}, err
	}
	// EIP-bound VPC instances: their cap, billing and record are the EIP's.
	vpc, err := vpcapi.New(vpcapi.Config{Region: region, Endpoint: e.getenv("VPC_ENDPOINT"), Credentials: e.creds, Retry: e.retry})
	if err != nil {
		return scaler.Clients{}, err
	}
	return scaler.Clients{ECS: ecs, Metrics: cms, VPC: vpc}, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// knownRegions are the Alibaba Cloud region IDs.
var knownRegions = strings.Fields(`cn-hangzhou cn-shanghai cn-qingdao cn-beijing cn-zhangjiakou cn-huhehaote
cn-wulanchabu cn-shenzhen cn-heyuan cn-guangzhou cn-chengdu cn-nanjing cn-fuzhou cn-wuhan-lr cn-hongkong
ap-northeast-1 ap-northeast-2 ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-5 ap-southeast-6
ap-southeast-7 ap-south-1 us-east-1 us-west-1 eu-west-1 eu-central-1 me-east-1 me-central-1 na-south-1`)

func knownRegion(r string) bool {
	for _, k := range knownRegions {
		if k == r {
			return true
		}
	}
	return false
}

type unknownRegionError struct{ region string }

func (u unknownRegionError) Error() string {
	return fmt.Sprintf("unknown region %q: use a region ID such as cn-hangzhou (-region, ALIBABA_CLOUD_REGION_ID or the policy's regions)", u.region)
}
