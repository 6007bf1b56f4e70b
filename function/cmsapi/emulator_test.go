package cmsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

const testRegion = "cn-hangzhou"

var testCreds = Credentials{AccessKeyID: "STS.testAccessKeyId", AccessKeySecret: "testAccessKeySecret", SecurityToken: "CAIS+test/Security=Token"}

var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

type env struct {
	client *Client
	emu    *emulator.Server
	clock  *emulator.ManualClock
	url    string
	t0     time.Time // when the instances were added
}

// newEnv serves the emulator on a clock 10 minutes behind the real time (the
// gateway accepts 15 minutes either way), so tests can advance it by up to 20.
func newEnv(t *testing.T, instances ...emulator.Instance) *env {
	t.Helper()
	clock := emulator.NewManualClock(time.Now().UTC().Add(-10 * time.Minute))
	emu := emulator.New(emulator.Config{Clock: clock.Now, Credentials: []emulator.Credential{{
		AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: testCreds.SecurityToken}}})
	for _, in := range instances {
		emu.AddInstance(in)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	client, err := New(Config{Region: testRegion, Endpoint: srv.URL, Credentials: testCreds, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	return &env{client: client, emu: emu, clock: clock, url: srv.URL, t0: clock.Now()}
}

func instance(id, network string, capMbps int, demand float64) emulator.Instance {
	return emulator.Instance{InstanceId: id, RegionId: testRegion, Status: "Running", InstanceChargeType: "PostPaid",
		InternetChargeType: "PayByTraffic", InstanceNetworkType: network, InternetMaxBandwidthOut: capMbps,
		InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.0.0.1"}, Demand: demand}
}

func (e *env) requests(action string) []emulator.Request {
	var out []emulator.Request
	for _, r := range e.emu.Requests() {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *openapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *openapi.Error", err, err)
	}
	return e
}

// Demand i%7+1 under a cap of 5 Mbit/s: the rate is min of the two.
func wantRate(i int) float64 { return min(float64(i%7+1), 5) * 1e6 }

func TestLastAndListBatch(t *testing.T) {
	for _, n := range []int{1, 60, 120} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var instances []emulator.Instance
			var ids []string
			for i := range n {
				id := fmt.Sprintf("i-%03d", i)
				instances = append(instances, instance(id, "vpc", 5, float64(i%7+1)))
				ids = append(ids, id)
			}
			e := newEnv(t, instances...)
			e.clock.Advance(5 * time.Minute)
			points, err := e.client.Last(context.Background(), MetricVPC, ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(points) != n {
				t.Fatalf("Last: %d points, want %d", len(points), n)
			}
			for i, p := range points {
				if p.InstanceID != ids[i] || p.Average != wantRate(i) || p.Maximum != wantRate(i) || p.Period != time.Minute {
					t.Errorf("Last point %d = %+v, want %s at %v bit/s over 1m", i, p, ids[i], wantRate(i))
				}
			}
			calls := e.requests("DescribeMetricLast")
			if want := (n + 49) / 50; len(calls) != want {
				t.Errorf("%d DescribeMetricLast calls, want %d", len(calls), want)
			}
			for _, r := range calls {
				if got := strings.Count(r.Params.Get("Dimensions"), "instanceId"); got > 50 {
					t.Errorf("a call names %d instances", got)
				}
			}

			points, err = e.client.List(context.Background(), MetricVPC, ids, e.t0, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			// Created within a minute: 5 minutes later, 60 s publish delay:
			// the periods that started after creation and ended by now-60s.
			perInstance := map[string][]Point{}
			for _, p := range points {
				perInstance[p.InstanceID] = append(perInstance[p.InstanceID], p)
			}
			if len(perInstance) != n {
				t.Fatalf("List covers %d instances, want %d", len(perInstance), n)
			}
			for i, id := range ids {
				ps := perInstance[id]
				if len(ps) < 3 || len(ps) > 4 {
					t.Errorf("%s: %d datapoints in 5 minutes, want 3 or 4", id, len(ps))
				}
				for k, p := range ps {
					if p.Average != wantRate(i) || (k > 0 && !p.Start.Equal(ps[k-1].Start.Add(time.Minute))) {
						t.Errorf("%s point %d = %+v", id, k, p)
					}
				}
			}
		})
	}
}

// Without IDs: every instance of the metric's network type, through the
// pages NextToken leads to.
func TestAllInstancesPaged(t *testing.T) {
	var instances []emulator.Instance
	for i := range 120 {
		instances = append(instances, instance(fmt.Sprintf("i-%03d", i), "vpc", 5, float64(i%7+1)))
	}
	instances = append(instances, instance("i-classic", "classic", 5, 3))
	e := newEnv(t, instances...)
	e.clock.Advance(20 * time.Minute)

	last, err := e.client.Last(context.Background(), MetricVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 120 {
		t.Fatalf("Last: %d points, want 120 (the VPC instances)", len(last))
	}
	if r := e.requests("DescribeMetricLast")[0]; r.Params.Get("Dimensions") != "" {
		t.Errorf("Last(nil) sent Dimensions %q", r.Params.Get("Dimensions"))
	}
	list, err := e.client.List(context.Background(), MetricVPC, nil, e.t0, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// 18 or 19 periods of 120 instances: more than one page of 1440.
	if len(list) < 18*120 || len(list) > 19*120 {
		t.Errorf("List: %d points, want 18 or 19 per instance", len(list))
	}
	pages := e.requests("DescribeMetricList")
	if len(pages) != 2 || pages[1].Params.Get("NextToken") == "" {
		t.Errorf("%d DescribeMetricList calls, want 2 with a NextToken on the second", len(pages))
	}
	classic, err := e.client.Last(context.Background(), MetricClassic, nil)
	if err != nil || len(classic) != 1 || classic[0].InstanceID != "i-classic" || classic[0].Average != 3e6 {
		t.Errorf("Last(classic) = %+v, %v; want i-classic at 3 Mbit/s", classic, err)
	}
}

// Raising the cap shows in the datapoints of the periods after the change.
func TestDemandMeetsCapChanges(t *testing.T) {
	e := newEnv(t, instance("i-1", "vpc", 5, 20))
	e.clock.Advance(5 * time.Minute)
	ecs, err := ecsapi.New(ecsapi.Config{Region: testRegion, Endpoint: e.url, Credentials: testCreds, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	changed := e.clock.Now()
	if _, err := ecs.ModifyBandwidth(context.Background(), ecsapi.ModifyRequest{InstanceID: "i-1", BandwidthOut: 30, AutoPay: true, ClientToken: "t1"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	if err := e.emu.SetDemand("i-1", 8); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(4 * time.Minute)

	points, err := e.client.List(context.Background(), MetricVPC, []string{"i-1"}, e.t0, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	demandDrop := changed.Add(5 * time.Minute)
	var before, after, dropped int
	for _, p := range points {
		end := p.Start.Add(p.Period)
		switch {
		case !end.After(changed):
			before++
			if p.Average != 5e6 {
				t.Errorf("before the change: %+v, want 5 Mbit/s (the cap)", p)
			}
		case !p.Start.Before(changed) && !end.After(demandDrop):
			after++
			if p.Average != 20e6 {
				t.Errorf("after the change: %+v, want 20 Mbit/s (the demand)", p)
			}
		case !p.Start.Before(demandDrop):
			dropped++
			if p.Average != 8e6 {
				t.Errorf("after the demand fell: %+v, want 8 Mbit/s", p)
			}
		default:
			// The periods of a change: a time-weighted mean, the larger
			// value as Maximum.
			if p.Average <= min(5e6, 8e6) || p.Average >= 20e6 || p.Maximum != 20e6 {
				t.Errorf("across a change: %+v, want an Average between and Maximum 20 Mbit/s", p)
			}
		}
	}
	if before < 3 || after < 3 || dropped < 2 {
		t.Errorf("%d points before, %d after the change, %d after the demand fell; want some of each: %+v", before, after, dropped, points)
	}
	last, err := e.client.Last(context.Background(), MetricVPC, []string{"i-1"})
	if err != nil || len(last) != 1 || last[0].Average != 8e6 {
		t.Errorf("Last = %+v, %v; want 8 Mbit/s", last, err)
	}
}

func TestErrors(t *testing.T) {
	t.Run("throttled", func(t *testing.T) {
		e := newEnv(t, instance("i-1", "vpc", 5, 1))
		e.emu.Inject(emulator.Fault{Action: "DescribeMetricLast", Code: "Throttling.User", Count: 100})
		_, err := e.client.Last(context.Background(), MetricVPC, []string{"i-1"})
		if ee := asError(t, err); ee.Class != openapi.Transient || ee.Code != "Throttling.User" || ee.Attempts != fastRetry.MaxAttempts || ee.Op != "DescribeMetricLast" {
			t.Errorf("got %v (class %v, %d attempts), want Transient Throttling.User after %d", ee, ee.Class, ee.Attempts, fastRetry.MaxAttempts)
		}
		if n := len(e.requests("DescribeMetricLast")); n != fastRetry.MaxAttempts {
			t.Errorf("%d calls, want %d", n, fastRetry.MaxAttempts)
		}
	})
	for _, tt := range []struct{ action, ram string }{{"DescribeMetricLast", "cms:QueryMetricLast"}, {"DescribeMetricList", "cms:QueryMetricList"}} {
		t.Run("forbidden "+tt.action, func(t *testing.T) {
			e := newEnv(t, instance("i-1", "vpc", 5, 1))
			e.emu.Inject(emulator.Fault{Action: tt.action, Code: "Forbidden.RAM", Count: 100})
			var err error
			if tt.action == "DescribeMetricLast" {
				_, err = e.client.Last(context.Background(), MetricVPC, []string{"i-1"})
			} else {
				_, err = e.client.List(context.Background(), MetricVPC, []string{"i-1"}, e.t0, e.t0.Add(time.Hour))
			}
			ee := asError(t, err)
			if ee.Class != openapi.Permanent || ee.Attempts != 1 || ee.HTTPStatus != 403 {
				t.Errorf("got %v (class %v, %d attempts), want Permanent 403 after 1", ee, ee.Class, ee.Attempts)
			}
			if hint := ee.Hint(); !strings.Contains(hint, tt.ram) {
				t.Errorf("hint %q does not name %s", hint, tt.ram)
			}
		})
	}
	t.Run("bad dimensions parameter", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.client.Last(context.Background(), "NoSuchMetric", []string{"i-1"})
		if ee := asError(t, err); ee.Class != openapi.Permanent || ee.Code != "ResourceNotFound" {
			t.Errorf("got %v, want Permanent ResourceNotFound", ee)
		}
	})
}

func TestWrongSecretRefused(t *testing.T) {
	e := newEnv(t, instance("i-1", "vpc", 5, 1))
	wrong := testCreds
	wrong.AccessKeySecret = "not-the-secret"
	client, err := New(Config{Region: testRegion, Endpoint: e.url, Credentials: wrong, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Last(context.Background(), MetricVPC, []string{"i-1"})
	ee := asError(t, err)
	if ee.Code != "SignatureDoesNotMatch" || ee.Class != openapi.Permanent {
		t.Errorf("got %v, want Permanent SignatureDoesNotMatch", ee)
	}
	for _, secret := range []string{wrong.AccessKeySecret, wrong.SecurityToken, wrong.AccessKeyID} {
		if strings.Contains(ee.Error(), secret) {
			t.Errorf("error %q holds a credential", ee.Error())
		}
	}
}

func TestNewEndpoint(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"": true,
		"https://metrics.cn-hangzhou.aliyuncs.com": true,
		"http://127.0.0.1:8080":                    true,
		"http://metrics.cn-hangzhou.aliyuncs.com":  false,
		"http://10.0.0.1:8080":                     false,
	} {
		_, err := New(Config{Region: testRegion, Endpoint: endpoint, Credentials: testCreds})
		if (err == nil) != ok {
			t.Errorf("New(endpoint %q): error %v, want ok=%v", endpoint, err, ok)
		}
	}
}

// cannedServer answers every call with status and body, counting calls.
func cannedServer(t *testing.T, status int, body string) (*Client, *atomic.Int32) {
	t.Helper()
	url, calls, stop := emulator.Canned(status, body)
	t.Cleanup(stop)
	client, err := New(Config{Region: testRegion, Endpoint: url, Credentials: testCreds, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	return client, calls
}

// The period comes from the answer; Maximum defaults to Average.
func TestPeriodFromAnswer(t *testing.T) {
	client, _ := cannedServer(t, 200, `{"Code":"200","Success":true,"Period":"900","RequestId":"r",
		"Datapoints":"[{\"timestamp\":1548777600000,\"instanceId\":\"i-1\",\"Average\":12.5}]"}`)
	points, err := client.Last(context.Background(), MetricVPC, []string{"i-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := Point{InstanceID: "i-1", Start: time.UnixMilli(1548777600000).UTC(), Period: 15 * time.Minute, Average: 12.5, Maximum: 12.5}
	if len(points) != 1 || points[0] != want {
		t.Errorf("points %+v, want [%+v]", points, want)
	}
}

// Answers that cannot be read become errors, never panics.
func TestMalformedAnswers(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"datapoints not JSON", `{"Code":"200","Success":true,"Period":"60","Datapoints":"[{\"timestamp\":"}`, "Datapoints is not a JSON array"},
		{"datapoints an object", `{"Code":"200","Success":true,"Period":"60","Datapoints":"{\"a\":1}"}`, "Datapoints is not a JSON array"},
		{"timestamp a string", `{"Code":"200","Success":true,"Period":"60","Datapoints":"[{\"timestamp\":\"x\",\"instanceId\":\"i-1\",\"Average\":1}]"}`, "Datapoints is not a JSON array"},
		{"no period", `{"Code":"200","Success":true,"Datapoints":"[{\"timestamp\":1,\"instanceId\":\"i-1\",\"Average\":1}]"}`, "Period"},
		{"success false", `{"Code":"ParameterInvalid","Success":false,"Message":"parse param dimensions error(x)","RequestId":"r"}`, "parse param dimensions error"},
		{"success false without code", `{"Success":false,"Message":"no"}`, "Success.False"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, _ := cannedServer(t, 200, tt.body)
			_, err := client.Last(context.Background(), MetricVPC, []string{"i-1"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one about %q", err, tt.want)
			}
			asError(t, err)
		})
	}
}

// A server that keeps returning NextToken cannot hold the function.
func TestRepeatedNextToken(t *testing.T) {
	client, calls := cannedServer(t, 200, `{"Code":"200","Success":true,"Period":"60","Datapoints":"[]","NextToken":"same"}`)
	_, err := client.Last(context.Background(), MetricVPC, nil)
	if err == nil || !strings.Contains(err.Error(), "same") || calls.Load() != 2 {
		t.Errorf("error %v after %d calls, want one about the repeated NextToken after 2", err, calls.Load())
	}
}
