package simulate

// This file is the only glue between the simulator and the real engine and
// emulator: the same engine the function runs, on the replay's clock.

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

// Controller is the engine under replay, with its emulated account, as the
// replay sees it. Calls come from one goroutine at a time.
type Controller interface {
	// SetDemand sets what the instance would send from now on, uncapped.
	SetDemand(id string, mbps float64)
	// Handle runs one delivery (an alarm callback or the minute timer) at
	// the clock's time and returns the engine's outcome per instance.
	Handle(ctx context.Context, d *alarm.Delivery) ([]Outcome, error)
	// Caps fills out (resized to len(ids)) with the outbound cap in force
	// now of each instance, Mbit/s: the instance's, or its EIP's bandwidth.
	Caps(ids []string, out []int) []int
	// Orders counts the changes ECS made, per instance.
	Orders() map[string]int
	Close()
}

// Outcome is what the engine did for one instance in one delivery.
type Outcome struct {
	InstanceID string
	Action     string
	From, To   int
	Reason     string
}

// ControllerConfig describes one emulated account.
type ControllerConfig struct {
	Policy    *policy.Policy
	Clock     func() time.Time // the replay's clock, for the engine and ECS alike
	Region    string
	Instances []InstanceSetup
	// FreshReadings: every decision reads the cap and the rate afresh (the
	// function as deployed); false: the engine acts on alarms only. Today's
	// engine reads no metrics, so both behave alike until it is wired.
	FreshReadings bool
}

// InstanceSetup is one emulated instance at the start of the replay. With
// an EIP billing it is a VPC instance without a public bandwidth of its own,
// its pay-as-you-go EIP (AllocationID) holding Cap.
type InstanceSetup struct {
	ID      string
	Billing Billing
	Cap     int
	Expires time.Time // PrePaid only
}

// AllocationID is the allocation ID of the EIP bound to the emulated
// instance id under an EIP billing: what an acs_vpc_eip alarm names.
func AllocationID(id string) string { return "eip-" + id }

// simCreds are the emulated account's keys; nothing real.
var simCreds = ecsapi.Credentials{AccessKeyID: "STS.simulate", AccessKeySecret: "simulate-secret", SecurityToken: "simulate-token"}

// simRetry keeps the engine's retries real but short.
var simRetry = ecsapi.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

type engineController struct {
	emu     *emulator.Server
	srv     *httptest.Server
	eng     *scaler.Engine
	clock   func() time.Time
	region  string
	clients scaler.Clients
	demand  map[string]float64 // the last demand set, per instance
	horizon time.Duration      // the history the engine can still ask for
}

// historyMargin is kept beyond the longest window the engine reads
// (downCooldown, or cooldown before a decrease): the emulator's history
// older than that is forgotten, so a sample costs the same on day 30 as on
// day 1.
const historyMargin = 2 * time.Hour

