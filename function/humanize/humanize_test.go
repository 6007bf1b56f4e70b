package humanize

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{21987*time.Hour + 36*time.Minute + 12*time.Second + 10017478, "916d3h"}, // the stale alarm's age
		{24 * time.Hour, "1d"},
		{2*time.Hour + 5*time.Minute + 59*time.Second, "2h5m"},
		{time.Hour, "1h"},
		{3 * time.Minute, "3m"},
		{3*time.Minute + 7*time.Second, "3m7s"},
		{45 * time.Second, "45s"},
		{1500 * time.Millisecond, "1.5s"},
		{1999 * time.Millisecond, "1.9s"},
		{250 * time.Millisecond, "250ms"},
		{1500 * time.Microsecond, "1ms"},
		{42 * time.Microsecond, "42µs"},
		{0, "0s"},
		{-90 * time.Second, "-1m30s"},
		{time.Duration(-1 << 63), "-106751d23h"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
