package scaler

import "sync"

// seenCapacity bounds the delivery keys one process remembers: enough for an
// alarm storm across a fleet, small enough to never matter for memory.
const seenCapacity = 8192

// keyCache is a bounded set of delivery keys, forgetting the oldest first.
// The zero value is ready to use.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]struct{}
	ring []string
	next int
}

func (c *keyCache) get(key string) (struct{}, bool) {
	if key == "" {
		return struct{}{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.keys[key]
	return struct{}{}, ok
}

func (c *keyCache) add(key string) {
	if key == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[string]struct{}, seenCapacity)
		c.ring = make([]string, seenCapacity)
	}
	if _, ok := c.keys[key]; ok {
		return
	}
	delete(c.keys, c.ring[c.next])
	c.ring[c.next] = key
	c.keys[key] = struct{}{}
	c.next = (c.next + 1) % seenCapacity
}
