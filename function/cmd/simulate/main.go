// Command simulate replays a traffic trace through the real scaling engine
// against the ECS emulator and writes timeline.csv, summary.json and
// report.html; "simulate explain" prints what a policy does at each cap and
// usage. A tool for what-if questions, never deployed.
//
//	go run ./function/cmd/simulate -trace FILE -policy FILE -out DIR [-billing B] [-start-cap N] [-prices FILE] [-alarms FILE]
//	go run ./function/cmd/simulate explain -policy FILE [-alarms FILE] [-start-cap N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/simulate"
)

func main() {
	// A replay allocates a little garbage per API call, millions of calls
	// over a month: a larger heap target spends about a tenth less time in
	// the collector (BenchmarkReplay30Days100Instances, one day: 16.3 s with
	// GOGC=100, 14.5 s with 400). GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // asked for: the usage is the answer
		}
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	explain := len(args) > 0 && args[0] == "explain"
	if explain {
		args = args[1:]
	}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tracePath := fs.String("trace", "", "trace: CSV time,instanceId,demandMbps or a DescribeMetricList JSON export")
	policyPath := fs.String("policy", "", "policy file (YAML or JSON)")
	out := fs.String("out", "", "output directory")
	billing := fs.String("billing", string(simulate.PostPaidPayByBandwidth), "PostPaid-PayByBandwidth | PostPaid-PayByTraffic | PrePaid-PayByBandwidth | PrePaid-PayByTraffic | EIP-PayByBandwidth | EIP-PayByTraffic (a pay-as-you-go EIP bound to each VPC instance)")
	startCap := fs.Int("start-cap", 0, "starting cap, Mbit/s (default: the policy's min)")
	pricesPath := fs.String("prices", "", "prices file (default: the built-in function/simulate/prices.json)")
	alarmsPath := fs.String("alarms", "", "alarm rules, a JSON array (default: the README's recommended rules)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *policyPath == "" {
		return errors.New("-policy is required")
	}
	p, err := loadPolicy(*policyPath)
	if err != nil {
		return err
	}
	for _, w := range p.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	b, err := simulate.ParseBilling(*billing)
	if err != nil {
		return err
	}
	rules := simulate.DefaultRulesFor(p, b)
	if *alarmsPath != "" {
		if rules, err = parseFile(*alarmsPath, simulate.ParseRules); err != nil {
			return err
		}
	}
	if explain {
		start := *startCap
		if start == 0 {
			start = p.Min
		}
		return simulate.Explain(p, rules, p.Min, p.Max, start).Write(stdout)
	}
	if *tracePath == "" || *out == "" {
		return errors.New("-trace and -out are required (or: simulate explain -policy FILE)")
	}
	prices := simulate.DefaultPrices()
	if *pricesPath != "" {
		if prices, err = parseFile(*pricesPath, simulate.ParsePrices); err != nil {
			return err
		}
	}
	trace, err := parseFile(*tracePath, simulate.ParseTrace)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := simulate.ReplayToDir(ctx, trace, simulate.Config{Policy: p, Rules: rules, Billing: b, Prices: prices, StartCap: *startCap}, *out)
	if err != nil {
		return err
	}
	if err := simulate.WriteTable(stdout, res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nwrote %s/timeline.csv, summary.json, report.html, plot.svg\n", res.Best, *out)
	for _, n := range res.Notes {
		fmt.Fprintln(stdout, "note:", n)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	return nil
}

func loadPolicy(path string) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// parseFile opens path for parse and names the file in its error.
func parseFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
