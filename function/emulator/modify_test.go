package emulator

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

type modifyReq = ecs.ModifyInstanceNetworkSpecRequest

func set(f func(r *modifyReq)) func(*modifyReq) { return f }

// stateCases produce every code of the reference table that instance or
// account state decides, through the real SDK.
var stateCases = []struct {
	name   string
	setup  func(e *env)
	id     string
	out    int
	adjust func(*modifyReq)
	code   string
	status int
}{
	{name: "unknown instance", id: "i-nope", out: 10, code: "InvalidInstanceId.NotFound", status: 404},
	{name: "out above 100", id: "i-postpaid-traffic", out: 101, code: "InvalidInternetMaxBandwidthOut.ValueNotSupported", status: 400},
	{name: "in above cap", id: "i-postpaid-traffic", out: 8,
		adjust: set(func(r *modifyReq) { r.InternetMaxBandwidthIn = requests.NewInteger(11) }),
		code:   "InvalidInternetMaxBandwidthIn.ValueNotSupported", status: 400},
	{name: "in below 1", id: "i-postpaid-traffic", out: 20,
		adjust: set(func(r *modifyReq) { r.InternetMaxBandwidthIn = requests.NewInteger(0) }),
		code:   "InvalidInternetMaxBandwidthIn.ValueNotSupported", status: 400},
	{name: "classic from 0 while running", id: "i-classic-zero", out: 5,
		setup: func(e *env) { in, _ := e.srv.Instance("i-classic-zero"); in.Status = "Running"; e.srv.AddInstance(in) },
		code:  "IncorrectInstanceStatus", status: 403},
	{name: "stopped vpc", id: "i-stopped", out: 10, code: "InvalidInstanceStatus", status: 403},
	{name: "security lock", id: "i-locked", out: 10, code: "InstanceLockedForSecurity", status: 403},
	{name: "expired prepaid", id: "i-expired", out: 10, code: "InstanceExpiredOrInArrears", status: 403},
	{name: "temporary on postpaid", id: "i-postpaid-traffic", out: 20,
		adjust: set(func(r *modifyReq) { r.EndTime = time.Now().UTC().Add(5 * time.Hour).Format(endTimeLayout) }),
		code:   "ChargeTypeViolation", status: 403},
	{name: "no-op", id: "i-postpaid-traffic", out: 5, code: "InvalidParameter.Bandwidth", status: 400},
	{name: "temporary too short", id: "i-prepaid-bandwidth", out: 20,
		adjust: set(func(r *modifyReq) { r.EndTime = time.Now().UTC().Add(2 * time.Hour).Format(endTimeLayout) }),
		code:   "InvalidParameter.Conflict", status: 400},
	{name: "end before start", id: "i-prepaid-bandwidth", out: 20,
		adjust: set(func(r *modifyReq) {
			now := time.Now().UTC()
			r.StartTime = now.Add(5 * time.Hour).Format(startTimeLayout)
			r.EndTime = now.Add(2 * time.Hour).Format(endTimeLayout)
		}),
		code: "InvalidStartTime.ValueNotSupported", status: 400},
	{name: "account in arrears", id: "i-postpaid-traffic", out: 10,
		setup: func(e *env) { e.srv.SetAccount(Account{Balance: 100, Arrears: true}) },
		code:  "Account.Arrearage", status: 400},
	{name: "prepaid bandwidth to traffic", id: "i-prepaid-bandwidth", out: -1,
		adjust: set(func(r *modifyReq) { r.NetworkChargeType = "PayByTraffic" }),
		code:   "InvalidInternetChargeType.ValueNotSupported", status: 400},
	{name: "unknown charge type", id: "i-postpaid-traffic", out: -1,
		adjust: set(func(r *modifyReq) { r.NetworkChargeType = "PayByMagic" }),
		code:   "InvalidInternetChargeType.ValueNotSupported", status: 400},
	{name: "prepaid bandwidth downgrade", id: "i-prepaid-bandwidth", out: 5, code: "DecreasedBandwidthNotAllowed", status: 400},
	{name: "temporary with eip", id: "i-vpc-eip", out: 10,
		adjust: set(func(r *modifyReq) { r.EndTime = time.Now().UTC().Add(5 * time.Hour).Format(endTimeLayout) }),
		code:   "BandwidthUpgradeDenied.EipBoundInstance", status: 400},
	{name: "token too long", id: "i-postpaid-traffic", out: 10, adjust: withToken(strings.Repeat("t", 65)),
		code: "InvalidClientToken.ValueNotSupported", status: 400},
	{name: "token not ascii", id: "i-postpaid-traffic", out: 10, adjust: withToken("jeton-é"),
		code: "InvalidClientToken.ValueNotSupported", status: 400},
	{name: "balance too low", id: "i-postpaid-traffic", out: 50,
		setup: func(e *env) { e.srv.SetAccount(Account{Balance: 10}) },
		code:  "InvalidAccountStatus.NotEnoughBalance", status: 403},
	{name: "unpaid order", id: "i-postpaid-traffic", out: 20,
		setup: func(e *env) {
			if _, err := e.modify("i-postpaid-traffic", 10, set(func(r *modifyReq) { r.AutoPay = requests.NewBoolean(false) })); err != nil {
				e.t.Fatal(err)
			}
		},
		code: "InvalidInstance.UnPaidOrder", status: 403},
	{name: "lock after a change", id: "i-postpaid-traffic", out: 20,
		setup: func(e *env) {
			if _, err := e.modify("i-postpaid-traffic", 10); err != nil {
				e.t.Fatal(err)
			}
		},
		code: "Throttling", status: 400},
	{name: "allocate ip on prepaid", id: "i-classic-zero", out: 5,
		adjust: set(func(r *modifyReq) { r.AllocatePublicIp = requests.NewBoolean(true) }),
		code:   "InvalidParam.AllocatePublicIp", status: 400},
	{name: "allocate ip when one exists", id: "i-postpaid-traffic", out: 10,
		adjust: set(func(r *modifyReq) { r.AllocatePublicIp = requests.NewBoolean(true) }),
		code:   "InvalidParam.AllocatePublicIp", status: 400},
	{name: "downgrade quota", id: "i-prepaid-traffic", out: 10,
		setup: func(e *env) { in, _ := e.srv.Instance("i-prepaid-traffic"); in.Downgrades = 3; e.srv.AddInstance(in) },
		code:  "InstanceDowngrade.QuotaExceed", status: 400},
	{name: "temporary below current", id: "i-prepaid-bandwidth", out: 5,
		adjust: set(func(r *modifyReq) { r.EndTime = time.Now().UTC().Add(5 * time.Hour).Format(endTimeLayout) }),
		code:   "InvalidBandwidth.ValueNotSupported", status: 400},
	{name: "bandwidth on eip instance", id: "i-vpc-eip", out: 10, code: "InvalidInstance.InstanceNotSupported", status: 403},
	{name: "charge type on eip instance", id: "i-vpc-eip", out: -1,
		adjust: set(func(r *modifyReq) { r.NetworkChargeType = "PayByBandwidth" }),
		code:   "InvalidInstance.EipNotSupport", status: 403},
	{name: "missing instance id", id: "", out: 10, code: "MissingParameter", status: 400},
}

