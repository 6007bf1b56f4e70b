package state

import (
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 123e6, time.UTC)

func TestRoundTrip(t *testing.T) {
	for _, r := range []decide.Record{
		{Cap: 0},
		{Cap: 10, Since: t0, From: 5},
		{Cap: 20, Since: t0, From: 10, Downgrades: 2, Day: 20261201, Increases: 3,
			FrozenUntil: t0.Truncate(time.Second).Add(time.Hour), TemporaryUntil: t0.Truncate(time.Hour).Add(6 * time.Hour),
			ManualUntil: t0.Truncate(time.Second).Add(time.Hour),
			Attempt:     &decide.Attempt{To: 200, At: t0.Add(time.Second), Manual: true, Until: t0.Truncate(time.Hour).Add(7 * time.Hour), Order: "211111111111111111111111"}},
	} {
		enc := Encode(r)
		if len(enc) > MaxLen {
			t.Errorf("%q is %d chars, above %d", enc, len(enc), MaxLen)
		}
		got, err := Decode(map[string]string{TagKey: enc})
		if err != nil {
			t.Fatalf("Decode(%q): %v", enc, err)
		}
		r.Stored = true
		if Encode(got) != enc || !got.Since.Equal(r.Since) || (r.Attempt != nil && (*got.Attempt != *r.Attempt)) {
			t.Errorf("round trip of %+v gave %+v via %q", r, got, enc)
		}
	}
}

// Change times keep milliseconds: a whole second would lengthen cooldowns
// and misread what happened in the same second.
func TestMillisecondsKept(t *testing.T) {
	got, err := Decode(map[string]string{TagKey: Encode(decide.Record{Cap: 1, Since: t0})})
	if err != nil || !got.Since.Equal(t0) {
		t.Errorf("since %v (%v), want %v", got.Since, err, t0)
	}
}

func TestNoTagIsNoRecord(t *testing.T) {
	r, err := Decode(map[string]string{"other": "x"})
	if err != nil || r.Stored {
		t.Errorf("got %+v, %v", r, err)
	}
}

func TestV1IsMigrated(t *testing.T) {
	r, err := Decode(map[string]string{TagKey: "v1;c=1717000000;f=10;t=20;p=30,1717000100,u;n=1;k=9f86d081;u=1717021600"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Stored || r.Cap != 20 || r.From != 10 || r.Downgrades != 1 || r.Since.Unix() != 1717000000 || r.TemporaryUntil.Unix() != 1717021600 {
		t.Errorf("v1 migrated to %+v", r)
	}
}

func TestDamagedTagsAreErrors(t *testing.T) {
	for _, v := range []string{
		"", "v9;c=1", "v2", "v2;c=x", "v2;c=1;c=2", "v2;c=1;q=1", "v2;c=1;s=-1", "v2;c=1;a=20", "v2;c=1;a=20,zz,x",
		"v2;c=1;d=2026,1", "v2;c=1;s=ZZ", strings.Repeat("x", 200),
	} {
		if _, err := Decode(map[string]string{TagKey: v}); err == nil {
			t.Errorf("Decode(%q) took a damaged record", v)
		} else if !strings.Contains(err.Error(), TagKey) {
			t.Errorf("Decode(%q): %v does not name the tag", v, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(decide.Record{Cap: 10, Since: t0, Attempt: &decide.Attempt{To: 20, At: t0}}))
	f.Add("v1;c=1717000000;f=10;t=20")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := Decode(map[string]string{TagKey: v})
		if err != nil {
			return
		}
		if enc := Encode(r); len(enc) > MaxLen {
			t.Errorf("re-encoded %q is %d chars", enc, len(enc))
		}
	})
}
