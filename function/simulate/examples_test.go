package simulate

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the bundled example traces in testdata/")

// exampleStart is a fixed Monday so that the files never change.
var exampleStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// examples are the bundled traces: one-minute steps, one or two instances.
var examples = map[string]func() []byte{
	// diurnal: a day of office-hours traffic peaking near 30 and 12 Mbit/s.
	"diurnal": func() []byte {
		return exampleCSV(24*60, []string{"i-sim-web-01", "i-sim-api-01"}, func(inst, m int) float64 {
			phase := math.Sin(math.Pi * float64(m-6*60) / (12 * 60)) // up at 06:00, down at 18:00
			peak := []float64{30, 12}[inst]
			return math.Max(0.5, peak*math.Max(0, phase)+1.5*math.Sin(float64(m)/7+float64(inst)))
		})
	},
	// flash-crowd: a quiet 2 Mbit/s, a jump to 70 for 40 minutes, then quiet.
	"flash-crowd": func() []byte {
		return exampleCSV(6*60, []string{"i-sim-shop-01"}, func(_, m int) float64 {
			switch {
			case m >= 120 && m < 160:
				return 70
			case m >= 160 && m < 200:
				return 70 - float64(m-160)*1.6
			}
			return 2
		})
	},
	// slow-ramp: demand growing from 1 to 90 Mbit/s over 12 hours.
	"slow-ramp": func() []byte {
		return exampleCSV(12*60, []string{"i-sim-batch-01"}, func(_, m int) float64 {
			return 1 + 89*float64(m)/float64(12*60-1)
		})
	},
}

// exampleCSV writes only the rows where a value changes, as a trace may.
func exampleCSV(minutes int, ids []string, f func(inst, m int) float64) []byte {
	var b bytes.Buffer
	b.WriteString("time,instanceId,demandMbps\n")
	for m := 0; m < minutes; m++ {
		for i, id := range ids {
			fmt.Fprintf(&b, "%s,%s,%.2f\n", exampleStart.Add(time.Duration(m)*time.Minute).Format(time.RFC3339), id, f(i, m))
		}
	}
	return b.Bytes()
}

// TestExamples keeps the committed traces equal to their generators and
// small, and checks that they parse.
func TestExamples(t *testing.T) {
	for name, gen := range examples {
		path := filepath.Join("testdata", name+".csv")
		want := gen()
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./function/simulate -run TestExamples -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator: go test ./function/simulate -run TestExamples -update", path)
		}
		if len(got) > 200<<10 {
			t.Errorf("%s is %d bytes, above 200 KB", path, len(got))
		}
		if _, err := ParseTrace(bytes.NewReader(got)); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
