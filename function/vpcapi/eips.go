package vpcapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

const (
	// maxIDs is the most allocation IDs one DescribeEipAddresses takes,
	// comma-separated (DescribeEipAddresses, AllocationId: "at most 50",
	// https://help.aliyun.com/document_detail/36018.htm).
	maxIDs = 50
	// pageSize is DescribeEipAddresses' largest PageSize (100).
	pageSize = 100
	// maxPages bounds one listing.
	maxPages = 100
	// Tag rules as for ECS.
	maxTagsPerCall = 20
	maxTagKeyLen   = 128
	maxTagValueLen = 128
	// listPageSize is ListTagResources' MaxResults.
	listPageSize = 50
)

// DescribeEIPs returns the EIPs among ids that exist in the client's region,
// in batches of 50. Unknown IDs are simply absent.
func (c *Client) DescribeEIPs(ctx context.Context, ids []string) ([]EIP, error) {
	ids = openapi.Unique(ids)
	var all []EIP
	for start := 0; start < len(ids); start += maxIDs {
		batch := ids[start:min(start+maxIDs, len(ids))]
		resource := batch[0]
		if len(batch) > 1 {
			resource = fmt.Sprintf("%s (+%d more)", batch[0], len(batch)-1)
		}
		for page := 1; ; page++ {
			if page > maxPages {
				return nil, c.api.Errorf(actionDescribe, resource, openapi.Permanent, "more than %d pages", maxPages)
			}
			req := vpc.CreateDescribeEipAddressesRequest()
			req.AllocationId = strings.Join(batch, ",")
			req.PageSize = requests.NewInteger(pageSize)
			req.PageNumber = requests.NewInteger(page)
			var resp *vpc.DescribeEipAddressesResponse
			_, err := c.api.Call(ctx, actionDescribe, resource, req, func(client *vpc.Client) (err error) {
				resp, err = client.DescribeEipAddresses(req)
				return err
			})
			if err != nil {
				return nil, err
			}
			for _, e := range resp.EipAddresses.EipAddress {
				all = append(all, toEIP(e))
			}
			if len(resp.EipAddresses.EipAddress) == 0 || page*pageSize >= resp.TotalCount {
				break
			}
		}
	}
	return all, nil
}

func toEIP(e vpc.EipAddress) EIP {
	bw, _ := strconv.Atoi(e.Bandwidth) // a string in the answer; lenient
	out := EIP{
		AllocationID: e.AllocationId, IPAddress: e.IpAddress, Region: e.RegionId, Status: e.Status,
		Bandwidth: bw, InternetChargeType: e.InternetChargeType, ChargeType: e.ChargeType,
		BandwidthPackageID: e.BandwidthPackageId, InstanceID: e.InstanceId, InstanceType: e.InstanceType,
	}
	for _, l := range e.OperationLocks.LockReason {
		out.Locks = append(out.Locks, l.LockReason)
	}
	out.Tags = openapi.TagMap(len(e.Tags.Tag), func(i int) (string, string, string, string) {
		t := e.Tags.Tag[i]
		return t.Key, t.Value, t.TagKey, t.TagValue
	})
	return out
}

// ModifyBandwidth sets a pay-as-you-go EIP's bandwidth with
// ModifyEipAddressAttribute.
//
// The action takes no ClientToken (services/vpc's
// ModifyEipAddressAttributeRequest has none; nor does the API reference).
// Idempotence holds because the value is absolute: a retry or a racing
// caller that decided on the same record asks for the same bandwidth again,
// which changes nothing more. The caller writes the record first, and a
// different racing change meets the lock after a change (an assumption, as
// for ECS: the VPC reference does not say) or is judged by the next reading.
func (c *Client) ModifyBandwidth(ctx context.Context, allocationID string, mbps int) (ModifyResult, error) {
	if allocationID == "" {
		return ModifyResult{}, invalid(actionModify, "", "allocation ID is required")
	}
	if mbps < 1 {
		return ModifyResult{}, invalid(actionModify, allocationID, fmt.Sprintf("bandwidth %d Mbit/s: an EIP takes 1 or more", mbps))
	}
	req := vpc.CreateModifyEipAddressAttributeRequest()
	req.AllocationId = allocationID
	req.Bandwidth = strconv.Itoa(mbps)
	var resp *vpc.ModifyEipAddressAttributeResponse
	attempts, err := c.api.Call(ctx, actionModify, allocationID, req, func(client *vpc.Client) (err error) {
		resp, err = client.ModifyEipAddressAttribute(req)
		return err
	})
	if err != nil {
		return ModifyResult{Attempts: attempts}, err
	}
	return ModifyResult{RequestID: resp.RequestId, Attempts: attempts}, nil
}

// WriteTags sets tags on one EIP with TagResources (ResourceType EIP), in
// one call so they change together. Writing the same tags again is harmless.
func (c *Client) WriteTags(ctx context.Context, allocationID string, tags map[string]string) (string, error) {
	if allocationID == "" {
		return "", invalid(actionTagResources, "", "allocation ID is required")
	}
	if len(tags) == 0 || len(tags) > maxTagsPerCall {
		return "", invalid(actionTagResources, allocationID, fmt.Sprintf("%d tags, want 1 to %d", len(tags), maxTagsPerCall))
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	list := make([]vpc.TagResourcesTag, 0, len(keys))
	for _, k := range keys {
		v := tags[k]
		if k == "" || utf8.RuneCountInString(k) > maxTagKeyLen || utf8.RuneCountInString(v) > maxTagValueLen {
			return "", invalid(actionTagResources, allocationID, fmt.Sprintf("tag %q: key must be 1 to %d characters and value at most %d", k, maxTagKeyLen, maxTagValueLen))
		}
		list = append(list, vpc.TagResourcesTag{Key: k, Value: v})
	}
	req := vpc.CreateTagResourcesRequest()
	req.ResourceType = ResourceType
	req.ResourceId = &[]string{allocationID}
	req.Tag = &list
	var resp *vpc.TagResourcesResponse
	_, err := c.api.Call(ctx, actionTagResources, allocationID, req, func(client *vpc.Client) (err error) {
		resp, err = client.TagResources(req)
		return err
	})
	if err != nil {
		return "", err
	}
	return resp.RequestId, nil
}

// ReadTags lists the tags of EIPs with ListTagResources (ResourceType EIP):
// allocation ID -> key -> value. DescribeEipAddresses answers tags too; this
// reads them alone.
func (c *Client) ReadTags(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	ids = openapi.Unique(ids)
	out := map[string]map[string]string{}
	for start := 0; start < len(ids); start += listPageSize {
		batch := ids[start:min(start+listPageSize, len(ids))]
		resource := batch[0]
		err := openapi.Pages(actionListTags, resource, maxPages, func(token string) (string, string, error) {
			req := vpc.CreateListTagResourcesRequest()
			req.ResourceType = ResourceType
			req.ResourceId = &batch
			req.MaxResults = requests.NewInteger(listPageSize)
			req.NextToken = token
			var resp *vpc.ListTagResourcesResponse
			_, err := c.api.Call(ctx, actionListTags, resource, req, func(client *vpc.Client) (err error) {
				resp, err = client.ListTagResources(req)
				return err
			})
			if err != nil {
				return "", "", err
			}
			for _, t := range resp.TagResources.TagResource {
				id := t.ResourceId
				if id == "" {
					id = t.ResourcId // the SDK also declares this misspelt field
				}
				if out[id] == nil {
					out[id] = map[string]string{}
				}
				out[id][t.TagKey] = t.TagValue
			}
			return resp.NextToken, resp.RequestId, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
