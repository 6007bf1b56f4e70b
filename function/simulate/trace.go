// Package simulate replays a traffic trace through the real scaling engine
// against the ECS emulator and compares the outcome with simple strategies:
// demand served, saturation, orders and cost. It is a tool, never deployed.
package simulate

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits that bound the memory and the run time of one replay. A trace keeps
// only the rows where demand changes, so memory grows with the input, never
// with the span alone.
const (
	MaxInstances  = 1000
	MaxSpan       = 93 * 24 * time.Hour // three months of minutes
	MaxTraceBytes = 256 << 20
	maxLineBytes  = 4096
	maxIDBytes    = 64
)

// Step is the replay's time step: CloudMonitor's default period.
const Step = time.Minute

// point is one demand change: from minute on, the instance wants mbps.
type point struct {
	minute int32
	mbps   float32
}

// Series is the demand of one instance; it holds between points.
type Series struct {
	ID     string
	points []point
}

// Trace is the demand of every instance, minute by minute.
type Trace struct {
	Start   time.Time // the first minute, UTC
	Minutes int       // how many one-minute steps
	Series  []Series  // in order of first appearance
	// LowerBound is set for a CloudMonitor history export: what was sent was
	// clipped at the cap in force then, so demand may have been higher.
	LowerBound bool
}

// Cursor walks one series minute by minute in O(1) per step.
type Cursor struct {
	s    *Series
	next int
	cur  float64
}

// Cursor returns a cursor standing before minute 0.
func (s *Series) Cursor() *Cursor { return &Cursor{s: s} }

// At returns the demand in minute m; calls must not go back in time.
func (c *Cursor) At(m int) float64 {
	for c.next < len(c.s.points) && int(c.s.points[c.next].minute) <= m {
		c.cur = float64(c.s.points[c.next].mbps)
		c.next++
	}
	return c.cur
}

// Peak is the highest demand of the series.
func (s *Series) Peak() float64 {
	var p float64
	for _, pt := range s.points {
		p = math.Max(p, float64(pt.mbps))
	}
	return p
}

// ParseTrace reads a CSV trace (time,instanceId,demandMbps) or a
// CloudMonitor DescribeMetricList answer (one or several, concatenated),
// telling them apart by the first byte.
func ParseTrace(r io.Reader) (*Trace, error) {
	br := bufio.NewReader(io.LimitReader(r, MaxTraceBytes+1))
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	b := newBuilder()
	if first == '{' {
		err = b.readMetricList(br)
	} else {
		err = b.readCSV(br)
	}
	if err != nil {
		return nil, err
	}
	return b.finish(first == '{')
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, errors.New("trace: empty input")
		}
		if err != nil {
			return 0, fmt.Errorf("trace: %w", err)
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0xEF && c != 0xBB && c != 0xBF { // BOM bytes too
			return c, br.UnreadByte()
		}
	}
}

// builder collects rows in Unix minutes; trace minutes are fixed at finish,
// once the first minute is known.
type builder struct {
	index map[string]int
	ids   []string
	rows  [][]row
	last  []row // the last row read per instance, stored or not
	min   int64
	max   int64
	any   bool // a row was read: min and max are set
}

type row struct {
	minute int64 // Unix minutes
	mbps   float32
	where  int32
}

func newBuilder() *builder { return &builder{index: map[string]int{}} }

