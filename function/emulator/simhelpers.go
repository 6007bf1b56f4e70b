package emulator

import "time"

// Helpers for the simulator (function/simulate), which replays weeks of
// minutes on a virtual clock: reading every cap each minute, and bounding
// the history the demand model keeps.

// Caps fills out (resized to len(ids)) with the outbound cap in force now
// of each instance, as Instance reports it (InternetMaxBandwidthOut, with a
// temporary upgrade applied), or for an EIP-bound instance the EIP's
// Bandwidth; -1 for an unknown ID. It copies no instance.
func (s *Server) Caps(ids []string, out []int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	out = append(out[:0], make([]int, len(ids))...)
	for i, id := range ids {
		st, ok := s.instances[id]
		switch {
		case !ok:
			out[i] = -1
		case st.EipAddress != nil:
			out[i] = st.EipAddress.Bandwidth
		default:
			out[i] = st.InternetMaxBandwidthOut
			if t := st.temporary; t != nil && !now.Before(t.start) && now.Before(t.end) {
				out[i] = t.out
			}
		}
	}
	return out
}

// ForgetBefore drops the demand and cap history (instances' and EIPs')
// before t, keeping each step still in force at t, as the 31-day retention
// does at its edge. Datapoints of periods before t are no longer what the
// demand model said: call it only with a t older than anything a reader
// asks for. A sample scans the whole history, so a long replay that never
// forgets slows down with every minute it has played.
func (s *Server) ForgetBefore(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.instances {
		st.demand = forget(st.demand, t, func(d DemandStep) time.Time { return d.At })
		st.caps = forget(st.caps, t, func(c capStep) time.Time { return c.at })
		st.eip.caps = forget(st.eip.caps, t, func(c capStep) time.Time { return c.at })
	}
}

// forget is trimHistory with the cutoff t: the steps before t but the last.
func forget[T any](steps []T, t time.Time, at func(T) time.Time) []T {
	n := 0
	for n+1 < len(steps) && !at(steps[n+1]).After(t) {
		n++
	}
	if n == 0 {
		return steps
	}
	// Copy down, so that the dropped steps do not pin a growing array.
	return append(steps[:0], steps[n:]...)
}
