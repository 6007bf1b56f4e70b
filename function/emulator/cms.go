package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CloudMonitor (API version 2019-01-01) is served on the same port as ECS:
// requests with this Version go to cmsActions.
const cmsVersion = "2019-01-01"

// cmsActions are the CloudMonitor actions served.
var cmsActions = map[string]actionFunc{
	"DescribeMetricLast": (*Server).describeMetricLast,
	"DescribeMetricList": (*Server).describeMetricList,
}

const (
	cmsNamespace        = "acs_ecs_dashboard"
	metricVPC           = "VPC_PublicIP_InternetOutRate"
	metricClassic       = "InternetOutRate"
	percentSuffix       = "_Percent"
	cmsPeriod           = 60 * time.Second // the metrics' native period
	cmsRetention        = 31 * 24 * time.Hour
	cmsMaxDimensions    = 50
	cmsDefaultLength    = 1000
	cmsMaxLength        = 1440
	cmsDefaultListRange = time.Hour
	// defaultPublishDelay: [assumption] CloudMonitor publishes a period's
	// datapoint about a minute after the period ends; no source states it.
	defaultPublishDelay = 60 * time.Second
	// cmsUserID is the account every datapoint names.
	cmsUserID = "1234567890123456"
	// cmsTimeLayout is the other form of StartTime/EndTime, read in UTC+8
	// ([assumption], see cloudmonitor-api.md).
	cmsTimeLayout = "2006-01-02 15:04:05"
)

// cmsErrors are the CloudMonitor codes (cloudmonitor-api.md), after the ECS
// tables in lookupCode.
var cmsErrors = []CodeInfo{
	{"ParameterInvalid", 400, "The specified parameter is not valid."},
	{"AccessForbidden", 403, "User not authorized to operate on the specified resource."},
	{"Forbidden.RAM", 403, "User not authorized to operate on the specified resource, or this API doesn't support RAM."},
	{"ResourceNotFound", 404, "The specified resource is not found."},
	{"Throttling.User", 400, "Request was denied due to user flow control."},
}

// DemandStep is an instance's demand from At on.
type DemandStep struct {
	At   time.Time
	Mbps float64
}

// capStep is the outbound cap in force from at on.
type capStep struct {
	at   time.Time
	mbps int
}

// recordCap notes that the cap is mbps from at on. Later entries are plans
// (a temporary window) that a new decision replaces. Entries that no
// datapoint can reach any more are dropped, keeping the one in force then.
func (st *instanceState) recordCap(at time.Time, mbps int, now time.Time) {
	i, _ := slices.BinarySearchFunc(st.caps, at, func(c capStep, t time.Time) int { return c.at.Compare(t) })
	st.caps = append(st.caps[:i], capStep{at, mbps})
	st.caps = trimHistory(st.caps, now, func(c capStep) time.Time { return c.at })
}

// setDemand notes the demand mbps from at on, keeping later scheduled steps.
func (st *instanceState) setDemand(at time.Time, mbps float64, now time.Time) {
	i, _ := slices.BinarySearchFunc(st.demand, at, func(d DemandStep, t time.Time) int {
		if d.At.After(t) {
			return 1
		}
		return -1 // equal times: the new step goes after, and wins
	})
	st.demand = slices.Insert(st.demand, i, DemandStep{at, mbps})
	st.demand = trimHistory(st.demand, now, func(d DemandStep) time.Time { return d.At })
}

// trimHistory drops the steps before the retention window but the last of
// them, which is still in force at its start: memory stays bounded by the
// changes of 31 days.
func trimHistory[T any](steps []T, now time.Time, at func(T) time.Time) []T {
	cutoff := now.Add(-cmsRetention)
	n := 0
	for n+1 < len(steps) && !at(steps[n+1]).After(cutoff) {
		n++
	}
	return steps[n:]
}

