// Package openapi is the service-independent part of the function's Alibaba
// Cloud RPC calls: bounded retries, classified and scrubbed errors,
// endpoints, one shared transport. A service package (ecsapi, cmsapi)
// supplies its code table and action names and the real SDK client of its
// service (services/ecs, services/cms), and stays thin.
package openapi

import (
	"fmt"
	"time"
)

// Credentials are the STS credentials of one invocation.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// RetryPolicy bounds the retries of transient errors. Its zero value means
// 4 attempts, 200ms base delay, 2s maximum delay.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, including the first
	BaseDelay   time.Duration // cap of the first backoff; doubles each retry
	MaxDelay    time.Duration // cap of any backoff
}

// Class says what a caller can do about an error.
type Class int

const (
	// Permanent: retrying cannot help; report it.
	Permanent Class = iota
	// Transient: retry later with the same ClientToken (throttling, 5xx,
	// timeouts).
	Transient
	// Locked: the instance refuses changes for a while (the 5-minute lock
	// after a change, which ECS reports as Throttling). Not retried within a
	// call: seconds of backoff cannot outwait minutes of lock.
	Locked
	// InProgress: an earlier request with the same token or an earlier order
	// is still being processed, so the change may be under way. Retried
	// like Transient within a call; the caller must not assume it failed.
	InProgress
	// StatusConflict: the resource's status refuses the change for now
	// (e.g. the instance is not Running or Stopped). Not retried within a
	// call: whether to wait is the caller's decision.
	StatusConflict
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Locked:
		return "locked"
	case InProgress:
		return "in-progress"
	case StatusConflict:
		return "status-conflict"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// retried says whether a call retries an error of class c before returning.
func (c Class) retried() bool {
	return c == Transient || c == InProgress
}
