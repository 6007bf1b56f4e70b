package emulator

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The rules of ModifyInstanceNetworkSpec, one place each. Comments marked
// "Assumption" describe behaviour the API reference does not settle.

const (
	statusRunning  = "Running"
	statusStopped  = "Stopped"
	prePaid        = "PrePaid"
	postPaid       = "PostPaid"
	payByBandwidth = "PayByBandwidth"
	payByTraffic   = "PayByTraffic"
	networkVPC     = "vpc"
	networkClassic = "classic"

	maxBandwidthOut   = 200 // Mbit/s, InternetMaxBandwidthOut: PrePaid PayByBandwidth
	maxBandwidthOther = 100 // Mbit/s, every other billing method
	minBandwidthInCap = 10  // InternetMaxBandwidthIn may reach max(10, Out)
	maxDowngrades     = 3   // PrePaid downgrades (and refunds) per instance
	maxClientToken    = 64
	minTemporary      = 3 * time.Hour
	startTimeLayout   = "2006-01-02T15:04Z"
	endTimeLayout     = "2006-01-02T15Z"
	// Assumption: a StartTime up to this far in the past is "now" (clients
	// format the current time to the minute); earlier ones are refused.
	startTimeSlack = 5 * time.Minute
)

// modifyRequest is a parsed ModifyInstanceNetworkSpec call.
type modifyRequest struct {
	out, in          int
	outSet, inSet    bool
	chargeType       string
	allocatePublicIP bool
	autoPay          bool
	start, end       time.Time
	temporary        bool
	clientToken      string
}

// change is what an accepted call does to an instance.
type change struct {
	kind       string
	from, to   int
	in         int
	chargeType string // "" = unchanged
	allocateIP bool   // give the instance a public IP
	temporary  *temporary
	amount     float64
	refund     float64
}

// signingParams are the common parameters that differ between attempts of
// one logical request; idempotence compares everything else.
var signingParams = map[string]bool{
	"Signature": true, "SignatureNonce": true, "Timestamp": true, "AccessKeyId": true, "SecurityToken": true,
	"SignatureMethod": true, "SignatureVersion": true, "SignatureType": true, "Format": true, "Version": true,
}

func (s *Server) modifyInstanceNetworkSpec(p url.Values) (any, *apiError) {
	req, e := parseModify(p)
	if e != nil {
		return nil, e
	}
	// Idempotence first: a replay answers what the first call bought, even
	// while the instance is locked by that very change.
	fingerprint := requestFingerprint(p)
	if req.clientToken != "" {
		if rec, ok := s.tokens[req.clientToken]; ok {
			if rec.fingerprint != fingerprint {
				return nil, errCode("IdempotentParameterMismatch")
			}
			return map[string]any{"OrderId": rec.orderID}, nil
		}
	}
	st, e := s.lookup(p)
	if e != nil {
		return nil, e
	}
	now := s.clock()
	if st.temporary != nil && !now.Before(st.temporary.end) {
		st.temporary = nil
	}
	c, e := s.plan(st, req, now)
	if e != nil {
		return nil, e
	}
	orderID := s.place(st, c, req, now)
	if req.clientToken != "" {
		s.tokens[req.clientToken] = tokenRecord{fingerprint: fingerprint, orderID: orderID}
	}
	return map[string]any{"OrderId": orderID}, nil
}

