package simulate

import (
	"strings"
	"testing"
	"time"
)

func demandAt(t *testing.T, tr *Trace, id string, minutes ...int) []float64 {
	t.Helper()
	for i := range tr.Series {
		if tr.Series[i].ID == id {
			c := tr.Series[i].Cursor()
			var out []float64
			for _, m := range minutes {
				out = append(out, c.At(m))
			}
			return out
		}
	}
	t.Fatalf("no series %s", id)
	return nil
}

func TestParseCSV(t *testing.T) {
	in := "time,instanceId,demandMbps\n" +
		"2026-03-02T00:00:00Z,i-a,2\n" +
		"1772409660,i-b,7.5\n" + // 2026-03-02T00:01:00Z in Unix seconds
		"2026-03-02T00:03:00+08:00,i-a,9\n" + // before the others in UTC? no: 2026-03-01T16:03Z
		""
	if _, err := ParseTrace(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 4: time") {
		t.Fatalf("a row going back in time: err = %v, want it to name line 4 and the time", err)
	}
	in = "2026-03-02T00:00:00Z,i-a,2\n" + // no header
		"2026-03-02T00:01:00Z,i-b,7.5\n" +
		"# a comment\n" +
		"2026-03-02T00:03:00Z,i-a,9\n" +
		"2026-03-02T00:04:00Z,i-a,9\n"
	tr, err := ParseTrace(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Start.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) || tr.Minutes != 5 || tr.LowerBound {
		t.Errorf("start %v minutes %d lowerBound %v, want 2026-03-02T00:00Z, 5, false", tr.Start, tr.Minutes, tr.LowerBound)
	}
	// Demand holds until the next row; before its first row an instance sends nothing.
	if got := demandAt(t, tr, "i-a", 0, 1, 2, 3, 4); !equal(got, []float64{2, 2, 2, 9, 9}) {
		t.Errorf("i-a = %v", got)
	}
	if got := demandAt(t, tr, "i-b", 0, 1, 4); !equal(got, []float64{0, 7.5, 7.5}) {
		t.Errorf("i-b = %v", got)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseCSVErrors(t *testing.T) {
	const ok = "2026-03-02T00:00:00Z,i-a,1\n"
	for _, c := range []struct{ in, want string }{
		{"", "empty input"},
		{"time,instanceId,demandMbps\n", "no data rows"},
		{ok + "2026-03-02T00:01:00Z,i-a\n", "line 2: 2 fields"},
		{ok + "yesterday,i-a,1\n", "line 2: time: \"yesterday\""},
		{ok + "2026-03-02T00:01:30Z,i-a,1\n", "line 2: time: 2026-03-02T00:01:30Z is not on a whole minute"},
		{ok + "2026-03-02T00:01:00Z,,1\n", "line 2: instanceId: empty"},
		{ok + "2026-03-02T00:01:00Z,i a,1\n", "line 2: instanceId"},
		{ok + "2026-03-02T00:01:00Z,i-a,-3\n", "line 2: demandMbps: -3 is negative"},
		{ok + "2026-03-02T00:01:00Z,i-a,NaN\n", "line 2: demandMbps: \"NaN\" is not a number"},
		{ok + "2026-03-02T00:00:00Z,i-a,2\n", "line 2: time 2026-03-02T00:00:00Z: instance i-a already has a value at that minute (line 1)"},
		{ok + "2026-03-01T23:59:00Z,i-a,2\n", "line 2: time 2026-03-01T23:59:00Z: goes back in time"},
		{"time,demandMbps,instanceId\n" + ok, "line 1: header"},
		{ok + "2026-07-02T00:00:00Z,i-a,1\n", "line 2: time 2026-07-02T00:00:00Z: the trace spans more than"},
		{ok + strings.Repeat("x", maxLineBytes+1) + "\n", "line 2: longer than"},
	} {
		_, err := ParseTrace(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTrace(%.60q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

func TestParseMetricList(t *testing.T) {
	// The API's answer: Datapoints is a JSON string; two pages concatenated,
	// the second with a real array. bit/s -> Mbit/s; Maximum wins over Average.
	in := `{"Code":"200","Period":"60","Datapoints":"[{\"timestamp\":1548777600000,\"instanceId\":\"i-1\",\"Average\":1000000,\"Maximum\":4000000},{\"timestamp\":1548777660000,\"instanceId\":\"i-1\",\"Average\":2500000}]"}
{"Period":60,"Datapoints":[{"timestamp":1548777720000,"instanceId":"i-1","Maximum":6000000}]}`
	tr, err := ParseTrace(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.LowerBound || tr.Minutes != 3 || !tr.Start.Equal(time.UnixMilli(1548777600000).UTC()) {
		t.Errorf("lowerBound %v minutes %d start %v", tr.LowerBound, tr.Minutes, tr.Start)
	}
	if got := demandAt(t, tr, "i-1", 0, 1, 2); !equal(got, []float64{4, 2.5, 6}) {
		t.Errorf("demand = %v, want [4 2.5 6]", got)
	}
}

func TestParseMetricListErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"Period":"300","Datapoints":"[]"}`, "answer 0: Period \"300\": want 60"},
		{`{"Period":"60"}`, "answer 0: Datapoints is missing"},
		{`{"Datapoints":"[{]"}`, "answer 0: Datapoints is not a JSON array"},
		{`{"Datapoints":[{"timestamp":1548777600000,"instanceId":"i-1","Average":1},{"instanceId":"i-1","Average":1}]}`, "datapoint 1: timestamp is missing"},
		{`{"Datapoints":[{"timestamp":1548777600000,"instanceId":"i-1"}]}`, "datapoint 0: neither Maximum nor Average"},
		{`{"Datapoints":[{"timestamp":1548777600000,"instanceId":"i-1","Maximum":-1}]}`, "datapoint 0: Maximum -1 is not a rate"},
		{`{"Datapoints":[{"timestamp":1548777601000,"instanceId":"i-1","Maximum":1}]}`, "datapoint 0: timestamp: 1548777601000 is not on a whole minute"},
		{`{"Datapoints":[{"timestamp":1548777600000,"Maximum":1}]}`, "datapoint 0: instanceId: empty"},
		{`{"Datapoints":[]} {"Datapoints":[{"timestamp":1548777600000,"instanceId":"i-1","Maximum":1}]} [`, "answer 2: not a DescribeMetricList answer"},
	} {
		_, err := ParseTrace(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTrace(%.70s) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}