// add records one row; where names it in errors ("line 3", "datapoint 7").
// Rows of one instance must come in time order, as CSV traces and
// CloudMonitor answers do: then a row equal to the previous one can be
// dropped at once and memory grows with the changes only.
func (b *builder) add(at time.Time, id string, mbps float64, where int, name func(int) string) error {
	minute := at.Unix() / int64(Step/time.Second)
	i, ok := b.index[id]
	if !ok {
		if len(b.ids) == MaxInstances {
			return fmt.Errorf("trace: %s: instanceId %q: more than %d instances", name(where), id, MaxInstances)
		}
		i = len(b.ids)
		b.index[id] = i
		b.ids = append(b.ids, id)
		b.rows = append(b.rows, nil)
		b.last = append(b.last, row{minute: math.MinInt64})
	}
	r := row{minute: minute, mbps: float32(mbps), where: int32(where)}
	switch prev := b.last[i]; {
	case minute == prev.minute:
		return fmt.Errorf("trace: %s: time %s: instance %s already has a value at that minute (%s)", name(where), at.Format(time.RFC3339), id, name(int(prev.where)))
	case minute < prev.minute:
		return fmt.Errorf("trace: %s: time %s: goes back in time for instance %s (%s is later)", name(where), at.Format(time.RFC3339), id, name(int(prev.where)))
	}
	b.last[i] = r
	if !b.any {
		b.min, b.max, b.any = minute, minute, true
	}
	b.min, b.max = min(b.min, minute), max(b.max, minute)
	if time.Duration(b.max-b.min)*Step >= MaxSpan {
		return fmt.Errorf("trace: %s: time %s: the trace spans more than %v", name(where), at.Format(time.RFC3339), MaxSpan)
	}
	if rs := b.rows[i]; len(rs) > 0 && rs[len(rs)-1].mbps == r.mbps {
		return nil // demand holds anyway
	}
	b.rows[i] = append(b.rows[i], r)
	return nil
}

func (b *builder) finish(lowerBound bool) (*Trace, error) {
	if len(b.ids) == 0 {
		return nil, errors.New("trace: no data rows")
	}
	t := &Trace{Start: time.Unix(b.min*int64(Step/time.Second), 0).UTC(), Minutes: int(b.max-b.min) + 1, LowerBound: lowerBound}
	for i, id := range b.ids {
		s := Series{ID: id, points: make([]point, len(b.rows[i]))}
		for j, r := range b.rows[i] {
			s.points[j] = point{minute: int32(r.minute - b.min), mbps: r.mbps}
		}
		t.Series = append(t.Series, s)
	}
	return t, nil
}

func lineName(n int) string  { return fmt.Sprintf("line %d", n) }
func pointName(n int) string { return fmt.Sprintf("datapoint %d", n) }

// csvHeader is the column order of a CSV trace.
var csvHeader = []string{"time", "instanceId", "demandMbps"}

func (b *builder) readCSV(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxLineBytes), maxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\uFEFF"))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(text)).Read()
		if err != nil {
			return fmt.Errorf("trace: line %d: %v", line, err)
		}
		if len(rec) != len(csvHeader) {
			return fmt.Errorf("trace: line %d: %d fields, want 3 (time,instanceId,demandMbps)", line, len(rec))
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(b.ids) == 0 && strings.EqualFold(rec[0], csvHeader[0]) {
			if !slices.Equal(rec, csvHeader) {
				return fmt.Errorf("trace: line %d: header %q, want %q", line, strings.Join(rec, ","), strings.Join(csvHeader, ","))
			}
			continue
		}
		at, err := parseTraceTime(rec[0])
		if err != nil {
			return fmt.Errorf("trace: line %d: time: %v", line, err)
		}
		if err := checkID(rec[1]); err != nil {
			return fmt.Errorf("trace: line %d: instanceId: %v", line, err)
		}
		mbps, err := parseRate(rec[2])
		if err != nil {
			return fmt.Errorf("trace: line %d: demandMbps: %v", line, err)
		}
		if err := b.add(at, rec[1], mbps, line, lineName); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("trace: line %d: longer than %d bytes", line+1, maxLineBytes)
		}
		return fmt.Errorf("trace: line %d: %w", line+1, err)
	}
	return nil
}

// parseTraceTime reads RFC 3339 or Unix seconds, on a whole minute.
func parseTraceTime(s string) (time.Time, error) {
	var at time.Time
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("%q is out of range for Unix seconds", s)
		}
		at = time.Unix(n, 0)
	} else if at, err = time.Parse(time.RFC3339, s); err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds", s)
	}
	return onMinute(at, s)
}

