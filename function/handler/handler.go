// Package handler is the Function Compute entry: it checks who is calling,
// decodes the payload, runs the scaler with this invocation's credentials,
// logs one event per decision and shapes the answer for the trigger.
package handler

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/rs/zerolog"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/scaler"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

const (
	// httpBudget keeps HTTP deliveries well within CloudMonitor's 5-second
	// callback timeout; what does not finish is answered 503 and redelivered.
	httpBudget = 4 * time.Second
	// deadlineMargin is kept free before FC's deadline so the invocation can
	// still answer with a clear failure instead of being killed.
	deadlineMargin = 1500 * time.Millisecond
)

// Config is everything the handler needs, read once at start.
type Config struct {
	Policy   *policy.Policy
	Endpoint string // ECS_ENDPOINT; "" = the regional endpoint
	// CMSEndpoint (CMS_ENDPOINT) is the CloudMonitor API's URL; "" = the
	// regional endpoint. Checked at start; not used yet.
	CMSEndpoint string
	// VPCEndpoint (VPC_ENDPOINT) is the VPC API's URL, for EIP-bound
	// instances; "" = the regional endpoint.
	VPCEndpoint string
	DryRun      bool
	HTTPToken   string // "" refuses every HTTP delivery
	// Region and Credentials are used when the invocation context has none
	// (a local run); on FC the context's STS credentials always win.
	Region      string
	Credentials ecsapi.Credentials
	Retry       ecsapi.RetryPolicy
	Log         zerolog.Logger
	Clock       func() time.Time
}

// Handler handles invocations (fc.Start(h.Invoke)). It is safe for
// concurrent invocations.
type Handler struct {
	cfg    Config
	engine *scaler.Engine
}

// New returns a handler for cfg.
func New(cfg Config) *Handler {
	return &Handler{cfg: cfg, engine: &scaler.Engine{Policy: cfg.Policy, Clock: cfg.Clock, DryRun: cfg.DryRun}}
}

// Response is the function's answer outside HTTP.
type Response struct {
	Results []scaler.Result `json:"results"`
	Error   string          `json:"error,omitempty"`
}

// StatusResponse is the answer to {"action":"status"}: one row per selected
// instance, what the next timer run would do included. Nothing is changed.
type StatusResponse struct {
	Status []scaler.Status `json:"status"`
	Error  string          `json:"error,omitempty"`
}

// Invoke handles one invocation payload. The answer is json.RawMessage
// because fc.Start JSON-encodes what a handler returns.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (json.RawMessage, error) {
	fcc, _ := fccontext.FromContext(ctx)
	requestID, region, creds := h.invocation(fcc)
	log := h.cfg.Log.With().Str("fcRequestId", requestID).Logger()

	d, err := alarm.Decode(payload, alarm.Options{DefaultRegion: region})
	if d != nil && d.HTTP != nil {
		return h.http(ctx, log, d, err, region, creds)
	}
	if len(payload) > alarm.MaxPayload && looksLikeHTTPEvent(payload) {
		// Too large to decode, so the token cannot be checked either: an
		// HTTP caller still gets an HTTP answer, and nothing else happens.
		log.Warn().Str("action", "refused").Int("status", http.StatusRequestEntityTooLarge).Int("bytes", len(payload)).Msg("HTTP delivery too large")
		return httpResponse(http.StatusRequestEntityTooLarge, map[string]string{"error": err.Error()})
	}
	if err != nil {
		log.Warn().Str("action", "failed").Err(err).Msg("payload refused")
		return json.Marshal(Response{Results: []scaler.Result{{Action: "failed", Reason: err.Error()}}})
	}
	ctx, cancel := withMargin(ctx, 0)
	defer cancel()
	if d.Kind == alarm.KindStatus {
		return json.Marshal(h.status(ctx, log, region, creds))
	}
	results, err := h.run(ctx, log, d, region, creds)
	if err != nil {
		// FC and EventBridge redeliver on an error; the ClientToken makes
		// the redelivery safe.
		return nil, err
	}
	return json.Marshal(Response{Results: results})
}

// http answers an HTTP trigger delivery: 401 without the right token (and
// no ECS call), 400 for an undecodable body, 503 for a transient failure
// (CloudMonitor retries), 200 with the results otherwise.
func (h *Handler) http(ctx context.Context, log zerolog.Logger, d *alarm.Delivery, decodeErr error, region string, creds ecsapi.Credentials) (json.RawMessage, error) {
	log = log.With().Str("sourceIp", d.HTTP.SourceIP).Logger()
	if !h.tokenOK(d.HTTP.Query["token"]) {
		log.Warn().Str("action", "refused").Int("status", http.StatusUnauthorized).Msg("HTTP delivery without the right token")
		return httpResponse(http.StatusUnauthorized, map[string]string{"error": "missing or wrong token: add ?token=<HTTP_TOKEN> to the callback URL"})
	}
	if decodeErr != nil {
		log.Warn().Str("action", "failed").Int("status", http.StatusBadRequest).Err(decodeErr).Msg("payload refused")
		return httpResponse(http.StatusBadRequest, map[string]string{"error": decodeErr.Error()})
	}
	ctx, cancel := withMargin(ctx, httpBudget)
	defer cancel()
	if d.Kind == alarm.KindStatus {
		return httpResponse(http.StatusOK, h.status(ctx, log, region, creds))
	}
	results, err := h.run(ctx, log, d, region, creds)
	if err != nil {
		return httpResponse(http.StatusServiceUnavailable, Response{Results: results, Error: err.Error()})
	}
	return httpResponse(http.StatusOK, Response{Results: results})
}

