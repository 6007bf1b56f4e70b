// Package state keeps an instance's decide.Record in one ECS tag, so the
// function itself stays stateless and every instance of it sees the same
// record.
package state

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
)

// TagKey is the ECS tag that holds the record.
const TagKey = "bandwidth-autoscaler:state"

// MaxLen is the longest ECS tag value.
const MaxLen = 128

const (
	version   = "v2"
	versionV1 = "v1" // the first release's record, read and migrated
)

// Bounds that keep every encoded record under MaxLen.
const (
	maxMbps       = 9999
	maxDowngrades = 99
	maxCount      = 999
	maxOrderLen   = 32
	maxMilli      = 253402300799999 // 9999-12-31T23:59:59.999Z
	maxUnix       = maxMilli / 1000
	minDay        = 19700101
	maxDay        = 99991231
)

// Encode writes r as a compact, versioned tag value of at most MaxLen
// chars, e.g. "v2;c=20;s=m4x1b2c3;f=10". Times are base-36: milliseconds
// for the change times (a whole second would lengthen cooldowns and misread
// what happened in the same second), seconds rounded up for the ends of
// windows. Zero fields are left out.
func Encode(r decide.Record) string {
	var b strings.Builder
	b.Grow(MaxLen)
	b.WriteString(version)
	field := func(name, v string) { b.WriteString(";" + name + "=" + v) }
	num := func(v int, limit int64) string { return strconv.FormatInt(clamp(int64(v), limit), 10) }
	field("c", num(r.Cap, maxMbps))
	if !r.Since.IsZero() {
		field("s", milli(r.Since))
	}
	if r.From != 0 {
		field("f", num(r.From, maxMbps))
	}
	if r.Downgrades != 0 {
		field("n", num(r.Downgrades, maxDowngrades))
	}
	if r.Increases != 0 && r.Day != 0 {
		field("d", num(r.Day, maxDay)+","+num(r.Increases, maxCount))
	}
	for _, w := range []struct {
		name string
		t    time.Time
	}{{"z", r.FrozenUntil}, {"t", r.TemporaryUntil}, {"h", r.ManualUntil}} {
		if !w.t.IsZero() {
			field(w.name, secondsCeil(w.t))
		}
	}
	if a := r.Attempt; a != nil {
		v := num(a.To, maxMbps) + "," + milli(a.At)
		if a.Manual {
			v += ",m"
		}
		if !a.Until.IsZero() {
			v += ",u" + secondsCeil(a.Until)
		}
		if a.Order != "" {
			order := a.Order
			// The order is there to be named; its presence is what counts.
			if b.Len()+len(";a=")+len(v)+len(",o")+len(order) > MaxLen || len(order) > maxOrderLen || !plain(order) {
				order = ""
			}
			v += ",o" + order
		}
		field("a", v)
	}
	return b.String()
}

// Decode reads the record from an instance's tags. A missing tag is the zero
// record (an instance never changed); a tag that cannot be read is an error
// naming what is wrong with it, so that the caller leaves the instance
// alone rather than act on a forgotten state.
func Decode(tags map[string]string) (decide.Record, error) {
	value, ok := tags[TagKey]
	if !ok {
		return decide.Record{}, nil
	}
	r, err := decodeValue(value)
	if err != nil {
		return decide.Record{}, fmt.Errorf("tag %s=%q: %w", TagKey, truncate(value), err)
	}
	r.Stored = true
	return r, nil
}

func decodeValue(value string) (decide.Record, error) {
	var r decide.Record
	if len(value) > MaxLen {
		return r, fmt.Errorf("%d chars, above the %d-char limit", len(value), MaxLen)
	}
	parts := strings.Split(value, ";")
	switch parts[0] {
	case version:
	case versionV1:
		return decodeV1(parts[1:])
	default:
		return r, fmt.Errorf("version %q is not one this function reads (%s, %s)", parts[0], version, versionV1)
	}
	seen := map[string]bool{}
	for _, part := range parts[1:] {
		name, v, ok := strings.Cut(part, "=")
		if !ok {
			return r, fmt.Errorf("field %q is not name=value", part)
		}
		if seen[name] {
			return r, fmt.Errorf("field %q appears twice", name)
		}
		seen[name] = true
		if err := decodeField(&r, name, v); err != nil {
			return r, fmt.Errorf("field %q: %w", name, err)
		}
	}
	if !seen["c"] {
		return r, errors.New("field \"c\" (the cap) is missing")
	}
	return r, nil
}

