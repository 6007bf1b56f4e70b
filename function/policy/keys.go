package policy

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// unknownField is how yaml.v3 reports a key KnownFields refuses. Built on
// first use, like validKeys: only a refused policy needs them, and the
// function's cold start should not pay for them.
var unknownField = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)
})

// validKeys maps each struct type the policy decodes into, by the name
// yaml.v3 gives it ("policy.document"), to its YAML keys.
var validKeys = sync.OnceValue(func() map[string][]string {
	keys := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || keys[t.String()] != nil {
			return
		}
		keys[t.String()] = []string{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			keys[t.String()] = append(keys[t.String()], name)
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[document]())
	return keys
})

// describeYAMLError rewrites yaml.v3's unmarshal errors so that an unknown
// key is named with its line and the closest valid key, instead of as
// "field cooldwn not found in type policy.document".
func describeYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("policy: %w", err)
	}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = e
		m := unknownField().FindStringSubmatch(e)
		if m == nil {
			continue
		}
		line, key, valid := m[1], m[2], validKeys()[m[3]]
		msgs[i] = fmt.Sprintf("line %s: unknown key %q", line, key)
		if s := closest(key, valid); s != "" {
			msgs[i] += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(valid) > 0 {
			msgs[i] += fmt.Sprintf(" (valid keys here: %s)", strings.Join(valid, ", "))
		}
	}
	return errors.New("policy: " + strings.Join(msgs, "; "))
}

// closest is the key in valid nearest to key, if it is near enough to be a
// typo: at most 2 edits, or a third of the key's length for long keys.
func closest(key string, valid []string) string {
	best, bestDist := "", max(2, len(key)/3)+1
	for _, v := range valid {
		if d := editDistance(strings.ToLower(key), strings.ToLower(v)); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
