package scaler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

const (
	region = "cn-hangzhou"
	// basePolicy selects instances by ID and by tag (the reconcile reads both).
	basePolicy = `
table:
  - {upTo: 4,  target: 5}
  - {upTo: 8,  target: 10}
  - {upTo: 16, target: 20}
  - {upTo: 40, target: 50}
  - {upTo: 80, target: 100}
max: 50
instances:
  ids: [i-a, i-b, i-c]
  tag: {key: bandwidth-autoscaler, value: enabled}
overrides:
  i-c: {max: 20}
`
)

var testCreds = ecsapi.Credentials{AccessKeyID: "STS.scalerTestKey", AccessKeySecret: "scaler-test-secret", SecurityToken: "scaler-test-token"}

// fastRetry keeps the retries real (same ClientToken, backoff) but short.
var fastRetry = ecsapi.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

// newClock drives the engine and the emulator alike. The SDK signs with the
// real time and the emulator accepts 15 minutes either way, so the clock
// starts 10 minutes behind the real one: a test may then move it up to 25
// minutes ahead.
func newClock() *emulator.ManualClock {
	return emulator.NewManualClock(time.Now().UTC().Add(-10 * time.Minute))
}

// env is one emulated ECS account with the policy the engines run.
type env struct {
	t      *testing.T
	emu    *emulator.Server
	url    string
	clock  *emulator.ManualClock
	policy *policy.Policy

	noCMS bool      // the engines run without CloudMonitor
	rec   *recorder // when set, every call is recorded (cost_test.go)

	mu       sync.Mutex
	intended int // changes the test means to buy: the orders checkMoney expects
}

type envOptions struct {
	policy string        // extra YAML appended to basePolicy
	tagged bool          // select by the tag alone, not also by ids
	lock   time.Duration // ECS lock after a change; 0 is ECS's 5 minutes
}

// newEnv serves a fresh emulator holding instances and checks the money
// invariants when the test ends.
func newEnv(t *testing.T, opts envOptions, instances ...emulator.Instance) *env {
	t.Helper()
	doc := basePolicy
	if opts.tagged {
		doc = strings.Replace(doc, "  ids: [i-a, i-b, i-c]\n", "", 1)
	}
	p, err := policy.Parse([]byte(doc + opts.policy))
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	emu := emulator.New(emulator.Config{
		Credentials:  []emulator.Credential{{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: testCreds.SecurityToken}},
		Clock:        clock.Now,
		LockDuration: opts.lock,
	})
	for _, in := range instances {
		emu.AddInstance(in)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	e := &env{t: t, emu: emu, url: srv.URL, clock: clock, policy: p}
	t.Cleanup(func() { checkMoney(t, e) })
	return e
}

// engine is a fresh process: nothing in memory from any other engine.
func (e *env) engine() *scaler.Engine {
	return &scaler.Engine{Policy: e.policy, Clock: e.clock.Now}
}

// connect gives every call its own clients over the real SDK, as the
// handler does per invocation; noCMS leaves CloudMonitor out.
func (e *env) connect(r string) (scaler.Clients, error) {
	ecs, err := ecsapi.New(ecsapi.Config{Region: r, Endpoint: e.url, Credentials: testCreds, Retry: fastRetry})
	if err != nil {
		return scaler.Clients{}, err
	}
	c := scaler.Clients{ECS: ecs}
	if c.VPC, err = vpcapi.New(vpcapi.Config{Region: r, Endpoint: e.url, Credentials: testCreds, Retry: fastRetry}); err != nil {
		return scaler.Clients{}, err
	}
	if !e.noCMS {
		if c.Metrics, err = cmsapi.New(cmsapi.Config{Region: r, Endpoint: e.url, Credentials: testCreds, Retry: fastRetry}); err != nil {
			return scaler.Clients{}, err
		}
	}
	if e.rec != nil {
		c.ECS = recordedECS{c.ECS, e.rec}
		if c.Metrics != nil {
			c.Metrics = recordedMetrics{c.Metrics, e.rec}
		}
	}
	return c, nil
}

// tick moves the clock on and runs the timer, as FC does every minute.
func (e *env) tick(eng *scaler.Engine) []scaler.Result {
	e.t.Helper()
	e.clock.Advance(time.Minute)
	res, err := e.run(eng, reconcile)
	if err != nil {
		e.t.Fatalf("timer: %v", err)
	}
	return res
}

func (e *env) run(eng *scaler.Engine, d *alarm.Delivery) ([]scaler.Result, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return eng.Run(ctx, d, e.connect, region)
}

// runOne runs d and returns its single result; it fails the test on an
// error unless transientOK, in which case the error must wrap ErrTransient.
func (e *env) runOne(eng *scaler.Engine, d *alarm.Delivery, transientOK bool) (scaler.Result, error) {
	e.t.Helper()
	res, err := e.run(eng, d)
	if err != nil && !(transientOK && errors.Is(err, scaler.ErrTransient)) {
		e.t.Fatalf("Run: %v", err)
	}
	if len(res) != 1 {
		e.t.Fatalf("Run gave %d results, want 1: %+v", len(res), res)
	}
	return res[0], err
}

// expect counts changes the test intends to buy.
func (e *env) expect(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.intended += n
}

// alarm is a fresh ALERT of the VPC usage metric for id, observed 30
// seconds ago, with its own delivery key.
func (e *env) alarm(id string, percent float64) *alarm.Delivery {
	return &alarm.Delivery{Kind: alarm.KindAlarm, Source: "eventbridge", Alarms: []alarm.Alarm{{
		InstanceID: id, Region: region, Metric: alarm.MetricVPCInternetOutRatePercent, Namespace: "acs_ecs_dashboard",
		Value: percent, Unit: "%", State: alarm.StateAlert, Time: e.clock.Now().Add(-30 * time.Second), Key: newKey(),
	}}}
}

var reconcile = &alarm.Delivery{Kind: alarm.KindReconcile, Source: "timer"}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b)
}

