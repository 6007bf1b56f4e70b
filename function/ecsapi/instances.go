package ecsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

const (
	// maxPerPage is the largest MaxResults and the most InstanceIds that
	// DescribeInstances takes.
	maxPerPage = 100
	// maxPages bounds one listing (100,000 instances) so a server that keeps
	// returning a NextToken cannot hold the function forever.
	maxPages = 1000
)

// DescribeInstances returns the instances among ids that exist in the
// client's region, in batches of 100 IDs. Unknown IDs are simply absent.
func (c *Client) DescribeInstances(ctx context.Context, ids []string) ([]Instance, error) {
	ids = openapi.Unique(ids)
	var all []Instance
	for start := 0; start < len(ids); start += maxPerPage {
		batch := ids[start:min(start+maxPerPage, len(ids))]
		encoded, _ := json.Marshal(batch) // a []string always encodes
		resource := batch[0]
		if len(batch) > 1 {
			resource = fmt.Sprintf("%s (+%d more)", batch[0], len(batch)-1)
		}
		found, err := c.describe(ctx, resource, func(req *ecs.DescribeInstancesRequest) {
			req.InstanceIds = string(encoded)
		})
		if err != nil {
			return nil, err
		}
		all = append(all, found...)
	}
	return all, nil
}

// DescribeTagged returns every instance in the client's region that carries
// the tag key=value.
func (c *Client) DescribeTagged(ctx context.Context, key, value string) ([]Instance, error) {
	if key == "" {
		return nil, invalid(actionDescribeInstances, "", "empty tag key")
	}
	return c.describe(ctx, "tag "+key+"="+value, func(req *ecs.DescribeInstancesRequest) {
		req.Tag = &[]ecs.DescribeInstancesTag{{Key: key, Value: value}}
	})
}

// describe lists all pages of DescribeInstances with the filter set by
// filter.
func (c *Client) describe(ctx context.Context, resource string, filter func(*ecs.DescribeInstancesRequest)) ([]Instance, error) {
	var all []Instance
	err := openapi.Pages(actionDescribeInstances, resource, maxPages, func(token string) (string, string, error) {
		req := ecs.CreateDescribeInstancesRequest()
		filter(req)
		req.MaxResults = requests.NewInteger(maxPerPage)
		req.NextToken = token
		var resp *ecs.DescribeInstancesResponse
		_, err := c.api.Call(ctx, actionDescribeInstances, resource, req, func(client *ecs.Client) (err error) {
			resp, err = client.DescribeInstances(req)
			return err
		})
		if err != nil {
			return "", "", err
		}
		for _, in := range resp.Instances.Instance {
			all = append(all, toInstance(in))
		}
		return resp.NextToken, resp.RequestId, nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

func toInstance(in ecs.Instance) Instance {
	out := Instance{
		ID:                 in.InstanceId,
		Region:             in.RegionId,
		Status:             in.Status,
		InstanceChargeType: in.InstanceChargeType,
		InternetChargeType: in.InternetChargeType,
		NetworkType:        in.InstanceNetworkType,
		BandwidthOut:       in.InternetMaxBandwidthOut,
		BandwidthIn:        in.InternetMaxBandwidthIn,
		PublicIPs:          in.PublicIpAddress.IpAddress,
		EIPAddress:         in.EipAddress.IpAddress,
		EIPAllocationID:    in.EipAddress.AllocationId,
		EIPBandwidth:       in.EipAddress.Bandwidth,
		ExpiredTime:        parseExpiredTime(in.ExpiredTime),
	}
	for _, lock := range in.OperationLocks.LockReason {
		out.Locks = append(out.Locks, lock.LockReason)
	}
	out.Tags = openapi.TagMap(len(in.Tags.Tag), func(i int) (string, string, string, string) {
		t := in.Tags.Tag[i]
		return t.TagKey, t.TagValue, t.Key, t.Value
	})
	return out
}

// expiredTimeLayouts are the forms ECS uses for ExpiredTime: documented with
// seconds, answered with minutes.
var expiredTimeLayouts = []string{"2006-01-02T15:04Z", "2006-01-02T15:04:05Z", time.RFC3339}

// parseExpiredTime is lenient: a value it cannot read leaves the zero time.
func parseExpiredTime(s string) time.Time {
	for _, layout := range expiredTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