// capAt is the cap in force at t.
func (st *instanceState) capAt(t time.Time) int {
	i, found := slices.BinarySearchFunc(st.caps, t, func(c capStep, t time.Time) int { return c.at.Compare(t) })
	if found {
		return st.caps[i].mbps
	}
	if i == 0 {
		return 0
	}
	return st.caps[i-1].mbps
}

// demandAt is the demand at t.
func (st *instanceState) demandAt(t time.Time) float64 {
	v := 0.0
	for _, d := range st.demand {
		if d.At.After(t) {
			break
		}
		v = d.Mbps
	}
	return v
}

// datapoint is one element of Datapoints, as CloudMonitor writes it.
type datapoint struct {
	Timestamp  int64    `json:"timestamp"`
	UserID     string   `json:"userId"`
	InstanceID string   `json:"instanceId"`
	Minimum    *float64 `json:"Minimum,omitempty"`
	Average    float64  `json:"Average"`
	Maximum    *float64 `json:"Maximum,omitempty"`
}

// sample is the datapoint of the period [start, start+period): the rate is
// min(demand, cap) in bit/s, piecewise constant between the steps of either;
// percent gives the rate as a percentage of the cap in force, Average only.
func (st *instanceState) sample(start time.Time, period time.Duration, percent bool) datapoint {
	return sampleOf(st.InstanceId, st.caps, st.demand, start, period, percent)
}

// sampleOf is sample over the given cap and demand histories, naming id.
func sampleOf(id string, caps []capStep, demand []DemandStep, start time.Time, period time.Duration, percent bool) datapoint {
	st := &instanceState{caps: caps, demand: demand}
	end := start.Add(period)
	cuts := []time.Time{start, end}
	for _, c := range st.caps {
		if c.at.After(start) && c.at.Before(end) {
			cuts = append(cuts, c.at)
		}
	}
	for _, d := range st.demand {
		if d.At.After(start) && d.At.Before(end) {
			cuts = append(cuts, d.At)
		}
	}
	slices.SortFunc(cuts, time.Time.Compare)
	var sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i+1 < len(cuts); i++ {
		span := cuts[i+1].Sub(cuts[i])
		if span <= 0 {
			continue
		}
		capMbps := float64(st.capAt(cuts[i]))
		rate := min(max(st.demandAt(cuts[i]), 0), capMbps)
		v := rate * 1e6
		if percent {
			v = 0
			if capMbps > 0 {
				v = rate / capMbps * 100
			}
		}
		sum += v * span.Seconds()
		lo, hi = min(lo, v), max(hi, v)
	}
	p := datapoint{Timestamp: start.UnixMilli(), UserID: cmsUserID, InstanceID: id, Average: sum / period.Seconds()}
	if !percent {
		p.Minimum, p.Maximum = &lo, &hi
	}
	return p
}

// cmsQuery is a parsed DescribeMetricLast / DescribeMetricList request.
type cmsQuery struct {
	percent    bool
	eip        bool     // acs_vpc_eip: the EIPs, by allocation ID
	network    string   // instances of this network type have the metric
	ids        []string // nil: every instance
	period     time.Duration
	length     int
	offset     int // from NextToken
	start, end time.Time
}

