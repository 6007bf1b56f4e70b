package emulator

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// VPC (API version 2016-04-28) is served on the same port: requests with
// this Version go to vpcActions. It holds the EIPs bound to the instances
// (Instance.EipAddress): DescribeEipAddresses, ModifyEipAddressAttribute and
// the EIP tag actions. Comments marked "Assumption" describe behaviour the
// VPC API reference does not settle.
const vpcVersion = "2016-04-28"

// vpcActions are the VPC actions served.
var vpcActions = map[string]actionFunc{
	"DescribeEipAddresses":      (*Server).describeEipAddresses,
	"ModifyEipAddressAttribute": (*Server).modifyEipAddressAttribute,
	"TagResources":              (*Server).tagEIPs,
	"ListTagResources":          (*Server).listEIPTags,
}

const (
	vpcHostID = "vpc.aliyuncs.com"
	// EIP bandwidth ranges (ModifyEipAddressAttribute, Bandwidth: 1-200
	// Mbit/s PayByTraffic, 1-500 PayByBandwidth,
	// https://alibabacloud.com/help/tc/eip/developer-reference/api-modifyeipaddressattribute).
	maxEIPTraffic   = 200
	maxEIPBandwidth = 500
	// DescribeEipAddresses takes at most 50 comma-separated AllocationIds
	// and pages of at most 100.
	maxEIPIds      = 50
	maxEIPPageSize = 100
	eipStatusInUse = "InUse"
	// KindEIPBandwidth is a ledger entry of an EIP bandwidth change. A
	// pay-as-you-go EIP's change makes no order; the ledger records it all
	// the same, so tests can count the changes.
	KindEIPBandwidth = "eip-bandwidth"
	// metricEIPRate / metricEIPPercent: acs_vpc_eip's outbound rate (bit/s)
	// and usage (%), dimension instanceId = allocation ID. Assumption: the
	// usage metric's name (net_out.rate_percentage) is as public code reads it.
	vpcNamespace     = "acs_vpc_eip"
	metricEIPRate    = "net_tx.rate"
	metricEIPPercent = "net_out.rate_percentage"
)

// vpcErrors are the ModifyEipAddressAttribute codes of the VPC reference
// (https://help.aliyun.com/document_detail/36019.htm), after the ECS tables.
var vpcErrors = []CodeInfo{
	{"InvalidParameter", 400, `Specified value of "Bandwidth" is not supported.`},
	{"IncorrectEipStatus", 400, "Current elastic IP status does not support this operation."},
	{"Forbidden.ChargeTypeIsPrepaid", 400, "It's forbidden to change prepaid EIP's bandwidth by API. It can be changed on Aliyun web console."},
	{"InsufficientBalance.Eip", 400, "Your account does not have enough balance."},
	{"OrderError.EIP", 400, "The Account failed to create order."},
	{"InvalidAllocationId.NotFound", 404, "Specified allocation ID is not found."},
	{"OperationConflict", 400, "Request was denied due to conflict with a previous request."},
}

// eipState is what the VPC API keeps about an EIP besides Instance.EipAddress.
type eipState struct {
	caps        []capStep // the EIP's bandwidth over time, for acs_vpc_eip
	lockedUntil time.Time
	tagLog      []tagSnapshot
}

// eip is the instance whose EIP has allocation ID id.
func (s *Server) eip(id string) (*instanceState, bool) {
	for _, iid := range s.order {
		st := s.instances[iid]
		if st.EipAddress != nil && st.EipAddress.AllocationId == id {
			return st, true
		}
	}
	return nil, false
}

func (e *EIP) withDefaults() {
	if e.InternetChargeType == "" {
		e.InternetChargeType = payByTraffic
	}
	if e.ChargeType == "" {
		e.ChargeType = postPaid
	}
	if e.Status == "" {
		e.Status = eipStatusInUse
	}
}

