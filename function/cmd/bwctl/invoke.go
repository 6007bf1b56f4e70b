package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/fcruntime"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/sandbox"
)

// invoke runs the built function under the local FC runtime and prints its
// answer, its decision log and the order ledger. The function calls an
// in-process emulator loaded with -instances, or, when ECS_ENDPOINT is set,
// that endpoint (and CMS_ENDPOINT, VPC_ENDPOINT) with bwctl's credentials;
// the ledger is then the endpoint's, when it is an emulator.
func (e *env) invoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(e.errw)
	event := fs.String("event", "-", "the event file (- for stdin)")
	instances := fs.String("instances", "function/emulator/testdata/instances.json", "the in-process emulator's instances (unused with ECS_ENDPOINT)")
	binary := fs.String("binary", "function/target/main", "the built function (built with `make build` when absent)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	var payload []byte
	var err error
	if *event == "-" {
		payload, err = io.ReadAll(e.in)
	} else {
		payload, err = os.ReadFile(*event)
	}
	if err != nil {
		return err
	}
	token := e.getenv("HTTP_TOKEN")
	if token == "" {
		token = "change-me" // the sample events' token
	}
	opts := sandbox.Options{Binary: *binary, HTTPToken: token, Env: []string{"LOG_LEVEL=info"}}
	endpoint := e.getenv("ECS_ENDPOINT")
	if endpoint != "" {
		if err := e.setup(true); err != nil {
			return err
		}
		opts.Region = e.region
		opts.External = &sandbox.External{ECS: endpoint, CMS: e.getenv("CMS_ENDPOINT"), VPC: e.getenv("VPC_ENDPOINT"),
			Credentials: fcruntime.Credentials{AccessKeyID: e.creds.AccessKeyID, AccessKeySecret: e.creds.AccessKeySecret, SecurityToken: e.creds.SecurityToken}}
		fmt.Fprintf(e.errw, "bwctl: the function calls %s (ECS_ENDPOINT) with the credentials of %s\n", endpoint, e.credSource)
	} else {
		data, err := os.ReadFile(*instances)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &opts.Instances); err != nil {
			return fmt.Errorf("%s: %w", *instances, err)
		}
	}
	if _, err := os.Stat(*binary); err != nil {
		fmt.Fprintf(e.errw, "bwctl: %s is absent; running make build\n", *binary)
		cmd := exec.CommandContext(ctx, "make", "build")
		cmd.Stdout, cmd.Stderr = e.errw, e.errw
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("make build: %w", err)
		}
	}
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer sb.Close()
	res, err := sb.Invoke(ctx, payload)
	if err != nil {
		return err
	}
	// The log reaches the sandbox through pipes: it is complete once the
	// processes have ended.
	for _, p := range sb.Processes() {
		_ = p.Stop()
	}
	fmt.Fprintf(e.out, "answer:\n%s\n", res.Raw)
	fmt.Fprintln(e.out, "\nlog (decisions):")
	// The output mixes the runtime's plain text with the function's JSON
	// log: lines that are not JSON objects are skipped.
	for _, text := range strings.Split(sb.Output(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(text), &line) != nil {
			continue
		}
		if line["message"] == "decision" || line["message"] == "status" || line["level"] == "warn" || line["level"] == "error" {
			b, _ := json.Marshal(line)
			fmt.Fprintln(e.out, string(b))
		}
	}
	var orders []emulator.Order
	if sb.ECS != nil {
		orders = sb.ECS.Orders()
	} else if orders, err = ledger(ctx, endpoint); err != nil {
		fmt.Fprintf(e.out, "\nno order ledger: %s does not serve /_emulator/orders (%v)\n", endpoint, err)
		return nil
	}
	fmt.Fprintf(e.out, "\n%d orders in the emulator's ledger\n", len(orders))
	for _, o := range orders {
		fmt.Fprintf(e.out, "  %s  %s  %-17s %3d → %3d Mbit/s  token %s\n", o.OrderId, o.InstanceId, o.Kind, o.From, o.To, o.ClientToken)
	}
	return nil
}

// ledger reads an emulator's order ledger at endpoint.
func ledger(ctx context.Context, endpoint string) ([]emulator.Order, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/_emulator/orders", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var orders []emulator.Order
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&orders); err != nil {
		return nil, err
	}
	return orders, nil
}
