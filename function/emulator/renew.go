package emulator

import (
	"fmt"
	"time"
)

// Renew starts a PrePaid instance's next billing cycle now, ending at
// until: the freeze after a downgrade ends with the cycle it fell in.
func (s *Server) Renew(id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.instances[id]
	if !ok || st.InstanceChargeType != prePaid {
		return fmt.Errorf("emulator: no PrePaid instance %s", id)
	}
	st.ExpiredTime = until.UTC().Format("2006-01-02T15:04Z")
	st.frozenUntil = time.Time{}
	return nil
}
