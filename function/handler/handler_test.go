package handler_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/rs/zerolog"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/handler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// Distinctive credentials: any of them in a log line or an answer is a leak.
// The token uses '+', '/' and '=' so that its URL-escaped forms differ.
const (
	accessKeyID     = "STS.hndlrAkId"
	accessKeySecret = "hndlrSecret-K3ep-0ut-0f-L0gs"
	securityToken   = "CAIShndlrT0ken+Ke3p/0ut=0f+L0gs"
	httpToken       = "hndlrHttpT0ken-Ke3p-0ut-0f-L0gs"
	// wrongSecret is a secret the emulator does not know (SignatureDoesNotMatch).
	wrongSecret = "hndlrWr0ngSecret-Ke3p-0ut-0f-L0gs"

	region     = "cn-hangzhou"
	instanceID = "i-postpaid-traffic"     // the instance the sample events name
	otherID    = "i-bp1demo0000000000002" // an instance the policy does not select

	actionModify = "ModifyInstanceNetworkSpec"
)

// sampleTime is the timestamp of the sample events (1717000000000 ms); the
// handler's clock stands a minute after it, so the samples are fresh alarms
// without rewriting them.
var sampleTime = time.UnixMilli(1717000000000).UTC()

// testPolicy is the bundled table, spelled out so that editing the shipped
// policy does not change what these tests expect: 92.5 % of 10 Mbit/s is
// 9.25 Mbit/s, which the table maps to 20.
const testPolicy = `
table:
  - {upTo: 4,  target: 5}
  - {upTo: 8,  target: 10}
  - {upTo: 16, target: 20}
  - {upTo: 40, target: 50}
  - {upTo: 80, target: 100}
min: 5
max: 100
maxAlarmAge: 1h
instances:
  tag: {key: bandwidth-autoscaler, value: enabled}
`

const (
	startOut  = 10 // the demo instance's cap
	sampleOut = 20 // the cap the sample alarm asks for
)

// fixture is one handler wired to its own emulator, with its logs captured.
type fixture struct {
	t       *testing.T
	ecs     *emulator.Server
	cfg     handler.Config
	h       *handler.Handler
	logs    *bytes.Buffer
	secret  string // the secret invocations carry
	reqSeq  atomic.Int64
	mu      sync.Mutex
	outputs []string // every answer and error text, for the leak check
	clock   *emulator.ManualClock
}

type option func(*fixture)

// at sets the clock of the handler and its emulator.
func at(now time.Time) option {
	return func(f *fixture) { f.clock = emulator.NewManualClock(now) }
}

// withoutHTTPToken leaves HTTP_TOKEN unset.
func withoutHTTPToken(f *fixture) { f.cfg.HTTPToken = "unset" }

// withSecret makes invocations carry secret instead of the one ECS knows.
func withSecret(secret string) option { return func(f *fixture) { f.secret = secret } }

func newFixture(t *testing.T, opts ...option) *fixture {
	t.Helper()
	p, err := policy.Parse([]byte(testPolicy))
	if err != nil {
		t.Fatalf("test policy: %v", err)
	}
	// zerolog writes each event with one Write; SyncWriter keeps events of
	// concurrent invocations whole.
	logs := &bytes.Buffer{}
	f := &fixture{t: t, logs: logs, secret: accessKeySecret}
	at(sampleTime.Add(time.Minute))(f)
	for _, o := range opts {
		o(f)
	}
	now := func() time.Time { return f.clock.Now() }
	ecs := emulator.New(emulator.Config{Clock: now, Credentials: []emulator.Credential{{
		AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret, SecurityToken: securityToken,
	}}})
	ecs.AddInstance(demoInstance(instanceID, map[string]string{"bandwidth-autoscaler": "enabled"}))
	ecs.AddInstance(demoInstance(otherID, nil))
	srv := httptest.NewServer(ecs)
	t.Cleanup(srv.Close)
	f.ecs = ecs
	cfg := handler.Config{
		Policy:      p,
		Endpoint:    srv.URL,
		CMSEndpoint: srv.URL,
		HTTPToken:   httpToken,
		Retry:       ecsapi.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		Log:         zerolog.New(zerolog.SyncWriter(logs)),
		Clock:       now,
	}
	if f.cfg.HTTPToken == "unset" {
		cfg.HTTPToken = ""
	}
	f.cfg = cfg
	f.h = handler.New(f.cfg)
	t.Cleanup(f.checkNoSecrets)
	return f
}

func demoInstance(id string, tags map[string]string) emulator.Instance {
	return emulator.Instance{
		InstanceId: id, RegionId: region, Status: "Running",
		InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc",
		InternetMaxBandwidthOut: startOut, InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.96.1.2"},
		Tags: tags, Demand: 9.25, // what the sample alarm reports: 92.5 % of 10
	}
}

