// Package e2e runs the real built function binary through the FC runtime
// protocol against the ECS emulator, which verifies every signature.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/sandbox"
)

const (
	instanceID = "i-postpaid-traffic"
	token      = "change-me"
)

var binary string

func TestMain(m *testing.M) {
	var remove func()
	var err error
	if binary, remove, err = sandbox.Build(filepath.Join("..")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	remove()
	os.Exit(code)
}

func demoInstance() emulator.Instance {
	return emulator.Instance{
		InstanceId: instanceID, RegionId: "cn-hangzhou", Status: "Running",
		InstanceChargeType: "PostPaid", InternetChargeType: "PayByBandwidth", InstanceNetworkType: "vpc",
		InternetMaxBandwidthOut: 10, InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.96.1.2"},
		Tags: map[string]string{"bandwidth-autoscaler": "enabled"},
	}
}

func start(t testing.TB, opts sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	opts.Binary = binary
	if opts.Instances == nil {
		opts.Instances = []emulator.Instance{demoInstance()}
	}
	if opts.Lock == 0 {
		opts.Lock = time.Second
	}
	if opts.HTTPToken == "" {
		opts.HTTPToken = token
	}
	opts.Env = append(opts.Env, "GOMAXPROCS=1") // as s.yaml deploys it
	if opts.Policy == nil {
		// The bundled policy with cooldowns of seconds.
		opts.Policy = map[string]any{"cooldown": "2s", "downCooldown": "3s", "warmup": "0s"}
	}
	sb, err := sandbox.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkNoSecrets(t, sb)
		sb.Close()
	})
	return sb
}

// checkNoSecrets fails when the binary printed a credential or the token.
func checkNoSecrets(t testing.TB, sb *sandbox.Sandbox) {
	t.Helper()
	out := sb.Output()
	for name, secret := range map[string]string{
		"the STS secret": sb.Credentials.AccessKeySecret, "the security token": sb.Credentials.SecurityToken, "HTTP_TOKEN": token,
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the function's output contains %s", name)
		}
	}
}

// checkMoney asserts the money invariants: one order per scaled result,
// never above the ceiling.
func checkMoney(t testing.TB, sb *sandbox.Sandbox, scaled int, ceiling int) {
	t.Helper()
	orders := sb.ECS.Orders()
	if len(orders) != scaled {
		t.Errorf("%d orders in the ledger for %d intended changes: %+v", len(orders), scaled, orders)
	}
	for _, o := range orders {
		if o.To > ceiling {
			t.Errorf("order %s bought %d Mbit/s, above the ceiling %d", o.OrderId, o.To, ceiling)
		}
	}
}

func event(t *testing.T, name string, rt *sandbox.Retimer) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return rt.Retime(b)
}

func invoke(t testing.TB, sb *sandbox.Sandbox, payload []byte) sandbox.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	res, err := sb.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// one asserts a single result with the given action and returns it.
func one(t testing.TB, res sandbox.Result, action string) map[string]any {
	t.Helper()
	if len(res.Results) != 1 {
		t.Fatalf("want one result, got %d (error %q): %s", len(res.Results), res.ErrorText, res.Raw)
	}
	r := res.Results[0]
	if r["action"] != action {
		t.Fatalf("action = %v, want %s: %v", r["action"], action, r)
	}
	return r
}

func modifyCalls(sb *sandbox.Sandbox) int {
	n := 0
	for _, r := range sb.ECS.Requests() {
		if r.Action == "ModifyInstanceNetworkSpec" {
			n++
		}
	}
	return n
}

