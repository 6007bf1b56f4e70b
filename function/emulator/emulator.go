// Package emulator is an in-memory ECS API (version 2014-05-26) and
// CloudMonitor API (version 2019-01-01, on the same Server) for tests and
// local runs. It speaks the RPC wire format of alibaba-cloud-sdk-go, verifies
// its HMAC-SHA1 signatures, and implements DescribeInstances,
// DescribeInstanceAttribute, ModifyInstanceNetworkSpec, TagResources,
// UntagResources and ListTagResources with the rules of the ECS API
// reference, an order ledger, a request log and fault injection.
//
// CloudMonitor's DescribeMetricLast and DescribeMetricList serve the
// outbound rate metrics of acs_ecs_dashboard from a demand model: each
// instance has a demand (Instance.Demand, DemandSchedule, SetDemand), and a
// period's datapoint is min(demand, cap in force) over that period, from
// the remembered history of both, published PublishDelay after it ends.
//
// The function's own code never imports this package.
package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"
)

// Credential is one access key the emulator accepts. SecurityToken is "" for
// a plain AccessKey; otherwise requests must carry exactly that STS token.
type Credential struct{ AccessKeyID, AccessKeySecret, SecurityToken string }

// Account is the payer of orders. Balance is in yuan.
type Account struct {
	Balance float64
	Arrears bool
}

// Config configures a Server. The zero value works: no credentials (every
// signed request fails with InvalidAccessKeyId.NotFound until some are given),
// a 5-minute lock, the real clock, 1 yuan per Mbit/s and an unlimited balance.
type Config struct {
	Credentials  []Credential
	LockDuration time.Duration // lock after each successful change; 0 means 5m
	// Period is the metrics' native period; 0 means CloudMonitor's 60 s.
	// A local run shortens it to seconds: the function takes every
	// datapoint's period from the answer, never assuming 60 s.
	Period       time.Duration
	Clock        func() time.Time // nil means time.Now
	PricePerMbit float64          // per Mbit/s of upgrade; 0 means 1.0
	// Account is the payer. A zero Balance means "unlimited" here so that the
	// zero Config works; a positive Balance is enforced. SetAccount always
	// enforces the balance it sets, including 0.
	Account Account
	// MaxLoggedRequests bounds the request log (oldest entries are dropped);
	// 0 means 100000.
	MaxLoggedRequests int
	// PublishDelay is how long after a period ends CloudMonitor serves its
	// datapoint; 0 means 60s.
	PublishDelay time.Duration
}

// Instance is the state of one ECS instance. Field names are those of
// DescribeInstances where one exists, so instance files read like its output.
type Instance struct {
	InstanceId, RegionId, ZoneId, InstanceName string
	Status                                     string // Running, Stopped, Starting, Stopping, Pending
	InstanceChargeType                         string // PrePaid | PostPaid
	InternetChargeType                         string // PayByBandwidth | PayByTraffic
	InstanceNetworkType                        string // vpc | classic
	InternetMaxBandwidthOut                    int
	InternetMaxBandwidthIn                     int
	PublicIpAddress                            []string
	EipAddress                                 *EIP
	Tags                                       map[string]string
	ExpiredTime                                string   // yyyy-MM-ddThh:mmZ; a past time on PrePaid means expired
	OperationLocks                             []string // lock reasons, e.g. "security"
	Downgrades                                 int      // PrePaid downgrades already spent (quota 3)
	// Demand is the outbound rate (Mbit/s) the instance would send without
	// a cap; CloudMonitor reports min(demand, cap). DemandSchedule changes
	// it at given times.
	Demand         float64
	DemandSchedule []DemandStep
}

// EIP is an elastic IP address associated with an instance. Field names
// are those of DescribeEipAddresses; the empty InternetChargeType, ChargeType
// and Status mean PayByTraffic, PostPaid and InUse.
type EIP struct {
	IpAddress, AllocationId string
	Bandwidth               int
	InternetChargeType      string            // PayByTraffic | PayByBandwidth
	ChargeType              string            // PostPaid | PrePaid
	BandwidthPackageId      string            // set: in an Internet Shared Bandwidth package
	Status                  string            // InUse, Associating, ...
	OperationLocks          []string          // lock reasons
	Tags                    map[string]string // the EIP's own tags (VPC TagResources)
}

