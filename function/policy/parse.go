package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits of the ECS API and of this format.
const (
	// APIMaxBandwidth is the highest bandwidth any resource accepts: 500 for
	// a PayByBandwidth EIP (ECS: 200 for PrePaid PayByBandwidth, 100
	// otherwise); decide.APIMax applies each resource's own limit.
	APIMaxBandwidth = 500
	// ECSCooldown is how long ECS refuses another change after a success.
	ECSCooldown = 5 * time.Minute
	// MinTemporaryDuration is the shortest temporary upgrade ECS accepts.
	MinTemporaryDuration = 3 * time.Hour
	// MaxSize bounds a policy document; a real one is a few hundred bytes.
	MaxSize = 1 << 20
)

// WarningNoInstances is the warning for a policy that selects nothing.
const WarningNoInstances = "policy: instances has neither ids nor tag: no instance is allowed; the function will ignore every alarm"

// document is the policy as written. Pointers tell "absent" (default) from
// an explicit zero; durations are strings so errors can name the field.
type document struct {
	Table            []Row             `yaml:"table"`
	Min              *int              `yaml:"min"`
	Max              *int              `yaml:"max"`
	Saturation       *float64          `yaml:"saturation"`
	Cooldown         *string           `yaml:"cooldown"`
	DownCooldown     *string           `yaml:"downCooldown"`
	MaxStepDown      *int              `yaml:"maxStepDown"`
	ScaleDown        *bool             `yaml:"scaleDown"`
	AutoPay          *bool             `yaml:"autoPay"`
	MaxAlarmAge      *string           `yaml:"maxAlarmAge"`
	Warmup           *string           `yaml:"warmup"`
	ManualHold       *string           `yaml:"manualHold"`
	MaxStepUp        *int              `yaml:"maxStepUp"`
	Regions          []string          `yaml:"regions"`
	MaxTotalMbps     *int              `yaml:"maxTotalMbps"`
	MaxIncreases     *int              `yaml:"maxIncreasesPerDay"`
	PrePaidDowngrade *bool             `yaml:"prepaidDowngrades"`
	AllowZero        *bool             `yaml:"allowZeroBandwidth"`
	TemporaryUpgrade *temporaryDoc     `yaml:"temporaryUpgrade"`
	Instances        Selector          `yaml:"instances"`
	Overrides        map[string]Bounds `yaml:"overrides"`
}

type temporaryDoc struct {
	Duration *string `yaml:"duration"`
}

// Parse decodes and validates a policy written in YAML or JSON (JSON is
// YAML). Unknown keys are refused so that a typo never silently falls back
// to a default.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("policy: %d bytes is above the %d-byte limit", len(data), MaxSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc document
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("policy: empty document")
		}
		return nil, describeYAMLError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("policy: more than one YAML document")
	}
	return doc.validate()
}

// Load reads the policy from the POLICY environment variable (inline YAML
// or JSON), else from the file named by POLICY_FILE, else from
// exeDir/policy.yaml. It returns where the policy came from.
func Load(getenv func(string) string, exeDir string) (*Policy, string, error) {
	if inline := getenv("POLICY"); inline != "" {
		p, err := Parse([]byte(inline))
		return p, "POLICY", err
	}
	path := getenv("POLICY_FILE")
	if path == "" {
		path = filepath.Join(exeDir, "policy.yaml")
	}
	data, err := readLimited(path)
	if err != nil {
		return nil, path, err
	}
	p, err := Parse(data)
	if err != nil {
		return nil, path, fmt.Errorf("%s: %w", path, err)
	}
	return p, path, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", path, err)
	}
	return data, nil
}