// parseModify checks what the parameters alone decide.
func parseModify(p url.Values) (modifyRequest, *apiError) {
	var r modifyRequest
	if p.Get("InstanceId") == "" {
		return r, errCodef("MissingParameter", "InstanceId is mandatory for this action.")
	}
	r.clientToken = p.Get("ClientToken")
	if len(r.clientToken) > maxClientToken || !isASCII(r.clientToken) {
		return r, errCode("InvalidClientToken.ValueNotSupported")
	}
	var e *apiError
	if r.out, r.outSet, e = intParam(p, "InternetMaxBandwidthOut"); e != nil || (r.outSet && (r.out < 0 || r.out > maxBandwidthOut)) {
		return r, errCode("InvalidInternetMaxBandwidthOut.ValueNotSupported")
	}
	if r.in, r.inSet, e = intParam(p, "InternetMaxBandwidthIn"); e != nil {
		return r, errCode("InvalidInternetMaxBandwidthIn.ValueNotSupported")
	}
	if r.autoPay, e = boolParam(p, "AutoPay", true); e != nil {
		return r, e
	}
	if r.allocatePublicIP, e = boolParam(p, "AllocatePublicIp", false); e != nil {
		return r, e
	}
	r.chargeType = p.Get("NetworkChargeType")
	if r.chargeType != "" && r.chargeType != payByBandwidth && r.chargeType != payByTraffic {
		return r, errStatus("InvalidInternetChargeType.ValueNotSupported", 400)
	}
	startRaw, endRaw := p.Get("StartTime"), p.Get("EndTime")
	r.temporary = startRaw != "" || endRaw != ""
	if !r.temporary {
		return r, nil
	}
	if endRaw == "" {
		return r, errCodef("MissingParameter", "EndTime is mandatory for a temporary upgrade.")
	}
	var err error
	if r.end, err = time.Parse(endTimeLayout, endRaw); err != nil {
		// Assumption: the reference lists no code for a malformed EndTime.
		return r, errCodef("InvalidParameter", "The specified EndTime %q is not in the format yyyy-MM-ddThhZ.", endRaw)
	}
	if startRaw != "" {
		if r.start, err = time.Parse(startTimeLayout, startRaw); err != nil {
			return r, errCodef("InvalidStartTime.ValueNotSupported", "The specified StartTime %q is not in the format yyyy-MM-ddThh:mmZ.", startRaw)
		}
	}
	if !r.outSet {
		return r, errCodef("MissingParameter", "InternetMaxBandwidthOut is mandatory for a temporary upgrade.")
	}
	if r.chargeType != "" {
		return r, errCodef("InvalidParameter.Conflict", "NetworkChargeType cannot be changed by a temporary upgrade.")
	}
	return r, nil
}

// plan applies every rule that instance and account state decide, in the
// order a caller would want to hear about them, and prices the change.
func (s *Server) plan(st *instanceState, r modifyRequest, now time.Time) (*change, *apiError) {
	if e := s.checkStanding(st, now); e != nil {
		return nil, e
	}
	cur := st.effective(now)
	c := &change{from: cur.InternetMaxBandwidthOut, to: st.InternetMaxBandwidthOut, in: st.InternetMaxBandwidthIn}
	if r.outSet {
		c.to = r.out
	}
	fromZero := st.InternetMaxBandwidthOut == 0 && c.to > 0
	// The reference's ranges per billing method: 0..200 for PrePaid
	// PayByBandwidth, 0..100 otherwise (anchors.md, API reference 25545).
	if r.outSet && c.to > maxBandwidthOther && !(cur.InstanceChargeType == prePaid && cur.InternetChargeType == payByBandwidth && r.chargeType == "") {
		return nil, errCode("InvalidInternetMaxBandwidthOut.ValueNotSupported")
	}

	// Status.
	if cur.InstanceNetworkType == networkClassic && fromZero {
		if cur.Status != statusStopped {
			return nil, errCodef("IncorrectInstanceStatus", "A classic network instance must be Stopped to get public bandwidth from 0 Mbit/s; it is %s.", cur.Status)
		}
	} else if cur.Status != statusRunning {
		// Assumption: only Running instances (and Stopped classic ones going
		// from 0) may change; the 403 row of the two is used.
		return nil, errStatus("InvalidInstanceStatus", 403)
	}

	// EIP-bound VPC instances. Assumption: a change of the billing method is
	// EipNotSupport, a bandwidth is InstanceNotSupported.
	if cur.InstanceNetworkType == networkVPC && cur.EipAddress != nil {
		switch {
		case r.temporary:
			return nil, errCode("BandwidthUpgradeDenied.EipBoundInstance")
		case r.chargeType != "" && r.chargeType != cur.InternetChargeType:
			return nil, errCode("InvalidInstance.EipNotSupport")
		default:
			return nil, errCode("InvalidInstance.InstanceNotSupported")
		}
	}

	// Billing method: PrePaid PayByBandwidth -> PayByTraffic is console-only.
	// Assumption: answered as the "%s" row of InvalidInternetChargeType.
	if r.chargeType != "" && r.chargeType != cur.InternetChargeType {
		if cur.InstanceChargeType == prePaid && cur.InternetChargeType == payByBandwidth {
			return nil, errCodef("InvalidInternetChargeType.ValueNotSupported",
				"The InternetChargeType of subscription instance %s can change from PayByBandwidth to PayByTraffic only in the ECS console.", cur.InstanceId)
		}
		c.chargeType = r.chargeType
	}

	// Inbound bandwidth: 1..10 below 10 Mbit/s out, 1..Out above.
	if r.inSet {
		if r.in < 1 || r.in > max(minBandwidthInCap, c.to) {
			return nil, errCodef("InvalidInternetMaxBandwidthIn.ValueNotSupported",
				"The specified InternetMaxBandwidthIn %d is beyond the permitted range 1..%d.", r.in, max(minBandwidthInCap, c.to))
		}
		c.in = r.in
	} else if r.outSet {
		c.in = max(minBandwidthInCap, c.to)
	}

	// Public IP.
	if r.allocatePublicIP {
		// Assumption: PrePaid instances get an IP automatically, so asking
		// for one there, when one exists or without bandwidth is invalid.
		switch {
		case cur.InstanceChargeType == prePaid, len(cur.PublicIpAddress) > 0, c.to == 0:
			return nil, errCode("InvalidParam.AllocatePublicIp")
		}
	}
	c.allocateIP = fromZero && len(cur.PublicIpAddress) == 0 && (cur.InstanceChargeType == prePaid || r.allocatePublicIP)

	var e *apiError
	if r.temporary {
		e = s.planTemporary(st, c, r, now)
	} else {
		e = s.planPermanent(st, c, cur)
	}
	if e != nil {
		return nil, e
	}

	// Payment.
	if r.autoPay && s.limitBalance && c.amount > s.account.Balance {
		return nil, errCodef("InvalidAccountStatus.NotEnoughBalance",
			"Your account does not have enough balance: the order costs %.2f, the balance is %.2f.", c.amount, s.account.Balance)
	}
	return c, nil
}