// NewController starts an emulator on loopback and an engine that talks to
// it through the real SDK.
func NewController(cfg ControllerConfig) (Controller, error) {
	emu := emulator.New(emulator.Config{
		Credentials:       []emulator.Credential{{AccessKeyID: simCreds.AccessKeyID, AccessKeySecret: simCreds.AccessKeySecret, SecurityToken: simCreds.SecurityToken}},
		Clock:             cfg.Clock,
		MaxLoggedRequests: 1024, // the log is not read; keep memory flat over long replays
	})
	for i, in := range cfg.Instances {
		instance, internet := in.Billing.ChargeTypes()
		ip := fmt.Sprintf("47.%d.%d.%d", 96+i>>16&0x3f, i>>8&0xff, i&0xff)
		e := emulator.Instance{
			InstanceId: in.ID, RegionId: cfg.Region, ZoneId: cfg.Region + "-b", Status: "Running",
			InstanceChargeType: instance, InternetChargeType: internet, InstanceNetworkType: "vpc",
			InternetMaxBandwidthOut: in.Cap, InternetMaxBandwidthIn: 100,
			PublicIpAddress: []string{ip},
		}
		if in.Billing.EIP() {
			// The instance's public traffic is its EIP's: it has no
			// bandwidth or static public IP of its own.
			e.InternetMaxBandwidthOut, e.PublicIpAddress = 0, nil
			e.EipAddress = &emulator.EIP{IpAddress: ip, AllocationId: AllocationID(in.ID), Bandwidth: in.Cap,
				InternetChargeType: internet, ChargeType: "PostPaid"}
		}
		if instance == "PrePaid" {
			e.ExpiredTime = in.Expires.UTC().Format("2006-01-02T15:04Z")
		}
		emu.AddInstance(e)
	}
	c := &engineController{emu: emu, eng: &scaler.Engine{Policy: cfg.Policy, Clock: cfg.Clock}, clock: cfg.Clock,
		region: cfg.Region, demand: make(map[string]float64, len(cfg.Instances)),
		horizon: max(cfg.Policy.DownCooldown, cfg.Policy.Cooldown) + historyMargin}
	// The emulator's gateway checks the SDK's wall-clock signatures; the
	// world (caps, demand, datapoints) runs on the replay's clock.
	c.srv = httptest.NewServer(emu)
	client, err := ecsapi.New(ecsapi.Config{Region: cfg.Region, Endpoint: c.srv.URL, Credentials: simCreds, Retry: simRetry})
	if err != nil {
		c.srv.Close()
		return nil, fmt.Errorf("simulate: %w", err)
	}
	// As the handler's connect: the VPC client serves EIP-bound instances.
	vpc, err := vpcapi.New(vpcapi.Config{Region: cfg.Region, Endpoint: c.srv.URL, Credentials: simCreds, Retry: simRetry})
	if err != nil {
		c.srv.Close()
		return nil, fmt.Errorf("simulate: %w", err)
	}
	c.clients = scaler.Clients{ECS: client, VPC: vpc}
	if cfg.FreshReadings {
		cms, err := cmsapi.New(cmsapi.Config{Region: cfg.Region, Endpoint: c.srv.URL, Credentials: simCreds, Retry: simRetry})
		if err != nil {
			c.srv.Close()
			return nil, fmt.Errorf("simulate: %w", err)
		}
		c.clients.Metrics = cms
	}
	return c, nil
}

func (c *engineController) SetDemand(id string, mbps float64) {
	// A demand holds until the next step: setting it again adds nothing
	// but a step to the history every sample scans.
	if last, ok := c.demand[id]; ok && last == mbps {
		return
	}
	c.demand[id] = mbps
	// The replay only sets demands it parsed, for instances it added.
	_ = c.emu.SetDemand(id, mbps)
}

func (c *engineController) Handle(ctx context.Context, d *alarm.Delivery) ([]Outcome, error) {
	if d.Kind == alarm.KindReconcile {
		c.emu.ForgetBefore(c.clock().Add(-c.horizon)) // once a minute, before the timer
	}
	connect := func(string) (scaler.Clients, error) { return c.clients, nil }
	results, err := c.eng.Run(ctx, d, connect, c.region)
	out := make([]Outcome, 0, len(results))
	for _, r := range results {
		out = append(out, Outcome{InstanceID: r.InstanceID, Action: string(r.Action), From: r.From, To: r.To, Reason: r.Reason})
	}
	if errors.Is(err, scaler.ErrTransient) {
		err = nil // the next minute's timer retries, as FC's would
	}
	return out, err
}

func (c *engineController) Caps(ids []string, out []int) []int { return c.emu.Caps(ids, out) }

func (c *engineController) Orders() map[string]int {
	n := map[string]int{}
	for _, o := range c.emu.Orders() {
		if o.From != o.To {
			n[o.InstanceId]++
		}
	}
	return n
}

func (c *engineController) Close() { c.srv.Close() }
