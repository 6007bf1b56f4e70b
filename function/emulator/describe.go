package emulator

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Limits of the describe and tag actions.
const (
	maxInstanceIds  = 100
	defaultPageSize = 10
	maxPageSize     = 100
	maxTags         = 20
	maxTagResources = 50
	tagPageSize     = 50
	maxTagKeyLen    = 128
	maxTagValueLen  = 128
)

// Response shapes, named as the SDK's services/ecs structs decode them.
type (
	tagJSON struct {
		TagKey, TagValue string
	}
	lockJSON struct {
		LockReason string
		LockMsg    string
	}
	eipJSON struct {
		IpAddress, AllocationId, InternetChargeType string
		Bandwidth                                   int
		IsSupportUnassociate                        bool
	}
	instanceJSON struct {
		InstanceId, RegionId, ZoneId, InstanceName, HostName, Status string
		InstanceChargeType, InternetChargeType, InstanceNetworkType  string
		InternetMaxBandwidthOut, InternetMaxBandwidthIn              int
		ExpiredTime                                                  string
		PublicIpAddress                                              struct{ IpAddress []string }
		EipAddress                                                   eipJSON
		OperationLocks                                               struct{ LockReason []lockJSON }
		VpcAttributes                                                vpcJSON
		Tags                                                         struct{ Tag []tagJSON }
	}
	vpcJSON struct {
		VpcId, VSwitchId, NatIpAddress string
		PrivateIpAddress               struct{ IpAddress []string }
	}
)

// toJSON renders an instance as DescribeInstances / DescribeInstanceAttribute
// do (the two share these field names).
func toJSON(in Instance) instanceJSON {
	j := instanceJSON{
		InstanceId: in.InstanceId, RegionId: in.RegionId, ZoneId: in.ZoneId,
		InstanceName: in.InstanceName, HostName: in.InstanceName, Status: in.Status,
		InstanceChargeType: in.InstanceChargeType, InternetChargeType: in.InternetChargeType,
		InstanceNetworkType:     in.InstanceNetworkType,
		InternetMaxBandwidthOut: in.InternetMaxBandwidthOut, InternetMaxBandwidthIn: in.InternetMaxBandwidthIn,
		ExpiredTime: in.ExpiredTime,
	}
	j.PublicIpAddress.IpAddress = append([]string{}, in.PublicIpAddress...)
	if in.EipAddress != nil {
		j.EipAddress = eipJSON{IpAddress: in.EipAddress.IpAddress, AllocationId: in.EipAddress.AllocationId,
			InternetChargeType: in.EipAddress.InternetChargeType, Bandwidth: in.EipAddress.Bandwidth, IsSupportUnassociate: true}
	}
	j.OperationLocks.LockReason = []lockJSON{}
	for _, l := range in.OperationLocks {
		j.OperationLocks.LockReason = append(j.OperationLocks.LockReason, lockJSON{LockReason: l})
	}
	if in.InstanceNetworkType == networkVPC {
		j.VpcAttributes.VpcId = "vpc-" + in.InstanceId
		j.VpcAttributes.VSwitchId = "vsw-" + in.InstanceId
	}
	j.VpcAttributes.PrivateIpAddress.IpAddress = []string{}
	j.Tags.Tag = []tagJSON{}
	for _, k := range sortedKeys(in.Tags) {
		j.Tags.Tag = append(j.Tags.Tag, tagJSON{TagKey: k, TagValue: in.Tags[k]})
	}
	return j
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// describeInstances filters by InstanceIds, RegionId, Tag.N and the simple
// attribute filters, and pages by PageNumber/PageSize or, when MaxResults or
// NextToken is given, by NextToken/MaxResults.
func (s *Server) describeInstances(p url.Values) (any, *apiError) {
	region := p.Get("RegionId")
	if region == "" {
		return nil, errCodef("MissingParameter", "RegionId is mandatory for this action.")
	}
	var ids map[string]bool
	if raw := p.Get("InstanceIds"); raw != "" {
		var list []string
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			return nil, errCodef("InvalidInstanceIds.ValueNotSupported", "The specified InstanceIds %q is not a JSON array of strings.", raw)
		}
		if len(list) > maxInstanceIds {
			return nil, errCodef("InvalidInstanceIds.ValueNotSupported", "The specified InstanceIds has %d IDs; at most %d are allowed.", len(list), maxInstanceIds)
		}
		ids = make(map[string]bool, len(list))
		for _, id := range list {
			ids[id] = true
		}
	}
	tags, e := tagPairs(p, "Tag")
	if e != nil {
		return nil, e
	}
	attrs := map[string]func(Instance) string{
		"Status":              func(in Instance) string { return in.Status },
		"InstanceChargeType":  func(in Instance) string { return in.InstanceChargeType },
		"InternetChargeType":  func(in Instance) string { return in.InternetChargeType },
		"InstanceNetworkType": func(in Instance) string { return in.InstanceNetworkType },
	}
	now := s.clock()
	var matched []instanceJSON
next:
	for _, id := range s.order {
		if ids != nil && !ids[id] {
			continue // before the copy: a fleet of 1,000 must not cost 1,000 copies per call
		}
		in := s.instances[id].effective(now)
		if s.tagLag > 0 {
			in.Tags = s.instances[id].tagsAt(now.Add(-s.tagLag))
		}
		if in.RegionId != region || !hasTags(in.Tags, tags) {
			continue
		}
		for name, get := range attrs {
			if want := p.Get(name); want != "" && get(in) != want {
				continue next
			}
		}
		matched = append(matched, toJSON(in))
	}

	resp := map[string]any{"TotalCount": len(matched)}
	var from, size int
	if p.Has("MaxResults") || p.Get("NextToken") != "" {
		if size, e = pageSize(p, "MaxResults"); e != nil {
			return nil, e
		}
		if tok := p.Get("NextToken"); tok != "" {
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n > len(matched) {
				return nil, errCodef("InvalidParameter", "The specified NextToken %q is not valid.", tok)
			}
			from = n
		}
		end := min(from+size, len(matched))
		resp["NextToken"] = ""
		if end < len(matched) {
			resp["NextToken"] = strconv.Itoa(end)
		}
		resp["PageSize"] = size
	} else {
		if size, e = pageSize(p, "PageSize"); e != nil {
			return nil, e
		}
		page, set, e := intParam(p, "PageNumber")
		if e != nil {
			return nil, e
		}
		if !set {
			page = 1
		}
		if page < 1 {
			return nil, errCodef("InvalidParameter", "The specified PageNumber %d is not valid.", page)
		}
		from = min((page-1)*size, len(matched))
		resp["PageNumber"], resp["PageSize"] = page, size
	}
	page := matched[from:min(from+size, len(matched))]
	resp["Instances"] = map[string]any{"Instance": append([]instanceJSON{}, page...)}
	return resp, nil
}

