package alarm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Decode turns one raw invocation payload into a Delivery: alert callbacks
// (JSON, or a form inside an HTTP trigger event), EventBridge events,
// CloudMonitor rule-target messages, JSON lists of those, manual invocations,
// timer events, {"action":"reconcile"} and {"action":"status"}.
//
// It returns a Delivery or an error, never both, except for an HTTP trigger
// event whose body cannot be decoded: then the Delivery holds only HTTP, so
// that the caller can check the caller's token before reporting the error.
func Decode(payload []byte, opts Options) (*Delivery, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("alarm: payload is %d bytes, more than the %d allowed", len(payload), MaxPayload)
	}
	d := &Delivery{}
	if err := decodeDocument(d, payload, atTop, opts); err != nil {
		if d.HTTP != nil {
			return &Delivery{HTTP: d.HTTP}, fmt.Errorf("alarm: %w", err)
		}
		return nil, fmt.Errorf("alarm: %w", err)
	}
	return d, nil
}

// layer is where a document sits in a payload. Each shape is accepted only
// in the layers listed for it, which bounds nesting: at most an HTTP body
// holding a list of EventBridge events whose data is a JSON string.
type layer int

const (
	atTop  layer = iota // the payload itself
	inBody              // the body of an HTTP trigger event
	inList              // an element of a JSON list
	inData              // the data of an EventBridge event
)

func (l layer) String() string {
	switch l {
	case inBody:
		return "HTTP body"
	case inList:
		return "list item"
	case inData:
		return "eventbridge data"
	}
	return "payload"
}

// decodeDocument decodes a JSON list, a JSON object or a callback form into d.
func decodeDocument(d *Delivery, doc []byte, at layer, opts Options) error {
	doc = bytes.TrimSpace(doc)
	if len(doc) > 0 && doc[0] == '[' && (at == atTop || at == inBody) {
		return decodeList(d, doc, opts)
	}
	f, isForm, err := parseFields(doc, at)
	if err != nil {
		return err
	}
	if isForm {
		a, err := keyedCallback(f, opts)
		if err != nil {
			return err
		}
		d.add(a, "callback-form")
		return nil
	}
	return decodeObject(d, f, at, opts)
}