// invocation is what one Invoke gave back.
type invocation struct {
	requestID string
	answer    json.RawMessage
	err       error
}

// invoke calls the handler as FC does: the context carries this
// invocation's request ID, region and STS credentials.
func (f *fixture) invoke(ctx context.Context, payload []byte) invocation {
	f.t.Helper()
	id := fmt.Sprintf("fc-req-%d", f.reqSeq.Add(1))
	// A fresh FcContext per invocation: fccontext.FromContext writes to it.
	ctx = fccontext.NewContext(ctx, &fccontext.FcContext{
		RequestID: id, Region: region,
		Credentials: fccontext.Credentials{AccessKeyId: accessKeyID, AccessKeySecret: f.secret, SecurityToken: securityToken},
	})
	answer, err := f.h.Invoke(ctx, payload)
	f.mu.Lock()
	f.outputs = append(f.outputs, string(answer))
	if err != nil {
		f.outputs = append(f.outputs, err.Error())
	}
	f.mu.Unlock()
	return invocation{requestID: id, answer: answer, err: err}
}

// checkNoSecrets runs after every test: no credential and no HTTP token in
// the logs, the answers or the errors, in any encoding a URL or a string to
// sign gives them.
func (f *fixture) checkNoSecrets() {
	f.mu.Lock()
	text := f.logs.String() + "\n" + strings.Join(f.outputs, "\n")
	f.mu.Unlock()
	for name, secret := range map[string]string{
		"the AccessKeySecret": accessKeySecret, "the wrong secret": wrongSecret,
		"the SecurityToken": securityToken, "the HTTP token": httpToken,
	} {
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.QueryEscape(url.QueryEscape(secret))} {
			if strings.Contains(text, form) {
				f.t.Errorf("%s (as %q) leaked into the logs or answers", name, form)
			}
		}
	}
}

// modifies counts the ModifyInstanceNetworkSpec calls that reached ECS.
func (f *fixture) modifies() int {
	n := 0
	for _, r := range f.ecs.Requests() {
		if r.Action == actionModify {
			n++
		}
	}
	return n
}

// attempt is the target of the change the instance's state tag records as
// asked for and not yet folded into its cap (0: none).
func (f *fixture) attempt(id string) int {
	f.t.Helper()
	in, ok := f.ecs.Instance(id)
	if !ok {
		f.t.Fatalf("instance %s is gone", id)
	}
	rec, err := state.Decode(in.Tags)
	if err != nil {
		f.t.Fatalf("state tag of %s: %v", id, err)
	}
	if rec.Attempt == nil {
		return 0
	}
	return rec.Attempt.To
}

func (f *fixture) bandwidth(id string) int {
	in, _ := f.ecs.Instance(id)
	return in.InternetMaxBandwidthOut
}

