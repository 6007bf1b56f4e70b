// Package decide is the decision core: a pure function of a fresh reading of
// one instance (ECS for its cap, CloudMonitor for its traffic), the record
// kept on it, what woke the function, the policy and the clock. It imports no
// SDK, runtime, logger or network.
//
// It is level-triggered: every decision is taken from the reading, never
// from a remembered event, so a late, repeated or raced event cannot buy
// anything that the reading does not justify.
package decide

import (
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// Action is the outcome reported for one instance.
type Action string

const (
	Scaled    Action = "scaled"    // ECS accepted the change
	Unchanged Action = "unchanged" // the reading asks for no change
	Deferred  Action = "deferred"  // a change is due but must wait (cooldown, lock, in progress)
	Duplicate Action = "duplicate" // a redelivery this process already looked at
	Skipped   Action = "skipped"   // a rule or a brake forbids the change
	Ignored   Action = "ignored"   // not ours, or nothing to judge
	Failed    Action = "failed"    // ECS refused for good, or the input was wrong
	DryRun    Action = "dry-run"   // what would happen, with no call and no record
)

// Instance is what ECS says about an instance, as far as decisions go.
type Instance struct {
	ID                 string
	Region             string
	Status             string // Running, Stopped, ...
	InstanceChargeType string // PrePaid or PostPaid
	InternetChargeType string // PayByBandwidth or PayByTraffic
	NetworkType        string // vpc or classic
	BandwidthOut       int    // Mbit/s
	PublicIPs          []string
	EIPAddress         string // set when a VPC instance has an EIP bound
	EIPAllocationID    string
	EIPBandwidth       int
	// EIP says the cap is the bound EIP's, not the instance's: BandwidthOut,
	// InternetChargeType and InstanceChargeType are then the EIP's
	// (Bandwidth, InternetChargeType, ChargeType of DescribeEipAddresses),
	// Locks its OperationLocks, and the record lives in its tags.
	EIP bool
	// EIPBandwidthPackage is the Internet Shared Bandwidth package the EIP
	// is in ("" when none): the package's bandwidth governs it.
	EIPBandwidthPackage string
	EIPStatus           string // InUse, Associating, ... (DescribeEipAddresses)
	// EIPUnreadable says why an EIP-bound instance's EIP could not be read
	// (no VPC client, VPC refused); the instance is then left alone.
	EIPUnreadable string
	Locks         []string // OperationLocks reasons; any lock refuses changes
	ExpiredTime   time.Time
	Tags          map[string]string
}

// Point is one CloudMonitor datapoint of the instance's outbound rate.
type Point struct {
	Start   time.Time     // start of its period
	Period  time.Duration // as CloudMonitor answered it
	Average float64       // bit/s
	Maximum float64       // bit/s
}

// End is when the point's period ended.
func (p Point) End() time.Time { return p.Start.Add(p.Period) }

// Reading is what CloudMonitor said about the instance for this decision.
type Reading struct {
	// Points are the datapoints read, oldest first: the newest one, and
	// for a decrease every point since Since.
	Points []Point
	// Since is the start of the window Points cover; zero when only the
	// newest point was asked for.
	Since time.Time
	// Unavailable says why CloudMonitor could not be read ("" when it was):
	// the decision then rests on the alarm's own value.
	Unavailable string
	// WindowUnavailable says why the window a decrease asked for could not
	// be read: no decrease is then made.
	WindowUnavailable string
}

// Alarm is what a CloudMonitor alarm said: a reason to look now, and a hint
// that counts only where the reading has nothing as recent.
type Alarm struct {
	Metric string  // CloudMonitor metric name
	Value  float64 // bit/s for rate metrics, percent for _Percent metrics
	State  string  // ALERT, OK or INSUFFICIENT_DATA
	At     time.Time
	// UnknownMetric is a metric name the intake did not recognise.
	UnknownMetric string
}

// Trigger says what asked for the decision.
type Trigger int

const (
	ByTimer  Trigger = iota // the control loop
	ByAlarm                 // a CloudMonitor alarm (Input.Alarm is set)
	ByManual                // a manual bandwidthOut (Input.Manual is set)
)

// Manual is an exact target asked for by a person.
type Manual struct {
	Bandwidth int
}

// Attempt is a change the function asked ECS for. It is recorded before the
// call, so that every reader can tell the change from one made by hand.
type Attempt struct {
	To     int
	At     time.Time // when it was decided (the change takes effect at or after it)
	Manual bool      // a manual change: the loop holds it for manualHold
	Until  time.Time // a temporary upgrade's end; zero when permanent
	// Order is an order ECS made that awaits payment (autoPay off).
	Order string
}

// Record is what the world cannot tell and is kept on the instance (an ECS
// tag). Everything else is read afresh for each decision.
type Record struct {
	Stored bool      // the instance carries a record
	Cap    int       // the cap this record accounts for
	Since  time.Time // when Cap took effect (zero: before any record)
	From   int       // the cap before Cap, when the function changed it
	// Attempt is the latest change asked for, until a later change folds it
	// into Cap. It has taken effect when the instance is at Attempt.To.
	Attempt        *Attempt
	Downgrades     int       // PrePaid downgrades made (ECS allows 3)
	FrozenUntil    time.Time // PrePaid: no change after a downgrade until the billing cycle ends
	Day            int       // the UTC day (yyyymmdd) Increases counts
	Increases      int       // increases made on Day
	TemporaryUntil time.Time // end of a temporary upgrade in force
	ManualUntil    time.Time // a manual change holds until then
}

// Change is what to ask ECS for.
type Change struct {
	Target           int
	AllocatePublicIP bool      // PostPaid from 0
	EndTime          time.Time // temporary upgrade's end; zero when permanent
	Downgrade        bool
	ClientToken      string
}

// Decision is the outcome of Decide.
type Decision struct {
	Action     Action
	From, To   int
	Reason     string
	RetryAfter time.Time // for Deferred: when a change can first be made
	// Change is set when ECS must be called.
	Change *Change
	// Record is the state to persist before the call (for a change) or
	// instead of one; Save says whether it must be written.
	Record Record
	Save   bool
	// NeedWindow asks the caller for the datapoints since WindowSince and
	// to decide again: a decrease is judged on the highest reading over
	// downCooldown, which the newest point alone cannot tell.
	NeedWindow  bool
	WindowSince time.Time
	// Notes are facts the user should see (CloudMonitor unreadable, AutoPay
	// off, an unrecognised metric).
	Notes []string
}

// Input is everything one decision depends on.
type Input struct {
	Instance Instance
	Record   Record
	// RecordError is why the stored record could not be read; the instance
	// is then left alone until the record is repaired.
	RecordError string
	Reading     Reading
	Trigger     Trigger
	Alarm       *Alarm  // for ByAlarm
	Manual      *Manual // for ByManual
	Policy      *policy.Policy
	Now         time.Time
	DryRun      bool
	// RegionTotal is the sum of the caps (or of the changes in flight) of
	// the selected instances in the region, for maxTotalMbps; -1 unknown.
	RegionTotal int
	// RegionUnknown says why the region's total cannot be known (an EIP
	// that could not be read): with maxTotalMbps, no increase is then made.
	RegionUnknown string
}
