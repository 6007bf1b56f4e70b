package alarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// callbackAlarm builds an alarm from alert callback fields, without its Key
// (see withKey): an EventBridge copy may take its time from the envelope.
func callbackAlarm(f *fields, opts Options) (Alarm, error) {
	state, err := callbackState(f.AlertState)
	if err != nil {
		return Alarm{}, err
	}
	if f.Dimensions == "" {
		return Alarm{}, errors.New("dimensions is missing")
	}
	dims, err := parseDimensions("dimensions", f.Dimensions)
	if err != nil {
		return Alarm{}, err
	}
	if dims.instanceID == "" {
		return Alarm{}, errors.New("dimensions has no instanceId")
	}
	if err := checkInstanceID(dims.instanceID); err != nil {
		return Alarm{}, err
	}
	a := Alarm{
		InstanceID: dims.instanceID,
		Region:     string(first(f.RegionID, text(dims.region), text(opts.DefaultRegion))),
		Namespace:  string(first(f.Namespace, f.MetricProject)),
		State:      state,
		Level:      string(f.TriggerLevel),
		RuleID:     string(f.RuleID),
		RuleName:   string(f.AlertName),
		AccountID:  string(first(f.UserID, text(dims.userID))),
	}
	// Real callbacks may carry a display name in metricName and the metric's
	// name in rawMetricName, or only a display name (alarm-events.md §1.3).
	if a.Metric, a.UnknownMetric = pickMetric(named{"rawMetricName", f.RawMetricName}, named{"metricName", f.MetricName}); a.Metric == "" {
		return Alarm{}, errors.New("metricName is missing")
	}
	a.Unit = unitOf(a.Metric, f.Unit)
	if f.CurValue != "" || state != StateInsufficientData {
		if a.Value, err = parseValue("curValue", f.CurValue); err != nil {
			return Alarm{}, err
		}
	}
	if a.Time, err = parseTime("timestamp", f.Timestamp); err != nil {
		return Alarm{}, err
	}
	return a, nil
}

// withKey sets a's delivery key, the same whichever route (callback, rule
// target, EventBridge) brought the alarm: it hashes the rule, instance,
// metric, state and observation time, not transId, signature or an
// EventBridge event id, which differ between copies and retries. Without a
// time every later alarm of the rule would look like a redelivery, so the
// alarm must carry one; missing names the field that would hold it.
func withKey(a Alarm, missing string) (Alarm, error) {
	if a.Time.IsZero() {
		return Alarm{}, errors.New(missing)
	}
	a.Key = keyOf(a.RuleID, a.InstanceID, a.Metric, string(a.State), strconv.FormatInt(a.Time.UnixMilli(), 10))
	return a, nil
}

func callbackState(s text) (State, error) {
	state := strings.TrimSpace(string(s))
	switch {
	case state == "":
		return "", errors.New("alertState is missing")
	case strings.EqualFold(state, "ALERT"), strings.EqualFold(state, "ALARM"): // ALARM: the 2018 docs
		return StateAlert, nil
	case strings.EqualFold(state, "OK"):
		return StateOK, nil
	case strings.EqualFold(state, "INSUFFICIENT_DATA"), strings.EqualFold(state, "NO_DATA"): // NO_DATA: no reading, as INSUFFICIENT_DATA
		return StateInsufficientData, nil
	}
	return "", fmt.Errorf("alertState %s is not ALERT, OK, INSUFFICIENT_DATA or NO_DATA", quote(state))
}

// ruleTargetAlarm builds an alarm from a CloudMonitor rule-target message
// (the JSON documented for MNS targets).
func ruleTargetAlarm(f *fields, opts Options) (Alarm, error) {
	level := strings.ToUpper(strings.TrimSpace(string(f.CurLevel)))
	state, err := levelState(level)
	if err != nil {
		return Alarm{}, err
	}
	dims, err := parseDimensions("resources", f.Resources)
	if err != nil {
		return Alarm{}, err
	}
	var data map[string]text
	if f.MetricData != "" {
		if err := json.Unmarshal([]byte(f.MetricData), &data); err != nil {
			return Alarm{}, fmt.Errorf("metricData is not a JSON object: %w", err)
		}
	}
	a := Alarm{
		InstanceID: string(first(text(dims.instanceID), data["instanceId"])),
		Region:     string(first(f.RegionID, text(dims.region), text(opts.DefaultRegion))),
		Namespace:  string(f.Namespace),
		State:      state,
		Level:      level,
		RuleID:     string(f.RuleID),
		RuleName:   string(f.RuleName),
		AccountID:  string(first(f.UserID, data["userId"], text(dims.userID))),
	}
	if a.InstanceID == "" {
		return Alarm{}, errors.New("resources has no instanceId")
	}
	if err := checkInstanceID(a.InstanceID); err != nil {
		return Alarm{}, err
	}
	if a.Metric, a.UnknownMetric = pickMetric(named{"metricName", f.MetricName}); a.Metric == "" {
		return Alarm{}, errors.New("metricName is missing")
	}
	a.Unit = unitOf(a.Metric, f.Unit)
	statistic, err := statisticOf(f.Escalation)
	if err != nil {
		return Alarm{}, err
	}
	if data[statistic] != "" || state != StateInsufficientData {
		if a.Value, err = parseValue("metricData."+statistic, data[statistic]); err != nil {
			return Alarm{}, err
		}
	}
	if f.Time != "" {
		a.Time, err = parseTime("time", f.Time)
	} else {
		a.Time, err = parseTime("metricData.timestamp", data["timestamp"])
	}
	if err != nil {
		return Alarm{}, err
	}
	return a, nil
}

