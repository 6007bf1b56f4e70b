// Package ecsapi is the function's access to the ECS API: a thin client over
// alibaba-cloud-sdk-go/services/ecs with bounded retries and classified errors.
package ecsapi

import "time"

// Credentials are the STS credentials of one invocation.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

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
type Class int

const (
	// Permanent: retrying cannot help; report it.
	Permanent Class = iota
	// Transient: retry later with the same ClientToken (throttling, 5xx,
	// timeouts, LastOrderProcessing).
	Transient
	// Locked: the instance refuses changes for a while (the 5-minute lock
	// after a change, which ECS reports as Throttling): keep the target pending.
	Locked
	// InProgress: the change may be in progress (LastTokenProcessing and
	// the like): keep its record, buy nothing new, look again later.
	InProgress
	// StatusConflict: the instance's status refuses the change
	// (IncorrectInstanceStatus, InvalidInstanceStatus, OperationDenied);
	// within minutes of a change it is the lock.
	StatusConflict
)