func decodeField(r *decide.Record, name, v string) error {
	var err error
	switch name {
	case "c":
		r.Cap, err = parseInt(v, maxMbps)
	case "s":
		r.Since, err = parseMilli(v)
	case "f":
		r.From, err = parseInt(v, maxMbps)
	case "n":
		r.Downgrades, err = parseInt(v, maxDowngrades)
	case "d":
		day, count, ok := strings.Cut(v, ",")
		if !ok {
			return fmt.Errorf("%q is not day,count", v)
		}
		if r.Day, err = parseInt(day, maxDay); err == nil && r.Day < minDay {
			err = fmt.Errorf("day %q is not yyyymmdd", day)
		}
		if err == nil {
			r.Increases, err = parseInt(count, maxCount)
		}
	case "z":
		r.FrozenUntil, err = parseSeconds(v)
	case "t":
		r.TemporaryUntil, err = parseSeconds(v)
	case "h":
		r.ManualUntil, err = parseSeconds(v)
	case "a":
		r.Attempt, err = parseAttempt(v)
	default:
		return errors.New("unknown field")
	}
	return err
}

func parseAttempt(v string) (*decide.Attempt, error) {
	fields := strings.Split(v, ",")
	if len(fields) < 2 {
		return nil, fmt.Errorf("attempt %q is not to,at[,m][,u…][,o…]", v)
	}
	a := &decide.Attempt{}
	var err error
	if a.To, err = parseInt(fields[0], maxMbps); err != nil {
		return nil, err
	}
	if a.At, err = parseMilli(fields[1]); err != nil {
		return nil, err
	}
	if a.At.IsZero() {
		return nil, errors.New("attempt without a time")
	}
	for _, f := range fields[2:] {
		switch {
		case f == "m":
			a.Manual = true
		case strings.HasPrefix(f, "u"):
			if a.Until, err = parseSeconds(f[1:]); err != nil {
				return nil, err
			}
		case strings.HasPrefix(f, "o"):
			a.Order = f[1:]
			if a.Order == "" {
				a.Order = "(unnamed)"
			}
		default:
			return nil, fmt.Errorf("attempt flag %q is unknown", f)
		}
	}
	return a, nil
}

// decodeV1 migrates the first release's record: the cap it set and when;
// a cap that differs from it counts as changed now (decide.resolve).
func decodeV1(parts []string) (decide.Record, error) {
	var r decide.Record
	for _, part := range parts {
		name, v, ok := strings.Cut(part, "=")
		if !ok {
			return r, fmt.Errorf("v1 field %q is not name=value", part)
		}
		var err error
		switch name {
		case "c":
			var s int64
			s, err = parseInt64(v, maxUnix)
			r.Since = time.Unix(s, 0).UTC()
		case "t":
			r.Cap, err = parseInt(v, maxMbps)
		case "f":
			r.From, err = parseInt(v, maxMbps)
		case "n":
			r.Downgrades, err = parseInt(v, maxDowngrades)
		case "u":
			var s int64
			s, err = parseInt64(v, maxUnix)
			r.TemporaryUntil = time.Unix(s, 0).UTC()
		case "q", "p", "k":
			// Edge-triggered memory the level-triggered function needs no more.
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return r, fmt.Errorf("v1 field %q: %w", name, err)
		}
	}
	return r, nil
}

func parseInt(v string, limit int64) (int, error) {
	n, err := parseInt64(v, limit)
	return int(n), err
}

func parseInt64(v string, limit int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("%q is not a whole number in 0..%d", v, limit)
	}
	return n, nil
}

func parseBase36(v string, limit int64) (int64, error) {
	n, err := strconv.ParseInt(v, 36, 64)
	if err != nil || n <= 0 || n > limit || v != strings.ToLower(v) {
		return 0, fmt.Errorf("%q is not a base-36 time", v)
	}
	return n, nil
}

func parseMilli(v string) (time.Time, error) {
	n, err := parseBase36(v, maxMilli)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(n).UTC(), nil
}

func parseSeconds(v string) (time.Time, error) {
	n, err := parseBase36(v, maxUnix)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, 0).UTC(), nil
}

func milli(t time.Time) string {
	return strconv.FormatInt(clamp(t.UnixMilli(), maxMilli), 36)
}

// secondsCeil rounds up, so that a window never gets shorter.
func secondsCeil(t time.Time) string {
	s := t.Unix()
	if t.After(time.Unix(s, 0)) {
		s++
	}
	return strconv.FormatInt(clamp(s, maxUnix), 36)
}

func clamp(v, limit int64) int64 { return min(max(v, 0), limit) }

func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