// logEvents parses every captured log line; each must be one JSON object.
func (f *fixture) logEvents() []map[string]any {
	f.t.Helper()
	f.mu.Lock()
	raw := f.logs.String()
	f.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			f.t.Fatalf("log line is not one JSON event: %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// decisions are the log events of decisions.
func (f *fixture) decisions() []map[string]any {
	var out []map[string]any
	for _, ev := range f.logEvents() {
		if ev["message"] == "decision" {
			out = append(out, ev)
		}
	}
	return out
}

// readEvent reads a sample payload from events/.
func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpEvent returns the HTTP trigger sample with its token set to token
// ("" removes the query) and, when body is not nil, that body.
func httpEvent(t *testing.T, token string, body []byte) []byte {
	t.Helper()
	var ev events.HTTPTriggerEvent
	if err := json.Unmarshal(readEvent(t, "callback-http.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.QueryParameters = nil
	if token != "" {
		ev.QueryParameters = &map[string]string{"token": token}
	}
	if body != nil {
		s, encoded := string(body), false
		ev.Body, ev.IsBase64Encoded = &s, &encoded
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// httpEventBase64 is httpEvent with body sent base64-encoded, byte for byte.
func httpEventBase64(t *testing.T, token string, body []byte) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(httpEvent(t, token, nil), &ev); err != nil {
		t.Fatal(err)
	}
	ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(body), true
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// asHTTP decodes an answer as an HTTP trigger response and its body.
func asHTTP(t *testing.T, inv invocation) (events.HTTPTriggerResponse, handler.Response) {
	t.Helper()
	if inv.err != nil {
		t.Fatalf("HTTP delivery returned an error instead of an answer: %v", inv.err)
	}
	var resp events.HTTPTriggerResponse
	if err := json.Unmarshal(inv.answer, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("answer %s is not an HTTP trigger response (%v)", inv.answer, err)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body handler.Response
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("HTTP body %q is not JSON: %v", resp.Body, err)
	}
	return resp, body
}

// asResults decodes a non-HTTP answer.
func asResults(t *testing.T, inv invocation) handler.Response {
	t.Helper()
	if inv.err != nil {
		t.Fatalf("Invoke: %v", inv.err)
	}
	var r handler.Response
	if err := json.Unmarshal(inv.answer, &r); err != nil {
		t.Fatalf("answer %s: %v", inv.answer, err)
	}
	return r
}

// httpBodyError is the "error" of a refusal's body.
func httpBodyError(t *testing.T, resp events.HTTPTriggerResponse) string {
	t.Helper()
	var body struct{ Error string }
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("HTTP body %q: %v", resp.Body, err)
	}
	return body.Error
}

func onlyResult(t *testing.T, rs []scaler.Result) scaler.Result {
	t.Helper()
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(rs), rs)
	}
	return rs[0]
}

func TestHTTPRefusedWithoutTheRightToken(t *testing.T) {
	manual := []byte(`{"instanceId":"` + instanceID + `","regionId":"cn-hangzhou","bandwidthOut":100}`)
	cases := []struct {
		name    string
		token   string
		body    []byte
		options []option
	}{
		{"missing token", "", nil, nil},
		{"wrong token", "change-me", nil, nil},
		{"token as a prefix", httpToken[:len(httpToken)-1], nil, nil},
		{"token right but HTTP_TOKEN unset", httpToken, nil, []option{withoutHTTPToken}},
		{"empty token and HTTP_TOKEN unset", "", nil, []option{withoutHTTPToken}},
		// A forged manual invocation would buy 100 Mbit/s at once.
		{"forged manual invocation", "", manual, nil},
		{"forged manual invocation, wrong token", "guess", manual, nil},
		// The token is checked before the body, so a bad body tells nothing.
		{"undecodable body without token", "", []byte("{garbage"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.options...)
			resp, _ := asHTTP(t, f.invoke(context.Background(), httpEvent(t, tc.token, tc.body)))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401; body %s", resp.StatusCode, resp.Body)
			}
			if msg := httpBodyError(t, resp); !strings.Contains(msg, "token") {
				t.Errorf("401 body %q does not say the token is the problem", msg)
			}
			if reqs := f.ecs.Requests(); len(reqs) != 0 {
				t.Errorf("%d ECS requests for a refused delivery, want none: %+v", len(reqs), reqs)
			}
		})
	}
}

func TestHTTPBadBodyWithTheRightToken(t *testing.T) {
	cases := []struct {
		name string
		body string
		want string // in the 400's error
	}{
		{"broken JSON", `{"alertState":`, "not valid JSON"},
		{"empty", " ", "empty"},
		{"JSON number", "42", "not an object"},
		{"unknown shape", `{"hello":"world"}`, "no known shape"},
		{"nested HTTP event", string(httpEvent(t, httpToken, nil)), "HTTP trigger event"},
		{"bad alert state", "alertState=MAYBE&curValue=92.5&dimensions=%7BinstanceId%3Di-x%7D&metricName=VPC_PublicIP_InternetOutRate_Percent&timestamp=1717000000000", "MAYBE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			resp, _ := asHTTP(t, f.invoke(context.Background(), httpEvent(t, httpToken, []byte(tc.body))))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", resp.StatusCode, resp.Body)
			}
			if msg := httpBodyError(t, resp); !strings.Contains(msg, tc.want) {
				t.Errorf("400 error %q does not name %q", msg, tc.want)
			}
			if reqs := f.ecs.Requests(); len(reqs) != 0 {
				t.Errorf("%d ECS requests for an undecodable body, want none", len(reqs))
			}
		})
	}
}

