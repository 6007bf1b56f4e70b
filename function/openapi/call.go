package openapi

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// Call sends req with send, retrying errors whose class is retried
// (Transient, InProgress, Locked) with exponential backoff and full jitter.
// The same req object is sent on every attempt, so its ClientToken stays the
// same; the SDK re-signs it with a fresh nonce each time. No attempt starts,
// and no backoff sleeps, past the ctx deadline minus the margin. It returns
// the number of attempts made; a failure is always an *Error.
func (c *Client[C]) Call(ctx context.Context, op, resource string, req requests.AcsRequest, send func(C) error) (int, error) {
	var last *Error
	for attempt := 1; ; attempt++ {
		budget, ok := c.timeLeft(ctx, 0)
		if !ok {
			return attempt - 1, c.outOfTime(ctx, op, resource, attempt-1, last)
		}
		err := c.attempt(ctx, op, resource, req, budget, send)
		if err == nil {
			return attempt, nil
		}
		err.Attempts = attempt
		last = err
		if !err.Class.retried() || attempt >= c.retry.MaxAttempts {
			return attempt, err
		}
		delay := c.backoff(attempt)
		if _, ok := c.timeLeft(ctx, delay); !ok {
			return attempt, err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return attempt, err
		case <-timer.C:
		}
	}
}

// attempt makes one call with its own SDK client, bounded by budget.
func (c *Client[C]) attempt(ctx context.Context, op, resource string, req requests.AcsRequest, budget time.Duration, send func(C) error) (e *Error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	// The SDK applies timeouts per request (a client-level one would stick
	// to the shared http.Client); the read timeout covers the whole exchange.
	req.SetReadTimeout(budget)
	req.SetConnectTimeout(min(budget, connectTimeout))
	if c.domain != "" {
		req.SetDomain(c.domain)
	}
	client, err := c.sdkClient(ctx)
	if err != nil {
		return c.toError(op, resource, err)
	}
	// The SDK type-asserts fields of error bodies and panics on, say, a
	// numeric Code: a malformed answer must not take the function down.
	defer func() {
		if p := recover(); p != nil {
			e = c.Errorf(op, resource, Transient, "malformed %s response: %v", c.svc.Name, p)
		}
	}()
	if err := send(client); err != nil {
		return c.toError(op, resource, err)
	}
	return nil
}

// timeLeft is the time an attempt may take after waiting wait, and whether
// that is enough to start one.
func (c *Client[C]) timeLeft(ctx context.Context, wait time.Duration) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	budget := c.attemptTimeout
	if deadline, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(deadline)-c.margin-wait)
	}
	return budget, budget >= minAttemptTime
}

// backoff is the full-jitter delay after the given attempt: uniform in
// [0, min(MaxDelay, BaseDelay*2^(attempt-1))].
func (c *Client[C]) backoff(attempt int) time.Duration {
	ceiling := c.retry.BaseDelay
	for i := 1; i < attempt && ceiling < c.retry.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.retry.MaxDelay)
	return rand.N(ceiling + 1)
}

// outOfTime is the error when no attempt can start any more: the last
// attempt's error if there was one, else the context's reason.
func (c *Client[C]) outOfTime(ctx context.Context, op, resource string, attempts int, last *Error) error {
	if last != nil {
		return last
	}
	cause := context.Cause(ctx)
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	e := c.Errorf(op, resource, Transient, "no time left before the deadline to call %s (%v)", c.svc.Name, cause)
	e.Attempts, e.Err = attempts, cause
	return e
}
