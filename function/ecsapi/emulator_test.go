package ecsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
)

const testRegion = "cn-hangzhou"

var testCreds = Credentials{
	AccessKeyID:     "STS.testAccessKeyId",
	AccessKeySecret: "testAccessKeySecret",
	SecurityToken:   "CAIS+test/Security=Token",
}

// fastRetry keeps retry tests quick while still sleeping between attempts.
var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// startEmulator serves a fresh emulator and returns a client for it.
func startEmulator(t *testing.T, instances ...emulator.Instance) (*Client, *emulator.Server) {
	t.Helper()
	return startEmulatorWith(t, func(*Config) {}, instances...)
}

// startEmulatorWith is startEmulator with the client's Config adjusted.
func startEmulatorWith(t *testing.T, adjust func(*Config), instances ...emulator.Instance) (*Client, *emulator.Server) {
	t.Helper()
	emu := emulator.New(emulator.Config{Credentials: []emulator.Credential{{
		AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: testCreds.SecurityToken,
	}}})
	for _, in := range instances {
		emu.AddInstance(in)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg := Config{Region: testRegion, Endpoint: srv.URL, Credentials: testCreds, Retry: fastRetry}
	adjust(&cfg)
	client, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return client, emu
}

func postPaid(id string, out int) emulator.Instance {
	return emulator.Instance{
		InstanceId: id, RegionId: testRegion, Status: "Running",
		InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc",
		InternetMaxBandwidthOut: out, InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.0.0.1"},
	}
}

// requestsFor returns the logged requests of one action.
func requestsFor(emu *emulator.Server, action string) []emulator.Request {
	var out []emulator.Request
	for _, r := range emu.Requests() {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *ecsapi.Error", err, err)
	}
	return e
}

func TestDescribeInstancesBatchesAndPages(t *testing.T) {
	var all []emulator.Instance
	var ids []string
	for i := range 250 {
		id := fmt.Sprintf("i-%04d", i)
		all = append(all, postPaid(id, i%50))
		ids = append(ids, id)
	}
	client, emu := startEmulator(t, all...)
	asked := append(append([]string{}, ids...), "i-missing", ids[0]) // unknown and duplicate IDs

	got, err := client.DescribeInstances(context.Background(), asked)
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	wantOut := map[string]int{}
	for _, in := range all {
		wantOut[in.InstanceId] = in.InternetMaxBandwidthOut
	}
	seen := map[string]bool{}
	for _, in := range got {
		if want, ok := wantOut[in.ID]; !ok || seen[in.ID] || in.BandwidthOut != want {
			t.Errorf("%s: BandwidthOut %d (known %v, repeated %v), want %d", in.ID, in.BandwidthOut, ok, seen[in.ID], want)
		}
		seen[in.ID] = true
	}
	if len(seen) != len(ids) {
		t.Fatalf("got %d distinct instances, want %d", len(seen), len(ids))
	}
	reqs := requestsFor(emu, "DescribeInstances")
	if len(reqs) != 3 {
		t.Fatalf("%d DescribeInstances calls, want 3 batches", len(reqs))
	}
	for _, r := range reqs {
		if r.Params.Get("MaxResults") != "100" {
			t.Errorf("MaxResults = %q, want 100", r.Params.Get("MaxResults"))
		}
		if n := strings.Count(r.Params.Get("InstanceIds"), `"i-`); n > 100 {
			t.Errorf("batch of %d IDs, want at most 100", n)
		}
	}
}

func TestDescribeInstancesEmpty(t *testing.T) {
	client, emu := startEmulator(t)
	got, err := client.DescribeInstances(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("DescribeInstances(nil) = %v, %v; want nothing", got, err)
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d requests for no IDs, want 0", n)
	}
}

func TestDescribeTaggedFollowsNextToken(t *testing.T) {
	var all []emulator.Instance
	want := map[string]bool{}
	for i := range 230 {
		in := postPaid(fmt.Sprintf("i-%04d", i), 5)
		if i%3 != 0 {
			in.Tags = map[string]string{"autoscale": "on"}
			want[in.InstanceId] = true
		} else {
			in.Tags = map[string]string{"autoscale": "off"}
		}
		all = append(all, in)
	}
	client, emu := startEmulator(t, all...)

	got, err := client.DescribeTagged(context.Background(), "autoscale", "on")
	if err != nil {
		t.Fatalf("DescribeTagged: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d instances, want %d", len(got), len(want))
	}
	for _, in := range got {
		if !want[in.ID] || in.Tags["autoscale"] != "on" {
			t.Errorf("unexpected instance %s with tags %v", in.ID, in.Tags)
		}
	}
	reqs := requestsFor(emu, "DescribeInstances")
	if len(reqs) < 2 {
		t.Fatalf("%d calls: %d tagged instances need several pages", len(reqs), len(want))
	}
	for i, r := range reqs {
		if r.Params.Get("Tag.1.Key") != "autoscale" || r.Params.Get("Tag.1.Value") != "on" {
			t.Errorf("call %d: tag filter %q=%q", i, r.Params.Get("Tag.1.Key"), r.Params.Get("Tag.1.Value"))
		}
		if hasToken := r.Params.Get("NextToken") != ""; hasToken != (i > 0) {
			t.Errorf("call %d: NextToken %q", i, r.Params.Get("NextToken"))
		}
	}
}

func TestDescribeTaggedEmptyKey(t *testing.T) {
	client, _ := startEmulator(t)
	_, err := client.DescribeTagged(context.Background(), "", "x")
	if e := asError(t, err); e.Class != Permanent {
		t.Errorf("class %v, want Permanent", e.Class)
	}
}

func TestInstanceMapping(t *testing.T) {
	in := emulator.Instance{
		InstanceId: "i-full", RegionId: testRegion, Status: "Running",
		InstanceChargeType: "PrePaid", InternetChargeType: "PayByBandwidth", InstanceNetworkType: "vpc",
		InternetMaxBandwidthOut: 0, InternetMaxBandwidthIn: 10,
		EipAddress:     &emulator.EIP{IpAddress: "8.8.8.8", AllocationId: "eip-1", Bandwidth: 7},
		Tags:           map[string]string{"a": "1", "b": ""},
		ExpiredTime:    "2030-01-02T03:04Z",
		OperationLocks: []string{"security"},
	}
	client, _ := startEmulator(t, in)
	got, err := client.DescribeInstances(context.Background(), []string{"i-full"})
	if err != nil || len(got) != 1 {
		t.Fatalf("DescribeInstances = %v, %v", got, err)
	}
	want := Instance{
		ID: "i-full", Region: testRegion, Status: "Running",
		InstanceChargeType: "PrePaid", InternetChargeType: "PayByBandwidth", NetworkType: "vpc",
		BandwidthOut: 0, BandwidthIn: 10,
		EIPAddress: "8.8.8.8", EIPAllocationID: "eip-1", EIPBandwidth: 7,
		Locks:       []string{"security"},
		ExpiredTime: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC),
		Tags:        map[string]string{"a": "1", "b": ""},
	}
	got[0].PublicIPs = nil // the emulator's choice for EIP instances is not under test
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("got  %+v\nwant %+v", got[0], want)
	}
}