// checkStanding refuses changes to locked, expired, unpaid or recently
// changed instances and from accounts in arrears.
func (s *Server) checkStanding(st *instanceState, now time.Time) *apiError {
	for _, reason := range st.OperationLocks {
		// Assumption: financial locks read as arrears, any other lock as a
		// security lock.
		switch strings.ToLower(reason) {
		case "financial", "overdue", "expired":
			return errCode("InstanceExpiredOrInArrears")
		default:
			return errCode("InstanceLockedForSecurity")
		}
	}
	if st.InstanceChargeType == prePaid && st.ExpiredTime != "" {
		if exp, err := parseExpiredTime(st.ExpiredTime); err == nil && !now.Before(exp) {
			return errCode("InstanceExpiredOrInArrears")
		}
	}
	if s.account.Arrears {
		return errCode("Account.Arrearage")
	}
	if st.unpaid != "" {
		return errCodef("InvalidInstance.UnPaidOrder", "The specified Instance has unpaid order %s.", st.unpaid)
	}
	// "After downgrade, you cannot upgrade or downgrade your instances again
	// in the remaining time of the current billing cycle" (OperationDenied).
	// Assumption: the billing cycle ends at ExpiredTime.
	if now.Before(st.frozenUntil) {
		return &apiError{400, "OperationDenied", "After downgrade, you cannot upgrade or downgrade your instances again in the remaining time of the current billing cycle."}
	}
	if now.Before(st.lockedUntil) {
		// Assumption: the lock after a change is answered as Throttling with
		// the reference's own message.
		return errCode("Throttling")
	}
	return nil
}

// planTemporary checks a temporary upgrade window. Assumption: it is offered
// to PrePaid instances only (as Alibaba's OOS template uses it); PostPaid
// bandwidth changes directly.
func (s *Server) planTemporary(st *instanceState, c *change, r modifyRequest, now time.Time) *apiError {
	if st.InstanceChargeType != prePaid {
		return errCodef("ChargeTypeViolation", "Temporary bandwidth upgrades are for subscription (PrePaid) instances; %s is %s.", st.InstanceId, st.InstanceChargeType)
	}
	start := r.start
	if start.IsZero() {
		start = now.Truncate(time.Minute)
	}
	switch {
	case !r.end.After(start):
		return errCodef("InvalidStartTime.ValueNotSupported", "The EndTime %s is not after the StartTime %s.", r.end.Format(endTimeLayout), start.Format(startTimeLayout))
	case start.Before(now.Add(-startTimeSlack)):
		return errCodef("InvalidStartTime.ValueNotSupported", "The StartTime %s is in the past.", start.Format(startTimeLayout))
	case r.end.Sub(start) < minTemporary:
		return errCodef("InvalidParameter.Conflict", "A temporary upgrade lasts at least %s; %s to %s is shorter.", minTemporary, start.Format(startTimeLayout), r.end.Format(endTimeLayout))
	}
	// Assumption: a new window may replace an open one (raising it further)
	// but not one that has not started yet.
	if t := st.temporary; t != nil && now.Before(t.start) {
		return errCodef("InvalidParameter.Conflict", "Instance %s already has a temporary upgrade scheduled from %s.", st.InstanceId, t.start.Format(startTimeLayout))
	}
	c.to = r.out
	if c.to < c.from {
		return errCode("InvalidBandwidth.ValueNotSupported")
	}
	if c.to == c.from {
		return errCodef("InvalidParameter.Bandwidth", "The temporary bandwidth %d Mbit/s equals the current one.", c.to)
	}
	c.kind = KindTemporaryUpgrade
	c.temporary = &temporary{out: c.to, in: c.in, start: start, end: r.end}
	c.amount = float64(c.to-c.from) * s.price
	return nil
}