func (s *Server) parseCMSQuery(p url.Values) (cmsQuery, *apiError) {
	q := cmsQuery{period: s.period, length: cmsDefaultLength}
	ns := p.Get("Namespace")
	if ns != cmsNamespace && ns != vpcNamespace {
		return q, errCodef("ResourceNotFound", "The namespace %q is not served here; only %s and %s are.", ns, cmsNamespace, vpcNamespace)
	}
	metric := p.Get("MetricName")
	base, percent := strings.CutSuffix(metric, percentSuffix)
	q.percent = percent
	switch {
	case ns == vpcNamespace && (metric == metricEIPRate || metric == metricEIPPercent):
		q.eip, q.percent = true, metric == metricEIPPercent
	case ns == cmsNamespace && base == metricVPC:
		q.network = networkVPC
	case ns == cmsNamespace && base == metricClassic:
		q.network = networkClassic
	default:
		// [assumption] an unknown metric answers ResourceNotFound.
		return q, errCodef("ResourceNotFound", "The metric %q is not served here.", metric)
	}
	if raw := p.Get("Period"); raw != "" {
		secs, err := strconv.Atoi(raw)
		if err != nil || secs <= 0 || time.Duration(secs)*time.Second%s.period != 0 {
			return q, errCodef("ParameterInvalid", "The Period %q is not a multiple of %d seconds.", raw, int(s.period/time.Second))
		}
		q.period = time.Duration(secs) * time.Second
	}
	if raw := p.Get("Length"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n <= 0 {
			return q, errCodef("ParameterInvalid", "The Length %q is not a positive integer.", raw)
		}
		q.length = min(n, cmsMaxLength)
	}
	if raw := p.Get("NextToken"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return q, errCodef("ParameterInvalid", "The NextToken %q is not valid.", raw)
		}
		q.offset = n
	}
	if raw := p.Get("Dimensions"); raw != "" {
		ids, e := parseDimensions(raw)
		if e != nil {
			return q, e
		}
		q.ids = ids
	}
	now := s.clock()
	var e *apiError
	if q.end, e = cmsTime(p, "EndTime", now); e != nil {
		return q, e
	}
	if q.start, e = cmsTime(p, "StartTime", q.end.Add(-cmsDefaultListRange)); e != nil {
		return q, e
	}
	return q, nil
}