// Order kinds.
const (
	KindUpgrade          = "upgrade"
	KindDowngrade        = "downgrade"
	KindTemporaryUpgrade = "temporary-upgrade"
	// KindChargeType is a change of the network billing method alone.
	KindChargeType = "charge-type"
)

// Order is one entry of the order ledger: one per successful change.
type Order struct {
	OrderId, InstanceId string
	Kind                string // KindUpgrade, KindDowngrade, KindTemporaryUpgrade, KindChargeType
	From, To            int    // outbound bandwidth, Mbit/s
	AutoPay, Paid       bool
	Amount              float64 // charged, yuan
	Refund              float64 // refunded (PrePaid downgrades), yuan
	ClientToken         string
	Time                time.Time
	StartTime, EndTime  string // temporary upgrades only
	// AllocationId is the EIP of a KindEIPBandwidth entry, whose
	// InstanceId is the instance it is bound to and Direction says
	// KindUpgrade or KindDowngrade. Such entries are no orders (a
	// pay-as-you-go EIP's change makes none) and carry no ClientToken
	// (ModifyEipAddressAttribute takes none).
	AllocationId string `json:",omitempty"`
	Direction    string `json:",omitempty"`
}

// Request is one entry of the request log.
type Request struct {
	Action    string
	Params    url.Values // without Signature and SecurityToken
	Status    int
	Code      string // "" on success
	RequestId string
	Time      time.Time
}

// Fault makes matching calls fail (after the signature check).
type Fault struct {
	Action        string        // "" = any action
	Code          string        // ECS error code to answer; "" = none (latency only)
	HTTPStatus    int           // 0 = the code's usual status
	Message       string        // "" = the table's message for Code and HTTPStatus
	Count         int           // how many calls fail; 0 = 1
	ApplyThenFail bool          // run the action (apply the change, record the order) but answer the error
	Latency       time.Duration // delay before answering; ends early if the client goes away
}

// Server is the emulated ECS endpoint. It implements http.Handler and is
// safe for concurrent use.
type Server struct {
	creds        map[string]Credential
	lockDuration time.Duration
	clock        func() time.Time
	price        float64
	maxRequests  int
	publishDelay time.Duration
	period       time.Duration

	mu           sync.Mutex
	account      Account
	limitBalance bool
	instances    map[string]*instanceState
	order        []string // instance IDs in insertion order: the listing order
	orders       []Order
	orderIndex   map[string]int // OrderId -> index in orders
	requests     []Request
	faults       []Fault
	tagLag       time.Duration // SetTagLag
	tokens       map[string]tokenRecord
	nonces       nonceMemory
	seq          uint64
}

// instanceState is an instance plus what the API keeps about it.
type instanceState struct {
	Instance
	lockedUntil time.Time  // no change before this (the lock after a change)
	frozenUntil time.Time  // PrePaid: no change after a downgrade until the billing cycle ends
	unpaid      string     // OrderId of the unpaid order blocking changes
	pending     *change    // the change the unpaid order will apply
	temporary   *temporary // a temporary upgrade, open or scheduled
	created     time.Time  // when first added: CloudMonitor has no data before
	caps        []capStep  // the outbound cap over time, oldest first
	demand      []DemandStep
	tagLog      []tagSnapshot // for SetTagLag
	eip         eipState      // the bound EIP's history, when EipAddress is set
}

// temporary is a temporary bandwidth upgrade window.
type temporary struct {
	out, in    int
	start, end time.Time
}

