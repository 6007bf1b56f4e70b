package vpcapi_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

var creds = vpcapi.Credentials{AccessKeyID: "STS.vpcTestKey", AccessKeySecret: "vpc-test-secret", SecurityToken: "vpc-test-token"}

func setup(t *testing.T) (*emulator.Server, *vpcapi.Client) {
	t.Helper()
	emu := emulator.New(emulator.Config{Credentials: []emulator.Credential{{AccessKeyID: creds.AccessKeyID, AccessKeySecret: creds.AccessKeySecret, SecurityToken: creds.SecurityToken}}})
	emu.AddInstance(emulator.Instance{InstanceId: "i-a", RegionId: "cn-hangzhou", Status: "Running", InstanceChargeType: "PostPaid",
		InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc",
		EipAddress: &emulator.EIP{IpAddress: "47.1.1.1", AllocationId: "eip-a", Bandwidth: 5, InternetChargeType: "PayByBandwidth"}})
	emu.AddInstance(emulator.Instance{InstanceId: "i-b", RegionId: "cn-hangzhou", Status: "Running", InstanceChargeType: "PostPaid",
		InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc",
		EipAddress: &emulator.EIP{IpAddress: "47.1.1.2", AllocationId: "eip-b", Bandwidth: 5, ChargeType: "PrePaid"}})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	c, err := vpcapi.New(vpcapi.Config{Region: "cn-hangzhou", Endpoint: srv.URL, Credentials: creds,
		Retry: vpcapi.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return emu, c
}

// Through the real SDK against the emulator (signatures verified).
func TestEIPRoundTrip(t *testing.T) {
	emu, c := setup(t)
	ctx := t.Context()
	eips, err := c.DescribeEIPs(ctx, []string{"eip-a", "eip-b", "eip-none"})
	if err != nil || len(eips) != 2 {
		t.Fatalf("DescribeEIPs: %+v, %v", eips, err)
	}
	a := eips[0]
	if a.AllocationID != "eip-a" || a.Bandwidth != 5 || a.InternetChargeType != "PayByBandwidth" || a.ChargeType != "PostPaid" || a.InstanceID != "i-a" || a.Status != "InUse" {
		t.Fatalf("eip-a: %+v", a)
	}
	if _, err := c.WriteTags(ctx, "eip-a", map[string]string{"bandwidth-autoscaler:state": "v2;c=5"}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ReadTags(ctx, []string{"eip-a"})
	if err != nil || tags["eip-a"]["bandwidth-autoscaler:state"] != "v2;c=5" {
		t.Fatalf("ReadTags: %v, %v", tags, err)
	}
	if _, err := c.ModifyBandwidth(ctx, "eip-a", 300); err != nil {
		t.Fatal(err)
	}
	if in, _ := emu.Instance("i-a"); in.EipAddress.Bandwidth != 300 {
		t.Fatalf("EIP at %d", in.EipAddress.Bandwidth)
	}
	// The same absolute value again changes nothing and makes no entry.
	if _, err := c.ModifyBandwidth(ctx, "eip-a", 300); err != nil {
		t.Fatal(err)
	}
	if n := len(emu.Orders()); n != 1 {
		t.Fatalf("%d ledger entries, want 1", n)
	}
	_, err = c.ModifyBandwidth(ctx, "eip-b", 10)
	var e *vpcapi.Error
	if !errors.As(err, &e) || e.Code != "Forbidden.ChargeTypeIsPrepaid" || !strings.Contains(e.Hint(), "console") {
		t.Fatalf("prepaid: %v", err)
	}
}

func TestForbiddenRAMNamesTheVPCAction(t *testing.T) {
	emu, c := setup(t)
	emu.Inject(emulator.Fault{Action: "ModifyEipAddressAttribute", Code: "Forbidden.RAM", HTTPStatus: 403})
	_, err := c.ModifyBandwidth(t.Context(), "eip-a", 10)
	var e *vpcapi.Error
	if !errors.As(err, &e) || e.Hint() != "grant the function's role vpc:ModifyEipAddressAttribute" {
		t.Fatalf("got %v (hint %q)", err, e.Hint())
	}
}
