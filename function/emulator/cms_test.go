package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cms"
)

// cmsClient is an SDK CloudMonitor client for the env's server.
func (e *env) cmsClient() *cms.Client {
	e.t.Helper()
	c, err := cms.NewClientWithOptions("cn-hangzhou", sdk.NewConfig().WithScheme("HTTP"),
		credentials.NewStaticSTSCredentialsProvider(testCred.AccessKeyID, testCred.AccessKeySecret, testCred.SecurityToken))
	if err != nil {
		e.t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(e.http.URL, "http://")
	c.SetNoProxy(".*")
	return c
}

func (e *env) metricLast(metric, dimensions string) (*cms.DescribeMetricLastResponse, error) {
	req := cms.CreateDescribeMetricLastRequest()
	req.Namespace, req.MetricName, req.Dimensions = cmsNamespace, metric, dimensions
	return e.cmsClient().DescribeMetricLast(req)
}

func cmsCode(t *testing.T, err error) string {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a server error", err)
	}
	return se.ErrorCode()
}

func TestCMSSuccessShape(t *testing.T) {
	e := newEnv(t, Config{})
	e.clock.Advance(3 * time.Minute)
	resp, err := e.metricLast(metricVPC+percentSuffix, `[{"instanceId":"i-postpaid-traffic"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != "200" || !resp.Success || resp.Period != "60" || resp.NextToken != "" {
		t.Errorf("answer %+v", resp)
	}
	// The schedule's last step (3 Mbit/s, in the past) under a cap of 5:
	// 60 %, and percent metrics carry Average only.
	want := `"instanceId":"i-postpaid-traffic","Average":60}]`
	if !strings.Contains(resp.Datapoints, want) || strings.Contains(resp.Datapoints, "Maximum") {
		t.Errorf("Datapoints %s, want one ending %s", resp.Datapoints, want)
	}
}

func TestCMSRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	var many []string
	for i := range 51 {
		many = append(many, fmt.Sprintf(`{"instanceId":"i-%d"}`, i))
	}
	for _, tt := range []struct{ name, metric, dims, code string }{
		{"malformed dimensions", metricVPC, `[{"instanceId":`, "ParameterInvalid"},
		{"51 instances", metricVPC, "[" + strings.Join(many, ",") + "]", "ParameterInvalid"},
		{"unknown metric", "cpu_total", "", "ResourceNotFound"},
	} {
		_, err := e.metricLast(tt.metric, tt.dims)
		if got := cmsCode(t, err); got != tt.code {
			t.Errorf("%s: code %s, want %s", tt.name, got, tt.code)
		}
	}
	common := requests.NewCommonRequest()
	common.Product, common.Version, common.ApiName, common.Scheme = "Cms", cmsVersion, "DescribeAlertHistory", "HTTP"
	common.Domain = strings.TrimPrefix(e.http.URL, "http://")
	if _, err := e.cmsClient().ProcessCommonRequest(common); cmsCode(t, err) != "InvalidAction.NotFound" {
		t.Errorf("unknown CMS action: %v", err)
	}
	e.srv.Inject(Fault{Action: "DescribeMetricList", Code: "Throttling.User"})
	list := cms.CreateDescribeMetricListRequest()
	list.Namespace, list.MetricName = cmsNamespace, metricVPC
	if _, err := e.cmsClient().DescribeMetricList(list); cmsCode(t, err) != "Throttling.User" {
		t.Errorf("injected fault: %v", err)
	}
	if r := e.srv.Requests(); r[len(r)-1].Action != "DescribeMetricList" || r[len(r)-1].Code != "Throttling.User" {
		t.Errorf("request log ends with %+v", r[len(r)-1])
	}
}

func TestDemandEndpoint(t *testing.T) {
	e := newEnv(t, Config{})
	post := func(body string) int {
		resp, err := http.Post(e.http.URL+"/_emulator/demand", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(`{"instanceId":"i-postpaid-traffic","mbps":2.5}`); got != http.StatusOK {
		t.Fatalf("POST demand: %d", got)
	}
	if in, _ := e.srv.Instance("i-postpaid-traffic"); in.Demand != 2.5 {
		t.Errorf("demand %v, want 2.5", in.Demand)
	}
	for _, body := range []string{`{"instanceId":"i-none","mbps":1}`, `{"instanceId":"i-postpaid-traffic","mbps":-1}`, `{"x":1}`, `nope`} {
		if got := post(body); got != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", body, got)
		}
	}
	resp, err := http.Post(e.http.URL+"/_emulator/orders", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /_emulator/orders: %d, want 405", resp.StatusCode)
	}
}