// tokenRecord is what a ClientToken bought.
type tokenRecord struct {
	fingerprint string
	orderID     string
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	s := &Server{
		creds:        make(map[string]Credential, len(cfg.Credentials)),
		lockDuration: cfg.LockDuration,
		clock:        cfg.Clock,
		price:        cfg.PricePerMbit,
		maxRequests:  cfg.MaxLoggedRequests,
		publishDelay: cfg.PublishDelay,
		period:       cfg.Period,
		account:      cfg.Account,
		limitBalance: cfg.Account.Balance > 0,
		instances:    make(map[string]*instanceState),
		orderIndex:   make(map[string]int),
		tokens:       make(map[string]tokenRecord),
		nonces:       nonceMemory{seen: make(map[string]time.Time)},
	}
	for _, c := range cfg.Credentials {
		s.creds[c.AccessKeyID] = c
	}
	if s.lockDuration <= 0 {
		s.lockDuration = 5 * time.Minute
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.price <= 0 {
		s.price = 1.0
	}
	if s.maxRequests <= 0 {
		s.maxRequests = 100000
	}
	if s.publishDelay <= 0 {
		s.publishDelay = defaultPublishDelay
	}
	if s.period <= 0 {
		s.period = cmsPeriod
	}
	return s
}

// AddInstance adds in, replacing an instance with the same ID together with
// its locks, unpaid order, temporary upgrade and demand; a replaced
// instance keeps its creation time and the history of its cap.
func (s *Server) AddInstance(in Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	st := &instanceState{Instance: in.clone(), created: now}
	if old, ok := s.instances[in.InstanceId]; ok {
		st.created, st.caps = old.created, old.caps
	} else {
		s.order = append(s.order, in.InstanceId)
	}
	st.recordCap(now, in.InternetMaxBandwidthOut, now)
	st.demand = []DemandStep{{Mbps: in.Demand}} // from the beginning of time
	for _, d := range in.DemandSchedule {
		st.setDemand(d.At, d.Mbps, now)
	}
	st.noteTags(now)
	if e := st.EipAddress; e != nil {
		e.withDefaults()
		st.eip.caps = []capStep{{now, e.Bandwidth}}
		if old, ok := s.instances[in.InstanceId]; ok && old.EipAddress != nil && old.EipAddress.AllocationId == e.AllocationId {
			st.eip.caps = append(old.eip.caps, capStep{now, e.Bandwidth})
		}
		st.noteEIPTags(now)
	}
	s.instances[in.InstanceId] = st
}

// Instance returns a copy of the instance with the bandwidth in effect now
// (a temporary upgrade included).
func (s *Server) Instance(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.instances[id]
	if !ok {
		return Instance{}, false
	}
	return st.effective(s.clock()), true
}

// Instances returns copies of all instances in listing order, as Instance does.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	out := make([]Instance, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.instances[id].effective(now))
	}
	return out
}

// Orders returns the order ledger, oldest first; empty, not nil, so that
// /_emulator/orders answers [] rather than null before the first order.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(make([]Order, 0, len(s.orders)), s.orders...)
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Params = cloneValues(r.Params)
		out[i] = r
	}
	return out
}

// Inject adds a fault; faults are matched in the order they were injected.
func (s *Server) Inject(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetAccount replaces the account; its balance is enforced from now on.
func (s *Server) SetAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account = a
	s.limitBalance = true
}

// Account returns the account as it stands.
func (s *Server) Account() Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account
}

// PayOrder pays an unpaid order (as a person would in the console): the
// balance is charged and the change the order holds takes effect.
func (s *Server) PayOrder(orderID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.orderIndex[orderID]
	if !ok {
		return fmt.Errorf("emulator: pay order %q: no such order", orderID)
	}
	o := &s.orders[i]
	if o.Paid {
		return fmt.Errorf("emulator: pay order %q: already paid", orderID)
	}
	if s.limitBalance && o.Amount > s.account.Balance {
		return fmt.Errorf("emulator: pay order %q: amount %.2f exceeds balance %.2f", orderID, o.Amount, s.account.Balance)
	}
	st := s.instances[o.InstanceId]
	if st == nil || st.unpaid != orderID || st.pending == nil {
		return fmt.Errorf("emulator: pay order %q: instance %s no longer holds it", orderID, o.InstanceId)
	}
	s.charge(o.Amount)
	o.Paid = true
	s.apply(st, st.pending, s.clock())
	st.unpaid, st.pending = "", nil
	return nil
}

