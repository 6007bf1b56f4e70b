package decide

import (
	"fmt"
	"strings"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/humanize"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// This file holds every rule of the decision, in the order they apply.

// decider carries one decision's input.
type decider struct {
	in     Input
	p      *policy.Policy
	inst   Instance
	now    time.Time
	v      view
	lo, hi int
	notes  []string
}

// observation is the rate a decision rests on.
type observation struct {
	rate  float64   // Mbit/s
	at    time.Time // when it was measured
	where string    // what measured it, for reasons
}

func (c *decider) decide() Decision {
	if !c.p.Allows(c.inst.ID, c.inst.Tags) {
		return c.result(Ignored, c.cap(), fmt.Sprintf("instance %s is not selected by the policy (%s)", c.inst.ID, c.selectorText()))
	}
	if c.in.RecordError != "" {
		return c.result(Skipped, c.cap(), fmt.Sprintf("its state tag cannot be read (%s): delete the tag %q from %s to start from no record (the next change then waits one cooldown)", c.in.RecordError, "bandwidth-autoscaler:state", c.inst.ID))
	}
	c.v = resolve(c.in.Record, c.inst, c.p, c.now)
	c.lo, c.hi = c.p.BoundsFor(c.inst.ID)
	c.hi = min(c.hi, APIMax(c.inst))
	if c.v.unexplained {
		c.notes = append(c.notes, fmt.Sprintf("the cap %d Mbit/s is not the %d Mbit/s the state tag accounts for (changed outside the function, or a record was overwritten): it counts as changed now", c.v.cap, c.in.Record.Cap))
	}
	if c.in.Trigger == ByManual {
		return c.manual()
	}
	return c.level()
}

func (c *decider) cap() int { return c.inst.BandwidthOut }

func (c *decider) selectorText() string {
	var parts []string
	if len(c.p.Instances.IDs) > 0 {
		parts = append(parts, fmt.Sprintf("instances.ids lists %d others", len(c.p.Instances.IDs)))
	}
	if t := c.p.Instances.Tag; t != nil {
		parts = append(parts, "instances.tag is "+t.Key+"="+t.Value)
	}
	if len(parts) == 0 {
		return "the policy selects no instance: set instances.ids or instances.tag"
	}
	return strings.Join(parts, ", ")
}

// level decides from the reading alone: the timer's and every alarm's rule.
func (c *decider) level() Decision {
	if u := c.v.rec.ManualUntil; c.now.Before(u) {
		return c.result(Unchanged, c.cap(), fmt.Sprintf("a manual change holds %d Mbit/s until %s (manualHold)", c.cap(), stamp(u)))
	}
	obs, ok, why := c.observe()
	if !ok {
		return c.result(Unchanged, c.cap(), why)
	}
	target, why := c.target(obs)
	switch {
	case target > c.cap():
		return c.increase(target, why, false)
	case target < c.cap():
		return c.decrease(target, obs, why)
	}
	return c.result(Unchanged, c.cap(), why+": already there")
}

// settled is when readings start to count against the current cap: a
// datapoint whose period began before the change took effect (plus the
// warm-up) measured the old cap.
func (c *decider) settled() time.Time {
	if c.v.since.IsZero() {
		return time.Time{}
	}
	return c.v.since.Add(c.p.Warmup)
}

// usable are the points measured wholly under the current cap.
func (c *decider) usable() []Point {
	from := c.settled()
	var out []Point
	for _, pt := range c.in.Reading.Points {
		if !pt.Start.Before(from) && !pt.End().After(c.now.Add(time.Minute)) {
			out = append(out, pt)
		}
	}
	return out
}

// observe is the newest rate measured under the current cap: the newest
// usable datapoint, or the alarm's value where it is newer than that.
func (c *decider) observe() (observation, bool, string) {
	var obs observation
	found, stale := false, ""
	if pts := c.usable(); len(pts) > 0 {
		pt := pts[len(pts)-1]
		obs = observation{rate: pt.Average / 1e6, at: pt.End(), where: "CloudMonitor " + stamp(pt.Start)}
		found = true
		if age := c.now.Sub(pt.End()); age > c.evidenceLife() {
			stale = fmt.Sprintf("no fresh reading: CloudMonitor's newest datapoint ended %s ago, more than %v", humanize.Duration(age), c.evidenceLife())
			found = false
		}
	}
	if hint, ok := c.alarmRate(); ok && (!found || !hint.at.Before(obs.at)) {
		obs, found = hint, true
	}
	if r := c.in.Reading.Unavailable; r != "" {
		c.notes = append(c.notes, "CloudMonitor could not be read ("+r+"): decided on the alarm's value alone")
	}
	if found {
		return obs, true, ""
	}
	switch {
	case stale != "":
		return obs, false, stale
	case c.now.Before(c.settled().Add(time.Minute)):
		return obs, false, fmt.Sprintf("waiting for a reading after the change at %s settles (warmup %v)", stamp(c.v.since), c.p.Warmup)
	case c.in.Reading.Unavailable != "":
		return obs, false, "no reading: CloudMonitor could not be read and no alarm value is usable"
	}
	return obs, false, "no reading: CloudMonitor has no datapoint since " + stampOr(c.settled(), "the start")
}

// alarmRate is the alarm's own value as a rate, where it may be used: a
// known metric with a value, measured after the current cap settled and
// within maxAlarmAge.
func (c *decider) alarmRate() (observation, bool) {
	a := c.in.Alarm
	if a == nil {
		return observation{}, false
	}
	if a.UnknownMetric != "" {
		c.notes = append(c.notes, fmt.Sprintf("metric %q is not one this function reads (%s or %s, or their _Percent forms): the alarm only woke it", a.UnknownMetric, MetricVPCRate, MetricClassicRate))
		return observation{}, false
	}
	percent, known := isPercent[a.Metric]
	if !known || a.State == StateNoData || validValue(a.Value) != nil {
		return observation{}, false
	}
	at := a.At
	if at.IsZero() || at.After(c.now) {
		// A clock ahead of ours must not make the alarm look newer.
		at = c.now
	}
	if age := c.now.Sub(at); age > c.evidenceLife() {
		c.notes = append(c.notes, fmt.Sprintf("the alarm was observed at %s, %s ago, more than %v: its value is not used", stamp(at), humanize.Duration(age), c.evidenceLife()))
		return observation{}, false
	}
	if at.Before(c.settled()) {
		return observation{}, false
	}
	rate := a.Value / 1e6
	if percent {
		rate = a.Value * float64(c.cap()) / 100
	}
	return observation{rate: rate, at: at, where: "the alarm at " + stamp(at)}, true
}

// evidenceLife is how long a measurement (an alarm's value, CloudMonitor's
// newest datapoint) may decide: never longer than the 5-minute ECS lock.
// Whatever change it causes then locks the instance past its life, so no
// measurement, however late its copy and whatever a lost or stale record
// says, can justify a second change.
func (c *decider) evidenceLife() time.Duration {
	return min(c.p.MaxAlarmAge, policy.ECSCooldown)
}

// target picks the cap for an observed rate, and says why.
func (c *decider) target(obs observation) (int, string) {
	cur := c.cap()
	usage := usageOf(obs.rate, cur)
	t := RowTarget(c.p.Table, obs.rate)
	why := fmt.Sprintf("%s Mbit/s (%s%% of %d) by %s", mbps(obs.rate), mbps(usage), cur, obs.where)
	if usage >= c.p.Saturation {
		// A saturated link hides the real demand: the rate is a lower
		// bound. Still saturated after an increase means demand is above
		// that cap too; traffic billing pays for what is sent, not the cap.
		rows := 1
		if c.v.lastUp && c.now.Sub(c.v.since) <= c.p.Cooldown+10*time.Minute {
			rows = 2
		}
		if c.inst.InternetChargeType == PayByTraffic {
			rows *= 2
		}
		if up := RowsAbove(c.p.Table, cur, rows); up > t {
			t = up
		}
		why += fmt.Sprintf(", saturated: %d row(s) up", rows)
	}
	if c.p.MaxStepUp > 0 && t > cur {
		if limit := RowsAbove(c.p.Table, cur, c.p.MaxStepUp); t > limit {
			t = limit
			why += fmt.Sprintf(", maxStepUp %d", c.p.MaxStepUp)
		}
	}
	if t < c.lo {
		t = c.lo
		why += fmt.Sprintf(", policy min %d", t)
	}
	if t > c.hi {
		t = c.hi
		why += fmt.Sprintf(", policy max %d", t)
	}
	return t, why + fmt.Sprintf(" → %d Mbit/s", t)
}

// increase applies the increase rules and brakes.
func (c *decider) increase(target int, why string, manual bool) Decision {
	if r := c.refuse(target); r != "" {
		return c.result(Skipped, c.cap(), why+": "+r)
	}
	if r := c.frozen(); r != "" {
		return c.result(Skipped, c.cap(), why+": "+r)
	}
	if n := c.p.MaxIncreasesPerDay; n > 0 && c.v.rec.Day == Day(c.now) && c.v.rec.Increases >= n {
		return c.result(Skipped, c.cap(), fmt.Sprintf("%s: brake maxIncreasesPerDay: %d increases today (UTC), the most allowed", why, c.v.rec.Increases))
	}
	if max := c.p.MaxTotalMbps; max > 0 && c.in.RegionUnknown != "" {
		return c.result(Skipped, c.cap(), fmt.Sprintf("%s: brake maxTotalMbps %d cannot be held: %s", why, max, c.in.RegionUnknown))
	}
	if max := c.p.MaxTotalMbps; max > 0 && c.in.RegionTotal >= 0 {
		room := max - (c.in.RegionTotal - c.cap())
		if target > room {
			fit, ok := rowAtMost(c.p.Table, room)
			if room >= c.hi {
				fit, ok = c.hi, true
			}
			if !ok || fit <= c.cap() {
				return c.result(Skipped, c.cap(), fmt.Sprintf("%s: brake maxTotalMbps %d: the region's selected instances have %d Mbit/s, room for %d more", why, max, c.in.RegionTotal, room-c.cap()))
			}
			target = fit
			why += fmt.Sprintf(", within maxTotalMbps %d: %d Mbit/s", max, target)
		}
	}
	return c.act(target, why, c.p.Cooldown, manual)
}

// decrease applies the decrease rules: the highest reading over
// downCooldown, maxStepDown and the flapping check.
func (c *decider) decrease(target int, obs observation, why string) Decision {
	if !c.p.ScaleDown {
		return c.result(Unchanged, c.cap(), why+": scaleDown is off in the policy")
	}
	if r := c.refuseDecrease(); r != "" {
		return c.result(Skipped, c.cap(), why+": "+r)
	}
	wait := max(c.p.Cooldown, c.p.DownCooldown)
	if next := c.v.since.Add(wait); !c.v.since.IsZero() && c.now.Before(next) {
		return c.postpone(why, next, fmt.Sprintf("downCooldown %v", wait))
	}
	high := obs
	if r := c.in.Reading.WindowUnavailable; r != "" {
		return c.result(Unchanged, c.cap(), fmt.Sprintf("%s: a decrease needs the readings of the last %v, which CloudMonitor could not give (%s)", why, c.p.DownCooldown, r))
	}
	if c.in.Reading.Unavailable == "" {
		from := c.now.Add(-c.p.DownCooldown)
		if s := c.in.Reading.Since; s.IsZero() || s.After(from) {
			d := c.result(Unchanged, c.cap(), why+": a decrease needs the readings of the last "+c.p.DownCooldown.String())
			d.NeedWindow, d.WindowSince = true, from
			return d
		}
		var earliest *Point
		reach := from // how far the readings cover the window without a gap
		for _, pt := range c.usable() {
			if pt.Start.Before(from) {
				continue
			}
			if earliest == nil {
				earliest = &pt
			}
			// A gap of more than one missing period could hide the peak.
			if pt.Start.After(reach.Add(pt.Period)) {
				return c.result(Unchanged, c.cap(), fmt.Sprintf("%s: a decrease needs readings over the whole last %v; CloudMonitor has none from %s to %s", why, c.p.DownCooldown, stamp(reach), stamp(pt.Start)))
			}
			reach = pt.End()
			if pt.Maximum/1e6 > high.rate {
				high = observation{rate: pt.Maximum / 1e6, at: pt.End(), where: "the peak at " + stamp(pt.Start)}
			}
		}
		// A window seen only in part cannot tell its peak: a first
		// deployment, or an instance CloudMonitor has just started watching.
		if earliest == nil || earliest.Start.After(from.Add(earliest.Period)) {
			return c.result(Unchanged, c.cap(), fmt.Sprintf("%s: a decrease needs readings over the whole last %v; CloudMonitor has them since %s", why, c.p.DownCooldown, stampOr(startOf(earliest), "no time")))
		}
	}
	if high.rate > obs.rate {
		var t int
		t, why = c.target(high)
		if t >= c.cap() {
			return c.result(Unchanged, c.cap(), "highest over downCooldown "+why+": keeping it")
		}
		target = t
	}
	if floor := c.stepFloor(target); floor > target {
		target = floor
		why += fmt.Sprintf(", maxStepDown %d: %d Mbit/s", c.p.MaxStepDown, target)
	}
	if usageOf(high.rate, target) >= c.p.Saturation || RowTarget(c.p.Table, high.rate) > target {
		return c.result(Unchanged, c.cap(), fmt.Sprintf("%s; at %d Mbit/s the same traffic would scale up again: keeping %d (no flapping)", why, target, c.cap()))
	}
	return c.act(target, why, wait, false)
}

func startOf(p *Point) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.Start
}