func TestModifyRefusals(t *testing.T) {
	for _, tc := range stateCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			if tc.setup != nil {
				tc.setup(e)
			}
			ordersBefore := len(e.srv.Orders())
			before, _ := e.srv.Instance(tc.id)
			adjust := []func(*modifyReq){}
			if tc.adjust != nil {
				adjust = append(adjust, tc.adjust)
			}
			_, err := e.modify(tc.id, tc.out, adjust...)
			wantCode(t, err, tc.code, tc.status)
			after, _ := e.srv.Instance(tc.id)
			if len(e.srv.Orders()) != ordersBefore || after.InternetMaxBandwidthOut != before.InternetMaxBandwidthOut {
				t.Errorf("a refused call changed state: orders %d -> %d, out %d -> %d",
					ordersBefore, len(e.srv.Orders()), before.InternetMaxBandwidthOut, after.InternetMaxBandwidthOut)
			}
		})
	}
}

// injectOnly are the codes of the reference that no instance or account
// state produces; Inject reproduces them.
var injectOnly = map[string]bool{
	"InternalError": true, "OperationDenied": true, "InvalidAction": true, "IpAllocationError": true,
	"LastOrderProcessing": true, "NAT_PUBLIC_IP_BINDING_FAILED": true, "InvalidNetworkType.ValueNotSupported": true,
}