// pageSize reads PageSize or MaxResults: 1..100, 10 when absent.
func pageSize(p url.Values, name string) (int, *apiError) {
	size, set, e := intParam(p, name)
	if e != nil {
		return 0, e
	}
	if !set {
		return defaultPageSize, nil
	}
	if size < 1 || size > maxPageSize {
		return 0, errCodef("InvalidParameter", "The specified %s %d is not between 1 and %d.", name, size, maxPageSize)
	}
	return size, nil
}

// hasTags reports whether tags carry every filter pair (a pair without a
// value matches any value of its key).
func hasTags(tags map[string]string, filter []tagPair) bool {
	for _, f := range filter {
		v, ok := tags[f.key]
		if !ok || (f.hasValue && v != f.value) {
			return false
		}
	}
	return true
}

func (s *Server) describeInstanceAttribute(p url.Values) (any, *apiError) {
	st, e := s.lookup(p)
	if e != nil {
		return nil, e
	}
	j := toJSON(st.effective(s.clock()))
	// Both responses share the field names; a round trip turns the struct
	// into the flat object withRequestID extends.
	var m map[string]any
	b, _ := json.Marshal(j)
	_ = json.Unmarshal(b, &m)
	return m, nil
}

// lookup finds the instance named by the required InstanceId parameter.
func (s *Server) lookup(p url.Values) (*instanceState, *apiError) {
	id := p.Get("InstanceId")
	if id == "" {
		return nil, errCodef("MissingParameter", "InstanceId is mandatory for this action.")
	}
	st, ok := s.instances[id]
	if !ok {
		return nil, errCode("InvalidInstanceId.NotFound")
	}
	return st, nil
}

// tagTargets reads ResourceType (instance only) and ResourceId.N of a tag action.
func (s *Server) tagTargets(p url.Values, required bool) ([]*instanceState, *apiError) {
	return resourceTargets(p, "instance", required, func(id string) (*instanceState, bool) {
		st, ok := s.instances[id]
		return st, ok
	})
}

// resourceTargets reads ResourceType (want only, as spelled; VPC's EIP is
// matched without regard to case) and ResourceId.N of a tag action, each
// resolved by find.
func resourceTargets(p url.Values, want string, required bool, find func(string) (*instanceState, bool)) ([]*instanceState, *apiError) {
	if rt := p.Get("ResourceType"); rt != want && !(want == "EIP" && strings.EqualFold(rt, want)) {
		if rt == "" {
			return nil, errCodef("MissingParameter", "ResourceType is mandatory for this action.")
		}
		return nil, errCodef("InvalidResourceType.NotSupported", "The specified ResourceType %q is not supported; only %s is.", rt, want)
	}
	ids, e := list(p, "ResourceId", maxTagResources)
	if e != nil {
		return nil, e
	}
	if required && len(ids) == 0 {
		return nil, errCodef("MissingParameter", "ResourceId.1 is mandatory for this action.")
	}
	targets := make([]*instanceState, 0, len(ids))
	for _, id := range ids {
		st, ok := find(id)
		if !ok {
			return nil, errCodef("InvalidResourceId.NotFound", "The specified ResourceId %q is not found.", id)
		}
		targets = append(targets, st)
	}
	return targets, nil
}

