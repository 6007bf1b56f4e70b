package openapi

// TagMap collects the n tags of an answer: services fill in either
// TagKey/TagValue (ECS DescribeInstances) or Key/Value (most other APIs),
// so pair gives both and the first non-empty key wins. Nil when n is 0.
func TagMap(n int, pair func(i int) (key, value, altKey, altValue string)) map[string]string {
	if n == 0 {
		return nil
	}
	out := make(map[string]string, n)
	for i := range n {
		key, value, altKey, altValue := pair(i)
		if key == "" {
			key, value = altKey, altValue
		}
		if key != "" {
			out[key] = value
		}
	}
	return out
}