func TestHTTPDeliveryScales(t *testing.T) {
	withToken := func(t *testing.T, name string) []byte {
		var ev map[string]any
		if err := json.Unmarshal(readEvent(t, name), &ev); err != nil {
			t.Fatal(err)
		}
		ev["queryParameters"] = map[string]string{"token": httpToken}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{"callback-http.json", "callback-http-base64.json"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			resp, body := asHTTP(t, f.invoke(context.Background(), withToken(t, name)))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", resp.StatusCode, resp.Body)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(resp.Body), &raw); err != nil || raw["results"] == nil {
				t.Fatalf("body %s has no results (%v)", resp.Body, err)
			}
			r := onlyResult(t, body.Results)
			if r.InstanceID != instanceID || r.Action != "scaled" || r.From != startOut || r.To != sampleOut || r.OrderID == "" {
				t.Errorf("result %+v, want %s scaled %d -> %d with an order", r, instanceID, startOut, sampleOut)
			}
			orders := f.ecs.Orders()
			if len(orders) != 1 || orders[0].OrderId != r.OrderID || orders[0].To != sampleOut || !orders[0].Paid {
				t.Errorf("orders %+v, want one paid order %s to %d", orders, r.OrderID, sampleOut)
			}

			// CloudMonitor's retry of the same alarm buys nothing more.
			resp, body = asHTTP(t, f.invoke(context.Background(), withToken(t, name)))
			if r := onlyResult(t, body.Results); resp.StatusCode != http.StatusOK || r.Action != "duplicate" {
				t.Errorf("redelivery: status %d, result %+v; want 200 duplicate", resp.StatusCode, r)
			}
			if n := len(f.ecs.Orders()); n != 1 {
				t.Errorf("%d orders after a redelivery, want 1", n)
			}
		})
	}
}

// A change ECS fails to make for now is left to the timer, the control
// loop: the answer is 200 (a redelivery would only add load) and the record
// of the attempt is kept, so the retry sends the same token.
func TestHTTPTransientChangeFailureDefersToTheLoop(t *testing.T) {
	f := newFixture(t)
	f.ecs.Inject(emulator.Fault{Action: actionModify, Code: "InternalError", Count: 1000})
	resp, body := asHTTP(t, f.invoke(context.Background(), httpEvent(t, httpToken, nil)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", resp.StatusCode, resp.Body)
	}
	if r := onlyResult(t, body.Results); r.Action != "deferred" || r.ErrorCode != "InternalError" || !strings.Contains(r.Reason, "next timer run") {
		t.Errorf("result %+v, want deferred with InternalError, left to the timer", r)
	}
	if got := f.attempt(instanceID); got != sampleOut {
		t.Errorf("recorded attempt %d after a transient failure, want %d kept", got, sampleOut)
	}
	if n := len(f.ecs.Orders()); n != 0 {
		t.Errorf("%d orders, want none", n)
	}
}

// A failure to read the instances answers 503, so that CloudMonitor
// retries: every delivery only makes the function look again.
func TestHTTPTransientReadFailureAnswers503(t *testing.T) {
	f := newFixture(t)
	f.ecs.Inject(emulator.Fault{Action: "DescribeInstances", Code: "InternalError", Count: 1000})
	resp, body := asHTTP(t, f.invoke(context.Background(), httpEvent(t, httpToken, nil)))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.Error, "InternalError") {
		t.Fatalf("status %d, error %q; want 503 naming InternalError", resp.StatusCode, body.Error)
	}
}

// A hanging ECS must not make FC kill the invocation: the handler answers
// before the deadline, saying what failed.
func TestHangingECSAnswersBeforeTheDeadline(t *testing.T) {
	cases := []struct {
		name    string
		payload func(t *testing.T) []byte
		http    bool
	}{
		{"HTTP", func(t *testing.T) []byte { return httpEvent(t, httpToken, nil) }, true},
		{"callback", func(t *testing.T) []byte { return readEvent(t, "callback.json") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.ecs.Inject(emulator.Fault{Latency: time.Hour, Count: 1000})
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			inv := f.invoke(ctx, tc.payload(t))
			if ctx.Err() != nil {
				t.Fatalf("the answer came after the deadline: %s / %v", inv.answer, inv.err)
			}
			if tc.http {
				resp, body := asHTTP(t, inv)
				if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.Error, "DescribeInstances") {
					t.Errorf("status %d, error %q; want 503 naming the ECS call that failed", resp.StatusCode, body.Error)
				}
				if r := onlyResult(t, body.Results); r.Action != "failed" || r.InstanceID != instanceID {
					t.Errorf("result %+v, want failed for %s", r, instanceID)
				}
			} else if inv.err == nil || !strings.Contains(inv.err.Error(), "DescribeInstances") {
				// An error makes FC redeliver the event.
				t.Errorf("Invoke = %s, %v; want an error naming the ECS call that failed", inv.answer, inv.err)
			}
			if n := len(f.ecs.Orders()); n != 0 {
				t.Errorf("%d orders, want none", n)
			}
		})
	}
}

func TestOversizedPayloadRefused(t *testing.T) {
	f := newFixture(t)
	// A valid callback padded past the limit: only the size is wrong.
	payload := readEvent(t, "callback.json")
	payload = append(payload, bytes.Repeat([]byte(" "), alarm.MaxPayload+1-len(payload))...)
	r := onlyResult(t, asResults(t, f.invoke(context.Background(), payload)).Results)
	if r.Action != "failed" || !strings.Contains(r.Reason, strconv.Itoa(alarm.MaxPayload)) {
		t.Errorf("result %+v, want failed naming the %d-byte limit", r, alarm.MaxPayload)
	}
	if reqs := f.ecs.Requests(); len(reqs) != 0 {
		t.Errorf("%d ECS requests for an oversized payload, want none", len(reqs))
	}
}

