// Command localrun is `make run`: it runs the built function under a local
// FC runtime API against the ECS emulator, delivers the story in events/ (a
// spike, its redelivery, an alarm during the cooldown, the reconcile, a
// recovery, a manual set) and prints what happened and why. No account and no
// network are needed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/sandbox"
)

const (
	demoInstance = "i-postpaid-traffic" // the instance events/ names, one of the emulator's samples (here at 10 Mbit/s)
	demoToken    = "change-me"
	demoLock     = 2 * time.Second
)

// step is one delivery of the story.
type step struct {
	file  string
	what  string
	sleep time.Duration // wait before delivering
}

var story = []step{
	{"spike.json", "CloudMonitor callback: 96% of 10 Mbit/s", 0},
	{"spike-redelivery.json", "the same alarm, redelivered", 0},
	{"spike-again.json", "a new alarm during the cooldown: 97%", time.Second},
	{"reconcile.json", "timer reconcile, after the cooldown", 3 * time.Second},
	{"recovery.json", "recovery: OK, 8%", time.Second},
	{"reconcile.json", "timer reconcile, after downCooldown", 5 * time.Second},
	{"manual-dry-run.json", "manual dry run, after the cooldown", 3 * time.Second},
	{"manual.json", "manual set", 0},
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{
		Binary: binary, Lock: demoLock, HTTPToken: demoToken,
		// The bundled policy with cooldowns of seconds, so the story fits in
		// half a minute; the emulator's lock is shortened to match.
		Policy: map[string]any{"cooldown": "2s", "downCooldown": "4s"},
		Env:    []string{"LOG_LEVEL=info"},
		Instances: []emulator.Instance{{
			InstanceId: demoInstance, RegionId: "cn-hangzhou", Status: "Running", InstanceName: "web-01",
			InstanceChargeType: "PostPaid", InternetChargeType: "PayByTraffic", InstanceNetworkType: "vpc",
			InternetMaxBandwidthOut: 10, InternetMaxBandwidthIn: 10, PublicIpAddress: []string{"47.96.1.2"},
			Tags: map[string]string{"bandwidth-autoscaler": "enabled"},
		}},
	})
	if err != nil {
		return err
	}
	defer sb.Close()

	fmt.Printf("ECS emulator at %s; instance %s (PostPaid, PayByTraffic, 10 Mbit/s, tagged bandwidth-autoscaler=enabled)\n", sb.Endpoint, demoInstance)
	fmt.Printf("policy: the bundled table, cooldown 2s, downCooldown 4s (the emulator's ECS lock: %s)\n\n", demoLock)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tEVENT FILE\tWHAT\tANSWER\tACTION\tFROM→TO\tORDER\tWHY")
	var retimer sandbox.Retimer
	for i, s := range story {
		time.Sleep(s.sleep)
		payload, err := os.ReadFile(filepath.Join(dir, s.file))
		if err != nil {
			return err
		}
		res, err := sb.Invoke(ctx, retimer.Retime(payload))
		if err != nil {
			return fmt.Errorf("delivering %s: %w", s.file, err)
		}
		answer := "ok"
		if res.Status != 0 {
			answer = fmt.Sprintf("HTTP %d", res.Status)
		}
		if len(res.Results) == 0 {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t-\t-\t-\t%s\n", i+1, s.file, s.what, answer, orEmpty(res.ErrorText))
			continue
		}
		for _, r := range res.Results {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%v→%v\t%v\t%v\n", i+1, s.file, s.what, answer, r["action"], r["from"], r["to"], orEmpty(r["orderId"]), r["reason"])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
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
