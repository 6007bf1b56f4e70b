package ecsapi

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNewEndpoint(t *testing.T) {
	tests := []struct {
		endpoint string
		wantErr  bool
	}{
		{"", false},
		{"https://ecs-vpc.cn-hangzhou.aliyuncs.com", false},
		{"https://ecs.example.com:8443/", false},
		{"http://127.0.0.1:8080", false},
		{"http://127.9.9.9:1", false},
		{"HTTP://localhost:9000", false},
		{"http://[::1]:9000", false},
		{"http://10.0.0.1:8080", true},
		{"http://ecs.cn-hangzhou.aliyuncs.com", true},
		{"http://localhost.evil.com", true},
		{"ftp://127.0.0.1", true},
		{"127.0.0.1:8080", true},
		{"https://ecs.example.com/path", true},
		{"https://user:pw@ecs.example.com", true},
		{"https://ecs.example.com?x=1", true},
		{"https://", true},
		{"https://%zz", true},
	}
	for _, tt := range tests {
		_, err := New(Config{Region: testRegion, Endpoint: tt.endpoint, Credentials: testCreds})
		if tt.wantErr {
			if err == nil {
				t.Errorf("New(endpoint %q) succeeded, want an error", tt.endpoint)
			} else if !strings.Contains(err.Error(), tt.endpoint) {
				t.Errorf("New(endpoint %q) error %q does not name the endpoint", tt.endpoint, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(endpoint %q): %v", tt.endpoint, err)
		}
	}
}

func TestNewRequiresRegionAndCredentials(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no region", Config{Credentials: testCreds}},
		{"bad region", Config{Region: "cn/hangzhou", Credentials: testCreds}},
		{"no key", Config{Region: testRegion, Credentials: Credentials{AccessKeySecret: "s"}}},
		{"no secret", Config{Region: testRegion, Credentials: Credentials{AccessKeyID: "k"}}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("%s: New succeeded, want an error", tt.name)
		}
	}
	if _, err := New(Config{Region: testRegion, Credentials: Credentials{AccessKeyID: "k", AccessKeySecret: "s"}}); err != nil {
		t.Errorf("New with a plain AccessKey: %v", err)
	}
}

func TestModifyRequest(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name               string
		r                  ModifyRequest
		wantStart, wantEnd string
		wantErr            bool
	}{
		{"permanent", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: "t"}, "", "", false},
		{"to zero", ModifyRequest{InstanceID: "i-1", BandwidthOut: 0, ClientToken: "t"}, "", "", false},
		{"temporary, rounded inward", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: "t",
			StartTime: at("2026-05-10T00:00:30Z"), EndTime: at("2026-05-10T06:59:00+00:00")}, "2026-05-10T00:01Z", "2026-05-10T06Z", false},
		{"temporary in another zone", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: "t",
			StartTime: at("2026-05-10T08:00:00+08:00"), EndTime: at("2026-05-10T14:00:00+08:00")}, "2026-05-10T00:00Z", "2026-05-10T06Z", false},
		{"end only", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: "t", EndTime: at("2026-05-10T06:30:00Z")}, "", "2026-05-10T06Z", false},
		{"start only", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: "t", StartTime: at("2026-05-10T06:30:00Z")}, "", "", true},
		{"window vanishes at hour precision", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: "t",
			StartTime: at("2026-05-10T06:10:00Z"), EndTime: at("2026-05-10T06:50:00Z")}, "", "", true},
		{"no instance", ModifyRequest{BandwidthOut: 10, ClientToken: "t"}, "", "", true},
		{"negative bandwidth", ModifyRequest{InstanceID: "i-1", BandwidthOut: -1, ClientToken: "t"}, "", "", true},
		{"no token", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10}, "", "", true},
		{"long token", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: strings.Repeat("t", 65)}, "", "", true},
		{"non-ASCII token", ModifyRequest{InstanceID: "i-1", BandwidthOut: 10, ClientToken: "tök"}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := modifyRequest(tt.r)
			if tt.wantErr {
				if e := asError(t, err); e.Class != Permanent {
					t.Errorf("class %v, want Permanent", e.Class)
				}
				return
			}
			if err != nil {
				t.Fatalf("modifyRequest: %v", err)
			}
			if req.StartTime != tt.wantStart || req.EndTime != tt.wantEnd {
				t.Errorf("StartTime %q EndTime %q, want %q %q", req.StartTime, req.EndTime, tt.wantStart, tt.wantEnd)
			}
			if got, want := string(req.InternetMaxBandwidthOut), strconv.Itoa(tt.r.BandwidthOut); got != want {
				t.Errorf("InternetMaxBandwidthOut %q, want %q", got, want)
			}
		})
	}
}

func TestParseExpiredTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2030-01-02T03:04Z", time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)},
		{"2030-01-02T03:04:05Z", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2030-01-02T11:04:05+08:00", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"", time.Time{}},
		{"soon", time.Time{}},
	}
	for _, tt := range tests {
		if got := parseExpiredTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("parseExpiredTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
