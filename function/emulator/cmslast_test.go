package emulator

import (
	"net/url"
	"testing"
	"time"
)

// Before a period of the instance's life has ended and been published,
// DescribeMetricLast has nothing to say: never a datapoint from the future.
func TestCMSLastBeforeAnyPeriod(t *testing.T) {
	s := New(Config{Period: time.Second, PublishDelay: time.Second})
	s.AddInstance(Instance{InstanceId: "i-1", RegionId: "r", Status: "Running", InstanceNetworkType: "vpc", InternetMaxBandwidthOut: 5, Demand: 35})
	s.mu.Lock()
	out, e := s.describeMetricLast(url.Values{"Namespace": {"acs_ecs_dashboard"}, "MetricName": {"VPC_PublicIP_InternetOutRate"}})
	s.mu.Unlock()
	if e != nil || out.(map[string]any)["Datapoints"] != "[]" {
		t.Errorf("got %v, %v; want no datapoint", out, e)
	}
}