// status answers {"action":"status"}: the timer's loop run dry.
func (h *Handler) status(ctx context.Context, log zerolog.Logger, region string, creds ecsapi.Credentials) StatusResponse {
	rows, err := h.engine.Status(ctx, h.connect(creds), region)
	if rows == nil {
		rows = []scaler.Status{}
	}
	out := StatusResponse{Status: rows}
	if err != nil {
		out.Error = err.Error()
		log.Warn().Str("kind", string(alarm.KindStatus)).Err(err).Msg("status incomplete")
	}
	log.Info().Str("kind", string(alarm.KindStatus)).Int("instances", len(rows)).Msg("status")
	return out
}

// connect gives each region its clients with this invocation's credentials.
func (h *Handler) connect(creds ecsapi.Credentials) scaler.Connect {
	return func(r string) (scaler.Clients, error) {
		ecs, err := ecsapi.New(ecsapi.Config{Region: r, Endpoint: h.cfg.Endpoint, Credentials: creds, Retry: h.cfg.Retry})
		if err != nil {
			return scaler.Clients{}, err
		}
		cms, err := cmsapi.New(cmsapi.Config{Region: r, Endpoint: h.cfg.CMSEndpoint, Credentials: creds, Retry: h.cfg.Retry})
		if err != nil {
			return scaler.Clients{}, err
		}
		vpc, err := vpcapi.New(vpcapi.Config{Region: r, Endpoint: h.cfg.VPCEndpoint, Credentials: creds, Retry: h.cfg.Retry})
		if err != nil {
			return scaler.Clients{}, err
		}
		return scaler.Clients{ECS: ecs, Metrics: cms, VPC: vpc}, nil
	}
}

func (h *Handler) run(ctx context.Context, log zerolog.Logger, d *alarm.Delivery, region string, creds ecsapi.Credentials) ([]scaler.Result, error) {
	results, err := h.engine.Run(ctx, d, h.connect(creds), region)
	for _, r := range results {
		logResult(log, d, r)
	}
	if err == nil && len(results) == 0 {
		log.Info().Str("kind", string(d.Kind)).Str("action", "unchanged").Msg("nothing to do")
	}
	if err != nil && !errors.Is(err, scaler.ErrTransient) {
		log.Error().Err(err).Msg("delivery failed")
	}
	return results, err
}

// logResult writes the one event per decision.
func logResult(log zerolog.Logger, d *alarm.Delivery, r scaler.Result) {
	ev := log.Info()
	if r.Action == "failed" {
		ev = log.Warn()
	}
	ev = ev.Str("kind", string(d.Kind)).Str("source", d.Source).
		Str("instanceId", r.InstanceID).Str("regionId", r.Region).
		Str("action", string(r.Action)).Int("from", r.From).Int("to", r.To).Str("reason", r.Reason)
	for k, v := range map[string]string{"orderId": r.OrderID, "requestId": r.RequestID, "retryAfter": r.RetryAfter, "errorCode": r.ErrorCode, "deliveryKey": r.Key} {
		if v != "" {
			ev = ev.Str(k, v)
		}
	}
	if len(r.Warnings) > 0 {
		ev = ev.Strs("warnings", r.Warnings)
	}
	ev.Msg("decision")
}

func (h *Handler) tokenOK(got string) bool {
	want := h.cfg.HTTPToken
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// invocation picks this invocation's identity: FC's context when present,
// the local configuration otherwise.
func (h *Handler) invocation(fcc *fccontext.FcContext) (requestID, region string, creds ecsapi.Credentials) {
	region, creds = h.cfg.Region, h.cfg.Credentials
	if fcc == nil {
		return "", region, creds
	}
	requestID = fcc.RequestID
	if fcc.Region != "" {
		region = fcc.Region
	}
	if c := fcc.Credentials; c.AccessKeyId != "" {
		creds = ecsapi.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
	}
	return requestID, region, creds
}

// withMargin ends ctx early enough to answer before FC's deadline, and
// within budget when budget > 0.
func withMargin(ctx context.Context, budget time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if ok {
		deadline = deadline.Add(-deadlineMargin)
	}
	if budget > 0 {
		if b := time.Now().Add(budget); !ok || b.Before(deadline) {
			deadline, ok = b, true
		}
	}
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

// looksLikeHTTPEvent tells an FC HTTP trigger event from other payloads
// without decoding it: only those carry a requestContext and rawPath.
func looksLikeHTTPEvent(payload []byte) bool {
	return bytes.Contains(payload, []byte(`"requestContext"`)) && bytes.Contains(payload, []byte(`"rawPath"`))
}

func httpResponse(status int, body any) (json.RawMessage, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("handler: encoding the response: %w", err)
	}
	return json.Marshal(events.HTTPTriggerResponse{
		StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b),
	})
}
