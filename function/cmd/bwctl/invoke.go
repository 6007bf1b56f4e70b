package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/sandbox"
)

// invoke runs the built function under the local FC runtime against an
// in-process emulator and prints its answer, its decision log and the
// emulator's order ledger.
func (e *env) invoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(e.errw)
	event := fs.String("event", "-", "the event file (- for stdin)")
	instances := fs.String("instances", "function/emulator/testdata/instances.json", "the emulator's instances")
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
	if _, err := os.Stat(*binary); err != nil {
		fmt.Fprintf(e.errw, "bwctl: %s is absent; running make build\n", *binary)
		cmd := exec.CommandContext(ctx, "make", "build")
		cmd.Stdout, cmd.Stderr = e.errw, e.errw
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("make build: %w", err)
		}
	}
	data, err := os.ReadFile(*instances)
	if err != nil {
		return err
	}
	var list []emulator.Instance
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("%s: %w", *instances, err)
	}
	token := e.getenv("HTTP_TOKEN")
	if token == "" {
		token = "change-me" // the sample events' token
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{Binary: *binary, Instances: list, HTTPToken: token, Env: []string{"LOG_LEVEL=info"}})
	if err != nil {
		return err
	}
	defer sb.Close()
	res, err := sb.Invoke(ctx, payload)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "answer:\n%s\n", res.Raw)
	fmt.Fprintln(e.out, "\nlog (decisions):")
	dec := json.NewDecoder(strings.NewReader(sb.Output()))
	for dec.More() {
		var line map[string]any
		if dec.Decode(&line) != nil {
			break
		}
		if line["message"] == "decision" || line["message"] == "status" || line["level"] == "warn" || line["level"] == "error" {
			b, _ := json.Marshal(line)
			fmt.Fprintln(e.out, string(b))
		}
	}
	orders := sb.ECS.Orders()
	fmt.Fprintf(e.out, "\n%d orders in the emulator's ledger\n", len(orders))
	for _, o := range orders {
		fmt.Fprintf(e.out, "  %s  %s  %-17s %3d → %3d Mbit/s  token %s\n", o.OrderId, o.InstanceId, o.Kind, o.From, o.To, o.ClientToken)
	}
	return nil
}
