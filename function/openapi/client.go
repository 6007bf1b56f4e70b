package openapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
)

// Config configures a Client. Only Region and Credentials are required.
type Config struct {
	Region string
	// Endpoint is a full URL such as https://ecs.example.com or
	// http://127.0.0.1:8080. Empty means the SDK's regional https endpoint.
	// Plain http is allowed only to loopback hosts.
	Endpoint    string
	Credentials Credentials
	Retry       RetryPolicy
	// AttemptTimeout bounds one attempt; 0 means 10s. An attempt never runs
	// past the ctx deadline minus DeadlineMargin.
	AttemptTimeout time.Duration
	// DeadlineMargin is kept free before the ctx deadline so the invocation
	// can still answer; 0 means 500ms.
	DeadlineMargin time.Duration
}

const (
	defaultMaxAttempts    = 4
	defaultBaseDelay      = 200 * time.Millisecond
	defaultMaxDelay       = 2 * time.Second
	defaultAttemptTimeout = 10 * time.Second
	defaultDeadlineMargin = 500 * time.Millisecond
	// connectTimeout bounds the TCP/TLS connect within an attempt.
	connectTimeout = 5 * time.Second
	// minAttemptTime is the least time worth starting an attempt with.
	minAttemptTime = 100 * time.Millisecond
)

// NewSDKClient is a service's SDK constructor, such as
// ecs.NewClientWithOptions or cms.NewClientWithOptions.
type NewSDKClient[C any] func(regionID string, config *sdk.Config, credential auth.Credential) (C, error)

// Client calls one service for one invocation through its SDK client type C.
// It is safe for concurrent use: every attempt builds its own SDK client,
// because the SDK client keeps the last request's timeout in shared state.
type Client[C any] struct {
	svc            *Service
	newSDK         NewSDKClient[C]
	region         string
	domain         string // host[:port]; empty means the SDK's regional endpoint
	scheme         string // "HTTPS" or "HTTP"
	creds          Credentials
	provider       credentials.CredentialsProvider
	retry          RetryPolicy
	attemptTimeout time.Duration
	margin         time.Duration
}

// New checks cfg and builds a Client of svc. It does no network I/O.
func New[C any](svc *Service, newSDK NewSDKClient[C], cfg Config) (*Client[C], error) {
	prefix := svc.pkg()
	if cfg.Region == "" {
		return nil, fmt.Errorf("%s: region is required", prefix)
	}
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.AccessKeySecret == "" {
		return nil, fmt.Errorf("%s: credentials are required (AccessKeyID and AccessKeySecret)", prefix)
	}
	c := &Client[C]{
		svc:            svc,
		newSDK:         newSDK,
		region:         cfg.Region,
		scheme:         "HTTPS",
		creds:          cfg.Credentials,
		retry:          cfg.Retry,
		attemptTimeout: cfg.AttemptTimeout,
		margin:         cfg.DeadlineMargin,
	}
	if cfg.Credentials.SecurityToken == "" {
		c.provider = credentials.NewStaticAKCredentialsProvider(cfg.Credentials.AccessKeyID, cfg.Credentials.AccessKeySecret)
	} else {
		c.provider = credentials.NewStaticSTSCredentialsProvider(cfg.Credentials.AccessKeyID, cfg.Credentials.AccessKeySecret, cfg.Credentials.SecurityToken)
	}
	if cfg.Endpoint != "" {
		domain, scheme, err := ParseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prefix, err)
		}
		c.domain, c.scheme = domain, scheme
	}
	if c.retry.MaxAttempts <= 0 {
		c.retry.MaxAttempts = defaultMaxAttempts
	}
	if c.retry.BaseDelay <= 0 {
		c.retry.BaseDelay = defaultBaseDelay
	}
	if c.retry.MaxDelay <= 0 {
		c.retry.MaxDelay = defaultMaxDelay
	}
	if c.attemptTimeout <= 0 {
		c.attemptTimeout = defaultAttemptTimeout
	}
	if c.margin <= 0 {
		c.margin = defaultDeadlineMargin
	}
	// The SDK's own rule for a region (sdk.Client.InitWithOptions), checked
	// here so that a bad region fails now, not on the first call, without
	// building an SDK client (which costs tens of microseconds) per New.
	if !validRegion(cfg.Region) {
		return nil, fmt.Errorf("%s: region %q: regionId contains invalid characters", prefix, cfg.Region)
	}
	return c, nil
}

// validRegion is the SDK's ^[a-zA-Z0-9_-]+$.
func validRegion(r string) bool {
	for i := 0; i < len(r); i++ {
		b := r[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return r != ""
}

// ParseEndpoint splits an endpoint URL into the SDK's domain (host[:port])
// and scheme ("HTTPS" or "HTTP").
func ParseEndpoint(endpoint string) (domain, scheme string, err error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("endpoint %q: want scheme://host[:port] only", endpoint)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u.Host, "HTTPS", nil
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", "", fmt.Errorf("endpoint %q: plain http is allowed only to loopback hosts", endpoint)
		}
		return u.Host, "HTTP", nil
	default:
		return "", "", fmt.Errorf("endpoint %q: scheme must be https (or http to loopback)", endpoint)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// transport is shared by all clients of all services so connections are
// reused across invocations; it holds no credentials.
var transport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext
	// ProxyFromEnvironment never proxies loopback hosts, so HTTP_PROXY
	// cannot divert calls to a local endpoint.
	t.Proxy = http.ProxyFromEnvironment
	// Concurrent invocations in one process share the one regional host;
	// the default of 2 idle connections per host would redial constantly.
	t.MaxIdleConnsPerHost = 32
	return t
})

// attemptTransport ties each HTTP request to the attempt's context: the SDK
// builds requests without one. Because it is not an *http.Transport, the SDK
// leaves it alone (its own proxy, TLS and dial settings apply only to
// *http.Transport), so the shared transport is never mutated.
type attemptTransport struct {
	ctx context.Context
}

func (t attemptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(r.Context())
	// The attempt context is always cancelled when the attempt ends, which
	// releases this too.
	context.AfterFunc(t.ctx, func() { cancel(context.Cause(t.ctx)) })
	return transport().RoundTrip(r.WithContext(ctx))
}

// sdkClient builds the SDK client for one attempt.
func (c *Client[C]) sdkClient(ctx context.Context) (C, error) {
	cfg := sdk.NewConfig().WithScheme(c.scheme).WithAutoRetry(false)
	cfg.Transport = attemptTransport{ctx: ctx}
	return c.newSDK(c.region, cfg, c.provider)
}