func eipJSONOf(st *instanceState, tags map[string]string) map[string]any {
	e := st.EipAddress
	tagList := []map[string]string{}
	for _, k := range sortedKeys(tags) {
		tagList = append(tagList, map[string]string{"Key": k, "Value": tags[k]})
	}
	locks := []map[string]string{}
	for _, l := range e.OperationLocks {
		locks = append(locks, map[string]string{"LockReason": l})
	}
	return map[string]any{
		"AllocationId": e.AllocationId, "IpAddress": e.IpAddress, "RegionId": st.RegionId, "Status": e.Status,
		"Bandwidth": strconv.Itoa(e.Bandwidth), "InternetChargeType": e.InternetChargeType, "ChargeType": e.ChargeType,
		"BandwidthPackageId": e.BandwidthPackageId, "InstanceId": st.InstanceId, "InstanceType": "EcsInstance",
		"InstanceRegionId": st.RegionId, "OperationLocks": map[string]any{"LockReason": locks},
		"Tags": map[string]any{"Tag": tagList},
	}
}

// describeEipAddresses filters by RegionId and AllocationId (comma-separated)
// and pages by PageNumber/PageSize.
func (s *Server) describeEipAddresses(p url.Values) (any, *apiError) {
	region := p.Get("RegionId")
	if region == "" {
		return nil, errCodef("MissingParameter", "RegionId is mandatory for this action.")
	}
	var ids map[string]bool
	if raw := p.Get("AllocationId"); raw != "" {
		list := strings.Split(raw, ",")
		// Assumption: more than 50 IDs answer InvalidParameter.
		if len(list) > maxEIPIds {
			return nil, errCodef("InvalidParameter", "The specified AllocationId has %d IDs; at most %d are allowed.", len(list), maxEIPIds)
		}
		ids = map[string]bool{}
		for _, id := range list {
			ids[strings.TrimSpace(id)] = true
		}
	}
	size, number := 10, 1
	if v, set, e := intParam(p, "PageSize"); e != nil || (set && (v < 1 || v > maxEIPPageSize)) {
		return nil, errCodef("InvalidParameter", "The specified PageSize is not valid.")
	} else if set {
		size = v
	}
	if v, set, e := intParam(p, "PageNumber"); e != nil || (set && v < 1) {
		return nil, errCodef("InvalidParameter", "The specified PageNumber is not valid.")
	} else if set {
		number = v
	}
	now := s.clock()
	var all []map[string]any
	for _, iid := range s.order {
		st := s.instances[iid]
		if st.EipAddress == nil || st.RegionId != region || (ids != nil && !ids[st.EipAddress.AllocationId]) {
			continue
		}
		tags := st.EipAddress.Tags
		if s.tagLag > 0 {
			tags = tagsAtLog(st.eip.tagLog, now.Add(-s.tagLag), tags)
		}
		all = append(all, eipJSONOf(st, tags))
	}
	from := min((number-1)*size, len(all))
	end := min(from+size, len(all))
	return map[string]any{
		"TotalCount": len(all), "PageNumber": number, "PageSize": size,
		"EipAddresses": map[string]any{"EipAddress": append([]map[string]any{}, all[from:end]...)},
	}, nil
}

// modifyEipAddressAttribute sets a pay-as-you-go EIP's bandwidth. It takes
// no ClientToken (the reference lists none).
func (s *Server) modifyEipAddressAttribute(p url.Values) (any, *apiError) {
	id := p.Get("AllocationId")
	if id == "" {
		return nil, errCodef("MissingParameter", "AllocationId is mandatory for this action.")
	}
	st, ok := s.eip(id)
	if !ok {
		return nil, errCode("InvalidAllocationId.NotFound")
	}
	e := st.EipAddress
	raw := p.Get("Bandwidth")
	if raw == "" {
		return map[string]any{}, nil // name and description only: nothing to do here
	}
	bw, err := strconv.Atoi(raw)
	limit := maxEIPTraffic
	if e.InternetChargeType == payByBandwidth {
		limit = maxEIPBandwidth
	}
	now := s.clock()
	switch {
	case e.ChargeType == prePaid:
		return nil, errCode("Forbidden.ChargeTypeIsPrepaid")
	case err != nil || bw < 1 || bw > limit:
		return nil, errCodef("InvalidParameter", "Specified value of \"Bandwidth\" is not supported: %s Mbit/s (1..%d for %s).", raw, limit, e.InternetChargeType)
	case e.BandwidthPackageId != "":
		// Assumption: an EIP in an Internet Shared Bandwidth package has no
		// bandwidth of its own to change; answered as a status refusal.
		return nil, errCodef("IncorrectEipStatus", "EIP %s is in bandwidth package %s.", id, e.BandwidthPackageId)
	case len(e.OperationLocks) > 0 || e.Status != eipStatusInUse:
		return nil, errCode("IncorrectEipStatus")
	case bw == e.Bandwidth:
		// Assumption: setting the bandwidth in force again is accepted and
		// changes nothing: the value is absolute, so a retry or a racing
		// caller of the same decision makes no second change.
		return map[string]any{}, nil
	case now.Before(st.eip.lockedUntil):
		// Assumption (the reference is silent): like ECS, a change locks
		// the EIP's bandwidth for the lock duration; answered as
		// OperationConflict.
		return nil, errCode("OperationConflict")
	}
	from := e.Bandwidth
	e.Bandwidth = bw
	st.eip.caps = append(st.eip.caps, capStep{now, bw})
	st.eip.caps = trimHistory(st.eip.caps, now, func(c capStep) time.Time { return c.at })
	st.eip.lockedUntil = now.Add(s.lockDuration)
	kind := KindUpgrade
	if bw < from {
		kind = KindDowngrade
	}
	o := Order{OrderId: fmt.Sprintf("eipchg-%012d", s.nextID()), InstanceId: st.InstanceId, AllocationId: id, Kind: KindEIPBandwidth,
		From: from, To: bw, AutoPay: true, Paid: true, Time: now, Direction: kind}
	s.orderIndex[o.OrderId] = len(s.orders)
	s.orders = append(s.orders, o)
	return map[string]any{}, nil
}