// manual applies the exact bandwidth a person asked for, within the policy.
func (c *decider) manual() Decision {
	bw := c.in.Manual.Bandwidth
	why := fmt.Sprintf("manual request for %d Mbit/s", bw)
	switch {
	case bw < 0 || bw > APIMax(c.inst):
		what := "ECS accepts for a"
		if c.inst.EIP {
			what = "VPC accepts for EIP " + c.inst.EIPAllocationID + ", a"
		}
		return c.result(Failed, c.cap(), fmt.Sprintf("%s: outside 0..%d, the range %s %s %s instance", why, APIMax(c.inst), what, c.inst.InstanceChargeType, c.inst.InternetChargeType))
	case bw == 0 && c.inst.EIP:
		return c.result(Failed, c.cap(), why+": an EIP's bandwidth is 1 Mbit/s or more")
	case bw == 0 && !c.p.AllowZero:
		return c.result(Skipped, c.cap(), why+": bandwidth 0 releases the instance's public IP; set allowZeroBandwidth: true in the policy to allow it")
	case bw != 0 && (bw < c.lo || bw > c.hi):
		return c.result(Skipped, c.cap(), fmt.Sprintf("%s: outside the policy bounds %d..%d for %s", why, c.lo, c.hi, c.inst.ID))
	case bw == c.cap():
		return c.result(Unchanged, c.cap(), why+": already there")
	case bw > c.cap():
		return c.increase(bw, why, true)
	}
	if r := c.refuseDecrease(); r != "" {
		return c.result(Skipped, c.cap(), why+": "+r)
	}
	return c.act(bw, why, c.p.Cooldown, true)
}

