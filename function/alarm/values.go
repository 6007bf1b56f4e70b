package alarm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// dimensions are the parts of an alarm's dimensions the intake uses.
type dimensions struct {
	instanceID, region, userID string
}

// parseDimensions reads dimensions (or a rule target's resources) in any of
// the documented forms: Java's Map.toString `{k=v, k=v}` (a stray `)` after
// a value, seen in the docs, is dropped), a JSON object, or a JSON list of
// objects (the 2018 format), whose entries are merged.
func parseDimensions(name string, s text) (dimensions, error) {
	var d dimensions
	str := strings.TrimSpace(string(s))
	switch {
	case str == "":
		return d, nil
	case str[0] == '[':
		var list []map[string]text
		if err := json.Unmarshal([]byte(str), &list); err != nil {
			return d, fmt.Errorf("%s %s is not a JSON list of objects: %w", name, quote(str), err)
		}
		for _, m := range list {
			if err := d.mergeJSON(name, m); err != nil {
				return d, err
			}
		}
	case isJSONObject(str):
		var m map[string]text
		if err := json.Unmarshal([]byte(str), &m); err != nil {
			return d, fmt.Errorf("%s %s is not a JSON object: %w", name, quote(str), err)
		}
		return d, d.mergeJSON(name, m)
	default:
		str = strings.TrimPrefix(str, "{")
		str = strings.TrimSuffix(str, "}")
		for str != "" {
			var entry string
			entry, str, _ = strings.Cut(str, ",")
			key, value, ok := strings.Cut(entry, "=")
			if !ok {
				continue
			}
			value = strings.TrimRight(strings.TrimSpace(value), ")")
			if err := d.set(name, strings.TrimSpace(key), string(absentIfNull(value))); err != nil {
				return d, err
			}
		}
	}
	return d, nil
}

// isJSONObject tells a JSON object from a `{k=v}` map: after the brace comes
// a quoted key or the closing brace.
func isJSONObject(s string) bool {
	if s[0] != '{' {
		return false
	}
	rest := strings.TrimSpace(s[1:])
	return rest != "" && (rest[0] == '"' || rest[0] == '}')
}

func (d *dimensions) mergeJSON(name string, m map[string]text) error {
	for key, value := range m {
		if err := d.set(name, key, strings.TrimSpace(string(value))); err != nil {
			return err
		}
	}
	return nil
}

func (d *dimensions) set(name, key, value string) error {
	var dst *string
	switch {
	case strings.EqualFold(key, "instanceId"):
		dst = &d.instanceID
	case strings.EqualFold(key, "region"), strings.EqualFold(key, "regionId"):
		dst = &d.region
	case strings.EqualFold(key, "userId"):
		dst = &d.userID
	default:
		return nil
	}
	if value == "" {
		return nil
	}
	if *dst != "" && *dst != value {
		return fmt.Errorf("%s has two values for %s, %s and %s", name, key, quote(*dst), quote(value))
	}
	*dst = value
	return nil
}

// parseValue reads a metric value: a finite, non-negative number.
func parseValue(name string, s text) (float64, error) {
	str := strings.TrimSpace(string(s))
	if str == "" {
		return 0, fmt.Errorf("%s is missing", name)
	}
	v, err := strconv.ParseFloat(str, 64)
	switch {
	case err != nil && !isRangeError(err):
		return 0, fmt.Errorf("%s %s is not a number", name, quote(string(s)))
	case err != nil || math.IsInf(v, 0) || math.IsNaN(v):
		return 0, fmt.Errorf("%s %s is not a finite number", name, quote(string(s)))
	case v < 0:
		return 0, fmt.Errorf("%s %s is negative", name, quote(string(s)))
	}
	return v, nil
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// Epoch numbers below secondsUntil are seconds, larger ones milliseconds:
// 1e11 s is the year 5138 and 1e11 ms is 1973, so no real time is ambiguous.
const (
	secondsUntil = 1e11
	millisUntil  = 1e14 // the year 5138 again
)

// parseTime reads a time given as epoch seconds, epoch milliseconds (both
// seen in callback timestamps) or RFC 3339 (EventBridge). "" is the zero time.
func parseTime(name string, s text) (time.Time, error) {
	str := strings.TrimSpace(string(s))
	if str == "" {
		return time.Time{}, nil
	}
	if v, err := strconv.ParseFloat(str, 64); err == nil {
		switch {
		case v < 0 || v >= millisUntil || math.IsNaN(v):
			return time.Time{}, fmt.Errorf("%s %s is out of range", name, quote(str))
		case v < secondsUntil:
			return time.UnixMilli(int64(v * 1000)).UTC(), nil
		default:
			return time.UnixMilli(int64(v)).UTC(), nil
		}
	}
	t, err := time.Parse(time.RFC3339, str)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s is neither epoch seconds, epoch milliseconds nor RFC 3339", name, quote(str))
	}
	return t.UTC(), nil
}

// maxInstanceID bounds an instance ID well above ECS's 22 characters while
// keeping junk out of API calls, tags and logs.
const maxInstanceID = 128

func checkInstanceID(id string) error {
	if len(id) > maxInstanceID {
		return fmt.Errorf("instanceId %s is longer than %d bytes", quote(id), maxInstanceID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return fmt.Errorf("instanceId %s holds a character that is not printable ASCII", quote(id))
		}
	}
	return nil
}

// metricOf strips the "#60" period suffix rule targets append.
func metricOf(name text) string {
	metric, _, _ := strings.Cut(strings.TrimSpace(string(name)), "#")
	return metric
}

// named is a payload field that may name the metric, with its field name.
type named struct {
	field string
	value text
}

// pickMetric returns the first of names that is a supported metric. When
// none is, it returns the first name given, and unknown lists every name
// given ("metricName \"内存使用率\"") for the result to show; metric is ""
// only when no name is given.
func pickMetric(names ...named) (metric, unknown string) {
	var given []string
	for _, n := range names {
		m := metricOf(n.value)
		if m == "" {
			continue
		}
		if isSupported(m) {
			return m, ""
		}
		if metric == "" {
			metric = m
		}
		given = append(given, n.field+" "+quote(m))
	}
	return metric, strings.Join(given, ", ")
}

func isSupported(metric string) bool {
	switch metric {
	case MetricInternetOutRate, MetricVPCInternetOutRate, MetricInternetOutRatePercent, MetricVPCInternetOutRatePercent,
		MetricEIPOutRate, MetricEIPOutRatePercent:
		return true
	}
	return false
}

func unitOf(metric string, given text) string {
	switch metric {
	case MetricInternetOutRate, MetricVPCInternetOutRate, MetricEIPOutRate:
		return "bit/s"
	case MetricInternetOutRatePercent, MetricVPCInternetOutRatePercent, MetricEIPOutRatePercent:
		return "%"
	}
	return string(given)
}

// keyOf hashes parts into a 32-character hex key. Each part is prefixed with
// its length so that no two different part lists hash the same bytes.
func keyOf(parts ...string) string {
	var buf [256]byte
	b := buf[:0]
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// quote quotes a value for an error message, cut short so that a huge field
// cannot make a huge error.
func quote(s string) string {
	const maxQuoted = 64
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

func first(values ...text) text {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
