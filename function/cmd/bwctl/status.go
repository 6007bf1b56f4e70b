package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
)

// status prints one row per selected instance: the engine's Status, the
// function's own code path run dry.
func (e *env) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.errw)
	output := fs.String("o", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *output != "table" && *output != "json" {
		return usageError{fmt.Sprintf("-o %q: use table or json", *output)}
	}
	if err := e.setup(true); err != nil {
		return err
	}
	eng := &scaler.Engine{Policy: e.policy}
	rows, err := eng.Status(ctx, e.connect, e.region)
	if err != nil && len(rows) == 0 {
		return err
	}
	if *output == "json" {
		if rows == nil {
			rows = []scaler.Status{}
		}
		enc := json.NewEncoder(e.out)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(map[string]any{"status": rows}); encErr != nil {
			return encErr
		}
	} else {
		printStatus(e.out, rows, time.Now())
	}
	return err
}

func printStatus(out interface{ Write([]byte) (int, error) }, rows []scaler.Status, now time.Time) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tREGION\tCAP\tBILLING\tRATE NOW\tLAST CHANGE\tCOOLDOWN ENDS\tDOWNGRADES\tTEMPORARY UNTIL\tMANUAL UNTIL\tNEXT\tWHY")
	for _, r := range rows {
		rate := "-"
		if r.RateMbps != nil {
			rate = fmt.Sprintf("%.2f Mbit/s", *r.RateMbps)
			if r.UsagePercent != nil {
				rate += fmt.Sprintf(" (%.0f%%)", *r.UsagePercent)
			}
		}
		last := "-"
		if r.LastChange != nil {
			last = fmt.Sprintf("%s (%d→%d)", ago(*r.LastChange, now), r.LastFrom, r.Cap)
		}
		next := string(r.Next.Action)
		if r.Next.To != r.Cap && r.Next.To != 0 {
			next += fmt.Sprintf(" →%d", r.Next.To)
		}
		why := r.Next.Reason
		if len(r.Next.Warnings) > 0 {
			why += " [" + strings.Join(r.Next.Warnings, "; ") + "]"
		}
		capText := fmt.Sprintf("%d Mbit/s", r.Cap)
		if r.EIPAllocationID != "" {
			capText += " (EIP " + r.EIPAllocationID + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n",
			r.InstanceID, r.Region, capText, r.InstanceChargeType, r.InternetChargeType, rate, last,
			until(r.CooldownUntil, now), r.Downgrades, r.DowngradeQuota, until(r.TemporaryUntil, now), until(r.ManualUntil, now), next, why)
	}
	tw.Flush()
}

func ago(t, now time.Time) string {
	return t.UTC().Format("01-02 15:04:05Z") + " (" + now.Sub(t).Round(time.Second).String() + " ago)"
}

func until(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	if !t.After(now) {
		return "ended"
	}
	return t.UTC().Format("01-02 15:04:05Z")
}
