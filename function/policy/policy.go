// Package policy holds the scaling policy users write (YAML or JSON) and its
// validation. A policy that loads is one the decision core can trust.
package policy

import (
	"slices"
	"time"
)

// Row maps an observed outbound rate to the cap to set.
type Row struct {
	UpTo   float64 `yaml:"upTo" json:"upTo"`     // Mbit/s, inclusive upper bound
	Target int     `yaml:"target" json:"target"` // Mbit/s
}

// Tag is an opt-in ECS tag.
type Tag struct {
	Key   string `yaml:"key" json:"key"`
	Value string `yaml:"value" json:"value"`
}

// Selector says which instances may be touched: listed or tagged (either).
type Selector struct {
	IDs []string `yaml:"ids" json:"ids"`
	Tag *Tag     `yaml:"tag" json:"tag"`
}

// Bounds override min and max for one instance; zero means "policy value".
type Bounds struct {
	Min int `yaml:"min" json:"min"`
	Max int `yaml:"max" json:"max"`
}

// Temporary turns increases of PrePaid PayByBandwidth instances into
// temporary upgrades (StartTime/EndTime) that end on their own.
type Temporary struct {
	Duration time.Duration // at least 3h: ECS requires EndTime >= StartTime+3h
}

// Policy is a validated scaling policy.
type Policy struct {
	Table        []Row
	Min, Max     int
	Saturation   float64 // percent
	Cooldown     time.Duration
	DownCooldown time.Duration
	MaxStepDown  int
	// MaxStepUp bounds the rows one increase climbs; 0: unbounded.
	MaxStepUp   int
	ScaleDown   bool
	AutoPay     bool
	Instances   Selector
	Overrides   map[string]Bounds
	Temporary   *Temporary    // nil: temporary upgrades off
	MaxAlarmAge time.Duration // an alarm observed longer ago only wakes the function; its value is not used
	// Warmup: datapoints whose period began less than this after a change
	// are not judged against the new cap.
	Warmup time.Duration
	// ManualHold is how long the loop leaves a manual change alone.
	ManualHold time.Duration
	// Regions the timer reconciles; empty: the function's own region.
	Regions []string
	// Brakes: the most Mbit/s of all selected instances of a region
	// together, and the most increases per instance per UTC day; 0: none.
	MaxTotalMbps       int
	MaxIncreasesPerDay int
	// PrePaidDowngrades allows lowering PrePaid instances: after one, ECS
	// refuses every change until the billing cycle ends.
	PrePaidDowngrades bool
	// AllowZero allows a manual bandwidthOut of 0, which releases the
	// instance's public IP.
	AllowZero bool
	// Warnings are accepted oddities to log at start (e.g. cooldown < 5m).
	Warnings []string
}

// Allows reports whether the policy selects the instance: listed in
// instances.ids or carrying instances.tag. With neither, nothing is allowed.
func (p *Policy) Allows(instanceID string, tags map[string]string) bool {
	if p == nil || instanceID == "" {
		return false
	}
	if slices.Contains(p.Instances.IDs, instanceID) {
		return true
	}
	if t := p.Instances.Tag; t != nil && t.Key != "" {
		v, ok := tags[t.Key]
		return ok && v == t.Value
	}
	return false
}

// BoundsFor returns the floor and ceiling for one instance, overrides applied.
func (p *Policy) BoundsFor(instanceID string) (min, max int) {
	if p == nil {
		return 0, 0
	}
	min, max = p.Min, p.Max
	if min < 1 {
		min = 1 // never 0 automatically: it releases the public IP
	}
	if o, ok := p.Overrides[instanceID]; ok {
		if o.Min != 0 {
			min = o.Min
		}
		if o.Max != 0 {
			max = o.Max
		}
	}
	return min, max
}