func (d *document) validate() (*Policy, error) {
	p := &Policy{
		Min:          0,
		Max:          APIMaxBandwidth,
		Saturation:   95,
		Cooldown:     ECSCooldown,
		DownCooldown: 30 * time.Minute,
		MaxStepDown:  1,
		ScaleDown:    true,
		AutoPay:      true,
		MaxAlarmAge:  time.Hour,
		Warmup:       time.Minute,
		ManualHold:   time.Hour,
		Instances:    d.Instances,
		Overrides:    d.Overrides,
	}
	if err := validateTable(d.Table); err != nil {
		return nil, err
	}
	p.Table = d.Table
	setIf(&p.Min, d.Min)
	setIf(&p.Max, d.Max)
	if p.Min < 0 || p.Min > APIMaxBandwidth {
		return nil, fmt.Errorf("policy: min %d is outside 0..%d", p.Min, APIMaxBandwidth)
	}
	if p.Max < 0 || p.Max > APIMaxBandwidth {
		return nil, fmt.Errorf("policy: max %d is outside 0..%d", p.Max, APIMaxBandwidth)
	}
	if p.Min > p.Max {
		return nil, fmt.Errorf("policy: min %d is above max %d", p.Min, p.Max)
	}
	setIf(&p.Saturation, d.Saturation)
	if !(p.Saturation > 0 && p.Saturation <= 100) { // also refuses NaN
		return nil, fmt.Errorf("policy: saturation %v is outside (0,100]", p.Saturation)
	}
	for _, f := range []struct {
		name     string
		text     *string
		dst      *time.Duration
		positive bool
	}{
		{"cooldown", d.Cooldown, &p.Cooldown, false},
		{"downCooldown", d.DownCooldown, &p.DownCooldown, false},
		{"maxAlarmAge", d.MaxAlarmAge, &p.MaxAlarmAge, true},
		{"warmup", d.Warmup, &p.Warmup, false},
		{"manualHold", d.ManualHold, &p.ManualHold, false},
	} {
		if err := parseDuration(f.name, f.text, f.dst, f.positive); err != nil {
			return nil, err
		}
	}
	if p.Cooldown < ECSCooldown {
		p.Warnings = append(p.Warnings, fmt.Sprintf("policy: cooldown %v is below the %v ECS enforces after a change: changes inside it will be refused by ECS (use only for tests)", p.Cooldown, ECSCooldown))
	}
	setIf(&p.MaxStepDown, d.MaxStepDown)
	if p.MaxStepDown < 1 {
		return nil, fmt.Errorf("policy: maxStepDown %d is below 1", p.MaxStepDown)
	}
	for _, f := range []struct {
		name string
		src  *int
		dst  *int
	}{{"maxStepUp", d.MaxStepUp, &p.MaxStepUp}, {"maxTotalMbps", d.MaxTotalMbps, &p.MaxTotalMbps}, {"maxIncreasesPerDay", d.MaxIncreases, &p.MaxIncreasesPerDay}} {
		setIf(f.dst, f.src)
		if *f.dst < 0 {
			return nil, fmt.Errorf("policy: %s %d is negative (0 means no limit)", f.name, *f.dst)
		}
	}
	for i, r := range d.Regions {
		if r == "" {
			return nil, fmt.Errorf("policy: regions[%d] is empty", i)
		}
	}
	p.Regions = d.Regions
	setIf(&p.PrePaidDowngrades, d.PrePaidDowngrade)
	setIf(&p.AllowZero, d.AllowZero)
	setIf(&p.ScaleDown, d.ScaleDown)
	setIf(&p.AutoPay, d.AutoPay)
	if t := d.TemporaryUpgrade; t != nil {
		if t.Duration == nil {
			return nil, errors.New("policy: temporaryUpgrade.duration is missing")
		}
		p.Temporary = &Temporary{}
		if err := parseDuration("temporaryUpgrade.duration", t.Duration, &p.Temporary.Duration, true); err != nil {
			return nil, err
		}
		if p.Temporary.Duration < MinTemporaryDuration {
			return nil, fmt.Errorf("policy: temporaryUpgrade.duration %v is below %v (ECS: EndTime >= StartTime+3h)", p.Temporary.Duration, MinTemporaryDuration)
		}
	}
	if err := validateSelector(p.Instances); err != nil {
		return nil, err
	}
	if len(p.Instances.IDs) == 0 && p.Instances.Tag == nil {
		p.Warnings = append(p.Warnings, WarningNoInstances)
	}
	if err := p.validateOverrides(); err != nil {
		return nil, err
	}
	return p, nil
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func parseDuration(name string, text *string, dst *time.Duration, positive bool) error {
	if text == nil {
		return nil
	}
	v, err := time.ParseDuration(*text)
	if err != nil {
		return fmt.Errorf("policy: %s %q is not a duration such as 5m or 1h30m", name, *text)
	}
	if v < 0 || (positive && v == 0) {
		return fmt.Errorf("policy: %s %v must be positive", name, v)
	}
	*dst = v
	return nil
}

func validateTable(table []Row) error {
	if len(table) == 0 {
		return errors.New("policy: table is empty")
	}
	for i, r := range table {
		if math.IsNaN(r.UpTo) || math.IsInf(r.UpTo, 0) || r.UpTo < 0 {
			return fmt.Errorf("policy: table[%d].upTo %v is not a rate of 0 or more", i, r.UpTo)
		}
		if r.Target < 1 || r.Target > APIMaxBandwidth {
			return fmt.Errorf("policy: table[%d].target %d is outside 1..%d", i, r.Target, APIMaxBandwidth)
		}
		if float64(r.Target) < r.UpTo {
			return fmt.Errorf("policy: table[%d].target %d is below table[%d].upTo %v", i, r.Target, i, r.UpTo)
		}
		if i == 0 {
			continue
		}
		prev := table[i-1]
		if r.UpTo <= prev.UpTo {
			return fmt.Errorf("policy: table[%d].upTo %v is not above table[%d].upTo %v", i, r.UpTo, i-1, prev.UpTo)
		}
		if r.Target <= prev.Target {
			return fmt.Errorf("policy: table[%d].target %d is not above table[%d].target %d", i, r.Target, i-1, prev.Target)
		}
	}
	return nil
}

func validateSelector(s Selector) error {
	for i, id := range s.IDs {
		if id == "" {
			return fmt.Errorf("policy: instances.ids[%d] is empty", i)
		}
	}
	if s.Tag != nil && s.Tag.Key == "" {
		return errors.New("policy: instances.tag.key is empty")
	}
	return nil
}

func (p *Policy) validateOverrides() error {
	for id, o := range p.Overrides {
		if id == "" {
			return errors.New("policy: overrides has an empty instance id")
		}
		if o.Min < 0 || o.Min > APIMaxBandwidth {
			return fmt.Errorf("policy: overrides.%s.min %d is outside 0..%d", id, o.Min, APIMaxBandwidth)
		}
		if o.Max < 0 || o.Max > APIMaxBandwidth {
			return fmt.Errorf("policy: overrides.%s.max %d is outside 0..%d", id, o.Max, APIMaxBandwidth)
		}
		if lo, hi := p.BoundsFor(id); lo > hi {
			return fmt.Errorf("policy: overrides.%s: min %d is above max %d", id, lo, hi)
		}
	}
	return nil
}