// refuseEIP applies VPC's preconditions of a change of an EIP's bandwidth;
// it says why the change cannot be made, or "".
func (c *decider) refuseEIP() string {
	in := c.inst
	switch {
	case in.InstanceChargeType == PrePaid:
		// ModifyEipAddressAttribute changes pay-as-you-go EIPs only
		// (Forbidden.ChargeTypeIsPrepaid, https://help.aliyun.com/document_detail/36019.htm).
		return fmt.Sprintf("EIP %s is a subscription (PrePaid) EIP: VPC lets its bandwidth change only in the console", in.EIPAllocationID)
	case in.EIPBandwidthPackage != "":
		return fmt.Sprintf("EIP %s is in Internet Shared Bandwidth %s, whose bandwidth governs it: scale the package instead", in.EIPAllocationID, in.EIPBandwidthPackage)
	case len(in.Locks) > 0:
		return fmt.Sprintf("EIP %s is locked (%s); VPC refuses changes until the lock is lifted", in.EIPAllocationID, strings.Join(in.Locks, ", "))
	case in.EIPStatus != "" && in.EIPStatus != "InUse":
		return fmt.Sprintf("EIP %s is %s, not InUse", in.EIPAllocationID, in.EIPStatus)
	}
	return ""
}

// refuseDecrease says why no decrease is possible at all, or "".
func (c *decider) refuseDecrease() string {
	in, rec := c.inst, c.v.rec
	if in.EIP {
		return c.refuseEIP()
	}
	switch {
	case rec.TemporaryUntil.After(c.now):
		return fmt.Sprintf("a temporary upgrade is in force until %s and ends on its own", stamp(rec.TemporaryUntil))
	case in.InstanceChargeType != PrePaid:
		return ""
	case in.InternetChargeType == PayByBandwidth:
		return "a PrePaid PayByBandwidth instance's bandwidth can only grow (ECS); switch it to PayByTraffic in the console to lower it"
	case !c.p.PrePaidDowngrades:
		return "PrePaid downgrades are off: after one, ECS refuses every change until the billing cycle ends; set prepaidDowngrades: true to allow them"
	case rec.Downgrades >= DowngradeQuota:
		return fmt.Sprintf("it has used %d of the %d downgrades ECS allows a PrePaid instance", rec.Downgrades, DowngradeQuota)
	}
	return c.frozen()
}

