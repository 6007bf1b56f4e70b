// Package cmsapi reads CloudMonitor metrics for the function.
package cmsapi

import "time"

// Namespace and metrics of outbound public bandwidth (bit/s).
const (
	Namespace     = "acs_ecs_dashboard"
	MetricVPC     = "VPC_PublicIP_InternetOutRate"
	MetricClassic = "InternetOutRate"
)

// Point is one datapoint of one instance's outbound rate.
type Point struct {
	InstanceID string
	Start      time.Time
	Period     time.Duration
	Average    float64
	Maximum    float64
}