// addTags adds tags to every target's map (at gives it), or to none when one
// would carry more than ECS allows; named says which resource that is.
func addTags(targets []*instanceState, tags []tagPair, at func(*instanceState) *map[string]string, named func(*instanceState) string) *apiError {
	for _, st := range targets {
		keys := make(map[string]bool, len(*at(st))+len(tags))
		for k := range *at(st) {
			keys[k] = true
		}
		for _, t := range tags {
			keys[t.key] = true
		}
		if len(keys) > maxTags {
			return errCodef("InvalidTagCount", "%s would carry %d tags; at most %d are allowed.", named(st), len(keys), maxTags)
		}
	}
	for _, st := range targets {
		m := at(st)
		if *m == nil {
			*m = map[string]string{}
		}
		for _, t := range tags {
			(*m)[t.key] = t.value
		}
	}
	return nil
}

// tagResources sets tags on instances; it validates everything before
// changing anything, so a refused call changes nothing.
func (s *Server) tagResources(p url.Values) (any, *apiError) {
	targets, e := s.tagTargets(p, true)
	if e != nil {
		return nil, e
	}
	tags, e := requestedTags(p)
	if e != nil {
		return nil, e
	}
	if e := addTags(targets, tags, func(st *instanceState) *map[string]string { return &st.Tags },
		func(st *instanceState) string { return "Instance " + st.InstanceId }); e != nil {
		return nil, e
	}
	for _, st := range targets {
		st.noteTags(s.clock())
	}
	return map[string]any{}, nil
}

// requestedTags are a TagResources call's Tag.N pairs, at least one, each
// valid (ECS and VPC share the rules).
func requestedTags(p url.Values) ([]tagPair, *apiError) {
	tags, e := tagPairs(p, "Tag")
	if e != nil {
		return nil, e
	}
	if len(tags) == 0 {
		return nil, errCodef("MissingParameter", "Tag.1.Key is mandatory for this action.")
	}
	for _, t := range tags {
		if e := validTag(t); e != nil {
			return nil, e
		}
	}
	return tags, nil
}

func validTag(t tagPair) *apiError {
	lower := strings.ToLower(t.key)
	if t.key == "" || len(t.key) > maxTagKeyLen || strings.HasPrefix(lower, "aliyun") || strings.HasPrefix(lower, "acs:") ||
		strings.Contains(lower, "http://") || strings.Contains(lower, "https://") {
		return errCodef("InvalidTagKey.Malformed", "The specified tag key %q is empty, longer than %d characters or uses a reserved prefix.", t.key, maxTagKeyLen)
	}
	if len(t.value) > maxTagValueLen || strings.Contains(t.value, "http://") || strings.Contains(t.value, "https://") {
		return errCodef("InvalidTagValue.Malformed", "The specified value of tag %q is longer than %d characters or contains a URL.", t.key, maxTagValueLen)
	}
	return nil
}

func (s *Server) untagResources(p url.Values) (any, *apiError) {
	targets, e := s.tagTargets(p, true)
	if e != nil {
		return nil, e
	}
	all, e := boolParam(p, "All", false)
	if e != nil {
		return nil, e
	}
	keys, e := list(p, "TagKey", maxTags)
	if e != nil {
		return nil, e
	}
	if !all && len(keys) == 0 {
		return nil, errCodef("MissingParameter", "TagKey.1 or All=true is mandatory for this action.")
	}
	for _, st := range targets {
		if all {
			st.Tags = nil
			st.noteTags(s.clock())
			continue
		}
		for _, k := range keys {
			delete(st.Tags, k)
		}
		st.noteTags(s.clock())
	}
	return map[string]any{}, nil
}

// listTagResources lists (instance, tag) pairs, 50 per page.
func (s *Server) listTagResources(p url.Values) (any, *apiError) {
	targets, e := s.tagTargets(p, false)
	if e != nil {
		return nil, e
	}
	filter, e := tagPairs(p, "Tag")
	if e != nil {
		return nil, e
	}
	if len(targets) == 0 && len(filter) == 0 {
		return nil, errCodef("MissingParameter", "ResourceId.N or Tag.N is mandatory for this action.")
	}
	if len(targets) == 0 {
		for _, id := range s.order {
			targets = append(targets, s.instances[id])
		}
	}
	var rows []map[string]string
	for _, st := range targets {
		if !hasTags(st.Tags, filter) {
			continue
		}
		for _, k := range sortedKeys(st.Tags) {
			rows = append(rows, map[string]string{"ResourceId": st.InstanceId, "ResourceType": "instance", "TagKey": k, "TagValue": st.Tags[k]})
		}
	}
	from := 0
	if tok := p.Get("NextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(rows) {
			return nil, errCodef("InvalidParameter", "The specified NextToken %q is not valid.", tok)
		}
		from = n
	}
	end := min(from+tagPageSize, len(rows))
	next := ""
	if end < len(rows) {
		next = strconv.Itoa(end)
	}
	return map[string]any{
		"NextToken":    next,
		"TagResources": map[string]any{"TagResource": append([]map[string]string{}, rows[from:end]...)},
	}, nil
}