func TestEveryReferenceCodeIsReachable(t *testing.T) {
	fromState := map[string]bool{}
	for _, tc := range stateCases {
		fromState[tc.code] = true
	}
	for _, row := range SeedErrors {
		if !fromState[row.Code] && !injectOnly[row.Code] {
			t.Errorf("code %s is neither produced from state in stateCases nor listed as inject-only", row.Code)
		}
	}
}

func TestInjectAnswersEveryReferenceRow(t *testing.T) {
	e := newEnv(t, Config{})
	for _, row := range SeedErrors {
		fault := Fault{Action: "ModifyInstanceNetworkSpec", Code: row.Code, HTTPStatus: row.Status}
		// Rows sharing a code and status differ in message only: ask for it.
		if first, _ := lookupCode(row.Code, row.Status); first.Message != row.Message {
			fault.Message = row.Message
		}
		e.srv.Inject(fault)
		_, err := e.modify("i-postpaid-traffic", 10)
		wantCode(t, err, row.Code, row.Status)
		if !strings.Contains(err.Error(), row.Message) {
			t.Errorf("%s (HTTP %d): message %q not in %v", row.Code, row.Status, row.Message, err)
		}
	}
	if n := len(e.srv.Orders()); n != 0 {
		t.Errorf("injected failures placed %d orders", n)
	}
	// The fault is spent: the next call succeeds.
	if _, err := e.modify("i-postpaid-traffic", 10); err != nil {
		t.Fatal(err)
	}
}

func TestIdempotence(t *testing.T) {
	e := newEnv(t, Config{})
	first, err := e.modify("i-postpaid-traffic", 10, withToken("tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	// Same token, same parameters: same order, even though the lock began.
	again, err := e.modify("i-postpaid-traffic", 10, withToken("tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.OrderId != first.OrderId {
		t.Errorf("replay got order %s, want %s", again.OrderId, first.OrderId)
	}
	_, err = e.modify("i-postpaid-traffic", 20, withToken("tok-1"))
	wantCode(t, err, "IdempotentParameterMismatch", 400)
	if n := len(e.srv.Orders()); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}

	// ApplyThenFail: the change happens, the answer is an error; the retry
	// with the same token gets the order without buying again.
	e.clock.Advance(6 * time.Minute)
	e.srv.Inject(Fault{Action: "ModifyInstanceNetworkSpec", Code: "InternalError", ApplyThenFail: true})
	_, err = e.modify("i-postpaid-traffic", 30, withToken("tok-2"))
	wantCode(t, err, "InternalError", 500)
	retry, err := e.modify("i-postpaid-traffic", 30, withToken("tok-2"))
	if err != nil {
		t.Fatal(err)
	}
	orders := e.srv.Orders()
	if len(orders) != 2 || orders[1].OrderId != retry.OrderId || orders[1].To != 30 {
		t.Errorf("orders %+v, want a second one %s to 30", orders, retry.OrderId)
	}
}

func TestRacingCallsBuyOnce(t *testing.T) {
	for _, sameToken := range []bool{true, false} {
		t.Run(fmt.Sprintf("sameToken=%v", sameToken), func(t *testing.T) {
			e := newEnv(t, Config{})
			var mu sync.Mutex
			orderIDs := map[string]int{}
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				client := e.newClient()
				go func() {
					defer wg.Done()
					tok := "race"
					if !sameToken {
						tok = fmt.Sprintf("race-%d", i)
					}
					resp, err := modifyWith(client, "i-postpaid-traffic", 40, withToken(tok))
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						orderIDs[resp.OrderId]++
					}
				}()
			}
			wg.Wait()
			if n := len(e.srv.Orders()); n != 1 {
				t.Errorf("%d orders, want 1", n)
			}
			// Same token: every caller is told the one order; different
			// tokens: one wins, the others meet the lock.
			wantSuccesses := 1
			if sameToken {
				wantSuccesses = 16
			}
			if len(orderIDs) != 1 || orderIDs[e.srv.Orders()[0].OrderId] != wantSuccesses {
				t.Errorf("successes by order %v, want %d for the one order", orderIDs, wantSuccesses)
			}
		})
	}
}

