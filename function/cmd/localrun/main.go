// Command localrun is `make run`: it runs the built function under a local
// FC runtime API against the ECS and CloudMonitor emulator, and plays a story
// on shortened cooldowns: a spike alarm and its redelivery, then the minute
// timer (here every few seconds) climbing by level under a saturating demand,
// the stepwise descent after the demand ends, and a manual set. It prints
// each decision as it happens. No account and no network are needed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/sandbox"
)

const (
	demoInstance = "i-postpaid-traffic" // the instance events/ names, one of the emulator's samples
	demoToken    = "change-me"
	demoLock     = 2 * time.Second
	// tickEvery stands for the minute timer: a little over the cooldown.
	tickEvery = 3500 * time.Millisecond
)

// step is one moment of the story: a delivery, a timer run or a change of
// the demand the emulator serves.
type step struct {
	file   string  // an events/ file to deliver; "" with ticks or demand
	ticks  int     // timer runs, tickEvery apart
	demand float64 // set the instance's demand (Mbit/s) first; <0: leave it
	what   string
}

var story = []step{
	{file: "spike.json", demand: -1, what: "CloudMonitor callback: 96% of 5 Mbit/s"},
	{file: "spike-redelivery.json", demand: -1, what: "the same alarm, redelivered"},
	{ticks: 4, demand: -1, what: "timer: demand 35 Mbit/s still saturates the cap"},
	{ticks: 7, demand: 1, what: "timer: the demand fell to 1 Mbit/s"},
	{file: "manual-dry-run.json", demand: -1, what: "manual dry run"},
	{file: "manual.json", demand: -1, what: "manual set"},
	{ticks: 1, demand: -1, what: "timer: the manual change holds"},
}

func main() {
	binary := flag.String("binary", "function/target/main", "the built function")
	dir := flag.String("events", "events", "the folder of sample events")
	logPath := flag.String("log", filepath.Join(os.TempDir(), "localrun.log"), "where to write the function's log")
	flag.Parse()
	if err := run(*binary, *dir, *logPath); err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
}

func run(binary, dir, logPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{
		Binary: binary, Lock: demoLock, HTTPToken: demoToken,
		// The bundled policy on seconds instead of minutes, one row per
		// increase so every step of the climb shows; CloudMonitor's
		// datapoints are a second long and published a second late.
		Policy: map[string]any{"cooldown": "3s", "downCooldown": "6s", "warmup": "1s", "maxStepUp": 1},
		Period: time.Second, PublishDelay: time.Second,
		Env: []string{"LOG_LEVEL=info"},
		Instances: []emulator.Instance{{
			InstanceId: demoInstance, RegionId: "cn-hangzhou", Status: "Running", InstanceName: "web-01",
			InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc",
			InternetMaxBandwidthOut: 5, InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.96.1.2"},
			Tags: map[string]string{"bandwidth-autoscaler": "enabled"}, Demand: 35,
		}},
	})
	if err != nil {
		return err
	}
	defer sb.Close()

	fmt.Printf("emulator (ECS + CloudMonitor) at %s; instance %s: PostPaid PayByTraffic, 5 Mbit/s, demand 35 Mbit/s\n", sb.Endpoint, demoInstance)
	fmt.Printf("policy: the bundled table; cooldown 3s, downCooldown 6s, warmup 1s, maxStepUp 1; datapoints of 1s; timer every %s\n\n", tickEvery)
	fmt.Printf("%-3s %-22s %-10s %-9s %-5s %s\n", "#", "DELIVERY", "ACTION", "FROM→TO", "ORDER", "WHY")
	timer, err := os.ReadFile(filepath.Join(dir, "reconcile.json"))
	if err != nil {
		return err
	}
	var retimer sandbox.Retimer
	n := 0
	deliver := func(name string, payload []byte) error {
		res, err := sb.Invoke(ctx, retimer.Retime(payload))
		if err != nil {
			return fmt.Errorf("delivering %s: %w", name, err)
		}
		n++
		if len(res.Results) == 0 {
			fmt.Printf("%-3d %-22s %-10s %-9s %-5s %s\n", n, name, "-", "-", "-", orEmpty(res.ErrorText))
		}
		for _, r := range res.Results {
			order := "-"
			if r["orderId"] != nil {
				order = "yes"
			}
			fmt.Printf("%-3d %-22s %-10v %-9s %-5s %v\n", n, name, r["action"], fmt.Sprintf("%v→%v", r["from"], r["to"]), order, r["reason"])
		}
		return nil
	}
	for _, s := range story {
		fmt.Printf("    -- %s\n", s.what)
		if s.demand >= 0 {
			if err := sb.ECS.SetDemand(demoInstance, s.demand); err != nil {
				return err
			}
		}
		if s.file != "" {
			payload, err := os.ReadFile(filepath.Join(dir, s.file))
			if err != nil {
				return err
			}
			if err := deliver(s.file, payload); err != nil {
				return err
			}
		}
		for range s.ticks {
			time.Sleep(tickEvery)
			if err := deliver("timer", timer); err != nil {
				return err
			}
		}
	}
	in, _ := sb.ECS.Instance(demoInstance)
	orders := sb.ECS.Orders()
	fmt.Printf("\n%d orders in the emulator's ledger:\n", len(orders))
	for _, o := range orders {
		fmt.Printf("  %s  %-17s %3d → %3d Mbit/s  token %s\n", o.OrderId, o.Kind, o.From, o.To, o.ClientToken)
	}
	fmt.Printf("instance %s now at %d Mbit/s\n", demoInstance, in.InternetMaxBandwidthOut)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(logPath, []byte(sb.Output()), 0o644); err == nil {
		fmt.Printf("the function's JSON log (one event per decision): %s\n", logPath)
	}
	if strings.Contains(sb.Output(), sb.Credentials.AccessKeySecret) || strings.Contains(sb.Output(), sb.Credentials.SecurityToken) {
		return fmt.Errorf("the function's output contains the STS secret or token")
	}
	return nil
}

func orEmpty(v any) any {
	if v == nil {
		return "-"
	}
	return v
}
