package ecsapi

import (
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

// The ECS actions this client calls.
const (
	actionDescribeInstances = "DescribeInstances"
	actionModify            = "ModifyInstanceNetworkSpec"
	actionTagResources      = "TagResources"
)

// Actions are exactly the ECS API actions this client calls; the function's
// RAM role needs ecs:<action> for each.
var Actions = []string{actionDescribeInstances, actionModify, actionTagResources}

type (
	// RetryPolicy bounds the retries of transient errors. Its zero value
	// means 4 attempts, 200ms base delay, 2s maximum delay.
	RetryPolicy = openapi.RetryPolicy
	// Credentials are the STS credentials of one invocation.
	Credentials = openapi.Credentials
	// Config configures a Client. Only Region and Credentials are required.
	// Endpoint (ECS_ENDPOINT) is a full URL such as https://ecs.example.com
	// or http://127.0.0.1:8080; empty means the SDK's regional https
	// endpoint; plain http is allowed only to loopback hosts.
	Config = openapi.Config
)

// Client calls ECS for one invocation. It is safe for concurrent use.
type Client struct {
	api *openapi.Client[*ecs.Client]
}

// New checks cfg and builds a Client. It does no network I/O.
func New(cfg Config) (*Client, error) {
	api, err := openapi.New(service, ecs.NewClientWithOptions, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{api: api}, nil
}
