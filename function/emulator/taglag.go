package emulator

import (
	"fmt"
	"time"
)

// tagSnapshot is an instance's tags from a moment on.
type tagSnapshot struct {
	at   time.Time
	tags map[string]string
}

// maxTagLag bounds SetTagLag and so how much tag history is kept.
const maxTagLag = 10 * time.Minute

// SetTagLag makes DescribeInstances answer each instance's tags as they
// were lag ago. Assumption (no source says either way): ECS tag reads may
// lag writes by seconds; this lets tests prove that no stale read buys.
func (s *Server) SetTagLag(lag time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tagLag = min(max(lag, 0), maxTagLag)
}

// SetTag writes one tag directly, as another writer's TagResources would
// (a racing process, a person in the console).
func (s *Server) SetTag(id, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.instances[id]
	if !ok {
		return fmt.Errorf("emulator: no instance %s", id)
	}
	if st.Tags == nil {
		st.Tags = map[string]string{}
	}
	st.Tags[key] = value
	st.noteTags(s.clock())
	return nil
}

// noteTags remembers the tags as they are from now on.
func (st *instanceState) noteTags(now time.Time) {
	snap := tagSnapshot{at: now, tags: make(map[string]string, len(st.Tags))}
	for k, v := range st.Tags {
		snap.tags[k] = v
	}
	st.tagLog = append(st.tagLog, snap)
	// Keep one snapshot older than the longest lag: the tags in force then.
	for len(st.tagLog) > 1 && st.tagLog[1].at.Before(now.Add(-maxTagLag)) {
		st.tagLog = st.tagLog[1:]
	}
}

// tagsAt is the tags as they were at t.
func (st *instanceState) tagsAt(t time.Time) map[string]string {
	for i := len(st.tagLog) - 1; i >= 0; i-- {
		if !st.tagLog[i].at.After(t) {
			return st.tagLog[i].tags
		}
	}
	if len(st.tagLog) > 0 {
		return st.tagLog[0].tags
	}
	return st.Tags
}
