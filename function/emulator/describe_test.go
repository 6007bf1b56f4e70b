package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

func describeIDs(ids ...string) *ecs.DescribeInstancesRequest {
	req := ecs.CreateDescribeInstancesRequest()
	b, _ := json.Marshal(ids)
	req.InstanceIds = string(b)
	return req
}

func TestDescribeInstancesFields(t *testing.T) {
	e := newEnv(t, Config{})
	resp, err := e.client.DescribeInstances(describeIDs("i-vpc-eip", "i-locked", "i-postpaid-traffic"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ecs.Instance{}
	for _, in := range resp.Instances.Instance {
		got[in.InstanceId] = in
	}
	if resp.TotalCount != 3 || len(got) != 3 {
		t.Fatalf("TotalCount %d, instances %v", resp.TotalCount, got)
	}
	eip := got["i-vpc-eip"].EipAddress
	if eip.IpAddress != "47.96.1.1" || eip.AllocationId != "eip-bp1example" || eip.Bandwidth != 5 {
		t.Errorf("EipAddress %+v", eip)
	}
	if locks := got["i-locked"].OperationLocks.LockReason; len(locks) != 1 || locks[0].LockReason != "security" {
		t.Errorf("OperationLocks %+v", locks)
	}
	web := got["i-postpaid-traffic"]
	if web.InternetMaxBandwidthOut != 5 || web.InstanceChargeType != "PostPaid" || web.InternetChargeType != "PayByTraffic" ||
		web.InstanceNetworkType != "vpc" || web.VpcAttributes.VpcId == "" ||
		len(web.PublicIpAddress.IpAddress) != 1 || web.PublicIpAddress.IpAddress[0] != "47.96.0.10" {
		t.Errorf("instance %+v", web)
	}
	tags := map[string]string{}
	for _, tg := range web.Tags.Tag {
		tags[tg.TagKey] = tg.TagValue
	}
	if tags["bandwidth-autoscaler"] != "enabled" || tags["team"] != "web" || len(tags) != 2 {
		t.Errorf("tags %v", tags)
	}

	attr := ecs.CreateDescribeInstanceAttributeRequest()
	attr.InstanceId = "i-prepaid-bandwidth"
	a, err := e.client.DescribeInstanceAttribute(attr)
	if err != nil {
		t.Fatal(err)
	}
	if a.InstanceChargeType != "PrePaid" || a.InternetMaxBandwidthOut != 10 || a.ExpiredTime != "2099-01-01T00:00Z" || a.RequestId == "" {
		t.Errorf("DescribeInstanceAttribute %+v", a)
	}
	attr.InstanceId = "i-nope"
	_, err = e.client.DescribeInstanceAttribute(attr)
	wantCode(t, err, "InvalidInstanceId.NotFound", 404)
}

func TestDescribeInstancesFilters(t *testing.T) {
	e := newEnv(t, Config{})
	ids := func(req *ecs.DescribeInstancesRequest) []string {
		t.Helper()
		req.PageSize = requests.NewInteger(100)
		resp, err := e.client.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range resp.Instances.Instance {
			out = append(out, in.InstanceId)
		}
		return out
	}
	tagged := func(pairs ...string) *ecs.DescribeInstancesRequest {
		req := ecs.CreateDescribeInstancesRequest()
		var tags []ecs.DescribeInstancesTag
		for i := 0; i < len(pairs); i += 2 {
			tags = append(tags, ecs.DescribeInstancesTag{Key: pairs[i], Value: pairs[i+1]})
		}
		req.Tag = &tags
		return req
	}
	cases := []struct {
		name string
		req  *ecs.DescribeInstancesRequest
		want string
	}{
		{"tag key and value", tagged("bandwidth-autoscaler", "enabled"), "i-postpaid-traffic,i-prepaid-bandwidth,i-prepaid-traffic"},
		{"two tags", tagged("bandwidth-autoscaler", "enabled", "team", "web"), "i-postpaid-traffic"},
		{"tag key only", tagged("team", ""), "i-postpaid-traffic"},
		{"tag value mismatch", tagged("bandwidth-autoscaler", "disabled"), ""},
		{"other region", func() *ecs.DescribeInstancesRequest {
			r := tagged("bandwidth-autoscaler", "enabled")
			r.RegionId = "cn-shanghai"
			return r
		}(), "i-shanghai"},
		{"ids", describeIDs("i-stopped", "i-nope", "i-locked"), "i-stopped,i-locked"},
	}
	for _, tc := range cases {
		if got := strings.Join(ids(tc.req), ","); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}

	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("i-%d", i)
	}
	_, err := e.client.DescribeInstances(describeIDs(many...))
	wantCode(t, err, "InvalidInstanceIds.ValueNotSupported", 400)
}

func TestDescribeInstancesPaging(t *testing.T) {
	e := newEnv(t, Config{})
	const n = 23
	for i := range n {
		e.srv.AddInstance(Instance{InstanceId: fmt.Sprintf("i-page-%02d", i), RegionId: "cn-beijing", Status: "Running",
			InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc"})
	}
	t.Run("PageNumber", func(t *testing.T) {
		seen := map[string]bool{}
		for page := 1; page <= 4; page++ {
			req := ecs.CreateDescribeInstancesRequest()
			req.RegionId = "cn-beijing"
			req.PageNumber = requests.NewInteger(page)
			resp, err := e.client.DescribeInstances(req)
			if err != nil {
				t.Fatal(err)
			}
			wantLen := min(10, max(0, n-(page-1)*10))
			if len(resp.Instances.Instance) != wantLen || resp.TotalCount != n || resp.PageSize != 10 || resp.PageNumber != page {
				t.Fatalf("page %d: %d instances, TotalCount %d, PageSize %d", page, len(resp.Instances.Instance), resp.TotalCount, resp.PageSize)
			}
			for _, in := range resp.Instances.Instance {
				seen[in.InstanceId] = true
			}
		}
		if len(seen) != n {
			t.Errorf("saw %d distinct instances, want %d", len(seen), n)
		}
	})
	t.Run("NextToken", func(t *testing.T) {
		seen := map[string]bool{}
		token, calls := "", 0
		for {
			req := ecs.CreateDescribeInstancesRequest()
			req.RegionId = "cn-beijing"
			req.MaxResults = requests.NewInteger(7)
			req.NextToken = token
			resp, err := e.client.DescribeInstances(req)
			if err != nil {
				t.Fatal(err)
			}
			calls++
			for _, in := range resp.Instances.Instance {
				seen[in.InstanceId] = true
			}
			if token = resp.NextToken; token == "" || calls > n {
				break
			}
		}
		if len(seen) != n || calls != 4 {
			t.Errorf("saw %d instances in %d calls, want %d in 4", len(seen), calls, n)
		}
	})
	req := ecs.CreateDescribeInstancesRequest()
	req.PageSize = requests.NewInteger(101)
	_, err := e.client.DescribeInstances(req)
	wantCode(t, err, "InvalidParameter", 400)
}

func TestTags(t *testing.T) {
	e := newEnv(t, Config{})
	tag := ecs.CreateTagResourcesRequest()
	tag.ResourceType = "instance"
	tag.ResourceId = &[]string{"i-stopped", "i-locked"}
	tag.Tag = &[]ecs.TagResourcesTag{{Key: "autoscaler:state", Value: `{"target":20}`}, {Key: "owner", Value: "ops"}}
	if _, err := e.client.TagResources(tag); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.srv.Instance("i-locked"); in.Tags["autoscaler:state"] != `{"target":20}` || in.Tags["owner"] != "ops" {
		t.Errorf("tags after TagResources: %v", in.Tags)
	}

	list := ecs.CreateListTagResourcesRequest()
	list.ResourceType = "instance"
	list.Tag = &[]ecs.ListTagResourcesTag{{Key: "owner", Value: "ops"}}
	resp, err := e.client.ListTagResources(list)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.TagResources.TagResource); n != 4 {
		t.Errorf("ListTagResources: %d rows, want 4: %+v", n, resp.TagResources.TagResource)
	}

	untag := ecs.CreateUntagResourcesRequest()
	untag.ResourceType = "instance"
	untag.ResourceId = &[]string{"i-stopped"}
	untag.TagKey = &[]string{"owner"}
	if _, err := e.client.UntagResources(untag); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.srv.Instance("i-stopped"); len(in.Tags) != 1 || in.Tags["owner"] != "" {
		t.Errorf("tags after UntagResources: %v", in.Tags)
	}
	untag.TagKey = nil
	untag.All = requests.NewBoolean(true)
	untag.ResourceId = &[]string{"i-locked"}
	if _, err := e.client.UntagResources(untag); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.srv.Instance("i-locked"); len(in.Tags) != 0 {
		t.Errorf("tags after All: %v", in.Tags)
	}

	refusals := []struct {
		name   string
		adjust func(r *ecs.TagResourcesRequest)
		code   string
		status int
	}{
		{"resource type", func(r *ecs.TagResourcesRequest) { r.ResourceType = "disk" }, "InvalidResourceType.NotSupported", 400},
		{"unknown resource", func(r *ecs.TagResourcesRequest) { r.ResourceId = &[]string{"i-stopped", "i-nope"} }, "InvalidResourceId.NotFound", 404},
		{"reserved key", func(r *ecs.TagResourcesRequest) { r.Tag = &[]ecs.TagResourcesTag{{Key: "aliyun:x", Value: "v"}} }, "InvalidTagKey.Malformed", 400},
		{"long value", func(r *ecs.TagResourcesRequest) {
			r.Tag = &[]ecs.TagResourcesTag{{Key: "k", Value: strings.Repeat("v", 129)}}
		}, "InvalidTagValue.Malformed", 400},
		{"too many", func(r *ecs.TagResourcesRequest) {
			tags := make([]ecs.TagResourcesTag, 20)
			for i := range tags {
				tags[i] = ecs.TagResourcesTag{Key: fmt.Sprintf("k%d", i), Value: "v"}
			}
			r.Tag = &tags
		}, "InvalidTagCount", 400},
	}
	for _, tc := range refusals {
		req := ecs.CreateTagResourcesRequest()
		req.ResourceType = "instance"
		req.ResourceId = &[]string{"i-stopped"}
		req.Tag = &[]ecs.TagResourcesTag{{Key: "k", Value: "v"}}
		tc.adjust(req)
		before, _ := e.srv.Instance("i-stopped")
		_, err := e.client.TagResources(req)
		wantCode(t, err, tc.code, tc.status)
		if after, _ := e.srv.Instance("i-stopped"); len(after.Tags) != len(before.Tags) {
			t.Errorf("%s: refused call changed tags %v -> %v", tc.name, before.Tags, after.Tags)
		}
	}
}