// TestStory is `make run` in short: CloudMonitor's datapoints last a second
// here, so the reading catches up within the story.
func TestStory(t *testing.T) {
	demo := demoInstance()
	demo.Demand = 40 // saturates 10 and 20 Mbit/s
	sb := start(t, sandbox.Options{Instances: []emulator.Instance{demo}, Period: time.Second, PublishDelay: time.Second})
	var rt sandbox.Retimer
	time.Sleep(2500 * time.Millisecond) // a first datapoint is published

	r := one(t, invoke(t, sb, event(t, "spike.json", &rt)), "scaled")
	if r["from"] != 10.0 || r["to"] != 20.0 || r["orderId"] == nil || r["requestId"] == nil {
		t.Fatalf("spike: %v", r)
	}
	modifies := modifyCalls(sb)

	one(t, invoke(t, sb, event(t, "spike-redelivery.json", &rt)), "duplicate")
	if got := modifyCalls(sb); got != modifies {
		t.Fatalf("a redelivery called ModifyInstanceNetworkSpec (%d calls, want %d)", got, modifies)
	}

	// 97 % of 20, measured after the change: still saturated after an
	// increase, so two rows up, once the cooldown allows.
	r = one(t, invoke(t, sb, event(t, "spike-again.json", &rt)), "deferred")
	if r["retryAfter"] == nil {
		t.Fatalf("deferred without retryAfter: %v", r)
	}
	// The timer, past the cooldown and the first datapoint after the
	// change, reads the saturated link and climbs.
	time.Sleep(3200 * time.Millisecond)
	r = one(t, invoke(t, sb, event(t, "reconcile.json", &rt)), "scaled")
	if r["to"] != 100.0 {
		t.Fatalf("the timer scaled to %v, want 100", r["to"])
	}

	if err := sb.ECS.SetDemand(instanceID, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4500 * time.Millisecond) // past downCooldown, with its window at the low demand
	r = one(t, invoke(t, sb, event(t, "recovery.json", &rt)), "scaled")
	if r["from"] != 100.0 || r["to"] != 50.0 {
		t.Fatalf("the recovery should step one row down, 100 → 50: %v", r)
	}
	checkMoney(t, sb, 3, 100)
	if in, _ := sb.ECS.Instance(instanceID); in.InternetMaxBandwidthOut != 50 {
		t.Fatalf("instance at %d Mbit/s, want 50", in.InternetMaxBandwidthOut)
	}
}

func TestRedeliveryToAFreshProcessBuysNothing(t *testing.T) {
	sb := start(t, sandbox.Options{})
	var rt sandbox.Retimer
	one(t, invoke(t, sb, event(t, "spike.json", &rt)), "scaled")
	if err := sb.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	one(t, invoke(t, sb, event(t, "spike-redelivery.json", &rt)), "unchanged")
	checkMoney(t, sb, 1, 100)
}

func TestHTTPDeliveriesNeedTheToken(t *testing.T) {
	sb := start(t, sandbox.Options{})
	var rt sandbox.Retimer
	spike := string(event(t, "spike.json", &rt))
	for name, payload := range map[string]string{
		"missing": strings.Replace(spike, `"token": "change-me"`, `"other": "x"`, 1),
		"wrong":   strings.Replace(spike, `"token": "change-me"`, `"token": "change-mf"`, 1),
	} {
		if payload == spike {
			t.Fatalf("%s: the sample's token could not be replaced; has events/spike.json changed?", name)
		}
		res := invoke(t, sb, []byte(payload))
		if res.Status != 401 {
			t.Errorf("%s token: HTTP %d, want 401", name, res.Status)
		}
	}
	if n := len(sb.ECS.Requests()); n != 0 {
		t.Fatalf("forged deliveries reached ECS %d times", n)
	}
	checkMoney(t, sb, 0, 100)
}

func TestConcurrentIdenticalAlarmsMakeOneOrder(t *testing.T) {
	sb := start(t, sandbox.Options{Processes: 4})
	var rt sandbox.Retimer
	payload := event(t, "spike.json", &rt)
	var wg sync.WaitGroup
	results := make([]sandbox.Result, 20)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = invoke(t, sb, payload)
		}(i)
	}
	wg.Wait()
	scaled := 0
	for _, res := range results {
		for _, r := range res.Results {
			if r["action"] == "scaled" {
				scaled++
			}
		}
	}
	if scaled == 0 {
		t.Fatalf("no invocation scaled: %+v", results[0])
	}
	checkMoney(t, sb, 1, 100)
}

func TestHangingECSStillAnswersBeforeTheDeadline(t *testing.T) {
	sb := start(t, sandbox.Options{Timeout: 5 * time.Second})
	sb.ECS.Inject(emulator.Fault{Action: "DescribeInstances", Latency: time.Minute, Count: 100})
	var rt sandbox.Retimer
	begin := time.Now()
	res := invoke(t, sb, event(t, "manual.json", &rt))
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("the invocation took %s, past its 5s FC timeout", took)
	}
	if res.ErrorText == "" {
		t.Fatalf("a hanging ECS gave no error: %s", res.Raw)
	}
	checkMoney(t, sb, 0, 100)
}
