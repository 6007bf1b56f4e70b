package alarm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// maxError bounds error messages: they quote at most 64 bytes of any value.
const maxError = 1024

func FuzzDecode(f *testing.F) {
	for _, sample := range []string{
		docFormSample, realAlertBody, realOKBody, constructedJSON, constructedClearedJSON, legacyJSON,
		mnsRuleTarget, eventBridgeMeeting, eventBridgeAlert, httpHelloFC, httpConstructed,
		"[" + constructedJSON + "," + mnsRuleTarget + "," + eventBridgeAlert + "]",
		`{"instanceId":"i-1","bandwidthOut":"20","dryRun":true}`,
		`{"triggerTime":"2022-07-29T10:02:58Z","triggerName":"t","payload":"p"}`,
		`{"action":"reconcile"}`,
		`{"action":"status"}`,
		`{"specversion":"1.0","id":"e","source":"s","data":"alertState=OK&curValue=1&metricName=m&dimensions=%7BinstanceId%3Di-1%7D"}`,
	} {
		f.Add([]byte(sample))
	}
	files, err := filepath.Glob("../../events/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		payload, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(payload)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := Decode(payload, testOpts)
		if err != nil {
			checkRejection(t, d, err)
			return
		}
		checkDelivery(t, d)
		again, err := Decode(payload, testOpts)
		if err != nil || !reflect.DeepEqual(d, again) {
			t.Errorf("a second decoding differs: %+v, %v", again, err)
		}
	})
}

func checkRejection(t *testing.T, d *Delivery, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "alarm: ") || len(msg) > maxError {
		t.Errorf("error %.2000q is not an alarm error of at most %d bytes", msg, maxError)
	}
	if d != nil && (d.HTTP == nil || !reflect.DeepEqual(*d, Delivery{HTTP: d.HTTP})) {
		t.Errorf("error %v comes with %+v; only an HTTP request may come with an error", err, d)
	}
}

func checkDelivery(t *testing.T, d *Delivery) {
	t.Helper()
	switch {
	case d == nil:
		t.Fatal("no delivery and no error")
	case d.Kind == KindAlarm:
		if len(d.Alarms) == 0 || len(d.Alarms) > MaxAlarms || d.Manual != nil {
			t.Errorf("alarm delivery with %d alarms and manual %+v", len(d.Alarms), d.Manual)
		}
		for _, a := range d.Alarms {
			if a.InstanceID == "" || a.Metric == "" || a.State == "" {
				t.Errorf("incomplete alarm %+v", a)
			}
			checkKey(t, a.Key)
		}
	case d.Kind == KindManual:
		if m := d.Manual; m == nil || m.InstanceID == "" || m.BandwidthOut < 0 || len(d.Alarms) > 0 {
			t.Errorf("bad manual delivery %+v, manual %+v", d, m)
		}
	case d.Kind == KindReconcile || d.Kind == KindStatus:
		if d.Manual != nil || len(d.Alarms) > 0 {
			t.Errorf("reconcile delivery with a payload: %+v", d)
		}
	default:
		t.Errorf("delivery of kind %q", d.Kind)
	}
	if d.Source == "" {
		t.Errorf("delivery without source: %+v", d)
	}
}

// BenchmarkDecode decodes the most common payload: an alert callback form
// inside an FC HTTP trigger event.
func BenchmarkDecode(b *testing.B) {
	payload, err := os.ReadFile("../../events/spike.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := Decode(payload, testOpts); err != nil {
			b.Fatal(err)
		}
	}
}
