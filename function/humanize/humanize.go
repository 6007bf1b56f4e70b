// Package humanize formats values for people reading results and logs.
package humanize

import (
	"fmt"
	"strconv"
	"time"
)

// Duration formats d with its two largest units, so that a stale alarm's
// age reads "916d3h" rather than time.Duration's "21987h36m12.010017478s":
// "916d3h", "2h5m", "3m", "45s", "1.5s", "250ms". Units below the second
// show only for durations under a minute; a zero lower unit is left out.
// A negative duration gets a leading "-".
func Duration(d time.Duration) string {
	if d < 0 {
		if d == time.Duration(-1<<63) { // -d overflows
			d++
		}
		return "-" + Duration(-d)
	}
	const day = 24 * time.Hour
	switch {
	case d >= day:
		return pair(d, day, "d", time.Hour, "h")
	case d >= time.Hour:
		return pair(d, time.Hour, "h", time.Minute, "m")
	case d >= time.Minute:
		return pair(d, time.Minute, "m", time.Second, "s")
	case d >= time.Second:
		// One decimal: "1.5s"; "45s" when it is whole.
		return strconv.FormatFloat(d.Truncate(100*time.Millisecond).Seconds(), 'f', -1, 64) + "s"
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d > 0:
		return d.String() // µs and ns: rare enough to keep Go's form
	}
	return "0s"
}

// pair writes d as whole units of big, then of small if any are left.
func pair(d, big time.Duration, bigName string, small time.Duration, smallName string) string {
	s := strconv.FormatInt(int64(d/big), 10) + bigName
	if rest := (d % big) / small; rest > 0 {
		s += strconv.FormatInt(int64(rest), 10) + smallName
	}
	return s
}
