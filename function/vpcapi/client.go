// Package vpcapi is the function's access to the VPC API (version
// 2016-04-28) for elastic IP addresses: a thin client over
// alibaba-cloud-sdk-go/services/vpc with the retries and classified errors
// of package openapi, shaped like ecsapi.
//
// An EIP-bound VPC instance has no instance bandwidth of its own: its public
// bandwidth is the EIP's, changed with ModifyEipAddressAttribute. Its record
// lives in the EIP's tags (VPC TagResources, ResourceType "EIP").
package vpcapi

import (
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

// The VPC actions this client calls.
const (
	actionDescribe     = "DescribeEipAddresses"
	actionModify       = "ModifyEipAddressAttribute"
	actionTagResources = "TagResources"
	actionListTags     = "ListTagResources"
)

// Actions are exactly the VPC API actions this client calls; the function's
// RAM role needs vpc:<action> for each (RAMActions).
var Actions = []string{actionDescribe, actionModify, actionTagResources, actionListTags}

// RAMActions are the RAM actions the function's role needs for Actions. The
// VPC API reference names them after the API actions
// (vpc:ModifyEipAddressAttribute on acs:vpc:{region}:{account}:eip/{AllocationId},
// https://help.aliyun.com/document_detail/36019.htm).
var RAMActions = []string{"vpc:DescribeEipAddresses", "vpc:ModifyEipAddressAttribute", "vpc:TagResources", "vpc:ListTagResources"}

// ResourceType is what VPC's tag APIs call an EIP.
const ResourceType = "EIP"

type (
	// Config configures a Client. Only Region and Credentials are required.
	// Endpoint (VPC_ENDPOINT) is https://host or http://loopback:port;
	// empty means the SDK's regional endpoint.
	Config = openapi.Config
	// Credentials are the STS credentials of one invocation.
	Credentials = openapi.Credentials
	// RetryPolicy bounds the retries of transient errors.
	RetryPolicy = openapi.RetryPolicy
	// Error is a failed VPC call, after any retries.
	Error = openapi.Error
	// Class says what a caller can do about an error.
	Class = openapi.Class
)

// Client calls VPC for one invocation. It is safe for concurrent use.
type Client struct {
	api *openapi.Client[*vpc.Client]
}

// New checks cfg and builds a Client. It does no network I/O.
func New(cfg Config) (*Client, error) {
	api, err := openapi.New(service, vpc.NewClientWithOptions, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{api: api}, nil
}

// EIP is what DescribeEipAddresses says about one elastic IP address.
type EIP struct {
	AllocationID string
	IPAddress    string
	Region       string
	Status       string // Associating, Unassociating, InUse, Available, Releasing
	Bandwidth    int    // Mbit/s
	// InternetChargeType is PayByBandwidth or PayByTraffic.
	InternetChargeType string
	// ChargeType is PostPaid (pay-as-you-go) or PrePaid (subscription).
	ChargeType string
	// BandwidthPackageID is set when the EIP is in an Internet Shared
	// Bandwidth package, whose bandwidth then governs it.
	BandwidthPackageID string
	InstanceID         string // what it is associated with
	InstanceType       string // EcsInstance, Nat, SlbInstance, NetworkInterface, HaVip
	Locks              []string
	Tags               map[string]string
}

// ModifyResult is what VPC answered to an accepted change.
type ModifyResult struct {
	RequestID string
	Attempts  int
}
