package ecsapi

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

const (
	maxClientTokenLen = 64  // ECS idempotence rules
	maxTagsPerCall    = 20  // TagResources limit
	maxTagKeyLen      = 128 // ECS tag rules
	maxTagValueLen    = 128
	// The formats ModifyInstanceNetworkSpec takes: StartTime to the minute,
	// EndTime to the hour, both UTC.
	startTimeLayout = "2006-01-02T15:04Z"
	endTimeLayout   = "2006-01-02T15Z"
)

// ModifyBandwidth calls ModifyInstanceNetworkSpec. Retries reuse
// r.ClientToken, so ECS applies the change at most once however many
// attempts it takes. AutoPay is always sent explicitly (ECS defaults it to
// true). For a temporary upgrade, StartTime is rounded up to the minute and
// EndTime down to the hour, so the window never grows.
func (c *Client) ModifyBandwidth(ctx context.Context, r ModifyRequest) (ModifyResult, error) {
	req, err := modifyRequest(r)
	if err != nil {
		return ModifyResult{}, err
	}
	var resp *ecs.ModifyInstanceNetworkSpecResponse
	attempts, err := c.api.Call(ctx, actionModify, r.InstanceID, req, func(client *ecs.Client) (err error) {
		resp, err = client.ModifyInstanceNetworkSpec(req)
		return err
	})
	if err != nil {
		return ModifyResult{Attempts: attempts}, err
	}
	return ModifyResult{OrderID: resp.OrderId, RequestID: resp.RequestId, Attempts: attempts}, nil
}

func modifyRequest(r ModifyRequest) (*ecs.ModifyInstanceNetworkSpecRequest, error) {
	fail := func(format string, args ...any) error {
		return invalid(actionModify, r.InstanceID, fmt.Sprintf(format, args...))
	}
	if r.InstanceID == "" {
		return nil, fail("InstanceID is required")
	}
	if r.BandwidthOut < 0 {
		return nil, fail("BandwidthOut %d is negative", r.BandwidthOut)
	}
	if err := checkClientToken(r.ClientToken); err != nil {
		return nil, fail("%v", err)
	}
	req := ecs.CreateModifyInstanceNetworkSpecRequest()
	req.InstanceId = r.InstanceID
	req.InternetMaxBandwidthOut = requests.NewInteger(r.BandwidthOut)
	req.AutoPay = requests.NewBoolean(r.AutoPay)
	req.ClientToken = r.ClientToken
	if r.AllocatePublicIP {
		req.AllocatePublicIp = requests.NewBoolean(true)
	}
	if !r.EndTime.IsZero() {
		end := r.EndTime.UTC().Truncate(time.Hour)
		if !r.StartTime.IsZero() {
			start := r.StartTime.UTC()
			if rounded := start.Truncate(time.Minute); rounded.Before(start) {
				start = rounded.Add(time.Minute)
			}
			if !end.After(start) {
				return nil, fail("EndTime %s is not after StartTime %s at ECS precision", end.Format(endTimeLayout), start.Format(startTimeLayout))
			}
			req.StartTime = start.Format(startTimeLayout)
		}
		req.EndTime = end.Format(endTimeLayout)
	} else if !r.StartTime.IsZero() {
		return nil, fail("StartTime without EndTime")
	}
	return req, nil
}

func checkClientToken(token string) error {
	if token == "" {
		return fmt.Errorf("ClientToken is required")
	}
	if len(token) > maxClientTokenLen {
		return fmt.Errorf("ClientToken is %d bytes, more than %d", len(token), maxClientTokenLen)
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x20 || token[i] > 0x7e {
			return fmt.Errorf("ClientToken %q has a byte that is not printable ASCII", token)
		}
	}
	return nil
}

// WriteTags sets tags on one instance with TagResources, in one call so they
// change together. Writing the same tags again is harmless, so retries are
// safe.
func (c *Client) WriteTags(ctx context.Context, instanceID string, tags map[string]string) (requestID string, err error) {
	if instanceID == "" {
		return "", invalid(actionTagResources, "", "instance ID is required")
	}
	if len(tags) == 0 || len(tags) > maxTagsPerCall {
		return "", invalid(actionTagResources, instanceID, fmt.Sprintf("%d tags, want 1 to %d", len(tags), maxTagsPerCall))
	}
	req := ecs.CreateTagResourcesRequest()
	req.ResourceType = "instance"
	req.ResourceId = &[]string{instanceID}
	keys := make([]string, 0, len(tags))
	for key := range tags {
		keys = append(keys, key)
	}
	slices.Sort(keys) // a stable request is easier to read in logs and tests
	tagList := make([]ecs.TagResourcesTag, 0, len(keys))
	for _, key := range keys {
		value := tags[key]
		if key == "" || utf8.RuneCountInString(key) > maxTagKeyLen || utf8.RuneCountInString(value) > maxTagValueLen {
			return "", invalid(actionTagResources, instanceID, fmt.Sprintf("tag %q: key must be 1 to %d characters and value at most %d", key, maxTagKeyLen, maxTagValueLen))
		}
		tagList = append(tagList, ecs.TagResourcesTag{Key: key, Value: value})
	}
	req.Tag = &tagList
	var resp *ecs.TagResourcesResponse
	_, err = c.api.Call(ctx, actionTagResources, instanceID, req, func(client *ecs.Client) (err error) {
		resp, err = client.TagResources(req)
		return err
	})
	if err != nil {
		return "", err
	}
	return resp.RequestId, nil
}