// frozen says why a PrePaid instance takes no change after a downgrade.
func (c *decider) frozen() string {
	if u := c.v.rec.FrozenUntil; c.inst.InstanceChargeType == PrePaid && c.now.Before(u) {
		return fmt.Sprintf("after a downgrade ECS refuses changes until the billing cycle ends at %s", stamp(u))
	}
	return ""
}

// refuse applies the ECS preconditions of any change; it says why the
// change cannot be made, or "".
func (c *decider) refuse(target int) string {
	in := c.inst
	if in.EIP {
		return c.refuseEIP()
	}
	switch {
	case in.EIPAddress != "" || in.EIPAllocationID != "":
		why := in.EIPUnreadable
		if why == "" {
			why = "it was not read"
		}
		return fmt.Sprintf("eip-bound: its public bandwidth is EIP %s's (%s, %d Mbit/s), which cannot be changed now: %s", in.EIPAllocationID, in.EIPAddress, in.EIPBandwidth, why)
	case len(in.Locks) > 0:
		return fmt.Sprintf("it is locked (%s); ECS refuses changes until the lock is lifted", strings.Join(in.Locks, ", "))
	case in.InstanceChargeType == PrePaid && !in.ExpiredTime.IsZero() && !in.ExpiredTime.After(c.now):
		return fmt.Sprintf("the PrePaid instance expired at %s; renew it first", stamp(in.ExpiredTime))
	case in.NetworkType == NetworkClassic && c.cap() == 0 && target > 0:
		if in.Status != StatusStopped {
			return fmt.Sprintf("the classic-network instance is %s; ECS raises bandwidth from 0 only while it is Stopped", in.Status)
		}
		return ""
	case in.Status != StatusRunning:
		return fmt.Sprintf("the instance is %s, not Running", in.Status)
	}
	return ""
}