// instance is a running PostPaid VPC instance at bw Mbit/s, opted in by tag,
// with demand Mbit/s of traffic.
func instance(id string, bw int, demand float64) emulator.Instance {
	return emulator.Instance{
		InstanceId: id, RegionId: region, Status: "Running", Demand: demand,
		InstanceChargeType: "PostPaid", InternetChargeType: "PayByBandwidth", InstanceNetworkType: "vpc",
		InternetMaxBandwidthOut: bw, InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.96.1.2"},
		Tags: map[string]string{"bandwidth-autoscaler": "enabled"},
	}
}

// bandwidth is the cap ECS has in force for id.
func (e *env) bandwidth(id string) int {
	e.t.Helper()
	in, ok := e.emu.Instance(id)
	if !ok {
		e.t.Fatalf("no instance %s", id)
	}
	return in.InternetMaxBandwidthOut
}

// record is the state the instance carries in its tag.
func (e *env) record(id string) decide.Record {
	e.t.Helper()
	in, ok := e.emu.Instance(id)
	if !ok {
		e.t.Fatalf("no instance %s", id)
	}
	rec, err := state.Decode(in.Tags)
	if err != nil {
		e.t.Fatalf("state tag of %s: %v", id, err)
	}
	return rec
}

// calls counts the requests of one action the emulator received.
func (e *env) calls(action string) int {
	n := 0
	for _, r := range e.emu.Requests() {
		if r.Action == action {
			n++
		}
	}
	return n
}

// checkMoney asserts the money invariants on the order ledger: exactly the
// intended changes were bought, none above the instance's ceiling, no
// PrePaid instance lowered more than ECS allows, and every order has its
// own ClientToken.
func checkMoney(t *testing.T, e *env) {
	t.Helper()
	orders := e.emu.Orders()
	e.mu.Lock()
	intended := e.intended
	e.mu.Unlock()
	if len(orders) != intended {
		t.Errorf("money: %d orders for %d intended changes:\n%s", len(orders), intended, describeOrders(orders))
	}
	tokens := map[string]string{}
	downgrades := map[string]int{}
	for _, o := range orders {
		if _, hi := e.policy.BoundsFor(o.InstanceId); o.To > hi {
			t.Errorf("money: order %s bought %d Mbit/s for %s, above its ceiling %d", o.OrderId, o.To, o.InstanceId, hi)
		}
		if o.Kind == emulator.KindEIPBandwidth {
			// A pay-as-you-go EIP's change: no order and no ClientToken
			// (ModifyEipAddressAttribute takes none); counted all the same.
			continue
		}
		switch prev, dup := tokens[o.ClientToken]; {
		case o.ClientToken == "":
			t.Errorf("money: order %s has no ClientToken", o.OrderId)
		case dup:
			t.Errorf("money: orders %s and %s share ClientToken %s", prev, o.OrderId, o.ClientToken)
		}
		tokens[o.ClientToken] = o.OrderId
		if in, ok := e.emu.Instance(o.InstanceId); ok && in.InstanceChargeType == "PrePaid" && o.Kind == emulator.KindDowngrade {
			downgrades[o.InstanceId]++
		}
	}
	for id, n := range downgrades {
		if n > decide.DowngradeQuota {
			t.Errorf("money: %d downgrades of PrePaid %s, more than the %d ECS allows", n, id, decide.DowngradeQuota)
		}
	}
}

func describeOrders(orders []emulator.Order) string {
	var b strings.Builder
	for _, o := range orders {
		fmt.Fprintf(&b, "  %s %s %s %d→%d token %s\n", o.OrderId, o.InstanceId, o.Kind, o.From, o.To, o.ClientToken)
	}
	return b.String()
}

// setTag writes the state tag as another writer would.
func (e *env) setTag(id, value string) {
	e.t.Helper()
	if value == "" {
		e.t.Fatal("setTag: an empty value is a damaged record, not a lost update")
	}
	if err := e.emu.SetTag(id, state.TagKey, value); err != nil {
		e.t.Fatal(err)
	}
}

// scaled runs d on a fresh engine and fails the test unless it scaled.
func (e *env) scaled(d *alarm.Delivery) scaler.Result {
	e.t.Helper()
	r, _ := e.runOne(e.engine(), d, false)
	if r.Action != decide.Scaled {
		e.t.Fatalf("want scaled, got %+v", r)
	}
	return r
}

// buysNothing runs d on a fresh engine and fails the test if it scaled.
func (e *env) buysNothing(d *alarm.Delivery, what string) {
	e.t.Helper()
	if r, _ := e.runOne(e.engine(), d, false); r.Action == decide.Scaled {
		e.t.Fatalf("%s bought: %+v", what, r)
	}
}

// ticks runs n minutes of the timer on one fresh engine.
func (e *env) ticks(n int) {
	e.t.Helper()
	eng := e.engine()
	for range n {
		e.tick(eng)
	}
}
