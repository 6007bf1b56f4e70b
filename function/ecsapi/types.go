// Package ecsapi is the function's access to the ECS API: a thin client over
// alibaba-cloud-sdk-go/services/ecs with bounded retries and classified errors.
package ecsapi

import (
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

// Instance is what DescribeInstances says about one instance.
type Instance struct {
	ID                 string
	Region             string
	Status             string
	InstanceChargeType string
	InternetChargeType string
	NetworkType        string
	BandwidthOut       int
	BandwidthIn        int
	PublicIPs          []string
	EIPAddress         string
	EIPAllocationID    string
	EIPBandwidth       int
	Locks              []string
	ExpiredTime        time.Time // zero when ECS gives none
	Tags               map[string]string
}

// ModifyRequest is one ModifyInstanceNetworkSpec call.
type ModifyRequest struct {
	InstanceID       string
	BandwidthOut     int
	AllocatePublicIP bool
	StartTime        time.Time // temporary upgrade; zero when permanent
	EndTime          time.Time
	AutoPay          bool
	ClientToken      string // required: the same on every attempt
}

// ModifyResult is what ECS answered to an accepted change.
type ModifyResult struct {
	OrderID   string
	RequestID string
	Attempts  int
}

// Class says what a caller can do about an error.
type Class = openapi.Class

// The classes of ECS errors.
const (
	// Permanent: retrying cannot help; report it.
	Permanent = openapi.Permanent
	// Transient: retry later with the same ClientToken (throttling, 5xx,
	// timeouts).
	Transient = openapi.Transient
	// Locked: the instance refuses changes for a while (the 5-minute lock
	// after a change, which ECS reports as Throttling): keep the target pending.
	Locked = openapi.Locked
	// InProgress: the change may be in progress (LastOrderProcessing,
	// LastTokenProcessing, ...): retried within the call with the same
	// ClientToken, and reported with this class when the retries run out.
	InProgress = openapi.InProgress
	// StatusConflict: the instance's status refuses the change for now
	// (IncorrectInstanceStatus, InvalidInstanceStatus, OperationDenied).
	// Not retried within the call: the caller decides.
	StatusConflict = openapi.StatusConflict
)