func TestModifyBandwidth(t *testing.T) {
	for _, autoPay := range []bool{true, false} {
		t.Run(fmt.Sprint("AutoPay=", autoPay), func(t *testing.T) {
			client, emu := startEmulator(t, postPaid("i-1", 5))
			res, err := client.ModifyBandwidth(context.Background(), ModifyRequest{
				InstanceID: "i-1", BandwidthOut: 20, AutoPay: autoPay, ClientToken: "tok-1"})
			if err != nil {
				t.Fatalf("ModifyBandwidth: %v", err)
			}
			orders := emu.Orders()
			if len(orders) != 1 || orders[0].OrderId != res.OrderID || orders[0].To != 20 || orders[0].ClientToken != "tok-1" {
				t.Fatalf("orders %+v, result %+v", orders, res)
			}
			if res.Attempts != 1 || res.RequestID == "" {
				t.Errorf("result %+v: want 1 attempt and a RequestId", res)
			}
			reqs := requestsFor(emu, "ModifyInstanceNetworkSpec")
			if got := reqs[0].Params.Get("AutoPay"); got != fmt.Sprint(autoPay) {
				t.Errorf("AutoPay sent as %q, want %v", got, autoPay)
			}
		})
	}
}

// The 5-minute lock after a change answers Throttling: it comes back as
// Locked at once (seconds of retries cannot outwait it; the timer decides
// again), and nothing more is bought.
func TestModifyBandwidthLockedAfterChange(t *testing.T) {
	client, emu := startEmulator(t, postPaid("i-1", 5))
	ctx := context.Background()
	if _, err := client.ModifyBandwidth(ctx, ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, AutoPay: true, ClientToken: "a"}); err != nil {
		t.Fatalf("first change: %v", err)
	}
	_, err := client.ModifyBandwidth(ctx, ModifyRequest{InstanceID: "i-1", BandwidthOut: 20, AutoPay: true, ClientToken: "b"})
	e := asError(t, err)
	if e.Code != "Throttling" || e.Class != Locked || e.Attempts != 1 {
		t.Errorf("got %v (class %v, %d attempts); want Throttling, Locked, 1 attempt", e, e.Class, e.Attempts)
	}
	if n := len(emu.Orders()); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

