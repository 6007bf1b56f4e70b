package scaler_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// gatewayCodes are the POP gateway's answers to any action, from the table
// in shared/reference/ecs-sdk.md §3.1. The emulator keeps its own list
// (commonErrors) unexported, so it is written out here.
var gatewayCodes = []emulator.CodeInfo{
	{Code: "IncompleteSignature", Status: 400},
	{Code: "SignatureDoesNotMatch", Status: 400},
	{Code: "InvalidAccessKeyId.NotFound", Status: 404},
	{Code: "InvalidAccessKeyId.Inactive", Status: 400},
	{Code: "InvalidTimeStamp.Format", Status: 400},
	{Code: "InvalidTimeStamp.Expired", Status: 400},
	{Code: "SignatureNonceUsed", Status: 400},
	{Code: "InvalidSignatureMethod", Status: 400},
	{Code: "UnsupportedHTTPMethod", Status: 403},
	{Code: "InvalidApi.NotFound", Status: 404},
	{Code: "MissingParameter", Status: 400},
	{Code: "InvalidSecurityToken.Expired", Status: 400},
	{Code: "InvalidSecurityToken.Malformed", Status: 400},
	{Code: "InvalidSecurityToken.MismatchWithAccessKey", Status: 400},
	{Code: "MissingSecurityToken", Status: 400},
	{Code: "Forbidden.RAM", Status: 403},
	{Code: "Throttling.User", Status: 400},
	{Code: "Throttling.Api", Status: 400},
	{Code: "ServiceUnavailable", Status: 503},
	{Code: "IdempotentParameterMismatch", Status: 400},
}

// TestFaultMatrix injects every error code of ModifyInstanceNetworkSpec's
// table and of the gateway at each ECS action the engine uses, for as long
// as the retries last, and follows one alarm (i-a, 10 → 20 Mbit/s) through
// the failure, the redelivery or timer run that follows, and a fresh
// process later on. Whatever the code: the right action, no duplicate
// order, no lost intent, and the engine keeps serving.
func TestFaultMatrix(t *testing.T) {
	codes := append(append([]emulator.CodeInfo(nil), emulator.SeedErrors...), gatewayCodes...)
	for _, action := range []string{actionDescribe, actionModify, actionTag} {
		for i, c := range codes {
			t.Run(fmt.Sprintf("%s/%02d-%s-%d", action, i, c.Code, c.Status), func(t *testing.T) {
				t.Parallel()
				faultCase(t, action, c)
			})
		}
	}
}

func faultCase(t *testing.T, action string, c emulator.CodeInfo) {
	e := newEnv(t, envOptions{}, instance("i-a", 10), instance("i-b", 10))
	// What the code means to a caller: only a change meets the lock.
	class := ecsapi.Classify(c.Code, c.Status)
	switch {
	case class == ecsapi.Locked && action != actionModify:
		class = ecsapi.Transient
	case class == ecsapi.InProgress:
		class = ecsapi.Transient // the engine keeps the change pending, as for Transient
	case class == ecsapi.StatusConflict:
		class = ecsapi.Permanent // reported as a refusal for now
	}
	eng := e.engine()
	d := e.alarm("i-a", 96)
	e.emu.Inject(emulator.Fault{Action: action, Code: c.Code, HTTPStatus: c.Status, Message: c.Message, Count: 1000})
	res, err := e.run(eng, d)
	if len(res) != 1 {
		t.Fatalf("first run: %d results (%v), want 1", len(res), err)
	}
	r := res[0]

	// 1. The failure itself.
	bought := 0 // orders i-a is meant to have
	switch {
	case action == actionTag:
		// The state write is checked by its outcome below.
	case class == ecsapi.Permanent:
		if err != nil || r.Action != decide.Failed || r.ErrorCode != c.Code {
			t.Fatalf("permanent %s: %s code %q, error %v; want failed with the code and no error", c.Code, r.Action, r.ErrorCode, err)
		}
		if action == actionModify {
			if p := e.record("i-a").Pending; p != nil && p.Target == 20 {
				t.Errorf("a refused target stays pending: %+v", p)
			}
		}
	case class == ecsapi.Transient:
		if !errors.Is(err, scaler.ErrTransient) || r.Action != decide.Failed || r.ErrorCode != c.Code {
			t.Fatalf("transient %s: %s code %q, error %v; want failed with the code and ErrTransient", c.Code, r.Action, r.ErrorCode, err)
		}
		if action == actionModify {
			if p := e.record("i-a").Pending; p == nil || p.Target != 20 {
				t.Errorf("after a transient failure the pending target is %+v, want 20 (lost intent)", p)
			}
		}
	case class == ecsapi.Locked:
		if err != nil || r.Action != decide.Deferred || r.RetryAfter == "" {
			t.Fatalf("locked %s: %s retryAfter %q, error %v; want deferred with a retry time and no error", c.Code, r.Action, r.RetryAfter, err)
		}
		if p := e.record("i-a").Pending; p == nil || p.Target != 20 {
			t.Errorf("deferred but the pending target is %+v, want 20", p)
		}
	}
	if n := len(e.emu.Orders()); n > 1 {
		t.Fatalf("%d orders after one alarm", n)
	}

	// 2. What follows once the fault is gone: FC's redelivery after an
	// error, the timer after a deferral, CloudMonitor's retry otherwise.
	e.emu.ClearFaults()
	if class == ecsapi.Locked {
		e.clock.Advance(afterLock)
		if _, err := e.run(eng, reconcile); err != nil {
			t.Errorf("reconcile: %v", err)
		}
	} else if _, err := e.run(eng, d); err != nil {
		t.Errorf("redelivery: %v", err)
	}
	switch {
	case action == actionModify && class == ecsapi.Permanent:
		// Refused for good: nothing bought, nothing pending.
	case action == actionTag && class == ecsapi.Permanent:
		// A state write that can never succeed may stop the change or not,
		// but never buy it twice.
		if e.bandwidth("i-a") == 20 {
			bought = 1
		}
	default:
		bought = 1 // the intent survived the failure
	}
	if got := e.bandwidth("i-a"); got != 10+10*bought {
		t.Errorf("after the fault cleared i-a is at %d Mbit/s, want %d (intent lost or not honoured)", got, 10+10*bought)
	}
	e.expect(bought)

	// 3. The same engine still serves.
	if r, _ := e.runOne(eng, e.alarm("i-b", 96), false); r.Action != decide.Scaled {
		t.Errorf("a normal alarm after the fault: %s (%s)", r.Action, r.Reason)
	}
	e.expect(1)

	// 4. Later, in a fresh process, the same alarm and the timer buy
	// nothing more.
	if bought == 0 {
		// Refused: once the cause is gone, another process may act on a
		// redelivery, and that is the first order, not a second one.
		return
	}
	e.clock.Advance(afterLock)
	fresh := e.engine()
	for _, next := range []struct {
		name string
		d    *alarm.Delivery
	}{{"redelivery", d}, {"reconcile", reconcile}} {
		if _, err := e.run(fresh, next.d); err != nil {
			t.Errorf("%s in a fresh process: %v", next.name, err)
		}
		if n := ordersFor(e, "i-a"); n > bought {
			t.Errorf("a %s in a fresh process bought again: %d orders for i-a, want %d; its state tag %q", next.name, n, bought, state.Encode(e.record("i-a")))
			break
		}
	}
}

func ordersFor(e *env, id string) int {
	n := 0
	for _, o := range e.emu.Orders() {
		if o.InstanceId == id {
			n++
		}
	}
	return n
}
