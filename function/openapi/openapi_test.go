package openapi

import (
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

var testCreds = Credentials{
	AccessKeyID:     "STS.testAccessKeyId",
	AccessKeySecret: "testAccessKeySecret",
	SecurityToken:   "CAIS+test/Security=Token",
}

var testService = &Service{Name: "Test", Package: "testapi", Codes: CommonCodes("Test", "test", "TEST_ENDPOINT", "try again", nil)}

func newTestClient(t *testing.T, cfg Config) (*Client[*ecs.Client], error) {
	t.Helper()
	if cfg.Region == "" {
		cfg.Region = "cn-hangzhou"
	}
	if cfg.Credentials == (Credentials{}) {
		cfg.Credentials = testCreds
	}
	return New(testService, ecs.NewClientWithOptions, cfg)
}

func TestNewEndpoint(t *testing.T) {
	tests := []struct {
		endpoint   string
		wantDomain string
		wantScheme string
		wantErr    bool
	}{
		{"", "", "HTTPS", false},
		{"https://ecs-vpc.cn-hangzhou.aliyuncs.com", "ecs-vpc.cn-hangzhou.aliyuncs.com", "HTTPS", false},
		{"https://ecs.example.com:8443/", "ecs.example.com:8443", "HTTPS", false},
		{"http://127.0.0.1:8080", "127.0.0.1:8080", "HTTP", false},
		{"http://127.9.9.9:1", "127.9.9.9:1", "HTTP", false},
		{"HTTP://localhost:9000", "localhost:9000", "HTTP", false},
		{"http://[::1]:9000", "[::1]:9000", "HTTP", false},
		{"http://10.0.0.1:8080", "", "", true},
		{"http://localhost.evil.com", "", "", true},
		{"ftp://127.0.0.1", "", "", true},
		{"127.0.0.1:8080", "", "", true},
		{"https://ecs.example.com/path", "", "", true},
		{"https://user:pw@ecs.example.com", "", "", true},
		{"https://ecs.example.com?x=1", "", "", true},
		{"https://", "", "", true},
		{"https://%zz", "", "", true},
	}
	for _, tt := range tests {
		c, err := newTestClient(t, Config{Endpoint: tt.endpoint})
		if tt.wantErr {
			if err == nil {
				t.Errorf("New(endpoint %q) succeeded, want an error", tt.endpoint)
			} else if !strings.HasPrefix(err.Error(), "testapi: ") || !strings.Contains(err.Error(), tt.endpoint) {
				t.Errorf("New(endpoint %q) error %q does not name the package and the endpoint", tt.endpoint, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(endpoint %q): %v", tt.endpoint, err)
			continue
		}
		if c.domain != tt.wantDomain || c.scheme != tt.wantScheme {
			t.Errorf("New(endpoint %q): domain %q scheme %q, want %q %q", tt.endpoint, c.domain, c.scheme, tt.wantDomain, tt.wantScheme)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := newTestClient(t, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := RetryPolicy{MaxAttempts: defaultMaxAttempts, BaseDelay: defaultBaseDelay, MaxDelay: defaultMaxDelay}
	if c.retry != want || c.attemptTimeout != defaultAttemptTimeout || c.margin != defaultDeadlineMargin {
		t.Errorf("defaults: retry %+v timeout %v margin %v", c.retry, c.attemptTimeout, c.margin)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	c := &Client[*ecs.Client]{retry: RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}}
	for attempt := 1; attempt <= 8; attempt++ {
		ceiling := min(c.retry.MaxDelay, c.retry.BaseDelay<<(attempt-1))
		var maxSeen time.Duration
		distinct := map[time.Duration]bool{}
		for range 200 {
			d := c.backoff(attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", attempt, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
			distinct[d] = true
		}
		if len(distinct) < 100 || maxSeen < ceiling/2 {
			t.Errorf("backoff(%d): %d distinct values up to %v; want jitter spread over [0, %v]", attempt, len(distinct), maxSeen, ceiling)
		}
	}
}

func TestScrub(t *testing.T) {
	client, err := newTestClient(t, Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"Specified signature is not matched. server string to sign is:POST&%2F&AccessKeyId%3DX",
			"Specified signature is not matched. server string to sign is: [removed]"},
		{"token " + testCreds.SecurityToken + " key " + testCreds.AccessKeyID, "token *** key ***"},
		{"escaped CAIS%2Btest%2FSecurity%3DToken", "escaped ***"},
		{"secret testAccessKeySecret", "secret ***"},
		{"twice CAIS%252Btest%252FSecurity%253DToken", "twice ***"},
		{strings.Repeat("x", 600), strings.Repeat("x", MaxMessageLen) + "..."},
	}
	for _, tt := range tests {
		if got := client.scrub(tt.in); got != tt.want {
			t.Errorf("scrub(%.40q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A hint's placeholder becomes what the service says it stands for, also
// for an error built outside the call layer (found by its Op).
func TestHintAction(t *testing.T) {
	svc := Register(&Service{Name: "Hinted", Actions: []string{"DescribeHinted"},
		Codes:      CommonCodes("Hinted", "hint", "HINT_ENDPOINT", "try again", nil),
		HintAction: func(op string) string { return strings.TrimPrefix(op, "Describe") + "Read" }})
	for _, e := range []*Error{{Op: "DescribeHinted", Code: "Forbidden.RAM", svc: svc}, {Op: "DescribeHinted", Code: "Forbidden.RAM"}} {
		if got, want := e.Hint(), "grant the function's role hint:HintedRead"; got != want {
			t.Errorf("Hint() = %q, want %q", got, want)
		}
	}
	if got := (&Error{Op: "NoSuchAction", Code: "Forbidden.RAM"}).Hint(); got != "" {
		t.Errorf("Hint() of an unknown action = %q, want none", got)
	}
}

func TestClassRetried(t *testing.T) {
	for class, want := range map[Class]bool{Permanent: false, Transient: true, Locked: false, InProgress: true, StatusConflict: false} {
		if got := class.retried(); got != want {
			t.Errorf("%v.retried() = %v, want %v", class, got, want)
		}
	}
}