// parseDimensions reads a JSON array of {"instanceId": ...} objects, or one
// such object.
func parseDimensions(raw string) ([]string, *apiError) {
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		var one map[string]any
		if err1 := json.Unmarshal([]byte(raw), &one); err1 != nil {
			return nil, errCodef("ParameterInvalid", "parse param dimensions error(%v)", err)
		}
		list = []map[string]any{one}
	}
	// [assumption] more than 50 instances answer ParameterInvalid.
	if len(list) > cmsMaxDimensions {
		return nil, errCodef("ParameterInvalid", "The Dimensions name %d instances; at most %d are allowed.", len(list), cmsMaxDimensions)
	}
	ids := make([]string, 0, len(list))
	for _, d := range list {
		id, ok := d["instanceId"].(string)
		if !ok || id == "" {
			return nil, errCodef("ParameterInvalid", "parse param dimensions error(a dimension has no instanceId string)")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// cmsTime reads a StartTime/EndTime: milliseconds or "YYYY-MM-DD hh:mm:ss"
// in UTC+8; def when absent.
func cmsTime(p url.Values, name string, def time.Time) (time.Time, *apiError) {
	raw := p.Get(name)
	if raw == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.ParseInLocation(cmsTimeLayout, raw, time.FixedZone("UTC+8", 8*3600))
	if err != nil {
		return time.Time{}, errCodef("ParameterInvalid", "The %s %q is neither milliseconds nor %q.", name, raw, cmsTimeLayout)
	}
	return t, nil
}

// cmsInstances are the instances q covers, in listing order.
func (s *Server) cmsInstances(q cmsQuery) []*instanceState {
	var out []*instanceState
	if q.eip {
		if q.ids == nil {
			for _, id := range s.order {
				if st := s.instances[id]; st.EipAddress != nil {
					out = append(out, st)
				}
			}
			return out
		}
		for _, id := range q.ids {
			if st, ok := s.eip(id); ok {
				out = append(out, st)
			}
		}
		return out
	}
	if q.ids == nil {
		for _, id := range s.order {
			if st := s.instances[id]; st.InstanceNetworkType == q.network {
				out = append(out, st)
			}
		}
		return out
	}
	for _, id := range q.ids {
		if st, ok := s.instances[id]; ok && st.InstanceNetworkType == q.network {
			out = append(out, st)
		}
	}
	return out
}

// periods is the range of period starts of st with a datapoint published by
// now, as [first, last] (empty when last is before first): from the first
// whole period after the later of st's creation and the retention limit,
// to the last period that ended by now minus the publish delay.
func (s *Server) periods(st *instanceState, period time.Duration) (first, last time.Time) {
	now := s.clock()
	earliest := st.created
	if limit := now.Add(-cmsRetention); limit.After(earliest) {
		earliest = limit
	}
	first = earliest.Truncate(period)
	if first.Before(earliest) {
		first = first.Add(period)
	}
	last = now.Add(-s.publishDelay).Truncate(period).Add(-period)
	return first, last
}

func (s *Server) describeMetricLast(p url.Values) (any, *apiError) {
	q, e := s.parseCMSQuery(p)
	if e != nil {
		return nil, e
	}
	// [assumption] StartTime and EndTime do not narrow DescribeMetricLast.
	return s.cmsPage(q, func(st *instanceState) (time.Time, time.Time) {
		first, last := s.periods(st, q.period)
		if last.Before(first) {
			return first, last // empty: nothing published yet
		}
		return last, last
	}), nil
}

func (s *Server) describeMetricList(p url.Values) (any, *apiError) {
	q, e := s.parseCMSQuery(p)
	if e != nil {
		return nil, e
	}
	if q.end.Sub(q.start) > cmsRetention {
		return nil, errCodef("ParameterInvalid", "StartTime and EndTime are more than 31 days apart.")
	}
	// Timestamps in (StartTime, EndTime].
	after := q.start.Truncate(q.period).Add(q.period)
	upTo := q.end.Truncate(q.period)
	return s.cmsPage(q, func(st *instanceState) (time.Time, time.Time) {
		first, last := s.periods(st, q.period)
		if first.Before(after) {
			first = after
		}
		if last.After(upTo) {
			last = upTo
		}
		return first, last
	}), nil
}

// cmsPage answers one page of q: the datapoints of every instance q covers
// with starts from..to (inclusive; none when to is before from) as window
// says, instance after instance, from q.offset on. They are computed for the
// page only, so a page costs what it holds, whatever the range.
func (s *Server) cmsPage(q cmsQuery, window func(*instanceState) (from, to time.Time)) map[string]any {
	points := []datapoint{}
	skip, next := q.offset, 0
	for _, st := range s.cmsInstances(q) {
		from, to := window(st)
		if to.Before(from) {
			continue
		}
		n := int(to.Sub(from)/q.period) + 1
		if skip >= n {
			skip -= n
			continue
		}
		for k := skip; k < n; k++ {
			if len(points) == q.length {
				next = q.offset + len(points)
				break
			}
			start := from.Add(time.Duration(k) * q.period)
			if q.eip {
				// An EIP-bound instance's traffic goes through its EIP:
				// min(demand, the EIP's bandwidth).
				points = append(points, sampleOf(st.EipAddress.AllocationId, st.eip.caps, st.demand, start, q.period, q.percent))
			} else {
				points = append(points, st.sample(start, q.period, q.percent))
			}
		}
		skip = 0
		if next != 0 {
			break
		}
	}
	encoded, _ := json.Marshal(points) // plain numbers and strings always encode
	out := map[string]any{
		"Code":       "200",
		"Success":    true,
		"Period":     strconv.Itoa(int(q.period / time.Second)),
		"Datapoints": string(encoded),
	}
	if next != 0 {
		out["NextToken"] = strconv.Itoa(next)
	}
	return out
}

// SetDemand sets an instance's demand (Mbit/s) from now on; scheduled steps
// after now still apply.
func (s *Server) SetDemand(id string, mbps float64) error {
	if err := checkMbps(mbps); err != nil {
		return fmt.Errorf("emulator: demand of %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.instances[id]
	if !ok {
		return fmt.Errorf("emulator: demand of %s: no such instance", id)
	}
	now := s.clock()
	st.setDemand(now, mbps, now)
	st.Demand = mbps
	return nil
}

func checkMbps(mbps float64) error {
	if math.IsNaN(mbps) || math.IsInf(mbps, 0) || mbps < 0 {
		return fmt.Errorf("%v Mbit/s is not a finite non-negative rate", mbps)
	}
	return nil
}