// planPermanent checks a permanent change of bandwidth or billing method.
func (s *Server) planPermanent(st *instanceState, c *change, cur Instance) *apiError {
	if st.temporary != nil {
		return errCodef("InvalidParameter.Conflict", "Instance %s has a temporary upgrade until %s; permanent changes wait for it to end.", st.InstanceId, st.temporary.end.Format(endTimeLayout))
	}
	switch {
	case c.to > c.from:
		c.kind = KindUpgrade
		// Assumption: every upgrade is charged at once, PostPaid included,
		// so the balance check guards every purchase.
		c.amount = float64(c.to-c.from) * s.price
	case c.to < c.from:
		c.kind = KindDowngrade
		if cur.InstanceChargeType == prePaid {
			if cur.InternetChargeType == payByBandwidth {
				return errCodef("DecreasedBandwidthNotAllowed", "The PayByBandwidth bandwidth of subscription instance %s can only be upgraded (%d -> %d Mbit/s refused).", cur.InstanceId, c.from, c.to)
			}
			if cur.Downgrades >= maxDowngrades {
				return errCode("InstanceDowngrade.QuotaExceed")
			}
			c.refund = float64(c.from-c.to) * s.price
		}
	case c.chargeType != "":
		c.kind = KindChargeType
	case c.in != cur.InternetMaxBandwidthIn:
		c.kind = KindUpgrade
	default:
		// Assumption: a call that changes nothing is refused rather than
		// billed as an empty order.
		return errCodef("InvalidParameter.Bandwidth", "The requested bandwidth %d Mbit/s and billing method equal the current ones.", c.to)
	}
	return nil
}

// place records the order for c and applies it, unless it waits for
// payment (AutoPay=false with something to pay).
func (s *Server) place(st *instanceState, c *change, r modifyRequest, now time.Time) string {
	o := Order{
		OrderId: fmt.Sprintf("2%014d", s.nextID()), InstanceId: st.InstanceId, Kind: c.kind,
		From: c.from, To: c.to, AutoPay: r.autoPay, Amount: c.amount, Refund: c.refund,
		ClientToken: r.clientToken, Time: now,
	}
	if c.temporary != nil {
		o.StartTime, o.EndTime = c.temporary.start.Format(startTimeLayout), c.temporary.end.Format(endTimeLayout)
	}
	if !r.autoPay && c.amount > 0 {
		st.unpaid, st.pending = o.OrderId, c
	} else {
		o.Paid = true
		s.charge(c.amount)
		s.apply(st, c, now)
	}
	s.orderIndex[o.OrderId] = len(s.orders)
	s.orders = append(s.orders, o)
	return o.OrderId
}

// apply makes c take effect and starts the lock.
func (s *Server) apply(st *instanceState, c *change, now time.Time) {
	if c.temporary != nil {
		st.temporary = c.temporary
		st.recordCap(c.temporary.start, c.temporary.out, now)
		st.recordCap(c.temporary.end, st.InternetMaxBandwidthOut, now)
	} else {
		st.InternetMaxBandwidthOut, st.InternetMaxBandwidthIn = c.to, c.in
		st.recordCap(now, c.to, now)
		if c.chargeType != "" {
			st.InternetChargeType = c.chargeType
		}
	}
	if c.allocateIP {
		n := s.nextID()
		st.PublicIpAddress = []string{fmt.Sprintf("47.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)}
	}
	if c.refund > 0 {
		st.Downgrades++
		if exp, err := parseExpiredTime(st.ExpiredTime); err == nil {
			st.frozenUntil = exp
		}
		if s.limitBalance {
			s.account.Balance += c.refund
		}
	}
	st.lockedUntil = now.Add(s.lockDuration)
}

// requestFingerprint identifies the logical request: every parameter but
// those that change from one signed attempt to the next.
func requestFingerprint(p url.Values) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if !signingParams[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%q=%q;", k, p[k])
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// parseExpiredTime reads ExpiredTime as ECS writes it, to the minute or the
// second.
func parseExpiredTime(v string) (time.Time, error) {
	for _, layout := range []string{startTimeLayout, timestampLayout} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("ExpiredTime %q is not yyyy-MM-ddThh:mmZ", v)
}