func TestLedgerAndRefunds(t *testing.T) {
	e := newEnv(t, Config{PricePerMbit: 2, LockDuration: time.Minute})
	e.srv.SetAccount(Account{Balance: 1000})
	steps := []struct {
		out          int
		kind         string
		amount, refd float64
	}{
		{50, KindUpgrade, 60, 0},
		{40, KindDowngrade, 0, 20},
		{30, KindDowngrade, 0, 20},
		{25, KindDowngrade, 0, 10},
	}
	for i, st := range steps {
		if _, err := e.modify("i-prepaid-traffic", st.out); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		e.clock.Advance(time.Minute)
		if i > 0 {
			// After a downgrade nothing changes until the next billing cycle.
			_, err := e.modify("i-prepaid-traffic", 45)
			wantCode(t, err, "OperationDenied", 400)
		}
		if err := e.srv.Renew("i-prepaid-traffic", e.clock.Now().Add(30*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		o := e.srv.Orders()[i]
		if o.Kind != st.kind || o.To != st.out || o.Amount != st.amount || o.Refund != st.refd || !o.Paid {
			t.Errorf("step %d: order %+v, want %s to %d amount %v refund %v", i, o, st.kind, st.out, st.amount, st.refd)
		}
	}
	_, err := e.modify("i-prepaid-traffic", 20)
	wantCode(t, err, "InstanceDowngrade.QuotaExceed", 400)
	if got, want := e.srv.Account().Balance, 1000.0-60+20+20+10; got != want {
		t.Errorf("balance %v, want %v", got, want)
	}
	in, _ := e.srv.Instance("i-prepaid-traffic")
	if in.InternetMaxBandwidthOut != 25 || in.Downgrades != 3 {
		t.Errorf("instance out %d downgrades %d, want 25 and 3", in.InternetMaxBandwidthOut, in.Downgrades)
	}
}

func TestUnpaidOrderWaitsForPayment(t *testing.T) {
	e := newEnv(t, Config{})
	e.srv.SetAccount(Account{Balance: 3})
	noAutoPay := set(func(r *modifyReq) { r.AutoPay = requests.NewBoolean(false) })
	resp, err := e.modify("i-postpaid-traffic", 10, noAutoPay, withToken("unpaid"))
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := e.srv.Instance("i-postpaid-traffic"); in.InternetMaxBandwidthOut != 5 {
		t.Errorf("unpaid change applied: out %d", in.InternetMaxBandwidthOut)
	}
	if err := e.srv.PayOrder(resp.OrderId); err == nil {
		t.Error("paid 5 yuan from a balance of 3")
	}
	e.srv.SetAccount(Account{Balance: 5})
	if err := e.srv.PayOrder(resp.OrderId); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.PayOrder(resp.OrderId); err == nil {
		t.Error("paid an order twice")
	}
	in, _ := e.srv.Instance("i-postpaid-traffic")
	if in.InternetMaxBandwidthOut != 10 || e.srv.Account().Balance != 0 {
		t.Errorf("after payment out %d balance %v, want 10 and 0", in.InternetMaxBandwidthOut, e.srv.Account().Balance)
	}
	if o := e.srv.Orders(); len(o) != 1 || !o[0].Paid || o[0].AutoPay {
		t.Errorf("orders %+v, want one paid order without AutoPay", o)
	}
}

func TestPublicIPFromZero(t *testing.T) {
	e := newEnv(t, Config{})
	// PrePaid classic, Stopped: gets an IP by itself.
	if _, err := e.modify("i-classic-zero", 5); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.srv.Instance("i-classic-zero"); len(in.PublicIpAddress) != 1 || in.InternetMaxBandwidthOut != 5 {
		t.Errorf("classic PrePaid from 0: %+v", in)
	}
	// PostPaid: only with AllocatePublicIp.
	for _, allocate := range []bool{false, true} {
		e.srv.AddInstance(Instance{InstanceId: "i-pp0", RegionId: "cn-hangzhou", Status: "Running", InstanceChargeType: "PostPaid",
			InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc"})
		_, err := e.modify("i-pp0", 5, set(func(r *modifyReq) { r.AllocatePublicIp = requests.NewBoolean(allocate) }))
		if err != nil {
			t.Fatal(err)
		}
		if in, _ := e.srv.Instance("i-pp0"); (len(in.PublicIpAddress) == 1) != allocate {
			t.Errorf("PostPaid from 0 with AllocatePublicIp=%v: IPs %v", allocate, in.PublicIpAddress)
		}
	}
}

func TestChargeTypeChanges(t *testing.T) {
	e := newEnv(t, Config{})
	cases := []struct{ id, to string }{
		{"i-prepaid-traffic", "PayByBandwidth"},
		{"i-postpaid-traffic", "PayByBandwidth"},
		{"i-shanghai", "PayByTraffic"},
	}
	for _, c := range cases {
		if _, err := e.modify(c.id, -1, set(func(r *modifyReq) { r.NetworkChargeType = c.to })); err != nil {
			t.Fatalf("%s -> %s: %v", c.id, c.to, err)
		}
		if in, _ := e.srv.Instance(c.id); in.InternetChargeType != c.to {
			t.Errorf("%s: charge type %s, want %s", c.id, in.InternetChargeType, c.to)
		}
	}
	for _, o := range e.srv.Orders() {
		if o.Kind != KindChargeType || o.Amount != 0 {
			t.Errorf("order %+v, want a free charge-type order", o)
		}
	}
}

func TestTemporaryUpgradeWindow(t *testing.T) {
	e := newEnv(t, Config{})
	end := e.clock.Now().Add(5 * time.Hour).Truncate(time.Hour)
	_, err := e.modify("i-prepaid-bandwidth", 30, set(func(r *modifyReq) { r.EndTime = end.Format(endTimeLayout) }))
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := e.srv.Instance("i-prepaid-bandwidth"); in.InternetMaxBandwidthOut != 30 {
		t.Errorf("during the window out %d, want 30", in.InternetMaxBandwidthOut)
	}
	resp, err := e.client.DescribeInstances(describeIDs("i-prepaid-bandwidth"))
	if err != nil || len(resp.Instances.Instance) != 1 || resp.Instances.Instance[0].InternetMaxBandwidthOut != 30 {
		t.Errorf("DescribeInstances during the window: %v %+v", err, resp)
	}
	if o := e.srv.Orders(); len(o) != 1 || o[0].Kind != KindTemporaryUpgrade || o[0].From != 10 || o[0].EndTime != end.Format(endTimeLayout) {
		t.Errorf("orders %+v", o)
	}
	e.clock.Advance(end.Sub(e.clock.Now()))
	if in, _ := e.srv.Instance("i-prepaid-bandwidth"); in.InternetMaxBandwidthOut != 10 {
		t.Errorf("after the window out %d, want 10", in.InternetMaxBandwidthOut)
	}
}

func TestLockEnds(t *testing.T) {
	e := newEnv(t, Config{LockDuration: time.Minute})
	if _, err := e.modify("i-postpaid-traffic", 10); err != nil {
		t.Fatal(err)
	}
	_, err := e.modify("i-postpaid-traffic", 20)
	wantCode(t, err, "Throttling", 400)
	e.clock.Advance(time.Minute)
	if _, err := e.modify("i-postpaid-traffic", 20); err != nil {
		t.Fatal(err)
	}
}
