package scaler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/decide"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/state"
)

// barrierECS holds every WriteTags until n callers have reached it: two
// FC processes that both finished their reads before either wrote.
type barrierECS struct {
	scaler.ECS
	b *barrier
}

type barrier struct {
	mu   sync.Mutex
	n    int
	done chan struct{}
}

func (b *barrier) wait() {
	b.mu.Lock()
	b.n--
	if b.n == 0 {
		close(b.done)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
	}
}

func (c barrierECS) WriteTags(ctx context.Context, id string, tags map[string]string) (string, error) {
	c.b.wait()
	return c.ECS.WriteTags(ctx, id, tags)
}

// Two processes increase two instances of a region at once, each after
// reading the region and before either recorded its change: each saw room
// for its own increase alone. maxTotalMbps still holds.
func TestRegionTotalRace(t *testing.T) {
	e := newEnv(t, envOptions{policy: "maxTotalMbps: 30\n"}, instance("i-a", 10, 30), instance("i-b", 10, 30))
	e.clock.Advance(3 * time.Minute)
	b := &barrier{n: 2, done: make(chan struct{})}
	connect := func(r string) (scaler.Clients, error) {
		c, err := e.connect(r)
		c.ECS = barrierECS{c.ECS, b}
		return c, err
	}
	var wg sync.WaitGroup
	res := make([][]scaler.Result, 2)
	for i, id := range []string{"i-a", "i-b"} {
		d := e.alarm(id, 100)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res[i], _ = e.engine().Run(ctx, d, connect, region)
		}()
	}
	wg.Wait()
	if total := e.bandwidth("i-a") + e.bandwidth("i-b"); total > 30 {
		t.Errorf("brake maxTotalMbps 30 broken: region total %d (i-a %d, i-b %d)", total, e.bandwidth("i-a"), e.bandwidth("i-b"))
	}
	// Both may have withdrawn, each seeing the other: the timer then makes
	// the one increase the brake allows.
	e.clock.Advance(3 * time.Minute)
	e.ticks(1)
	if total := e.bandwidth("i-a") + e.bandwidth("i-b"); total != 30 {
		t.Errorf("region total %d after the timer, want the 30 the brake allows", total)
	}
	e.expect(1)
}

// A change that repeats an earlier one from the same record (the tag
// deleted to repair it, or restored by a lost update) gets a token of its
// own: ECS must not answer it with the old order and change nothing.
func TestTokenNotReusedAfterTheTagIsDeleted(t *testing.T) {
	e := newEnv(t, envOptions{}, instance("i-a", 10, 30))
	e.clock.Advance(3 * time.Minute)
	r1 := e.scaled(e.alarm("i-a", 100))
	e.expect(1)
	t.Logf("first: %+v", r1)
	// Later the cap is back at 10 (by hand, or a decrease) and the tag is
	// gone (deleted to repair it, as a skipped result advises).
	e.clock.Advance(6 * time.Minute)
	in, _ := e.emu.Instance("i-a")
	in.InternetMaxBandwidthOut = 10
	delete(in.Tags, state.TagKey)
	e.emu.AddInstance(in)
	e.clock.Advance(time.Minute)
	r2, _ := e.runOne(e.engine(), e.alarm("i-a", 100), false)
	e.expect(1)
	t.Logf("second: %+v", r2)
	for range 4 {
		for _, r := range e.tick(e.engine()) {
			t.Logf("tick: %s %s %d→%d %s order %s", r.InstanceID, r.Action, r.From, r.To, r.Reason, r.OrderID)
		}
	}
	if bw := e.bandwidth("i-a"); bw != 20 {
		t.Errorf("intended increase lost: cap %d, record %+v; scaled with order %s (the first was %s)", bw, e.record("i-a"), r2.OrderID, r1.OrderID)
	}
}

// With autoPay off, an unpaid order counts toward maxTotalMbps for as long
// as it holds the instance: paying it applies the change.
func TestUnpaidOrderCountsInRegionTotal(t *testing.T) {
	e := newEnv(t, envOptions{policy: "maxTotalMbps: 30\nautoPay: false\n"}, instance("i-a", 10, 30), instance("i-b", 10, 30))
	e.clock.Advance(3 * time.Minute)
	ra := e.scaled(e.alarm("i-a", 100))
	e.expect(1)
	e.clock.Advance(3 * time.Minute)
	rb, _ := e.runOne(e.engine(), e.alarm("i-b", 100), false)
	t.Logf("i-b: %s %s", rb.Action, rb.Reason)
	if rb.Action == decide.Scaled {
		if err := e.emu.PayOrder(ra.OrderID); err != nil {
			t.Fatal(err)
		}
		if err := e.emu.PayOrder(rb.OrderID); err != nil {
			t.Fatal(err)
		}
		t.Errorf("brake maxTotalMbps 30: both orders placed; once paid the region has %d Mbit/s (i-a %d, i-b %d)",
			e.bandwidth("i-a")+e.bandwidth("i-b"), e.bandwidth("i-a"), e.bandwidth("i-b"))
	}
}