func TestModifyBandwidthRetries(t *testing.T) {
	tests := []struct {
		name         string
		fault        emulator.Fault
		wantErr      bool
		wantClass    Class
		wantAttempts int
		wantOrders   int
	}{
		{"5xx then success", emulator.Fault{Code: "InternalError", Count: 2}, false, 0, 3, 1},
		{"applied but 500", emulator.Fault{Code: "InternalError", Count: 1, ApplyThenFail: true}, false, 0, 2, 1},
		{"applied but 503 every time", emulator.Fault{Code: "ServiceUnavailable", HTTPStatus: 503, Count: 10, ApplyThenFail: true}, true, Transient, 4, 1},
		{"last order processing", emulator.Fault{Code: "LastOrderProcessing", Count: 1}, false, 0, 2, 1},
		{"the lock is not retried", emulator.Fault{Code: "Throttling", Count: 1}, true, Locked, 1, 0},
		{"rate limiting then success", emulator.Fault{Code: "Throttling.User", Count: 3}, false, 0, 4, 1},
		{"not enough balance", emulator.Fault{Code: "InvalidAccountStatus.NotEnoughBalance", Count: 10}, true, Permanent, 1, 0},
		{"forbidden", emulator.Fault{Code: "Forbidden.RAM", Count: 10}, true, Permanent, 1, 0},
		{"unknown 4xx", emulator.Fault{Code: "Some.NewCode", HTTPStatus: 400, Count: 10}, true, Permanent, 1, 0},
		{"unknown 5xx", emulator.Fault{Code: "Some.NewCode", HTTPStatus: 502, Count: 10}, true, Transient, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, emu := startEmulator(t, postPaid("i-1", 5))
			tt.fault.Action = "ModifyInstanceNetworkSpec"
			emu.Inject(tt.fault)
			res, err := client.ModifyBandwidth(context.Background(), ModifyRequest{
				InstanceID: "i-1", BandwidthOut: 30, AutoPay: true, ClientToken: "token-42"})
			attempts := res.Attempts
			if tt.wantErr {
				e := asError(t, err)
				if e.Class != tt.wantClass || e.Code != tt.fault.Code || e.RequestID == "" {
					t.Errorf("error %v: class %v, want %v with code %s and a RequestId", e, e.Class, tt.wantClass, tt.fault.Code)
				}
				attempts = e.Attempts
			} else if err != nil {
				t.Fatalf("ModifyBandwidth: %v", err)
			}
			if attempts != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", attempts, tt.wantAttempts)
			}
			reqs := requestsFor(emu, "ModifyInstanceNetworkSpec")
			if len(reqs) != tt.wantAttempts {
				t.Errorf("%d requests reached ECS, want %d", len(reqs), tt.wantAttempts)
			}
			nonces := map[string]bool{}
			for _, r := range reqs {
				if tok := r.Params.Get("ClientToken"); tok != "token-42" {
					t.Errorf("attempt sent ClientToken %q, want token-42 on every attempt", tok)
				}
				nonces[r.Params.Get("SignatureNonce")] = true
			}
			if len(nonces) != len(reqs) {
				t.Errorf("%d distinct nonces over %d attempts", len(nonces), len(reqs))
			}
			orders := emu.Orders()
			if len(orders) != tt.wantOrders {
				t.Fatalf("%d orders, want %d", len(orders), tt.wantOrders)
			}
			if !tt.wantErr && orders[0].OrderId != res.OrderID {
				t.Errorf("result order %q, ledger has %q", res.OrderID, orders[0].OrderId)
			}
		})
	}
}

