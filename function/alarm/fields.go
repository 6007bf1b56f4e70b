package alarm

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// text is a JSON value read leniently as text: a string as its contents, a
// number, boolean, object or list as its JSON source, and null or the string
// "null" as "" (CloudMonitor writes "null" for absent values). It lets one
// field accept `92.5` and `"92.5"`, or a dimensions object and its string.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		*t = ""
		return nil
	case "true": // a constant, not a copy of b
		*t = "true"
		return nil
	case "false":
		*t = "false"
		return nil
	}
	if b[0] != '"' {
		*t = text(b)
		return nil
	}
	s := string(b[1 : len(b)-1])
	if strings.IndexByte(s, '\\') >= 0 {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	*t = absentIfNull(s)
	return nil
}

func absentIfNull(s string) text {
	if s == "null" {
		return ""
	}
	return text(s)
}

// fields is the union of the top-level fields of every accepted shape, so
// that one json.Unmarshal both classifies and decodes an object.
type fields struct {
	// Alert callback (also sent as a form).
	AlertName     text `json:"alertName"`
	AlertState    text `json:"alertState"`
	CurValue      text `json:"curValue"`
	Dimensions    text `json:"dimensions"`
	MetricName    text `json:"metricName"`
	RawMetricName text `json:"rawMetricName"`
	MetricProject text `json:"metricProject"`
	Namespace     text `json:"namespace"`
	TriggerLevel  text `json:"triggerLevel"`
	RuleID        text `json:"ruleId"`
	Timestamp     text `json:"timestamp"`
	UserID        text `json:"userId"`
	RegionID      text `json:"regionId"`
	Unit          text `json:"unit"`

	// CloudMonitor rule target, besides ruleId, metricName, namespace, userId.
	RuleName   text `json:"ruleName"`
	CurLevel   text `json:"curLevel"`
	Resources  text `json:"resources"`
	MetricData text `json:"metricData"`
	Escalation text `json:"escalation"`
	Time       text `json:"time"` // also EventBridge's, in RFC 3339

	// EventBridge CloudEvents envelope.
	SpecVersion     text `json:"specversion"`
	ID              text `json:"id"`
	Source          text `json:"source"`
	Type            text `json:"type"`
	Data            text `json:"data"`
	AliyunAccountID text `json:"aliyunaccountid"`

	// FC 3.0 HTTP trigger envelope.
	Body            text              `json:"body"`
	IsBase64Encoded text              `json:"isBase64Encoded"`
	RawPath         text              `json:"rawPath"`
	Headers         map[string]string `json:"headers"`
	QueryParameters map[string]string `json:"queryParameters"`
	RequestContext  *requestContext   `json:"requestContext"`

	// Timer trigger, reconcile action and manual invocation (and regionId).
	TriggerTime  text `json:"triggerTime"`
	TriggerName  text `json:"triggerName"`
	Action       text `json:"action"`
	InstanceID   text `json:"instanceId"`
	BandwidthOut text `json:"bandwidthOut"`
	DryRun       text `json:"dryRun"`
}

type requestContext struct {
	HTTP struct {
		Method   text `json:"method"`
		Path     text `json:"path"`
		SourceIP text `json:"sourceIp"`
	} `json:"http"`
}

func (f *fields) isHTTP() bool {
	return f.RequestContext != nil ||
		f.Body != "" && (f.Headers != nil || f.QueryParameters != nil || f.IsBase64Encoded != "" || f.RawPath != "")
}

// isEventBridge: a CloudEvents envelope, by its specversion or by the data
// it wraps with a type or an identity.
func (f *fields) isEventBridge() bool {
	return f.SpecVersion != "" || f.Data != "" && (f.Type != "" || f.ID != "" && f.Source != "")
}

func (f *fields) isTimer() bool { return f.TriggerTime != "" || f.TriggerName != "" }
func (f *fields) isRuleTarget() bool {
	return f.CurLevel != "" || f.Resources != "" || f.MetricData != ""
}
func (f *fields) isCallback() bool {
	return f.AlertState != "" || f.Dimensions != "" || f.AlertName != "" || f.CurValue != ""
}
func (f *fields) isManual() bool { return f.BandwidthOut != "" || f.InstanceID != "" }

// parseForm reads the alert callback fields of an
// application/x-www-form-urlencoded body. Like url.Values.Get, the first of
// repeated fields wins (the first not "null"); fields it does not need are
// skipped without unescaping.
func parseForm(form string) (*fields, error) {
	f := &fields{}
	for form != "" {
		var pair string
		pair, form, _ = strings.Cut(form, "&")
		key, value, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(key, "%+") {
			k, err := url.QueryUnescape(key)
			if err != nil {
				return nil, fmt.Errorf("form field name %s: %w", quote(key), err)
			}
			key = k
		}
		dst := f.formField(key)
		if dst == nil || *dst != "" {
			continue
		}
		if strings.ContainsAny(value, "%+") {
			v, err := url.QueryUnescape(value)
			if err != nil {
				return nil, fmt.Errorf("form field %s: %w", key, err)
			}
			value = v
		}
		*dst = absentIfNull(value)
	}
	return f, nil
}

// formField is where the callback form field named key goes; nil for a
// field the intake does not use.
func (f *fields) formField(key string) *text {
	switch key {
	case "alertName":
		return &f.AlertName
	case "alertState":
		return &f.AlertState
	case "curValue":
		return &f.CurValue
	case "dimensions":
		return &f.Dimensions
	case "metricName":
		return &f.MetricName
	case "rawMetricName":
		return &f.RawMetricName
	case "metricProject":
		return &f.MetricProject
	case "namespace":
		return &f.Namespace
	case "triggerLevel":
		return &f.TriggerLevel
	case "ruleId":
		return &f.RuleID
	case "timestamp":
		return &f.Timestamp
	case "userId":
		return &f.UserID
	case "regionId":
		return &f.RegionID
	case "unit":
		return &f.Unit
	}
	return nil
}
