package ecsapi

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

// Every code of the ModifyInstanceNetworkSpec reference and the gateway's
// common codes, with the class a caller must see.
func TestClassify(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   Class
	}{
		{"InvalidInstanceId.NotFound", 404, Permanent},
		{"InvalidInternetMaxBandwidthIn.ValueNotSupported", 400, Permanent},
		{"InvalidInternetMaxBandwidthOut.ValueNotSupported", 400, Permanent},
		{"IncorrectInstanceStatus", 403, StatusConflict},
		{"InstanceLockedForSecurity", 403, Permanent},
		{"InstanceExpiredOrInArrears", 403, Permanent},
		{"InternalError", 500, Transient},
		{"ChargeTypeViolation", 403, Permanent},
		{"OperationDenied", 403, StatusConflict},
		{"OperationDenied", 400, StatusConflict},
		{"InvalidParameter.Bandwidth", 400, Permanent},
		{"InvalidParameter.Conflict", 400, Permanent},
		{"InvalidStartTime.ValueNotSupported", 400, Permanent},
		{"Account.Arrearage", 400, Permanent},
		{"InvalidInternetChargeType.ValueNotSupported", 400, Permanent},
		{"DecreasedBandwidthNotAllowed", 400, Permanent},
		{"BandwidthUpgradeDenied.EipBoundInstance", 400, Permanent},
		{"InvalidClientToken.ValueNotSupported", 400, Permanent},
		{"InvalidAccountStatus.NotEnoughBalance", 403, Permanent},
		{"InvalidInstance.UnPaidOrder", 403, Permanent},
		{"InvalidInstance.UnPaidOrder", 400, Permanent},
		{"Throttling", 400, Locked},
		{"InvalidAction", 400, Permanent},
		{"IpAllocationError", 400, Transient},
		{"InvalidParam.AllocatePublicIp", 400, Permanent},
		{"InstanceDowngrade.QuotaExceed", 400, Permanent},
		{"InvalidBandwidth.ValueNotSupported", 400, Permanent},
		{"InvalidInstance.InstanceNotSupported", 403, Permanent},
		{"InvalidInstanceStatus", 400, StatusConflict},
		{"InvalidInstanceStatus", 403, StatusConflict},
		{"LastOrderProcessing", 400, InProgress},
		{"NAT_PUBLIC_IP_BINDING_FAILED", 403, Transient},
		{"InvalidInstance.EipNotSupport", 403, Permanent},
		{"InvalidNetworkType.ValueNotSupported", 403, Permanent},
		{"IdempotentParameterMismatch", 400, Permanent},
		// Idempotence and tags.
		{"LastTokenProcessing", 400, InProgress},
		{"LastRequestProcessing", 400, InProgress},
		{"Idempotence.Processing", 400, InProgress},
		{"InvalidTagCount", 400, Permanent},
		// Gateway.
		{"IncompleteSignature", 400, Permanent},
		{"SignatureDoesNotMatch", 400, Permanent},
		{"InvalidAccessKeyId.NotFound", 404, Permanent},
		{"InvalidAccessKeyId.Inactive", 400, Permanent},
		{"InvalidTimeStamp.Format", 400, Permanent},
		{"InvalidTimeStamp.Expired", 400, Permanent},
		{"SignatureNonceUsed", 400, Transient},
		{"InvalidSignatureMethod", 400, Permanent},
		{"UnsupportedHTTPMethod", 403, Permanent},
		{"InvalidApi.NotFound", 404, Permanent},
		{"InvalidAction.NotFound", 404, Permanent},
		{"MissingParameter", 400, Permanent},
		{"MissingInstanceId", 400, Permanent},
		{"InvalidSecurityToken.Expired", 400, Permanent},
		{"InvalidSecurityToken.Malformed", 400, Permanent},
		{"InvalidSecurityToken.MismatchWithAccessKey", 400, Permanent},
		{"MissingSecurityToken", 400, Permanent},
		{"Forbidden.RAM", 403, Permanent},
		{"Throttling.User", 400, Transient},
		{"Throttling.Api", 400, Transient},
		{"ServiceUnavailable", 503, Transient},
		// No code: transport failures and bare gateway pages.
		{"", 0, Transient},
		{"", 502, Transient},
		{"", 404, Permanent},
		{"SDK.JsonUnmarshalError", 0, Transient},
		{"SDK.InvalidParam", 0, Permanent},
	}
	for _, tt := range tests {
		if got := Classify(tt.code, tt.status); got != tt.want {
			t.Errorf("Classify(%q, %d) = %v, want %v", tt.code, tt.status, got, tt.want)
		}
	}
}

func TestClassString(t *testing.T) {
	for class, want := range map[Class]string{Permanent: "permanent", Transient: "transient", Locked: "locked", InProgress: "in-progress", StatusConflict: "status-conflict", 7: "Class(7)"} {
		if got := class.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", int(class), got, want)
		}
	}
}