// act checks the ECS preconditions, the change in flight and the cooldown,
// then makes the change.
func (c *decider) act(target int, why string, cooldown time.Duration, manual bool) Decision {
	if r := c.refuse(target); r != "" {
		return c.result(Skipped, c.cap(), why+": "+r)
	}
	if a := c.v.live; a != nil {
		if a.Order != "" {
			return c.result(Deferred, c.cap(), fmt.Sprintf("%s: order %s for %d Mbit/s awaits payment (autoPay is off): pay or cancel it in the ECS console; no new order until then", why, a.Order, a.To))
		}
		if a.To != target || a.Manual != manual {
			return c.postpone(why, a.At.Add(InFlight), fmt.Sprintf("the change to %d Mbit/s asked at %s may still be in progress", a.To, stamp(a.At)))
		}
	}
	if next := c.v.since.Add(cooldown); !c.v.since.IsZero() && c.now.Before(next) {
		return c.postpone(why, next, fmt.Sprintf("cooldown %v after the change at %s", cooldown, stamp(c.v.since)))
	}
	return c.scale(target, why, manual)
}

// postpone reports a change that must wait until retry; nothing is stored,
// since the next decision takes it from a fresh reading again.
func (c *decider) postpone(why string, retry time.Time, because string) Decision {
	d := c.result(Deferred, c.cap(), fmt.Sprintf("%s: waits until %s (%s)", why, stamp(retry), because))
	d.RetryAfter = retry
	return d
}