func onMinute(at time.Time, s string) (time.Time, error) {
	at = at.UTC()
	if !at.Truncate(Step).Equal(at) {
		return time.Time{}, fmt.Errorf("%s is not on a whole minute (the trace has one-minute steps)", s)
	}
	return at, nil
}

func parseRate(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%v is negative", v)
	}
	return v, nil
}

// checkID refuses what the ECS ids never hold and what would break the
// callback's dimensions text ({instanceId=..., ip=...}).
func checkID(id string) error {
	if id == "" {
		return errors.New("empty")
	}
	if len(id) > maxIDBytes {
		return fmt.Errorf("%q is longer than %d bytes", id, maxIDBytes)
	}
	if strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(",={}\"", r) }) {
		return fmt.Errorf("%q holds a character an ECS instance ID cannot hold", id)
	}
	return nil
}

// metricList is the part of a DescribeMetricList answer a trace needs.
type metricList struct {
	Datapoints json.RawMessage `json:"Datapoints"`
	Period     json.RawMessage `json:"Period"`
}

// datapoint is one period of one instance; values in bit/s.
type datapoint struct {
	Timestamp  *int64   `json:"timestamp"`
	InstanceID string   `json:"instanceId"`
	Average    *float64 `json:"Average"`
	Maximum    *float64 `json:"Maximum"`
}

// readMetricList reads concatenated answers (one per page); datapoints are
// numbered across pages from 0.
func (b *builder) readMetricList(r io.Reader) error {
	dec := json.NewDecoder(r)
	index := 0
	for page := 0; ; page++ {
		var ml metricList
		err := dec.Decode(&ml)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("trace: answer %d: not a DescribeMetricList answer: %v", page, err)
		}
		if err := checkPeriod(ml.Period, page); err != nil {
			return err
		}
		points, err := datapoints(ml.Datapoints, page)
		if err != nil {
			return err
		}
		for _, dp := range points {
			if err := b.addDatapoint(dp, index); err != nil {
				return err
			}
			index++
		}
	}
}

func checkPeriod(raw json.RawMessage, page int) error {
	if len(raw) == 0 {
		return nil
	}
	p := strings.Trim(string(raw), `"`)
	if p != "60" {
		return fmt.Errorf("trace: answer %d: Period %s: want 60 (the replay has one-minute steps)", page, raw)
	}
	return nil
}

// datapoints accepts the API's JSON-in-a-string and a plain JSON array.
func datapoints(raw json.RawMessage, page int) ([]datapoint, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("trace: answer %d: Datapoints is missing", page)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("trace: answer %d: Datapoints: %v", page, err)
		}
		raw = []byte(s)
	}
	var points []datapoint
	if err := json.Unmarshal(raw, &points); err != nil {
		return nil, fmt.Errorf("trace: answer %d: Datapoints is not a JSON array of datapoints: %v", page, err)
	}
	return points, nil
}

func (b *builder) addDatapoint(dp datapoint, index int) error {
	where := pointName(index)
	if dp.Timestamp == nil {
		return fmt.Errorf("trace: %s: timestamp is missing", where)
	}
	at, err := onMinute(time.UnixMilli(*dp.Timestamp), strconv.FormatInt(*dp.Timestamp, 10))
	if err != nil {
		return fmt.Errorf("trace: %s: timestamp: %v", where, err)
	}
	if err := checkID(dp.InstanceID); err != nil {
		return fmt.Errorf("trace: %s: instanceId: %v", where, err)
	}
	field, v := "Maximum", dp.Maximum
	if v == nil {
		field, v = "Average", dp.Average
	}
	if v == nil {
		return fmt.Errorf("trace: %s: neither Maximum nor Average is present", where)
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 {
		return fmt.Errorf("trace: %s: %s %v is not a rate of 0 bit/s or more", where, field, *v)
	}
	return b.add(at, dp.InstanceID, *v/1e6, index, pointName)
}