// parseFields reads a JSON object or a callback form.
func parseFields(doc []byte, at layer) (f *fields, isForm bool, err error) {
	doc = bytes.TrimSpace(doc)
	switch {
	case len(doc) == 0:
		return nil, false, fmt.Errorf("%s is empty", at)
	case doc[0] == '{':
		f = &fields{}
		if err := json.Unmarshal(doc, f); err != nil {
			return nil, false, fmt.Errorf("%s is not valid JSON: %w", at, err)
		}
		return f, false, nil
	case json.Valid(doc):
		return nil, false, fmt.Errorf("%s is a JSON %s, not an object", at, jsonKind(doc[0]))
	}
	if f, err = parseForm(string(doc)); err != nil {
		return nil, false, err
	}
	if !f.isCallback() {
		return nil, false, fmt.Errorf("%s is neither JSON nor an alert callback form", at)
	}
	return f, true, nil
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "list"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func decodeList(d *Delivery, doc []byte, opts Options) error {
	var items []json.RawMessage
	if err := json.Unmarshal(doc, &items); err != nil {
		return fmt.Errorf("list is not valid JSON: %w", err)
	}
	switch {
	case len(items) == 0:
		return errors.New("list is empty")
	case len(items) > MaxAlarms:
		return fmt.Errorf("list holds %d items, more than the %d allowed", len(items), MaxAlarms)
	}
	for i, item := range items {
		if err := decodeDocument(d, item, inList, opts); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	return nil
}

// decodeObject classifies a JSON object by its fields and decodes it into d.
func decodeObject(d *Delivery, f *fields, at layer, opts Options) error {
	switch {
	case f.isHTTP():
		if at != atTop {
			return fmt.Errorf("%s is an HTTP trigger event, which only the payload itself may be", at)
		}
		return decodeHTTP(d, f, opts)
	case f.isEventBridge():
		a, err := eventBridgeAlarm(f, opts)
		if err != nil {
			return err
		}
		d.add(a, "eventbridge")
	case f.isRuleTarget():
		a, err := keyedRuleTarget(f, opts)
		if err != nil {
			return err
		}
		d.add(a, "rule-target")
	case f.isCallback():
		a, err := keyedCallback(f, opts)
		if err != nil {
			return err
		}
		d.add(a, "callback-json")
	case f.isTimer():
		if err := alone(at, "a timer event"); err != nil {
			return err
		}
		d.Kind, d.Source = KindReconcile, "timer"
	case f.Action != "":
		if err := alone(at, "an action"); err != nil {
			return err
		}
		switch {
		case strings.EqualFold(string(f.Action), "reconcile"):
			d.Kind, d.Source = KindReconcile, "reconcile"
		case strings.EqualFold(string(f.Action), "status"):
			d.Kind, d.Source = KindStatus, "status"
		default:
			return fmt.Errorf("action %s is not supported; the actions are \"reconcile\" and \"status\"", quote(string(f.Action)))
		}
	case f.isManual():
		if err := alone(at, "a manual invocation"); err != nil {
			return err
		}
		m, err := manual(f, opts)
		if err != nil {
			return err
		}
		d.Kind, d.Source, d.Manual = KindManual, "manual", m
	default:
		return fmt.Errorf("%s is a JSON object of no known shape: it has none of alertState, dimensions, curLevel, "+
			"resources, specversion, requestContext, triggerTime, action, instanceId or bandwidthOut", at)
	}
	return nil
}

// alone rejects an invocation that is not the whole payload or HTTP body.
func alone(at layer, what string) error {
	if at == atTop || at == inBody {
		return nil
	}
	return fmt.Errorf("%s is %s, which may only be the whole payload or HTTP body", at, what)
}

func (d *Delivery) add(a Alarm, source string) {
	if d.Kind == "" {
		d.Kind, d.Source = KindAlarm, source
	}
	d.Alarms = append(d.Alarms, a)
}

// decodeHTTP records the HTTP request before decoding its body, so that
// Decode can return it even when the body is bad.
func decodeHTTP(d *Delivery, f *fields, opts Options) error {
	req := &HTTPRequest{Path: string(f.RawPath), Query: f.QueryParameters, Headers: lowerKeys(f.Headers)}
	if c := f.RequestContext; c != nil {
		req.Method, req.SourceIP = string(c.HTTP.Method), string(c.HTTP.SourceIP)
		if c.HTTP.Path != "" {
			req.Path = string(c.HTTP.Path)
		}
	}
	d.HTTP = req
	body := []byte(f.Body)
	if f.IsBase64Encoded != "" {
		encoded, err := strconv.ParseBool(string(f.IsBase64Encoded))
		if err != nil {
			return fmt.Errorf("isBase64Encoded %s is not true or false", quote(string(f.IsBase64Encoded)))
		}
		if encoded {
			if body, err = base64.StdEncoding.DecodeString(string(f.Body)); err != nil {
				return fmt.Errorf("HTTP body is not valid base64: %w", err)
			}
		}
	}
	return decodeDocument(d, body, inBody, opts)
}

// lowerKeys returns headers with lower-cased names, reusing the map when
// they already are. Of names that differ only in case, the first in byte
// order wins, so that the result does not depend on map order.
func lowerKeys(headers map[string]string) map[string]string {
	if !anyUpper(headers) {
		return headers
	}
	lower := make(map[string]string, len(headers))
	for name, value := range headers {
		lower[strings.ToLower(name)] = value
	}
	if len(lower) < len(headers) {
		clear(lower)
		for _, name := range slices.Sorted(maps.Keys(headers)) {
			if _, seen := lower[strings.ToLower(name)]; !seen {
				lower[strings.ToLower(name)] = headers[name]
			}
		}
	}
	return lower
}

func anyUpper(headers map[string]string) bool {
	for name := range headers {
		if strings.ContainsFunc(name, func(r rune) bool { return unicode.ToLower(r) != r }) {
			return true
		}
	}
	return false
}