// scale makes the change and returns the record to write before the call.
func (c *decider) scale(target int, why string, manual bool) Decision {
	in, cur := c.inst, c.cap()
	at := c.now
	if a := c.v.live; a != nil {
		// A retry of the change in flight: the same attempt, the same
		// token, so ECS makes at most one order.
		at = a.At
	}
	ch := Change{
		Target:           target,
		Downgrade:        target < cur,
		AllocatePublicIP: cur == 0 && target > 0 && in.InstanceChargeType == PostPaid && !in.EIP,
	}
	if c.p.Temporary != nil && !in.EIP && !ch.Downgrade && in.InstanceChargeType == PrePaid && in.InternetChargeType == PayByBandwidth {
		// From the attempt's time, not the clock: a retry in the next
		// minute asks for the same window with the same token.
		ch.EndTime = roundUpHour(at.Add(c.p.Temporary.Duration))
		why += fmt.Sprintf("; temporary until %s", stamp(ch.EndTime))
	}
	ch.ClientToken = ClientToken(in, c.v.rec, ch, at)
	rec := c.v.rec
	rec.Stored = true
	rec.Attempt = &Attempt{To: target, At: at, Manual: manual, Until: ch.EndTime}
	d := c.result(Scaled, target, fmt.Sprintf("%s: %d → %d Mbit/s", why, cur, target))
	if manual {
		d.Reason += fmt.Sprintf("; held until %s (manualHold)", stamp(at.Add(c.p.ManualHold)))
	}
	d.Change, d.Record, d.Save = &ch, rec, true
	if !c.p.AutoPay && !ch.Downgrade {
		d.Notes = append(d.Notes, fmt.Sprintf("autoPay is off: the order for %d Mbit/s stays unpaid until it is paid in the ECS console", target))
	}
	return d
}

func (c *decider) result(a Action, to int, reason string) Decision {
	if c.inst.EIP && a != Ignored {
		reason = "EIP " + c.inst.EIPAllocationID + ": " + reason
	}
	d := Decision{Action: a, From: c.cap(), To: to, Reason: reason, Record: c.v.rec}
	if c.v.unexplained && a != Ignored {
		d.Save = true
	}
	return d
}

// usageOf is rate as a percentage of capMbps; any traffic over no cap is
// full usage.
func usageOf(rate float64, capMbps int) float64 {
	if capMbps <= 0 {
		if rate > 0 {
			return 100
		}
		return 0
	}
	return rate / float64(capMbps) * 100
}

// RowTarget is the target of the first row whose upTo covers rate; above
// the last row, the last row's target.
func RowTarget(table []policy.Row, rate float64) int {
	for _, r := range table {
		if rate <= r.UpTo {
			return r.Target
		}
	}
	return table[len(table)-1].Target
}

// RowsAbove is the n-th row target above capMbps, or the last row's.
func RowsAbove(table []policy.Row, capMbps, n int) int {
	t := table[len(table)-1].Target
	for _, r := range table {
		if r.Target > capMbps {
			n--
			if n == 0 {
				return r.Target
			}
		}
	}
	return max(t, capMbps)
}

// rowAtMost is the highest row target at or below limit.
func rowAtMost(table []policy.Row, limit int) (int, bool) {
	for i := len(table) - 1; i >= 0; i-- {
		if table[i].Target <= limit {
			return table[i].Target, true
		}
	}
	return 0, false
}

// rowBelow is the last row target below capMbps: a cap between rows steps
// down to the row under it.
func rowBelow(table []policy.Row, capMbps int) (int, bool) {
	for i := len(table) - 1; i >= 0; i-- {
		if table[i].Target < capMbps {
			return table[i].Target, true
		}
	}
	return 0, false
}

// stepFloor is the lowest cap a decrease from the current one may reach:
// maxStepDown rows down, but never above the policy max.
func (c *decider) stepFloor(target int) int {
	floor := c.cap()
	for range c.p.MaxStepDown {
		below, ok := rowBelow(c.p.Table, floor)
		if !ok || below <= target {
			return target
		}
		floor = below
	}
	return min(floor, c.hi)
}