func TestHint(t *testing.T) {
	tests := []struct{ code, want string }{
		{"InvalidAccountStatus.NotEnoughBalance", "top up the account"},
		{"InvalidInstance.UnPaidOrder", "pay or cancel the unpaid order in the console"},
		{"Forbidden.RAM", "grant the function's role ecs:<Action>"},
		{"No.Such.Code", ""},
	}
	for _, tt := range tests {
		if got := Hint(tt.code); got != tt.want {
			t.Errorf("Hint(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
	e := &Error{Op: "TagResources", Code: "Forbidden.RAM"}
	if got, want := e.Hint(), "grant the function's role ecs:TagResources"; got != want {
		t.Errorf("(*Error).Hint() = %q, want %q", got, want)
	}
	// Every code needs advice a user can act on.
	for code, info := range codes {
		if info.Hint == "" {
			t.Errorf("code %s has no hint", code)
		}
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Op: "ModifyInstanceNetworkSpec", Resource: "i-1", Code: "Throttling", HTTPStatus: 400, RequestID: "R1", Message: "try later"},
			"ModifyInstanceNetworkSpec i-1: Throttling (HTTP 400, RequestId R1): try later"},
		{Error{Op: "DescribeInstances", Code: "SDK.JsonUnmarshalError", Message: "bad body"},
			"DescribeInstances: SDK.JsonUnmarshalError: bad body"},
		{Error{Op: "DescribeInstances", HTTPStatus: 502, Message: "<html>"},
			"DescribeInstances: HTTP 502: <html>"},
		{Error{Op: "TagResources", Resource: "i-2", Message: "Post 127.0.0.1:1: connection refused"},
			"TagResources i-2: Post 127.0.0.1:1: connection refused"},
		{Error{Op: "TagResources"}, "TagResources: request failed"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// cannedServer answers every call with status and body, counting calls.
func cannedServer(t *testing.T, status int, body string) (*Client, *atomic.Int32) {
	t.Helper()
	url, calls, stop := emulator.Canned(status, body)
	t.Cleanup(stop)
	client, err := New(Config{Region: testRegion, Endpoint: url, Credentials: testCreds, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	return client, calls
}

// Answers the SDK cannot make sense of must become classified errors, never
// panics.
func TestMalformedResponses(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantCode  string
		wantClass Class
		wantCalls int32
	}{
		{"numeric code", 400, `{"Code":123,"RequestId":456,"Message":["x"]}`, "", Transient, 4},
		{"html gateway page", 502, "<html>" + strings.Repeat("bad gateway ", 100) + "</html>", "", Transient, 4},
		{"non-JSON success", 200, "not json", "SDK.JsonUnmarshalError", Transient, 4},
		{"error without code", 403, `{"Message":"denied"}`, "", Permanent, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, calls := cannedServer(t, tt.status, tt.body)
			_, err := client.ModifyBandwidth(context.Background(), ModifyRequest{InstanceID: "i-1", BandwidthOut: 5, ClientToken: "t"})
			e := asError(t, err)
			if e.Code != tt.wantCode || e.Class != tt.wantClass {
				t.Errorf("got %v (code %q, class %v), want code %q class %v", e, e.Code, e.Class, tt.wantCode, tt.wantClass)
			}
			if len(e.Message) > openapi.MaxMessageLen+3 {
				t.Errorf("message of %d bytes, want at most %d", len(e.Message), openapi.MaxMessageLen+3)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
		})
	}
}

// The request URL carries the signature and SecurityToken; a transport
// error quotes it unless it is cut.
func TestTransportErrorHidesCredentials(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + listener.Addr().String()
	listener.Close() // nothing listens there any more
	client, err := New(Config{Region: testRegion, Endpoint: endpoint, Credentials: testCreds, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.DescribeInstances(context.Background(), []string{"i-1"})
	e := asError(t, err)
	if e.Class != Transient || e.Attempts != fastRetry.MaxAttempts || e.Err == nil {
		t.Errorf("got %v (class %v, %d attempts, cause %v); want Transient after %d attempts with a cause", e, e.Class, e.Attempts, e.Err, fastRetry.MaxAttempts)
	}
	assertNoSecrets(t, e.Error(), testCreds)
	assertNoSecrets(t, e.Err.Error(), testCreds)
}

func TestThrottlingOutsideModifyIsTransient(t *testing.T) {
	client, calls := cannedServer(t, 400, `{"Code":"Throttling","RequestId":"r","Message":"slow down"}`)
	_, err := client.DescribeInstances(context.Background(), []string{"i-1"})
	if e := asError(t, err); e.Class != Transient || e.Code != "Throttling" {
		t.Errorf("got %v (class %v), want Transient Throttling", e, e.Class)
	}
	if got := calls.Load(); got != int32(fastRetry.MaxAttempts) {
		t.Errorf("%d calls, want %d", got, fastRetry.MaxAttempts)
	}
}

// A server that keeps handing out the same NextToken must not loop forever.
func TestDescribeRepeatedNextToken(t *testing.T) {
	client, calls := cannedServer(t, 200, `{"RequestId":"r","NextToken":"same","Instances":{"Instance":[{"InstanceId":"i-1"}]}}`)
	_, err := client.DescribeTagged(context.Background(), "k", "v")
	if e := asError(t, err); !strings.Contains(e.Message, "same") {
		t.Errorf("got %v, want an error about the repeated NextToken", e)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
}
