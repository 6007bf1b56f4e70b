package policy

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

const table = "table: [{upTo: 4, target: 5}, {upTo: 8, target: 10}, {upTo: 16, target: 20}]\n"

func TestParseDefaults(t *testing.T) {
	p, err := Parse([]byte(table + "instances: {ids: [i-a]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{
		Table:        []Row{{4, 5}, {8, 10}, {16, 20}},
		Min:          0,
		Max:          500,
		Saturation:   95,
		Cooldown:     5 * time.Minute,
		DownCooldown: 30 * time.Minute,
		MaxStepDown:  1,
		ScaleDown:    true,
		AutoPay:      true,
		MaxAlarmAge:  time.Hour,
		Warmup:       time.Minute,
		ManualHold:   time.Hour,
	}
	if !slices.Equal(p.Table, want.Table) || p.Min != want.Min || p.Max != want.Max || p.Saturation != want.Saturation ||
		p.Cooldown != want.Cooldown || p.DownCooldown != want.DownCooldown || p.MaxStepDown != want.MaxStepDown ||
		p.ScaleDown != want.ScaleDown || p.AutoPay != want.AutoPay || p.MaxAlarmAge != want.MaxAlarmAge ||
		p.Temporary != nil || len(p.Warnings) != 0 {
		t.Errorf("Parse defaults = %+v, want %+v", *p, want)
	}
}

func TestParseAllKeysJSON(t *testing.T) {
	doc := `{"table":[{"upTo":4,"target":5},{"upTo":8.5,"target":10}],"min":5,"max":50,"saturation":90,
	"cooldown":"10m","downCooldown":"1h","maxStepDown":2,"scaleDown":false,"autoPay":false,"maxAlarmAge":"2h",
	"temporaryUpgrade":{"duration":"3h"},"instances":{"ids":["i-a"],"tag":{"key":"k","value":"v"}},
	"overrides":{"i-a":{"min":10,"max":20}}}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if p.Table[1].UpTo != 8.5 || p.Min != 5 || p.Max != 50 || p.Saturation != 90 || p.Cooldown != 10*time.Minute ||
		p.DownCooldown != time.Hour || p.MaxStepDown != 2 || p.ScaleDown || p.AutoPay || p.MaxAlarmAge != 2*time.Hour ||
		p.Temporary == nil || p.Temporary.Duration != 3*time.Hour || p.Overrides["i-a"] != (Bounds{10, 20}) ||
		p.Instances.Tag == nil || p.Instances.Tag.Key != "k" {
		t.Errorf("Parse(JSON) = %+v", *p)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty document", "", "policy: empty document"},
		{"empty table", "table: []", "policy: table is empty"},
		{"no table", "min: 5", "policy: table is empty"},
		{"upTo not ascending", "table: [{upTo: 4, target: 5}, {upTo: 8, target: 10}, {upTo: 8, target: 20}]", "policy: table[2].upTo 8 is not above table[1].upTo 8"},
		{"target not ascending", "table: [{upTo: 4, target: 10}, {upTo: 8, target: 10}]", "policy: table[1].target 10 is not above table[0].target 10"},
		{"target below upTo", "table: [{upTo: 4, target: 3}]", "policy: table[0].target 3 is below table[0].upTo 4"},
		{"target above 500", "table: [{upTo: 4, target: 501}]", "policy: table[0].target 501 is outside 1..500"},
		{"target 0", "table: [{upTo: 0, target: 0}]", "policy: table[0].target 0 is outside 1..500"},
		{"negative upTo", "table: [{upTo: -1, target: 5}]", "policy: table[0].upTo -1 is not a rate of 0 or more"},
		{"NaN upTo", "table: [{upTo: .nan, target: 5}]", "policy: table[0].upTo NaN is not a rate of 0 or more"},
		{"min above max", table + "min: 20\nmax: 10", "policy: min 20 is above max 10"},
		{"min negative", table + "min: -1", "policy: min -1 is outside 0..500"},
		{"max above 500", table + "max: 501", "policy: max 501 is outside 0..500"},
		{"saturation 0", table + "saturation: 0", "policy: saturation 0 is outside (0,100]"},
		{"saturation above 100", table + "saturation: 100.5", "policy: saturation 100.5 is outside (0,100]"},
		{"bad cooldown", table + "cooldown: soon", `policy: cooldown "soon" is not a duration such as 5m or 1h30m`},
		{"number cooldown", table + "cooldown: 300", `policy: cooldown "300" is not a duration such as 5m or 1h30m`},
		{"negative downCooldown", table + "downCooldown: -1m", "policy: downCooldown -1m0s must be positive"},
		{"zero maxAlarmAge", table + "maxAlarmAge: 0s", "policy: maxAlarmAge 0s must be positive"},
		{"maxStepDown 0", table + "maxStepDown: 0", "policy: maxStepDown 0 is below 1"},
		{"unknown key", table + "cooldwn: 5m", `policy: line 2: unknown key "cooldwn" (did you mean "cooldown"?)`},
		{"unknown key, wrong case", table + "downcooldown: 5m", `policy: line 2: unknown key "downcooldown" (did you mean "downCooldown"?)`},
		{"unknown nested key", table + "instances: {tags: [x]}", `policy: line 2: unknown key "tags" (did you mean "tag"?)`},
		{"unknown key in a row", "table: [{upTo: 4, taget: 5}]", `policy: line 1: unknown key "taget" (did you mean "target"?)`},
		{"unknown key far from any", table + "instances: {selector: x}", `policy: line 2: unknown key "selector" (valid keys here: ids, tag)`},
		{"two unknown keys", table + "cooldwn: 5m\nqqqq: 1", `policy: line 2: unknown key "cooldwn" (did you mean "cooldown"?); line 3: unknown key "qqqq" (valid keys here:`},
		{"override min above max", table + "overrides: {i-a: {min: 50, max: 20}}", "policy: overrides.i-a: min 50 is above max 20"},
		{"override min above policy max", table + "max: 30\noverrides: {i-a: {min: 40}}", "policy: overrides.i-a: min 40 is above max 30"},
		{"override max above 500", table + "overrides: {i-a: {max: 501}}", "policy: overrides.i-a.max 501 is outside 0..500"},
		{"override min negative", table + "overrides: {i-a: {min: -5}}", "policy: overrides.i-a.min -5 is outside 0..500"},
		{"temporary too short", table + "temporaryUpgrade: {duration: 2h59m}", "policy: temporaryUpgrade.duration 2h59m0s is below 3h0m0s"},
		{"temporary without duration", table + "temporaryUpgrade: {}", "policy: temporaryUpgrade.duration is missing"},
		{"empty tag key", table + "instances: {tag: {key: '', value: x}}", "policy: instances.tag.key is empty"},
		{"empty id", table + "instances: {ids: ['']}", "policy: instances.ids[0] is empty"},
		{"key twice", table + "min: 1\nmin: 2", `mapping key "min" already defined`},
		{"two documents", table + "---\n" + table, "policy: more than one YAML document"},
		{"wrong type", "table: 5", "policy: line 1: cannot unmarshal !!int `5` into []policy.Row"},
		{"too big", strings.Repeat(" ", MaxSize+1), "above the 1048576-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %q", tt.doc, p, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.doc, err, tt.want)
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"no instances", table, []string{WarningNoInstances}},
		{"short cooldown", table + "cooldown: 1m\ninstances: {ids: [i-a]}", []string{"policy: cooldown 1m0s is below the 5m0s ECS enforces"}},
		{"zero cooldown", table + "cooldown: 0s\ninstances: {ids: [i-a]}", []string{"policy: cooldown 0s is below"}},
		{"cooldown 5m", table + "cooldown: 5m\ninstances: {ids: [i-a]}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Warnings) != len(tt.want) {
				t.Fatalf("Warnings = %q, want %q", p.Warnings, tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(p.Warnings[i], w) {
					t.Errorf("Warnings[%d] = %q, want prefix %q", i, p.Warnings[i], w)
				}
			}
		})
	}
}

func TestShippedPolicyParses(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("function/policy.yaml: %v", err)
	}
	if len(p.Warnings) != 0 || len(p.Table) != 5 || p.Min != 5 || p.Max != 100 ||
		p.Instances.Tag == nil || *p.Instances.Tag != (Tag{"bandwidth-autoscaler", "enabled"}) {
		t.Errorf("function/policy.yaml = %+v, warnings %q", *p, p.Warnings)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	exeDefault := write("policy.yaml", table+"min: 1")
	fromFile := write("other.yaml", table+"min: 2")
	inline := table + "min: 3"
	tests := []struct {
		name    string
		env     map[string]string
		exeDir  string
		min     int
		source  string
		wantErr string
	}{
		{"inline wins", map[string]string{"POLICY": inline, "POLICY_FILE": fromFile}, dir, 3, "POLICY", ""},
		{"file next", map[string]string{"POLICY_FILE": fromFile}, dir, 2, fromFile, ""},
		{"exe dir last", nil, dir, 1, exeDefault, ""},
		{"missing file", map[string]string{"POLICY_FILE": filepath.Join(dir, "nope.yaml")}, dir, 0, filepath.Join(dir, "nope.yaml"), "no such file"},
		{"invalid inline", map[string]string{"POLICY": "table: []"}, dir, 0, "POLICY", "policy: table is empty"},
		{"invalid file", map[string]string{"POLICY_FILE": write("bad.yaml", "min: 1")}, dir, 0, filepath.Join(dir, "bad.yaml"), "bad.yaml: policy: table is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, source, err := Load(func(k string) string { return tt.env[k] }, tt.exeDir)
			if source != tt.source {
				t.Errorf("source = %q, want %q", source, tt.source)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Min != tt.min {
				t.Errorf("min = %d, want %d", p.Min, tt.min)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	tagged := map[string]string{"bandwidth-autoscaler": "enabled"}
	tests := []struct {
		name string
		sel  Selector
		id   string
		tags map[string]string
		want bool
	}{
		{"listed", Selector{IDs: []string{"i-a"}}, "i-a", nil, true},
		{"not listed", Selector{IDs: []string{"i-a"}}, "i-b", tagged, false},
		{"tagged", Selector{Tag: &Tag{"bandwidth-autoscaler", "enabled"}}, "i-b", tagged, true},
		{"tag other value", Selector{Tag: &Tag{"bandwidth-autoscaler", "enabled"}}, "i-b", map[string]string{"bandwidth-autoscaler": "disabled"}, false},
		{"tag with empty value present", Selector{Tag: &Tag{"k", ""}}, "i-b", map[string]string{"k": ""}, true},
		{"tag with empty value absent", Selector{Tag: &Tag{"k", ""}}, "i-b", nil, false},
		{"either: listed", Selector{IDs: []string{"i-a"}, Tag: &Tag{"k", "v"}}, "i-a", nil, true},
		{"either: tagged", Selector{IDs: []string{"i-a"}, Tag: &Tag{"k", "v"}}, "i-b", map[string]string{"k": "v"}, true},
		{"neither key", Selector{}, "i-a", tagged, false},
		{"empty id", Selector{IDs: []string{""}}, "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Policy{Instances: tt.sel}
			if got := p.Allows(tt.id, tt.tags); got != tt.want {
				t.Errorf("Allows(%q, %v) = %v, want %v", tt.id, tt.tags, got, tt.want)
			}
		})
	}
}

func TestBoundsFor(t *testing.T) {
	p := &Policy{Min: 5, Max: 100, Overrides: map[string]Bounds{"i-both": {10, 50}, "i-min": {Min: 20}, "i-max": {Max: 30}}}
	tests := []struct {
		id       string
		min, max int
	}{{"i-both", 10, 50}, {"i-min", 20, 100}, {"i-max", 5, 30}, {"i-none", 5, 100}}
	for _, tt := range tests {
		if lo, hi := p.BoundsFor(tt.id); lo != tt.min || hi != tt.max {
			t.Errorf("BoundsFor(%q) = %d, %d, want %d, %d", tt.id, lo, hi, tt.min, tt.max)
		}
	}
}