// A hanging endpoint must not hold the call past the ctx deadline.
func TestModifyBandwidthStopsAtDeadline(t *testing.T) {
	client, emu := startEmulatorWith(t, func(c *Config) { c.DeadlineMargin = 200 * time.Millisecond }, postPaid("i-1", 5))
	emu.Inject(emulator.Fault{Action: "ModifyInstanceNetworkSpec", Latency: time.Minute, Count: 10})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()

	_, err := client.ModifyBandwidth(ctx, ModifyRequest{InstanceID: "i-1", BandwidthOut: 30, AutoPay: true, ClientToken: "t"})
	if time.Now().After(deadline) {
		t.Errorf("returned %v after the deadline", time.Since(deadline))
	}
	e := asError(t, err)
	if e.Class != Transient || e.Attempts != 1 {
		t.Errorf("got %v (class %v, %d attempts); want Transient after 1 attempt", e, e.Class, e.Attempts)
	}
	if n := len(emu.Orders()); n != 0 {
		t.Errorf("%d orders, want 0", n)
	}
}

func TestCallHonoursCancel(t *testing.T) {
	client, emu := startEmulatorWith(t, func(c *Config) { c.AttemptTimeout = time.Minute }, postPaid("i-1", 5))
	emu.Inject(emulator.Fault{Action: "DescribeInstances", Latency: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)

	_, err := client.DescribeInstances(ctx, []string{"i-1"})
	e := asError(t, err)
	if !errors.Is(err, context.Canceled) || e.Class != Transient || e.Attempts != 1 {
		t.Errorf("got %v (class %v, %d attempts, cause %v); want a cancelled Transient error after 1 attempt", e, e.Class, e.Attempts, e.Err)
	}
}

func TestCallWithExpiredContext(t *testing.T) {
	client, emu := startEmulator(t, postPaid("i-1", 5))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := client.ModifyBandwidth(ctx, ModifyRequest{InstanceID: "i-1", BandwidthOut: 30, ClientToken: "t"})
	if e := asError(t, err); e.Attempts != 0 || e.Class != Transient || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v (class %v, %d attempts); want Transient with no attempt", e, e.Class, e.Attempts)
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d requests sent with a dead context", n)
	}
}

func TestWriteTags(t *testing.T) {
	client, emu := startEmulator(t, postPaid("i-1", 5))
	emu.Inject(emulator.Fault{Action: "TagResources", Code: "ServiceUnavailable", HTTPStatus: 503})
	tags := map[string]string{"autoscaler:state": `{"v":1}`, "autoscaler:target": "20"}
	requestID, err := client.WriteTags(context.Background(), "i-1", tags)
	if err != nil || requestID == "" {
		t.Fatalf("WriteTags = %q, %v", requestID, err)
	}
	if n := len(requestsFor(emu, "TagResources")); n != 2 {
		t.Errorf("%d TagResources calls, want 2 (one retry)", n)
	}
	got, err := client.DescribeInstances(context.Background(), []string{"i-1"})
	if err != nil || len(got) != 1 {
		t.Fatalf("DescribeInstances = %v, %v", got, err)
	}
	if !reflect.DeepEqual(got[0].Tags, tags) {
		t.Errorf("tags %v, want %v", got[0].Tags, tags)
	}
}

