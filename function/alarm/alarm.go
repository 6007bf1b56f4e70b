// Package alarm decodes every shape in which a CloudMonitor alarm (or a manual
// or timer invocation) reaches the function into one normalized Delivery.
// It is pure Go: no network, no ECS, no logging.
package alarm

import "time"

// State is the alarm state as CloudMonitor reports it, normalized.
type State string

const (
	StateAlert            State = "ALERT" // legacy "ALARM" is decoded as ALERT
	StateOK               State = "OK"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// Kind says what a delivery asks the function to do.
type Kind string

const (
	KindAlarm     Kind = "alarm"     // one or more metric observations
	KindManual    Kind = "manual"    // {"instanceId","regionId","bandwidthOut","dryRun"}
	KindReconcile Kind = "reconcile" // timer trigger or {"action":"reconcile"}
	KindStatus    Kind = "status"    // {"action":"status"}: report, decide dry, change nothing
)

// Alarm is one normalized metric observation for one instance.
type Alarm struct {
	InstanceID string
	Region     string
	Metric     string  // a supported metric, e.g. VPC_PublicIP_InternetOutRate_Percent; else as given (see UnknownMetric)
	Namespace  string  // e.g. acs_ecs_dashboard
	Value      float64 // in Unit
	Unit       string  // "bit/s" or "%" for the supported metrics; as given otherwise
	State      State
	Level      string // CRITICAL / WARN / INFO / OK, as given
	RuleID     string
	RuleName   string
	Time       time.Time // when CloudMonitor observed it; zero when the payload has none
	AccountID  string
	// UnknownMetric is set when no metric field names a supported metric:
	// the names given, with their fields (`metricName "内存使用率"`), for
	// the result to say which was not recognised. Such an alarm is still
	// decoded, since a fresh reading of the instance can decide.
	UnknownMetric string
	// Key is the same for every copy of one alarm, whatever the route
	// (callback, EventBridge, rule target) or redelivery, and different for
	// a new alarm: a hash of rule, instance, metric, state and observation
	// time (not transId, signature or the EventBridge event id, which differ
	// between copies). 32 hex characters.
	Key string
}

// Manual is a manual invocation that sets an exact bandwidth.
type Manual struct {
	InstanceID   string
	Region       string
	BandwidthOut int
	DryRun       bool
}

// HTTPRequest is what an FC 3.0 HTTP trigger envelope says about the caller.
// The token check lives in the function, so the intake only passes it on.
type HTTPRequest struct {
	Method   string
	Path     string
	SourceIP string
	Query    map[string]string
	Headers  map[string]string // keys lower-cased
}

// Delivery is one decoded invocation payload.
type Delivery struct {
	Kind   Kind
	Source string // which shape it came in: "callback-form", "callback-json", "eventbridge", "rule-target", "manual", "timer", "reconcile", "status"
	Alarms []Alarm
	Manual *Manual
	// HTTP is set when the payload was an HTTP trigger event. Decode sets it
	// even when the body inside could not be decoded, so that the caller can
	// answer 401 before 400.
	HTTP *HTTPRequest
}

// Options tune decoding.
type Options struct {
	// DefaultRegion is used when neither the payload nor the dimensions name a
	// region (the function's own region).
	DefaultRegion string
}

// MaxPayload is the largest payload Decode accepts, in bytes.
const MaxPayload = 256 << 10

// MaxAlarms is the largest number of alarms one payload may carry.
const MaxAlarms = 1000

// The outbound bandwidth metrics of namespace acs_ecs_dashboard. Decode sets
// Unit for these; it decodes other metrics too and leaves judging them to the
// caller.
const (
	MetricInternetOutRate           = "InternetOutRate"                      // classic network, bit/s
	MetricInternetOutRatePercent    = "InternetOutRate_Percent"              // classic network, % of the cap
	MetricVPCInternetOutRate        = "VPC_PublicIP_InternetOutRate"         // VPC, bit/s
	MetricVPCInternetOutRatePercent = "VPC_PublicIP_InternetOutRate_Percent" // VPC, % of the cap
	// An EIP's (namespace acs_vpc_eip; the instanceId dimension is the
	// EIP's allocation ID, which the scaler maps to its instance).
	MetricEIPOutRate        = "net_tx.rate"             // bit/s
	MetricEIPOutRatePercent = "net_out.rate_percentage" // % of the EIP's bandwidth (assumed name, see decide.MetricEIPPercent)
)
