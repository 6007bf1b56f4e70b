// Package sandbox runs the real function binary the way Function Compute
// does, on one machine: an ECS API emulator, a local FC runtime API and one or
// more processes of the binary. `make run`, the end-to-end tests and the
// benchmarks use it; the function itself never imports it.
package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"gopkg.in/yaml.v3"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/fcruntime"
)

// Options configure a sandbox.
type Options struct {
	Binary    string              // the built function
	Processes int                 // function processes polling the runtime API; 0 means 1
	Instances []emulator.Instance // loaded into the emulator
	Lock      time.Duration       // the emulator's lock after a change; 0 means 5m
	Env       []string            // extra environment for the function (DRY_RUN, LOG_LEVEL, ...)
	// Policy overrides keys of the policy.yaml beside the binary (cooldowns
	// of seconds, say); the result reaches the function as POLICY.
	Policy    map[string]any
	HTTPToken string        // HTTP_TOKEN; "" leaves it unset
	Timeout   time.Duration // the FC timeout of each invocation; 0 means 30s
	// Period and PublishDelay shorten CloudMonitor's datapoints (60 s, a
	// minute late) so that a local run sees readings within seconds.
	Period, PublishDelay time.Duration
	// External, when set, points the function at running APIs (another
	// emulator, or Alibaba Cloud) instead of an in-process emulator:
	// Sandbox.ECS is nil then, and Instances, Lock, Period and PublishDelay
	// are unused.
	External *External
	// Region is the invocations' region; "" means cn-hangzhou.
	Region string
}

// External is where an External sandbox's function calls, and with what.
type External struct {
	// ECS is ECS_ENDPOINT (required); CMS and VPC are CMS_ENDPOINT and
	// VPC_ENDPOINT, "" leaving them unset (the function's regional default).
	ECS, CMS, VPC string
	// Credentials are handed to every invocation as the role's.
	Credentials fcruntime.Credentials
}

// Sandbox is a running local Function Compute with its ECS emulator.
type Sandbox struct {
	ECS         *emulator.Server // nil with Options.External
	Runtime     *fcruntime.Server
	Credentials fcruntime.Credentials // the STS credentials handed to every invocation
	Endpoint    string                // the ECS endpoint the function calls

	opts   Options
	srv    *http.Server
	procs  []*fcruntime.Process
	output lockedBuffer
}

// Start starts the emulator, the runtime API and the function processes.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	if opts.Processes <= 0 {
		opts.Processes = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Region == "" {
		opts.Region = "cn-hangzhou"
	}
	if x := opts.External; x != nil {
		if x.ECS == "" {
			return nil, fmt.Errorf("sandbox: External needs the ECS endpoint")
		}
		sb := &Sandbox{opts: opts, Credentials: x.Credentials, Endpoint: x.ECS}
		if err := sb.startRuntime(ctx); err != nil {
			sb.Close()
			return nil, err
		}
		return sb, nil
	}
	sb := &Sandbox{opts: opts, Credentials: fcruntime.Credentials{
		AccessKeyID: "STS." + randomHex(8), AccessKeySecret: randomHex(16), SecurityToken: "CAIS" + randomHex(24),
	}}
	sb.ECS = emulator.New(emulator.Config{
		Credentials:  []emulator.Credential{{AccessKeyID: sb.Credentials.AccessKeyID, AccessKeySecret: sb.Credentials.AccessKeySecret, SecurityToken: sb.Credentials.SecurityToken}},
		LockDuration: opts.Lock,
		Period:       opts.Period,
		PublishDelay: opts.PublishDelay,
	})
	for _, in := range opts.Instances {
		sb.ECS.AddInstance(in)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listening for the ECS emulator: %w", err)
	}
	sb.srv = &http.Server{Handler: sb.ECS, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = sb.srv.Serve(ln) }()
	sb.Endpoint = "http://" + ln.Addr().String()
	if err := sb.startRuntime(ctx); err != nil {
		sb.Close()
		return nil, err
	}
	return sb, nil
}

// startRuntime starts the runtime API and the function processes.
func (sb *Sandbox) startRuntime(ctx context.Context) error {
	opts := sb.opts
	var err error
	if sb.Runtime, err = fcruntime.NewServer(); err != nil {
		return fmt.Errorf("sandbox: starting the runtime API: %w", err)
	}
	if len(opts.Policy) > 0 {
		doc, err := bundledPolicy(opts.Binary, opts.Policy)
		if err != nil {
			return err
		}
		sb.opts.Env = append([]string{"POLICY=" + doc}, opts.Env...)
	}
	return sb.startProcesses(ctx)
}

// bundledPolicy is the policy.yaml beside binary with overrides applied.
func bundledPolicy(binary string, overrides map[string]any) (string, error) {
	path := filepath.Join(filepath.Dir(binary), "policy.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("sandbox: reading the bundled policy: %w", err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("sandbox: %s: %w", path, err)
	}
	maps.Copy(doc, overrides)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("sandbox: encoding the policy: %w", err)
	}
	return string(out), nil
}

