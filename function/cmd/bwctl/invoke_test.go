package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/sandbox"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the real function, built once for the invoke tests.
var binary string

func TestMain(m *testing.M) {
	var remove func()
	var err error
	if binary, remove, err = sandbox.Build(filepath.Join("../..")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	remove()
	os.Exit(code)
}

// runIn is run with stdin.
func (f *fixture) runIn(stdin string, args ...string) (int, string, string) {
	f.t.Helper()
	var out, errw bytes.Buffer
	code := run(context.Background(), append([]string{"-policy", filepath.Join("..", "..", "policy.yaml"), "-region", "cn-hangzhou"}, args...),
		func(k string) string { return f.env[k] }, strings.NewReader(stdin), &out, &errw)
	for _, secret := range []string{testSecret, testToken} {
		if strings.Contains(out.String()+errw.String(), secret) {
			f.t.Errorf("bwctl %v printed a secret: %s%s", args, out.String(), errw.String())
		}
	}
	return code, out.String(), errw.String()
}

// section is the part of out after the line header, up to the next blank line.
func section(out, header string) string {
	_, rest, _ := strings.Cut(out, header+"\n")
	body, _, _ := strings.Cut(rest, "\n\n")
	return body
}

// invoke -event events/manual.json runs the real binary under the local FC
// runtime against the in-process emulator: the answer, the decision log
// and the ledger show one upgrade of i-postpaid-traffic from 5 to 30.
func TestInvokeManualInProcess(t *testing.T) {
	f := newFixture(t)
	for _, k := range []string{"ECS_ENDPOINT", "CMS_ENDPOINT", "VPC_ENDPOINT", "HTTP_TOKEN"} {
		delete(f.env, k)
	}
	event := filepath.Join("..", "..", "..", "events", "manual.json")
	code, out, errw := f.run("invoke", "-event", event, "-binary", binary, "-instances", filepath.Join("..", "..", "emulator", "testdata", "instances.json"))
	if code != 0 {
		t.Fatalf("invoke: %d %q %q", code, out, errw)
	}
	answer := section(out, "answer:")
	if !strings.Contains(answer, `"instanceId":"i-postpaid-traffic"`) || !strings.Contains(answer, `"action":"scaled"`) || !strings.Contains(answer, `"to":30`) {
		t.Errorf("answer %q, want i-postpaid-traffic scaled to 30", answer)
	}
	log := strings.Split(strings.TrimSpace(section(out, "log (decisions):")), "\n")
	if len(log) != 1 || !strings.Contains(log[0], `"message":"decision"`) || !strings.Contains(log[0], `"instanceId":"i-postpaid-traffic"`) || !strings.Contains(log[0], `"action":"scaled"`) {
		t.Errorf("decision log %q, want one scaled decision", log)
	}
	ledger := strings.TrimSpace(out[strings.Index(out, "orders in the emulator's ledger")-2:])
	lines := strings.Split(ledger, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "1 orders") || !strings.Contains(lines[1], "i-postpaid-traffic  upgrade") || !strings.Contains(lines[1], "5 →  30 Mbit/s") {
		t.Errorf("ledger %q, want one upgrade 5 → 30", ledger)
	}

	// The same event on stdin gives the same answer.
	data, err := os.ReadFile(event)
	if err != nil {
		t.Fatal(err)
	}
	code, out2, errw := f.runIn(string(data), "invoke", "-binary", binary, "-instances", filepath.Join("..", "..", "emulator", "testdata", "instances.json"))
	if code != 0 || !strings.Contains(section(out2, "answer:"), `"to":30`) || !strings.Contains(out2, "1 orders in the emulator's ledger") {
		t.Errorf("invoke from stdin: %d %q %q", code, out2, errw)
	}
}

// With ECS_ENDPOINT (and CMS_ENDPOINT, VPC_ENDPOINT) set, the function calls
// that endpoint with bwctl's credentials, not an in-process emulator: the
// change lands in the fixture's emulator, whose ledger invoke prints.
func TestInvokeAgainstAnEndpoint(t *testing.T) {
	f := newFixture(t)
	f.addEIPBound("i-e", 10, 1)
	code, out, errw := f.runIn(`{"instanceId": "i-a", "regionId": "cn-hangzhou", "bandwidthOut": 30}`, "invoke", "-binary", binary, "-instances", "/nonexistent")
	if code != 0 {
		t.Fatalf("invoke: %d %q %q", code, out, errw)
	}
	if !strings.Contains(errw, "calls "+f.env["ECS_ENDPOINT"]+" (ECS_ENDPOINT)") {
		t.Errorf("stderr %q does not name the endpoint", errw)
	}
	if answer := section(out, "answer:"); !strings.Contains(answer, `"instanceId":"i-a"`) || !strings.Contains(answer, `"action":"scaled"`) {
		t.Errorf("answer %q", answer)
	}
	orders := f.emu.Orders()
	if len(orders) != 1 || orders[0].InstanceId != "i-a" || orders[0].From != 10 || orders[0].To != 30 {
		t.Fatalf("the endpoint's ledger %+v, want i-a 10 → 30", orders)
	}
	if !strings.Contains(out, "1 orders in the emulator's ledger") || !strings.Contains(out, orders[0].OrderId+"  i-a  upgrade") {
		t.Errorf("printed ledger: %q", out)
	}
	// An EIP-bound instance goes through VPC_ENDPOINT.
	code, out, errw = f.runIn(`{"instanceId": "i-e", "regionId": "cn-hangzhou", "bandwidthOut": 20}`, "invoke", "-binary", binary)
	if code != 0 || !strings.Contains(section(out, "answer:"), `"action":"scaled"`) {
		t.Fatalf("invoke for the EIP: %d %q %q", code, out, errw)
	}
	if in, _ := f.emu.Instance("i-e"); in.EipAddress.Bandwidth != 20 {
		t.Errorf("EIP at %d, want 20", in.EipAddress.Bandwidth)
	}
}
