package scaler

import "sync"

// seenCapacity bounds the delivery keys one process remembers: enough for an
// alarm storm across a fleet, small enough to never matter for memory.
const seenCapacity = 8192

// seenCaps is what a redelivery reports: the cap after the first look.
type seenCaps struct{ to int }

// keyCache is a bounded map of delivery keys, forgetting the oldest first.
// The zero value is ready to use.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]seenCaps
	ring []string
	next int
}

func (c *keyCache) get(key string) (seenCaps, bool) {
	if key == "" {
		return seenCaps{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.keys[key]
	return h, ok
}

func (c *keyCache) add(key string, h seenCaps) {
	if key == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[string]seenCaps, seenCapacity)
		c.ring = make([]string, seenCapacity)
	}
	if _, ok := c.keys[key]; ok {
		return
	}
	delete(c.keys, c.ring[c.next])
	c.ring[c.next] = key
	c.keys[key] = h
	c.next = (c.next + 1) % seenCapacity
}
