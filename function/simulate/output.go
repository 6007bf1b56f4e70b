package simulate

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TimelineColumns are timeline.csv's columns; the first six are fixed.
var TimelineColumns = []string{"time", "instanceId", "demandMbps", "capMbps", "servedMbps", "action",
	"alarms", "alarmsOnlyCapMbps", "alarmsOnlyAction", "fixedPeakCapMbps", "startCapMbps"}

// timeline writes timeline.csv row by row: one row per minute per instance,
// the policy strategy first, the others' caps after.
type timeline struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func newTimeline(w io.Writer) *timeline {
	if w == nil {
		return &timeline{}
	}
	t := &timeline{w: bufio.NewWriterSize(w, 1<<16)}
	t.buf = append(t.buf, strings.Join(TimelineColumns, ",")...)
	t.buf = append(t.buf, '\n')
	return t
}

// write appends the minute's rows; runs are in Strategies order.
func (t *timeline) write(at time.Time, instances []*InstanceResult, demand []float64, runs []*run) error {
	if t.w == nil || t.err != nil {
		return t.err
	}
	stamp := at.UTC().Format(time.RFC3339)
	pol, alo, peak, start := runs[0], runs[1], runs[2], runs[3]
	for i, ir := range instances {
		b := t.buf
		b = append(b, stamp...)
		b = append(b, ',')
		b = append(b, ir.ID...)
		b = append(b, ',')
		b = strconv.AppendFloat(b, demand[i], 'f', -1, 32) // demand is stored as float32
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(pol.caps[i]), 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, min(demand[i], float64(pol.caps[i])), 'f', -1, 32)
		b = append(b, ',')
		b = append(b, pol.acts[i]...)
		b = append(b, ',')
		b = appendField(b, pol.notes[i])
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(alo.caps[i]), 10)
		b = append(b, ',')
		b = append(b, alo.acts[i]...)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(peak.caps[i]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(start.caps[i]), 10)
		b = append(b, '\n')
		if _, err := t.w.Write(b); err != nil {
			t.err = fmt.Errorf("simulate: timeline: %w", err)
			return t.err
		}
		t.buf = b[:0]
	}
	return nil
}

// appendField quotes a free-text field when CSV needs it.
func appendField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\n") {
		return append(b, s...)
	}
	return append(append(append(b, '"'), strings.ReplaceAll(s, `"`, `""`)...), '"')
}

func (t *timeline) flush() error {
	if t.w == nil || t.err != nil {
		return t.err
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("simulate: timeline: %w", err)
	}
	return nil
}

// ReadTimeline reads a timeline.csv back, for checks and tools.
func ReadTimeline(r io.Reader) ([]map[string]string, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	var rows []map[string]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("timeline: %w", err)
		}
		row := make(map[string]string, len(header))
		for i, h := range header {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
}

// ReplayToDir replays the trace into dir: timeline.csv, summary.json and
// report.html.
func ReplayToDir(ctx context.Context, t *Trace, cfg Config, dir string) (*Result, error) {
	tl, err := createIn(dir, "timeline.csv")
	if err != nil {
		return nil, err
	}
	cfg.Timeline = tl
	res, err := Replay(ctx, t, cfg)
	if cerr := tl.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("simulate: timeline: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	for _, out := range []struct {
		name  string
		write func(io.Writer, *Result) error
	}{{"summary.json", WriteSummary}, {"report.html", WriteReport}, {"plot.svg", WritePlot}} {
		f, err := createIn(dir, out.name)
		if err != nil {
			return nil, err
		}
		err = out.write(f, res)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("simulate: %s: %w", out.name, cerr)
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// WriteSummary writes summary.json.
func WriteSummary(w io.Writer, res *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("simulate: summary: %w", err)
	}
	return nil
}

// createIn creates dir/name, making dir first.
func createIn(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	return f, nil
}