func levelState(level string) (State, error) {
	switch level {
	case "":
		return "", errors.New("curLevel is missing")
	case "CRITICAL", "WARN", "INFO":
		return StateAlert, nil
	case "OK":
		return StateOK, nil
	case "INSUFFICIENT_DATA":
		return StateInsufficientData, nil
	}
	return "", fmt.Errorf("curLevel %s is not CRITICAL, WARN, INFO, OK or INSUFFICIENT_DATA", quote(level))
}

// statisticOf names the metricData entry the rule compared: the
// escalation's statistics, Average by default (the only one _Percent
// metrics have).
func statisticOf(escalation text) (string, error) {
	var e struct {
		Statistics text `json:"statistics"`
	}
	if escalation != "" {
		if err := json.Unmarshal([]byte(escalation), &e); err != nil {
			return "", fmt.Errorf("escalation is not a JSON object: %w", err)
		}
	}
	return string(first(e.Statistics, "Average")), nil
}

// AlertWebHookType is the EventBridge event type of a CloudMonitor alert
// callback ("Alert callbacks" in EventBridge's list of CloudMonitor events,
// help.aliyun.com/en/eventbridge/user-guide/cloudmonitor-events). No public
// sample confirms the event's source, so the intake does not look at it.
const AlertWebHookType = "cms:CloudMonitor:AlertWebHook"

// eventBridgeAlarm builds an alarm from a CloudEvents envelope of type
// AlertWebHookType whose data holds the alert callback's fields, as an
// object or a string. Its key is the callback's (withKey): EventBridge may
// deliver an event twice, and CloudMonitor may send the same alarm by
// callback too.
func eventBridgeAlarm(f *fields, opts Options) (Alarm, error) {
	if string(f.Type) != AlertWebHookType {
		return Alarm{}, fmt.Errorf("eventbridge event of type %s is not a CloudMonitor alert (type %s)",
			quote(string(f.Type)), quote(AlertWebHookType))
	}
	if f.Data == "" {
		return Alarm{}, fmt.Errorf("eventbridge event %s has no data", quote(string(f.ID)))
	}
	data, _, err := parseFields([]byte(f.Data), inData)
	if err != nil {
		return Alarm{}, err
	}
	if !data.isCallback() {
		return Alarm{}, fmt.Errorf("eventbridge event %s carries no alert: its data has none of the alert callback's "+
			"alertState, dimensions, alertName or curValue", quote(string(f.ID)))
	}
	a, err := callbackAlarm(data, opts)
	if err != nil {
		return Alarm{}, fmt.Errorf("eventbridge data: %w", err)
	}
	if a.Time.IsZero() {
		if a.Time, err = parseTime("eventbridge time", f.Time); err != nil {
			return Alarm{}, err
		}
	}
	if a.AccountID == "" {
		a.AccountID = string(f.AliyunAccountID)
	}
	return withKey(a, "eventbridge event has neither data.timestamp nor time")
}

// keyedCallback is callbackAlarm for a callback that came on its own.
func keyedCallback(f *fields, opts Options) (Alarm, error) {
	a, err := callbackAlarm(f, opts)
	if err != nil {
		return Alarm{}, err
	}
	return withKey(a, "timestamp is missing")
}

// keyedRuleTarget is ruleTargetAlarm for a rule target that came on its own.
func keyedRuleTarget(f *fields, opts Options) (Alarm, error) {
	a, err := ruleTargetAlarm(f, opts)
	if err != nil {
		return Alarm{}, err
	}
	return withKey(a, "time is missing")
}

// manual validates a manual invocation as far as its form goes; whether the
// bandwidth is within the policy is for the caller to judge.
func manual(f *fields, opts Options) (*Manual, error) {
	m := &Manual{
		InstanceID: strings.TrimSpace(string(f.InstanceID)),
		Region:     string(first(f.RegionID, text(opts.DefaultRegion))),
	}
	if m.InstanceID == "" {
		return nil, errors.New("instanceId is missing")
	}
	if err := checkInstanceID(m.InstanceID); err != nil {
		return nil, err
	}
	bandwidth, err := parseBandwidth(f.BandwidthOut)
	if err != nil {
		return nil, err
	}
	m.BandwidthOut = bandwidth
	if f.DryRun != "" {
		if m.DryRun, err = strconv.ParseBool(strings.TrimSpace(string(f.DryRun))); err != nil {
			return nil, fmt.Errorf("dryRun %s is not true or false", quote(string(f.DryRun)))
		}
	}
	return m, nil
}

// parseBandwidth reads a whole, non-negative number of Mbit/s; 20.0 is 20.
func parseBandwidth(s text) (int, error) {
	str := strings.TrimSpace(string(s))
	if str == "" {
		return 0, errors.New("bandwidthOut is missing")
	}
	v, err := strconv.ParseFloat(str, 64)
	switch {
	case err != nil && !isRangeError(err):
		return 0, fmt.Errorf("bandwidthOut %s is not a number", quote(str))
	case v < 0:
		return 0, fmt.Errorf("bandwidthOut %s is negative", quote(str))
	case v != math.Trunc(v):
		return 0, fmt.Errorf("bandwidthOut %s is not a whole number of Mbit/s", quote(str))
	case v > math.MaxInt32:
		return 0, fmt.Errorf("bandwidthOut %s is out of range", quote(str))
	}
	return int(v), nil
}