// LoadInstances reads a JSON array of Instance, rejecting unknown fields,
// duplicate IDs and values ECS cannot hold.
func LoadInstances(r io.Reader) ([]Instance, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var list []Instance
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("emulator: decode instances: %w", err)
	}
	seen := make(map[string]bool, len(list))
	for i, in := range list {
		if err := in.validate(); err != nil {
			return nil, fmt.Errorf("emulator: instance %d: %w", i, err)
		}
		if seen[in.InstanceId] {
			return nil, fmt.Errorf("emulator: instance %d: duplicate InstanceId %q", i, in.InstanceId)
		}
		seen[in.InstanceId] = true
	}
	return list, nil
}

func (in Instance) validate() error {
	oneOf := func(field, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("%s %q is not one of %v", field, v, allowed)
	}
	if in.InstanceId == "" {
		return fmt.Errorf("InstanceId is empty")
	}
	for _, err := range []error{
		oneOf("Status", in.Status, statusRunning, statusStopped, "Starting", "Stopping", "Pending"),
		oneOf("InstanceChargeType", in.InstanceChargeType, prePaid, postPaid),
		oneOf("InternetChargeType", in.InternetChargeType, payByBandwidth, payByTraffic),
		oneOf("InstanceNetworkType", in.InstanceNetworkType, networkVPC, networkClassic),
	} {
		if err != nil {
			return fmt.Errorf("instance %s: %w", in.InstanceId, err)
		}
	}
	limit := maxBandwidthOther
	if in.InstanceChargeType == prePaid && in.InternetChargeType == payByBandwidth {
		limit = maxBandwidthOut
	}
	if in.InternetMaxBandwidthOut < 0 || in.InternetMaxBandwidthOut > limit || in.InternetMaxBandwidthIn < 0 {
		return fmt.Errorf("instance %s: bandwidth out %d / in %d out of range", in.InstanceId, in.InternetMaxBandwidthOut, in.InternetMaxBandwidthIn)
	}
	for _, mbps := range append([]float64{in.Demand}, demandValues(in.DemandSchedule)...) {
		if err := checkMbps(mbps); err != nil {
			return fmt.Errorf("instance %s: demand: %w", in.InstanceId, err)
		}
	}
	if in.ExpiredTime != "" {
		if _, err := parseExpiredTime(in.ExpiredTime); err != nil {
			return fmt.Errorf("instance %s: %w", in.InstanceId, err)
		}
	}
	return nil
}

// clone deep-copies the slices and maps of in.
func (in Instance) clone() Instance {
	in.PublicIpAddress = append([]string(nil), in.PublicIpAddress...)
	in.OperationLocks = append([]string(nil), in.OperationLocks...)
	in.DemandSchedule = append([]DemandStep(nil), in.DemandSchedule...)
	if in.EipAddress != nil {
		eip := *in.EipAddress
		eip.OperationLocks = append([]string(nil), eip.OperationLocks...)
		if eip.Tags != nil {
			tags := make(map[string]string, len(eip.Tags))
			for k, v := range eip.Tags {
				tags[k] = v
			}
			eip.Tags = tags
		}
		in.EipAddress = &eip
	}
	if in.Tags != nil {
		tags := make(map[string]string, len(in.Tags))
		for k, v := range in.Tags {
			tags[k] = v
		}
		in.Tags = tags
	}
	return in
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// effective returns a copy of the instance with a temporary upgrade applied
// while its window is open. Assumption (the API reference is silent):
// DescribeInstances reports the temporary value during the window and the
// permanent one after EndTime.
func (st *instanceState) effective(now time.Time) Instance {
	in := st.Instance.clone()
	if t := st.temporary; t != nil && !now.Before(t.start) && now.Before(t.end) {
		in.InternetMaxBandwidthOut, in.InternetMaxBandwidthIn = t.out, t.in
	}
	return in
}

// charge takes amount from the balance when it is enforced.
func (s *Server) charge(amount float64) {
	if s.limitBalance {
		s.account.Balance -= amount
	}
}

// nextID returns a fresh sequential number for IDs.
func (s *Server) nextID() uint64 {
	s.seq++
	return s.seq
}

func demandValues(steps []DemandStep) []float64 {
	out := make([]float64, len(steps))
	for i, d := range steps {
		out[i] = d.Mbps
	}
	return out
}