// An oversized HTTP delivery is still an HTTP request: it must get an HTTP
// answer (FC passes any other return value through as a 200), refusing it.
// Fails until the handler answers HTTP envelopes that Decode refuses for
// size (handler.go Invoke: d is nil, so the non-HTTP branch answers).
func TestOversizedHTTPDeliveryGetsAnHTTPRefusal(t *testing.T) {
	for _, token := range []string{"", httpToken} {
		t.Run("token="+strconv.FormatBool(token != ""), func(t *testing.T) {
			f := newFixture(t)
			body := bytes.Repeat([]byte("a"), alarm.MaxPayload)
			inv := f.invoke(context.Background(), httpEvent(t, token, body))
			resp, _ := asHTTP(t, inv)
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 401 or 413; body %s", resp.StatusCode, resp.Body)
			}
			if reqs := f.ecs.Requests(); len(reqs) != 0 {
				t.Errorf("%d ECS requests for an oversized payload, want none", len(reqs))
			}
		})
	}
}

// A replayed alarm (a late redelivery, or a captured callback sent again)
// must not change anything once older than maxAlarmAge.
func TestReplayedOldAlarmIgnored(t *testing.T) {
	cases := []struct {
		name    string
		payload func(t *testing.T) []byte
		http    bool
	}{
		{"callback", func(t *testing.T) []byte { return readEvent(t, "callback.json") }, false},
		{"HTTP", func(t *testing.T) []byte { return httpEvent(t, httpToken, nil) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, at(sampleTime.Add(time.Hour+time.Minute)))
			inv := f.invoke(context.Background(), tc.payload(t))
			var results []scaler.Result
			if tc.http {
				resp, body := asHTTP(t, inv)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d, want 200 (nothing to retry)", resp.StatusCode)
				}
				results = body.Results
			} else {
				results = asResults(t, inv).Results
			}
			// A stale alarm only wakes the function: its value is not used.
			if r := onlyResult(t, results); r.Action != "unchanged" || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "its value is not used") {
				t.Errorf("result %+v, want unchanged, its stale value not used", r)
			}
			if n := f.modifies(); n != 0 || f.bandwidth(instanceID) != startOut {
				t.Errorf("%d Modify calls, cap %d; want none and %d", n, f.bandwidth(instanceID), startOut)
			}
		})
	}
}