// eipTargets reads ResourceType (EIP only) and ResourceId.N of a VPC tag action.
func (s *Server) eipTargets(p url.Values) ([]*instanceState, *apiError) {
	return resourceTargets(p, "EIP", true, s.eip)
}

func (s *Server) tagEIPs(p url.Values) (any, *apiError) {
	targets, e := s.eipTargets(p)
	if e != nil {
		return nil, e
	}
	tags, e := requestedTags(p)
	if e != nil {
		return nil, e
	}
	if e := addTags(targets, tags, func(st *instanceState) *map[string]string { return &st.EipAddress.Tags },
		func(st *instanceState) string { return "EIP " + st.EipAddress.AllocationId }); e != nil {
		return nil, e
	}
	for _, st := range targets {
		st.noteEIPTags(s.clock())
	}
	return map[string]any{}, nil
}

func (s *Server) listEIPTags(p url.Values) (any, *apiError) {
	targets, e := s.eipTargets(p)
	if e != nil {
		return nil, e
	}
	now := s.clock()
	rows := []map[string]string{}
	for _, st := range targets {
		tags := st.EipAddress.Tags
		if s.tagLag > 0 {
			tags = tagsAtLog(st.eip.tagLog, now.Add(-s.tagLag), tags)
		}
		for _, k := range sortedKeys(tags) {
			rows = append(rows, map[string]string{"ResourceId": st.EipAddress.AllocationId, "ResourceType": "EIP", "TagKey": k, "TagValue": tags[k]})
		}
	}
	// Assumption: one page holds every tag of at most 50 EIPs' 20 tags.
	return map[string]any{"NextToken": "", "TagResources": map[string]any{"TagResource": rows}}, nil
}

// SetEIPTag writes one tag on an EIP directly, as another writer would.
func (s *Server) SetEIPTag(allocationID, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.eip(allocationID)
	if !ok {
		return fmt.Errorf("emulator: no EIP %s", allocationID)
	}
	if st.EipAddress.Tags == nil {
		st.EipAddress.Tags = map[string]string{}
	}
	st.EipAddress.Tags[key] = value
	st.noteEIPTags(s.clock())
	return nil
}

func (st *instanceState) noteEIPTags(now time.Time) {
	snap := tagSnapshot{at: now, tags: make(map[string]string, len(st.EipAddress.Tags))}
	for k, v := range st.EipAddress.Tags {
		snap.tags[k] = v
	}
	st.eip.tagLog = append(st.eip.tagLog, snap)
	for len(st.eip.tagLog) > 1 && st.eip.tagLog[1].at.Before(now.Add(-maxTagLag)) {
		st.eip.tagLog = st.eip.tagLog[1:]
	}
}

// tagsAtLog is the tags of log as they were at t; current when log is empty.
func tagsAtLog(log []tagSnapshot, t time.Time, current map[string]string) map[string]string {
	for i := len(log) - 1; i >= 0; i-- {
		if !log[i].at.After(t) {
			return log[i].tags
		}
	}
	if len(log) > 0 {
		return log[0].tags
	}
	return current
}
