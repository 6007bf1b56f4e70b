package decide

import (
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// InFlight is how long after it was asked for a change that has not taken
// effect may still be in flight in another invocation. It is longer than the
// function's timeout (s.yaml, checked by the deploy tests), so after it the
// change can no longer happen and stops holding other decisions back.
const InFlight = 2 * time.Minute

// UnpaidHold is how long a change that made an unpaid order (autoPay off)
// holds back new orders while it waits for payment.
const UnpaidHold = 24 * time.Hour

// view is the instance as the decision sees it: the observed cap, explained
// by the record where the record can explain it.
type view struct {
	cap   int
	since time.Time // when cap took effect; zero: before any record
	// lastUp says the change that set cap was an increase the function made.
	lastUp bool
	// live is an attempt that has not taken effect and may still be in
	// flight (or awaits payment): only a retry of it may be made.
	live *Attempt
	// unexplained says the cap is not the one the record accounts for: it
	// was changed by hand, or by a run whose record was overwritten. It
	// counts as changed now, which only ever delays the next change.
	unexplained bool
	// rec is the record folded: what a new record starts from.
	rec Record
}

// resolve explains the observed cap with the record. No stale, lost or
// overwritten record can make the cap look older than it is, except by
// the time it takes to observe it.
func resolve(rec Record, in Instance, p *policy.Policy, now time.Time) view {
	cur := in.BandwidthOut
	v := view{cap: cur, rec: rec}
	v.rec.Attempt = nil
	if !rec.Stored {
		v.rec = Record{Cap: cur}
		return v
	}
	a := rec.Attempt
	switch {
	case a != nil && cur == a.To && cur != rec.Cap:
		v.rec = fold(rec, in, p)
		v.since, v.lastUp = a.At, a.To > rec.Cap && rec.Cap > 0
		return v
	case a != nil && cur == rec.Cap:
		hold := InFlight
		if a.Order != "" {
			hold = UnpaidHold
		}
		if now.Before(a.At.Add(hold)) {
			v.live = a
		}
	case a == nil && cur == rec.From && !rec.TemporaryUntil.IsZero() && !now.Before(rec.TemporaryUntil):
		// A temporary upgrade that ended on its own, as bought.
		v.rec.Cap, v.rec.From, v.rec.Since, v.rec.TemporaryUntil = cur, rec.Cap, rec.TemporaryUntil, time.Time{}
		v.since = rec.TemporaryUntil
		return v
	case cur != rec.Cap:
		v.unexplained = true
		v.since = now
		v.rec.Cap, v.rec.Since, v.rec.From = cur, now, rec.Cap
		// Counted as if the function had made it: the brakes and the
		// downgrade quota only ever err on the side of buying less.
		if cur > rec.Cap {
			v.rec.countIncrease(now)
		} else if in.InstanceChargeType == PrePaid {
			v.rec.Downgrades++
		}
		v.rec.Stored = true
		return v
	}
	v.since = rec.Since
	v.lastUp = rec.From > 0 && rec.From < rec.Cap
	return v
}

// fold is the record once its attempt has taken effect.
func fold(rec Record, in Instance, p *policy.Policy) Record {
	a := rec.Attempt
	out := rec
	out.Attempt = nil
	out.From, out.Cap, out.Since = rec.Cap, a.To, a.At
	switch {
	case a.To > rec.Cap:
		out.countIncrease(a.At)
	case in.InstanceChargeType == PrePaid:
		out.Downgrades++
		// ECS: "After downgrade, you cannot upgrade or downgrade your
		// instances again in the remaining time of the current billing
		// cycle" (ModifyInstanceNetworkSpec, OperationDenied).
		out.FrozenUntil = in.ExpiredTime
	}
	if !a.Until.IsZero() {
		out.TemporaryUntil = a.Until
	}
	if a.Manual {
		out.ManualUntil = a.At.Add(p.ManualHold)
	}
	return out
}

func (r *Record) countIncrease(at time.Time) {
	day := Day(at)
	if r.Day != day {
		r.Day, r.Increases = day, 0
	}
	r.Increases++
}

// Day is t's UTC date as yyyymmdd, the unit of maxIncreasesPerDay.
func Day(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// Committed is the cap an instance holds or is about to hold: a change in
// flight counts at its target, so that brakes over many instances see it.
func Committed(in Instance, rec Record, now time.Time) int {
	a := rec.Attempt
	if !rec.Stored || a == nil || in.BandwidthOut != rec.Cap {
		return in.BandwidthOut
	}
	hold := InFlight
	if a.Order != "" {
		hold = UnpaidHold // an unpaid order still becomes the cap once paid
	}
	if now.Before(a.At.Add(hold)) {
		return max(in.BandwidthOut, a.To)
	}
	return in.BandwidthOut
}
