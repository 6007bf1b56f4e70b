package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// replayPolicy reacts within minutes, so a short trace sees changes both
// ways: no downCooldown beyond ECS's lock.
const replayPolicy = readmeTable + "downCooldown: 5m\n"

// TestReplay replays a flash crowd through the real engine and checks the
// timeline against an independent computation.
func TestReplay(t *testing.T) {
	p := mustPolicy(t, replayPolicy)
	tr, err := ParseTrace(bytes.NewReader(examples["flash-crowd"]()))
	if err != nil {
		t.Fatal(err)
	}
	rules := DefaultRules(p)
	for i := range rules {
		rules[i].Times = 1
		rules[i].Silence = 3600
	}
	dir := t.TempDir()
	res, err := ReplayToDir(context.Background(), tr, Config{Policy: p, Rules: rules}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %s", w)
	}
	f, err := os.Open(filepath.Join(dir, "timeline.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := ReadTimeline(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != tr.Minutes*len(tr.Series) {
		t.Fatalf("%d rows, want %d", len(rows), tr.Minutes)
	}
	var summary Result
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &summary); err != nil {
		t.Fatal(err)
	}
	id := tr.Series[0].ID
	cur := tr.Series[0].Cursor()
	lo, hi := p.BoundsFor(id)
	prev, lastChange := lo, time.Time{}
	up, down := 0, 0
	var served, demand float64
	for m, row := range rows {
		at, err := time.Parse(time.RFC3339, row["time"])
		if err != nil || !at.Equal(tr.Start.Add(time.Duration(m)*time.Minute)) || row["instanceId"] != id {
			t.Fatalf("row %d: time %q instance %q", m, row["time"], row["instanceId"])
		}
		// The trace keeps float32 demand; the timeline prints it as such.
		d, c, s := number(t, row["demandMbps"]), int(number(t, row["capMbps"])), number(t, row["servedMbps"])
		if want := float64(float32(cur.At(m))); d != want {
			t.Errorf("%s: demand %v, trace says %v", row["time"], d, want)
		}
		if s != float64(float32(math.Min(d, float64(c)))) {
			t.Errorf("%s: served %v, want min(%v, %d)", row["time"], s, d, c)
		}
		if c < lo || c > hi {
			t.Errorf("%s: cap %d outside %d..%d", row["time"], c, lo, hi)
		}
		if c != prev {
			if !lastChange.IsZero() && at.Sub(lastChange) < 5*time.Minute {
				t.Errorf("%s: cap changed %v after the previous change (ECS locks for 5m)", row["time"], at.Sub(lastChange))
			}
			if row["action"] != "scaled" {
				t.Errorf("%s: cap %d -> %d with action %q", row["time"], prev, c, row["action"])
			}
			if c > prev {
				up++
			} else {
				down++
			}
			lastChange = at
		}
		prev = c
		served += s * 60
		demand += d * 60
	}
	got := summary.Instances[0].Strategies[StrategyPolicy]
	if got.OrdersUp != up || got.OrdersDown != down {
		t.Errorf("summary orders %d up / %d down, timeline %d / %d", got.OrdersUp, got.OrdersDown, up, down)
	}
	if up == 0 || down == 0 {
		t.Errorf("the flash crowd should raise and lower the cap: %d up, %d down", up, down)
	}
	if !near(got.ServedMbitSeconds, served) || !near(got.DemandMbitSeconds, demand) {
		t.Errorf("summary served %v of %v, timeline %v of %v", got.ServedMbitSeconds, got.DemandMbitSeconds, served, demand)
	}
	// The fixed strategies, computed without the engine.
	peak := summary.Instances[0].Strategies[StrategyFixedPeak]
	if peak.FixedCapMbps != 100 || peak.OrdersUp != 0 || peak.MinutesSaturated != 0 || !near(peak.ServedFraction, 1) {
		t.Errorf("fixed-peak = %+v, want 100 Mbit/s serving everything", peak)
	}
	start := summary.Instances[0].Strategies[StrategyStartCap]
	if start.FixedCapMbps != 5 || !near(start.CapMbpsHours, 5*float64(tr.Minutes)/60) {
		t.Errorf("start-cap = %+v", start)
	}
	if summary.Best == "" || summary.Total[StrategyPolicy].OrdersUp != up {
		t.Errorf("summary total/best: %+v %q", summary.Total[StrategyPolicy], summary.Best)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("<svg")) || !bytes.Contains(html, []byte(id)) || !bytes.Contains(html, []byte("per unit of cost")) {
		t.Errorf("report.html: %v, %d bytes", err, len(html))
	}
}

func number(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

// TestReplayLowerBound: a history export is reported as a lower bound.
func TestReplayLowerBound(t *testing.T) {
	in := `{"Period":"60","Datapoints":[{"timestamp":1772409600000,"instanceId":"i-h","Maximum":5000000},{"timestamp":1772409660000,"instanceId":"i-h","Maximum":5000000}]}`
	tr, err := ParseTrace(bytes.NewReader([]byte(in)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Replay(context.Background(), tr, Config{Policy: mustPolicy(t, readmeTable), Billing: PostPaidPayByTraffic})
	if err != nil {
		t.Fatal(err)
	}
	if !res.LowerBound || len(res.Notes) != 3 {
		t.Errorf("lowerBound %v notes %q", res.LowerBound, res.Notes)
	}
}

// benchDays shortens the benchmark's trace, for profiling.
var benchDays = flag.Int("replay-days", 30, "days of trace in BenchmarkReplay30Days100Instances")

// BenchmarkReplay30Days100Instances is the speed target: a 30-day,
// one-minute trace of 100 instances in under a minute on 2 cores.
func BenchmarkReplay30Days100Instances(b *testing.B) {
	if testing.Short() {
		b.Skip("a long benchmark")
	}
	instances, minutes := 100, *benchDays*24*60
	var csv bytes.Buffer
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for m := 0; m < minutes; m += 10 { // demand moves every 10 minutes
		for i := 0; i < instances; i++ {
			v := 2 + 20*math.Max(0, math.Sin(math.Pi*float64(m%1440-360)/720)) + float64(i%7)
			fmt.Fprintf(&csv, "%d,i-bench-%03d,%.1f\n", start.Add(time.Duration(m)*time.Minute).Unix(), i, v)
		}
	}
	tr, err := ParseTrace(bytes.NewReader(csv.Bytes()))
	if err != nil {
		b.Fatal(err)
	}
	tr.Minutes = minutes
	p := mustPolicy(b, readmeTable)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Replay(context.Background(), tr, Config{Policy: p}); err != nil {
			b.Fatal(err)
		}
	}
}