func (sb *Sandbox) startProcesses(ctx context.Context) error {
	env := []string{"ECS_ENDPOINT=" + sb.Endpoint, "CMS_ENDPOINT=" + sb.Endpoint, "VPC_ENDPOINT=" + sb.Endpoint}
	if x := sb.opts.External; x != nil {
		env = []string{"ECS_ENDPOINT=" + x.ECS}
		for _, v := range [][2]string{{"CMS_ENDPOINT", x.CMS}, {"VPC_ENDPOINT", x.VPC}} {
			if v[1] != "" {
				env = append(env, v[0]+"="+v[1])
			}
		}
	}
	env = append(append(env, "PATH="+os.Getenv("PATH")), sb.opts.Env...)
	if sb.opts.HTTPToken != "" {
		env = append(env, "HTTP_TOKEN="+sb.opts.HTTPToken)
	}
	for i := 0; i < sb.opts.Processes; i++ {
		p, err := fcruntime.StartProcess(ctx, sb.opts.Binary, env, sb.Runtime, &sb.output, &sb.output)
		if err != nil {
			return fmt.Errorf("sandbox: starting %s: %w", sb.opts.Binary, err)
		}
		sb.procs = append(sb.procs, p)
	}
	return nil
}

// Restart replaces every function process with a fresh one, as FC does when
// it recycles instances: nothing in memory survives.
func (sb *Sandbox) Restart(ctx context.Context) error {
	for _, p := range sb.procs {
		_ = p.Stop()
	}
	sb.procs = nil
	// A stopped process's poll must be gone, or it takes the next
	// invocation to a process that no longer exists.
	for deadline := time.Now().Add(5 * time.Second); sb.Runtime.Polling() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return sb.startProcesses(ctx)
}

// Processes returns the running function processes.
func (sb *Sandbox) Processes() []*fcruntime.Process { return sb.procs }

// Output returns everything the function processes printed so far.
func (sb *Sandbox) Output() string { return sb.output.String() }

// Close stops the processes, the runtime API and the emulator.
func (sb *Sandbox) Close() {
	for _, p := range sb.procs {
		_ = p.Stop()
	}
	if sb.Runtime != nil {
		_ = sb.Runtime.Close()
	}
	if sb.srv != nil {
		_ = sb.srv.Close()
	}
}

// Result is one answered invocation, decoded.
type Result struct {
	Status    int              // the HTTP status for HTTP trigger deliveries, else 0
	Results   []map[string]any // the function's "results"
	ErrorText string           // the function error or the response's "error"
	Raw       []byte
}

// Invoke delivers one payload as FC would and decodes the answer.
func (sb *Sandbox) Invoke(ctx context.Context, payload []byte) (Result, error) {
	res, err := sb.Runtime.Invoke(ctx, fcruntime.Invocation{
		Payload: payload, Credentials: sb.Credentials, Region: sb.opts.Region, AccountID: "1234567890123456",
		FunctionName: "ecs-bandwidth-autoscaler", Timeout: sb.opts.Timeout,
	})
	if err != nil {
		return Result{}, err
	}
	if res.Error != nil {
		return Result{ErrorText: res.Error.Message, Raw: res.Body}, nil
	}
	return decodeAnswer(res.Body)
}

func decodeAnswer(body []byte) (Result, error) {
	out := Result{Raw: body}
	var probe struct {
		StatusCode int             `json:"statusCode"`
		Body       *string         `json:"body"`
		Results    json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return out, fmt.Errorf("sandbox: the function answered %q: %w", body, err)
	}
	inner := body
	if probe.StatusCode != 0 && probe.Body != nil {
		var resp events.HTTPTriggerResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			return out, fmt.Errorf("sandbox: decoding the HTTP answer: %w", err)
		}
		out.Status = resp.StatusCode
		inner = []byte(resp.Body)
	}
	var r struct {
		Results []map[string]any `json:"results"`
		Error   string           `json:"error"`
	}
	if err := json.Unmarshal(inner, &r); err != nil {
		return out, fmt.Errorf("sandbox: decoding the results %q: %w", inner, err)
	}
	out.Results, out.ErrorText = r.Results, r.Error
	return out, nil
}

// sampleTime matches the fixed timestamps of the files in events/ (around
// 1717000000000 ms), which Retime moves to the present.
var sampleTime = regexp.MustCompile(`1717000[0-9]{6}`)

// Retimer moves the sample timestamps of event files to the present, giving
// one original timestamp the same new value every time, so that a
// redelivery stays a redelivery.
type Retimer struct {
	mu   sync.Mutex
	seen map[string]string
}

// Retime rewrites payload's sample timestamps.
func (r *Retimer) Retime(payload []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	return sampleTime.ReplaceAllFunc(payload, func(old []byte) []byte {
		if v, ok := r.seen[string(old)]; ok {
			return []byte(v)
		}
		v := strconv.FormatInt(time.Now().UnixMilli(), 10)
		r.seen[string(old)] = v
		return []byte(v)
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b)
}

// lockedBuffer collects the output of several processes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