// Hostile payloads never panic and never reach ECS: outside HTTP they
// answer a failed result, inside an HTTP delivery with the token a 400.
func TestHostilePayloads(t *testing.T) {
	deep := func(open, middle, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + middle + strings.Repeat(close, n))
	}
	cases := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"whitespace", []byte(" \n\t ")},
		{"garbage", []byte("\x00\x01garbage\x7f")},
		{"null", []byte("null")},
		{"JSON string", []byte(`"alertState=ALERT"`)},
		{"non-UTF8", []byte("\xff\xfe\xfd\x80")},
		{"non-UTF8 instance ID", []byte(`{"alertState":"ALERT","curValue":"92.5","dimensions":"{instanceId=i-\xff\xfe}","metricName":"VPC_PublicIP_InternetOutRate_Percent","timestamp":"1717000000000"}`)},
		{"non-UTF8 form", []byte("alertState=ALERT&dimensions=%7BinstanceId%3Di-%FF%7D&curValue=92.5&metricName=VPC_PublicIP_InternetOutRate_Percent&timestamp=1717000000000")},
		{"deep lists", deep("[", "", "]", 50000)},
		{"deep objects", deep(`{"a":`, "1", "}", 20000)},
		{"deep eventbridge data", deep(`[{"specversion":"1.0","data":`, "1", "}]", 5000)},
		{"empty list", []byte("[]")},
		{"too many alarms", []byte("[" + strings.TrimSuffix(strings.Repeat(`{"action":"reconcile"},`, alarm.MaxAlarms+1), ",") + "]")},
		{"reconcile inside a list", []byte(`[{"action":"reconcile"}]`)},
		{"unknown action", []byte(`{"action":"buy-everything"}`)},
		{"manual without instance", []byte(`{"bandwidthOut":100}`)},
		{"manual negative bandwidth", []byte(`{"instanceId":"` + instanceID + `","bandwidthOut":-1}`)},
		{"manual huge bandwidth", []byte(`{"instanceId":"` + instanceID + `","bandwidthOut":1e300}`)},
		{"huge curValue", []byte(`{"alertState":"ALERT","curValue":"1e999","dimensions":"{instanceId=` + instanceID + `}","metricName":"VPC_PublicIP_InternetOutRate_Percent","timestamp":"1717000000000"}`)},
		{"NaN curValue", []byte(`{"alertState":"ALERT","curValue":"NaN","dimensions":"{instanceId=` + instanceID + `}","metricName":"VPC_PublicIP_InternetOutRate_Percent","timestamp":"1717000000000"}`)},
		{"long instance ID", []byte(`{"instanceId":"i-` + strings.Repeat("x", 10000) + `","bandwidthOut":20}`)},
		{"bad base64 HTTP body", []byte(`{"body":"!!!","isBase64Encoded":true,"queryParameters":{"token":"` + httpToken + `"},"requestContext":{}}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			// Panics fail the test by themselves; the deferred check names the case.
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic: %v", p)
				}
			}()
			inv := f.invoke(context.Background(), tc.payload)
			if strings.Contains(string(inv.answer), `"statusCode"`) {
				// Inputs that look like an HTTP event get an HTTP answer.
				if resp, _ := asHTTP(t, inv); resp.StatusCode != http.StatusBadRequest {
					t.Errorf("status %d, want 400; body %s", resp.StatusCode, resp.Body)
				}
			} else if r := onlyResult(t, asResults(t, inv).Results); r.Action != "failed" || r.Reason == "" {
				t.Errorf("result %+v, want failed with a reason", r)
			}
			if len(tc.payload) <= alarm.MaxPayload/2 {
				// The same bytes as the body of an authenticated HTTP
				// delivery (base64, as FC passes bodies that are not text): 400.
				resp, _ := asHTTP(t, f.invoke(context.Background(), httpEventBase64(t, httpToken, tc.payload)))
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("as HTTP body: status %d, want 400; body %s", resp.StatusCode, resp.Body)
				}
			}
			if reqs := f.ecs.Requests(); len(reqs) != 0 {
				t.Errorf("%d ECS requests for a hostile payload, want none: %+v", len(reqs), reqs)
			}
		})
	}
}

// A region that is no region must not become an ECS endpoint or request.
func TestHostileRegionFailsWithoutECSCall(t *testing.T) {
	f := newFixture(t)
	payload := []byte(`{"instanceId":"` + instanceID + `","regionId":"evil.example.com/x?","bandwidthOut":20}`)
	r := onlyResult(t, asResults(t, f.invoke(context.Background(), payload)).Results)
	if r.Action != "failed" {
		t.Errorf("result %+v, want failed", r)
	}
	if reqs := f.ecs.Requests(); len(reqs) != 0 {
		t.Errorf("%d ECS requests for a hostile region, want none", len(reqs))
	}
}

func TestCallbackDelivery(t *testing.T) {
	f := newFixture(t)
	r := onlyResult(t, asResults(t, f.invoke(context.Background(), readEvent(t, "callback.json"))).Results)
	if r.Action != "scaled" || r.From != startOut || r.To != sampleOut || r.OrderID == "" || r.RequestID == "" {
		t.Fatalf("result %+v, want scaled %d -> %d with order and request IDs", r, startOut, sampleOut)
	}
	if orders := f.ecs.Orders(); len(orders) != 1 || orders[0].OrderId != r.OrderID || f.bandwidth(instanceID) != sampleOut {
		t.Errorf("orders %+v, cap %d; want the one order %s and %d", orders, f.bandwidth(instanceID), r.OrderID, sampleOut)
	}
}

func TestNonHTTPTransientReadFailureReturnsAnError(t *testing.T) {
	f := newFixture(t)
	f.ecs.Inject(emulator.Fault{Action: "DescribeInstances", Code: "InternalError", Count: 1000})
	inv := f.invoke(context.Background(), readEvent(t, "callback.json"))
	if inv.err == nil || !strings.Contains(inv.err.Error(), "InternalError") {
		t.Fatalf("Invoke = %s, %v; want an error naming InternalError so that FC redelivers", inv.answer, inv.err)
	}
	if n := len(f.ecs.Orders()); n != 0 {
		t.Errorf("%d orders, want none", n)
	}
}

// After ECS recovers, the timer makes the change once, with the recorded
// attempt's token; redeliveries and further timer runs buy nothing more.
func TestTimerMakesTheChangeAfterATransientFailure(t *testing.T) {
	for _, name := range []string{"HTTP", "callback"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			payload := readEvent(t, "callback.json")
			if name == "HTTP" {
				payload = httpEvent(t, httpToken, nil)
			}
			f.ecs.Inject(emulator.Fault{Action: actionModify, Code: "InternalError", Count: 1000})
			f.invoke(context.Background(), payload) // asserted by the tests above
			f.ecs.ClearFaults()
			f.clock.Advance(4 * time.Minute) // CloudMonitor has datapoints
			timer := []byte(`{"action":"reconcile"}`)
			r := onlyResult(t, asResults(t, f.invoke(context.Background(), timer)).Results)
			if r.Action != "scaled" || r.To != sampleOut {
				t.Errorf("timer: %+v, want scaled to %d", r, sampleOut)
			}
			f.clock.Advance(time.Minute)
			f.invoke(context.Background(), timer)
			f.invoke(context.Background(), payload)
			if orders := f.ecs.Orders(); len(orders) != 1 || f.bandwidth(instanceID) != sampleOut {
				t.Errorf("orders %+v, cap %d; want one order and %d", orders, f.bandwidth(instanceID), sampleOut)
			}
		})
	}
}

// ECS applied the change but answered an error: the redelivery must see the
// change in force and buy nothing more.
func TestRedeliveryAfterAppliedFailureBuysOnce(t *testing.T) {
	f := newFixture(t)
	f.ecs.Inject(emulator.Fault{Action: actionModify, Code: "InternalError", HTTPStatus: 500, ApplyThenFail: true, Count: 1000})
	if r := onlyResult(t, asResults(t, f.invoke(context.Background(), readEvent(t, "callback.json"))).Results); r.Action != "deferred" {
		t.Fatalf("result %+v, want deferred", r)
	}
	f.ecs.ClearFaults()
	for i := range 2 {
		r := onlyResult(t, asResults(t, f.invoke(context.Background(), readEvent(t, "callback.json"))).Results)
		if r.Action == "scaled" || r.Action == "failed" {
			t.Errorf("redelivery %d: %+v, want no new change", i+1, r)
		}
	}
	if orders := f.ecs.Orders(); len(orders) != 1 || f.bandwidth(instanceID) != sampleOut {
		t.Errorf("orders %+v, cap %d; want the one order ECS made and %d", orders, f.bandwidth(instanceID), sampleOut)
	}
}

func TestNonHTTPPermanentFailureIsAResult(t *testing.T) {
	cases := []struct {
		name  string
		fault emulator.Fault
		code  string
	}{
		{"Modify refused", emulator.Fault{Action: actionModify, Code: "InstanceLockedForSecurity"}, "InstanceLockedForSecurity"},
		{"not enough balance", emulator.Fault{Action: actionModify, Code: "InvalidAccountStatus.NotEnoughBalance"}, "InvalidAccountStatus.NotEnoughBalance"},
		{"no RAM grant to read", emulator.Fault{Action: "DescribeInstances", Code: "Forbidden.RAM", HTTPStatus: 403}, "Forbidden.RAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.ecs.Inject(tc.fault)
			inv := f.invoke(context.Background(), readEvent(t, "callback.json"))
			r := onlyResult(t, asResults(t, inv).Results)
			if r.Action != "failed" || r.ErrorCode != tc.code || !strings.Contains(r.Reason, tc.code) {
				t.Errorf("result %+v, want failed with %s", r, tc.code)
			}
			if n := len(f.ecs.Orders()); n != 0 {
				t.Errorf("%d orders, want none", n)
			}
		})
	}
}

// The handler's credentials carry a wrong secret: ECS answers
// SignatureDoesNotMatch with the string to sign, which holds the token.
func TestSignatureMismatchIsScrubbed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload func(t *testing.T) []byte
	}{
		{"callback", func(t *testing.T) []byte { return readEvent(t, "callback.json") }},
		{"HTTP", func(t *testing.T) []byte { return httpEvent(t, httpToken, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withSecret(wrongSecret))
			inv := f.invoke(context.Background(), tc.payload(t))
			var results []scaler.Result
			if strings.Contains(string(inv.answer), `"statusCode"`) {
				_, body := asHTTP(t, inv)
				results = body.Results
			} else {
				results = asResults(t, inv).Results
			}
			if r := onlyResult(t, results); r.Action != "failed" || r.ErrorCode != "SignatureDoesNotMatch" || !strings.Contains(r.Reason, "AccessKeySecret") {
				t.Errorf("result %+v, want failed with SignatureDoesNotMatch and the AccessKeySecret hint", r)
			}
			var codes []string
			for _, r := range f.ecs.Requests() {
				codes = append(codes, r.Code)
			}
			if len(codes) == 0 || codes[0] != "SignatureDoesNotMatch" {
				t.Errorf("ECS answered %v, want SignatureDoesNotMatch (the case this test is about)", codes)
			}
			// checkNoSecrets (cleanup) asserts the echo was scrubbed.
		})
	}
}

func TestOneLogEventPerDecision(t *testing.T) {
	f := newFixture(t)
	var cb map[string]any
	if err := json.Unmarshal(readEvent(t, "callback.json"), &cb); err != nil {
		t.Fatal(err)
	}
	other := map[string]any{}
	for k, v := range cb {
		other[k] = v
	}
	other["dimensions"] = "{userId=1234567890123456, instanceId=" + otherID + ", ip=47.96.1.3}"
	payload, err := json.Marshal([]any{cb, other})
	if err != nil {
		t.Fatal(err)
	}
	inv := f.invoke(context.Background(), payload)
	results := asResults(t, inv).Results
	if len(results) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(results), results)
	}
	decisions := f.decisions()
	if len(decisions) != len(results) {
		t.Fatalf("%d decision events for %d decisions: %v", len(decisions), len(results), decisions)
	}
	var modifyRequestID string
	for _, r := range f.ecs.Requests() {
		if r.Action == actionModify && r.Code == "" {
			modifyRequestID = r.RequestId
		}
	}
	orders := f.ecs.Orders()
	if len(orders) != 1 || modifyRequestID == "" {
		t.Fatalf("orders %+v, Modify request %q; want one change", orders, modifyRequestID)
	}
	want := map[string]map[string]any{
		instanceID: {"action": "scaled", "from": float64(startOut), "to": float64(sampleOut), "orderId": orders[0].OrderId, "requestId": modifyRequestID},
		otherID:    {"action": "ignored", "from": float64(startOut), "to": float64(startOut)},
	}
	for _, ev := range decisions {
		id, _ := ev["instanceId"].(string)
		w, ok := want[id]
		if !ok {
			t.Errorf("decision event for unexpected instance %q: %v", id, ev)
			continue
		}
		delete(want, id)
		if ev["fcRequestId"] != inv.requestID {
			t.Errorf("%s: fcRequestId %v, want %s", id, ev["fcRequestId"], inv.requestID)
		}
		if reason, _ := ev["reason"].(string); reason == "" {
			t.Errorf("%s: decision event without a reason: %v", id, ev)
		}
		for k, v := range w {
			if ev[k] != v {
				t.Errorf("%s: %s = %v, want %v", id, k, ev[k], v)
			}
		}
		if w["orderId"] == nil && ev["orderId"] != nil {
			t.Errorf("%s: orderId %v on a decision without change", id, ev["orderId"])
		}
	}
	for id := range want {
		t.Errorf("no decision event for %s", id)
	}
}

// Two FC instances (two handlers) racing on the same alarm buy once.
func TestConcurrentDeliveriesBuyOnce(t *testing.T) {
	f := newFixture(t)
	second := handler.New(f.cfg)
	payload := readEvent(t, "callback.json")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			h := f.h
			if i%2 == 1 {
				h = second
			}
			ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: fmt.Sprintf("race-%d", i), Region: region,
				Credentials: fccontext.Credentials{AccessKeyId: accessKeyID, AccessKeySecret: accessKeySecret, SecurityToken: securityToken}})
			answer, err := h.Invoke(ctx, payload)
			f.mu.Lock()
			f.outputs = append(f.outputs, string(answer))
			f.mu.Unlock()
			if err != nil {
				t.Errorf("invocation %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	orders := f.ecs.Orders()
	if len(orders) != 1 || orders[0].To != sampleOut || f.bandwidth(instanceID) != sampleOut {
		t.Errorf("orders %+v, cap %d; want exactly one order to %d", orders, f.bandwidth(instanceID), sampleOut)
	}
}

// {"action":"status"} answers one row per selected instance with the dry
// decision of the next timer run, and changes nothing.
func TestStatusAction(t *testing.T) {
	f := newFixture(t)
	inv := f.invoke(context.Background(), readEvent(t, "status.json"))
	if inv.err != nil {
		t.Fatal(inv.err)
	}
	var got handler.StatusResponse
	if err := json.Unmarshal(inv.answer, &got); err != nil {
		t.Fatalf("answer %s: %v", inv.answer, err)
	}
	if len(got.Status) != 1 || got.Status[0].InstanceID != instanceID || got.Status[0].Cap != startOut || got.Status[0].Next.Reason == "" {
		t.Fatalf("status %s, want one row for %s at %d with a next step", inv.answer, instanceID, startOut)
	}
	if f.modifies() != 0 || len(f.ecs.Orders()) != 0 {
		t.Errorf("status changed something: %d modifies", f.modifies())
	}
	for _, r := range f.ecs.Requests() {
		if r.Action == "TagResources" {
			t.Errorf("status wrote a tag")
		}
	}
}
