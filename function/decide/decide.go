package decide

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Supported CloudMonitor metrics: outbound public bandwidth of classic and
// VPC instances, as a rate (bit/s) or as a usage of the cap (percent).
const (
	MetricClassicRate    = "InternetOutRate"
	MetricClassicPercent = "InternetOutRate_Percent"
	MetricVPCRate        = "VPC_PublicIP_InternetOutRate"
	MetricVPCPercent     = "VPC_PublicIP_InternetOutRate_Percent"
	// An EIP's outbound rate (bit/s) and usage (%), namespace acs_vpc_eip,
	// dimension instanceId = the EIP's allocation ID (CloudMonitor's metric
	// list for acs_vpc_eip, https://help.aliyun.com/document_detail/162874.html
	// and cloudmonitor.console.alibabacloud.com/metric-meta/acs_vpc_eip/eip).
	// Assumption: the usage metric's name, net_out.rate_percentage, is taken
	// from public code that reads it; the list was not readable here.
	MetricEIPRate    = "net_tx.rate"
	MetricEIPPercent = "net_out.rate_percentage"
)

// isPercent tells, for each supported metric, whether it is a usage.
var isPercent = map[string]bool{
	MetricClassicRate:    false,
	MetricClassicPercent: true,
	MetricVPCRate:        false,
	MetricVPCPercent:     true,
	MetricEIPRate:        false,
	MetricEIPPercent:     true,
}

// Values ECS uses in DescribeInstances.
const (
	PrePaid        = "PrePaid"
	PostPaid       = "PostPaid"
	PayByBandwidth = "PayByBandwidth"
	PayByTraffic   = "PayByTraffic"
	StatusRunning  = "Running"
	StatusStopped  = "Stopped"
	NetworkClassic = "classic"
	StateNoData    = "INSUFFICIENT_DATA"
)

// DowngradeQuota is how many times ECS lets a PrePaid instance's bandwidth
// be lowered.
const DowngradeQuota = 3

// APIMax is the highest outbound bandwidth ECS accepts for the instance's
// billing: 200 Mbit/s for PrePaid PayByBandwidth, 100 otherwise
// (ModifyInstanceNetworkSpec's ranges per billing method). For an EIP it is
// VPC's: 500 Mbit/s PayByBandwidth, 200 PayByTraffic
// (ModifyEipAddressAttribute, Bandwidth,
// https://alibabacloud.com/help/tc/eip/developer-reference/api-modifyeipaddressattribute).
func APIMax(in Instance) int {
	if in.EIP {
		if in.InternetChargeType == PayByBandwidth {
			return 500
		}
		return 200
	}
	if in.InstanceChargeType == PrePaid && in.InternetChargeType == PayByBandwidth {
		return 200
	}
	return 100
}

// Decide turns a fresh reading of one instance into a decision. It is a
// pure function of its input: the same input always gives the same result.
func Decide(in Input) Decision {
	if in.Policy == nil {
		return Decision{Action: Failed, From: in.Instance.BandwidthOut, To: in.Instance.BandwidthOut, Reason: "no policy is loaded", Record: in.Record}
	}
	if in.Trigger == ByManual && in.Manual == nil {
		return Decision{Action: Failed, From: in.Instance.BandwidthOut, To: in.Instance.BandwidthOut, Reason: "manual invocation without bandwidthOut", Record: in.Record}
	}
	c := &decider{in: in, p: in.Policy, inst: in.Instance, now: in.Now}
	d := c.decide()
	d.Notes = append(c.notes, d.Notes...)
	if in.DryRun {
		// A dry run says what would happen and leaves no trace.
		switch d.Action {
		case Scaled:
			d.Action, d.Reason = DryRun, "dry-run: would scale: "+d.Reason
		case Deferred:
			d.Action, d.Reason = DryRun, "dry-run: would defer: "+d.Reason
		}
		d.Change, d.Record, d.Save = nil, in.Record, false
	}
	return d
}

// ClientToken derives the ECS idempotence token of a change from the record
// it was decided on and the attempt's time. A retry of the same attempt, in
// the same invocation or in another that reads its record, sends the same
// token, so ECS makes at most one order; any other change, even one that
// repeats an old change from a restored or deleted record, gets a token of
// its own, so ECS never answers it with an old order. (Racing processes
// that decide at once meet the ECS lock.) It is "bwas-" and 32 hex digits.
func ClientToken(inst Instance, base Record, ch Change, at time.Time) string {
	buf := make([]byte, 0, 160)
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10) // length prefix: no ambiguity
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	num := func(v int64) {
		buf = strconv.AppendInt(buf, v, 10)
		buf = append(buf, ';')
	}
	milli := func(t time.Time) {
		if t.IsZero() {
			num(0)
			return
		}
		num(t.UnixMilli())
	}
	flag := func(b bool) {
		buf = strconv.AppendBool(buf, b)
		buf = append(buf, ';')
	}
	field(inst.ID)
	field(inst.InstanceChargeType)
	field(inst.InternetChargeType)
	num(int64(inst.BandwidthOut))
	num(int64(base.Cap))
	milli(base.Since)
	num(int64(base.Downgrades))
	num(int64(ch.Target))
	milli(ch.EndTime)
	milli(at)
	flag(ch.Downgrade)
	flag(ch.AllocatePublicIP)
	sum := sha256.Sum256(buf)
	return "bwas-" + hex.EncodeToString(sum[:16])
}

// mbps formats a rate for reasons: at most two decimals, no trailing zeros.
func mbps(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stampOr(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return stamp(t)
}

// roundUpHour rounds t up to the next whole hour (ECS EndTime precision).
func roundUpHour(t time.Time) time.Time {
	h := t.Truncate(time.Hour)
	if h.Equal(t) {
		return t
	}
	return h.Add(time.Hour)
}

func validValue(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("observed value %v is not a number of 0 or more", v)
	}
	return nil
}