func TestWriteTagsRefusesBadInput(t *testing.T) {
	many := map[string]string{}
	for i := range 21 {
		many[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name string
		id   string
		tags map[string]string
	}{
		{"no instance", "", map[string]string{"a": "b"}},
		{"no tags", "i-1", nil},
		{"too many tags", "i-1", many},
		{"empty key", "i-1", map[string]string{"": "v"}},
		{"long value", "i-1", map[string]string{"k": strings.Repeat("v", 129)}},
	}
	client, emu := startEmulator(t, postPaid("i-1", 5))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.WriteTags(context.Background(), tt.id, tt.tags)
			if e := asError(t, err); e.Class != Permanent || e.Attempts != 0 {
				t.Errorf("got %v (class %v); want a Permanent refusal", e, e.Class)
			}
		})
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d requests sent for refused input", n)
	}
}

// A wrong secret makes ECS echo the string to sign, which holds the
// AccessKeyId and SecurityToken: none of it may reach the error.
func TestSignatureErrorHidesCredentials(t *testing.T) {
	_, emu := startEmulator(t, postPaid("i-1", 5))
	srv := httptest.NewServer(emu)
	defer srv.Close()
	wrong := testCreds
	wrong.AccessKeySecret = "wrongSecretValue"
	client, err := New(Config{Region: testRegion, Endpoint: srv.URL, Credentials: wrong, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.ModifyBandwidth(context.Background(), ModifyRequest{InstanceID: "i-1", BandwidthOut: 9, ClientToken: "t"})
	e := asError(t, err)
	if e.Code != "SignatureDoesNotMatch" && e.Code != "IncompleteSignature" {
		t.Fatalf("code %q, want a signature error", e.Code)
	}
	if e.Class != Permanent || e.Attempts != 1 {
		t.Errorf("class %v after %d attempts, want Permanent after 1", e.Class, e.Attempts)
	}
	assertNoSecrets(t, e.Error(), wrong)
}

func assertNoSecrets(t *testing.T, text string, creds Credentials) {
	t.Helper()
	for _, secret := range []string{creds.AccessKeyID, creds.AccessKeySecret, creds.SecurityToken, "Security", "testAccessKeyId"} {
		if strings.Contains(text, secret) {
			t.Errorf("error text leaks %q: %s", secret, text)
		}
	}
}

// HTTP_PROXY must not divert calls to a loopback endpoint (the SDK applies
// it even to 127.0.0.1 when it owns the transport).
func TestProxyVariablesIgnoredForLoopback(t *testing.T) {
	for _, name := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(name, "http://127.0.0.1:1")
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	client, _ := startEmulator(t, postPaid("i-1", 5))
	if _, err := client.DescribeInstances(context.Background(), []string{"i-1"}); err != nil {
		t.Fatalf("DescribeInstances through a dead proxy setting: %v", err)
	}
}

// With less time left than the margin needs, no attempt may start: the
// caller must still be able to answer.
func TestNoAttemptInsideMargin(t *testing.T) {
	client, emu := startEmulator(t, postPaid("i-1", 5))
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond) // half the default margin
	defer cancel()
	_, err := client.ModifyBandwidth(ctx, ModifyRequest{InstanceID: "i-1", BandwidthOut: 30, ClientToken: "t"})
	if e := asError(t, err); e.Attempts != 0 || e.Class != Transient || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v (class %v, %d attempts); want Transient with no attempt", e, e.Class, e.Attempts)
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d requests sent inside the margin", n)
	}
}
