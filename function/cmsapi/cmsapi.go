// Package cmsapi is the function's CloudMonitor reads: the outbound rate of
// ECS instances (namespace acs_ecs_dashboard, API version 2019-01-01) through
// alibaba-cloud-sdk-go/services/cms, with the retries and classified errors
// of package openapi.
package cmsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cms"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

// The namespace and metrics of an instance's outbound public rate, in bit/s.
const (
	Namespace     = "acs_ecs_dashboard"
	MetricVPC     = "VPC_PublicIP_InternetOutRate"
	MetricClassic = "InternetOutRate"
)

// The namespace and metrics of an EIP's outbound rate (bit/s) and usage
// (%), dimension instanceId = the EIP's allocation ID (CloudMonitor's
// acs_vpc_eip metric list, https://help.aliyun.com/document_detail/162874.html).
// Assumption: MetricEIPPercent's name is as public code reads it.
const (
	NamespaceEIP     = "acs_vpc_eip"
	MetricEIPRate    = "net_tx.rate"
	MetricEIPPercent = "net_out.rate_percentage"
)

const (
	actionLast = "DescribeMetricLast"
	actionList = "DescribeMetricList"
)

// Actions are the CloudMonitor API actions this client calls; the RAM
// actions they need are in RAMActions.
var Actions = []string{actionLast, actionList}

// RAMActions are the RAM actions the function's role needs for Actions.
var RAMActions = []string{"cms:QueryMetricLast", "cms:QueryMetricList"}

const (
	// maxDimensions is the most instances one call may name.
	maxDimensions = 50
	// maxLength is the most datapoints one page holds.
	maxLength = 1440
	// maxPages bounds one query (144,000 datapoints per batch) so a server
	// that keeps returning NextToken cannot hold the function.
	maxPages = 100
	// parallel bounds the calls of one Last or List in flight at once.
	parallel = 4
	// maxDatapointsBytes bounds the Datapoints string read from one page
	// (1440 datapoints take about 300 kB).
	maxDatapointsBytes = 4 << 20
)

type (
	// Config configures a Client. Only Region and Credentials are required.
	// Endpoint (CMS_ENDPOINT) is https://host or http://loopback:port; empty
	// means the SDK's regional endpoint (metrics.<region>.aliyuncs.com).
	Config = openapi.Config
	// Credentials are the STS credentials of one invocation.
	Credentials = openapi.Credentials
	// RetryPolicy bounds the retries of transient errors.
	RetryPolicy = openapi.RetryPolicy
	// Error is a failed CloudMonitor call, after any retries.
	Error = openapi.Error
)

// Point is one datapoint of one instance's outbound rate.
type Point struct {
	InstanceID string
	Start      time.Time     // start of its period (the datapoint's timestamp)
	Period     time.Duration // the answer's Period, never assumed
	Average    float64       // bit/s
	Maximum    float64       // bit/s (Average when the answer has no Maximum)
}

// service is CloudMonitor to the shared call layer.
var service = openapi.Register(&openapi.Service{
	Name:    "CloudMonitor",
	Package: "cmsapi",
	Actions: Actions,
	Codes: openapi.CommonCodes("CloudMonitor", "cms", "CMS_ENDPOINT", "the rate is unknown until a later read", map[string]openapi.CodeInfo{
		"AccessForbidden":  {Class: openapi.Permanent, Hint: "grant the function's role cms:" + openapi.ActionPlaceholder},
		"ParameterInvalid": {Class: openapi.Permanent, Hint: "CloudMonitor refused a parameter; see the message (a bug in the caller)"},
		"ResourceNotFound": {Class: openapi.Permanent, Hint: "CloudMonitor knows no such metric; check the metric name and the region"},
		"InternalError":    {Class: openapi.Transient, Hint: "CloudMonitor failed internally; the rate is unknown until a later read"},
	}),
	// The RAM actions are named after the older Query* APIs.
	HintAction: func(op string) string { return strings.Replace(op, "Describe", "Query", 1) },
})

// Client reads CloudMonitor for one invocation. It is safe for concurrent use.
type Client struct {
	api *openapi.Client[*cms.Client]
}

// New checks cfg and builds a Client. It does no network I/O.
func New(cfg Config) (*Client, error) {
	api, err := openapi.New(service, cms.NewClientWithOptions, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{api: api}, nil
}

// Last returns the newest datapoint of metric per instance, sorted by
// instance. ids == nil means every instance of the region (no Dimensions,
// paged with NextToken); otherwise the IDs go in batches of 50 per call, the
// calls of one Last in parallel (at most 4 at once).
func (c *Client) Last(ctx context.Context, metric string, ids []string) ([]Point, error) {
	return c.LastIn(ctx, Namespace, metric, ids)
}

// LastIn is Last in another namespace (NamespaceEIP: ids are allocation IDs,
// and so are the points' InstanceID).
func (c *Client) LastIn(ctx context.Context, namespace, metric string, ids []string) ([]Point, error) {
	points, err := c.query(ctx, query{op: actionLast, namespace: namespace, metric: metric}, ids)
	if err != nil {
		return nil, err
	}
	// Keep the newest per instance: an answer may hold several.
	out := points[:0]
	for i, p := range points {
		if i+1 == len(points) || points[i+1].InstanceID != p.InstanceID {
			out = append(out, p)
		}
	}
	return out, nil
}

// List returns the datapoints of metric in (start, end] for ids (nil: every
// instance, as for Last), sorted by instance and oldest first per instance.
func (c *Client) List(ctx context.Context, metric string, ids []string, start, end time.Time) ([]Point, error) {
	return c.ListIn(ctx, Namespace, metric, ids, start, end)
}

// ListIn is List in another namespace, as LastIn.
func (c *Client) ListIn(ctx context.Context, namespace, metric string, ids []string, start, end time.Time) ([]Point, error) {
	if !end.After(start) {
		return nil, service.Invalid(actionList, metric, fmt.Sprintf("end %s is not after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339)))
	}
	return c.query(ctx, query{op: actionList, namespace: namespace, metric: metric, start: start, end: end}, ids)
}

// query is one read: the action, the metric and, for List, the interval.
type query struct {
	op         string
	namespace  string // "" is Namespace
	metric     string
	start, end time.Time
}

// query runs q for ids in batches, in parallel, and returns the points
// sorted by instance and start, without duplicates.
func (c *Client) query(ctx context.Context, q query, ids []string) ([]Point, error) {
	if q.metric == "" {
		return nil, service.Invalid(q.op, "", "metric is required")
	}
	var batches [][]string
	if ids == nil {
		batches = [][]string{nil}
	} else {
		ids = openapi.Unique(ids)
		for start := 0; start < len(ids); start += maxDimensions {
			batches = append(batches, ids[start:min(start+maxDimensions, len(ids))])
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		all      []Point
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, parallel)
	)
	for _, batch := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			if ctx.Err() != nil {
				return // another batch failed: its error is the answer
			}
			points, err := c.batch(ctx, q, batch)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			all = append(all, points...)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	slices.SortFunc(all, func(a, b Point) int {
		if n := strings.Compare(a.InstanceID, b.InstanceID); n != 0 {
			return n
		}
		return a.Start.Compare(b.Start)
	})
	return slices.CompactFunc(all, func(a, b Point) bool {
		return a.InstanceID == b.InstanceID && a.Start.Equal(b.Start)
	}), nil
}

// page is what DescribeMetricLast and DescribeMetricList answer alike.
type page struct {
	NextToken, RequestID, Code, Message, Period, Datapoints string
	Success                                                 bool
}

// batch reads every page of q for ids (nil: no Dimensions).
func (c *Client) batch(ctx context.Context, q query, ids []string) ([]Point, error) {
	resource := q.metric
	dimensions := ""
	if ids != nil {
		dims := make([]map[string]string, len(ids))
		for i, id := range ids {
			dims[i] = map[string]string{"instanceId": id}
		}
		encoded, _ := json.Marshal(dims) // maps of strings always encode
		dimensions = string(encoded)
		resource = fmt.Sprintf("%s of %s", q.metric, ids[0])
		if len(ids) > 1 {
			resource += fmt.Sprintf(" (+%d more)", len(ids)-1)
		}
	}
	var out []Point
	err := openapi.Pages(q.op, resource, maxPages, func(token string) (string, string, error) {
		p, err := c.send(ctx, q, dimensions, token, resource)
		if err != nil {
			return "", "", err
		}
		if !p.Success {
			// CloudMonitor may answer an error in a 200 body.
			code := p.Code
			if code == "" {
				code = "Success.False"
			}
			return "", "", c.api.AnswerError(q.op, resource, code, 200, p.RequestID, p.Message)
		}
		points, err := c.parse(q.op, resource, p)
		if err != nil {
			return "", "", err
		}
		out = append(out, points...)
		return p.NextToken, p.RequestID, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// send makes one call of q for one page.
func (c *Client) send(ctx context.Context, q query, dimensions, token, resource string) (page, error) {
	// fill sets the fields the two requests share.
	fill := func(namespace, metric, dims, start, end, length, next *string) {
		ns := q.namespace
		if ns == "" {
			ns = Namespace
		}
		*namespace, *metric, *dims, *length, *next = ns, q.metric, dimensions, strconv.Itoa(maxLength), token
		if !q.start.IsZero() {
			*start, *end = strconv.FormatInt(q.start.UnixMilli(), 10), strconv.FormatInt(q.end.UnixMilli(), 10)
		}
	}
	var p page
	var err error
	if q.op == actionLast {
		req := cms.CreateDescribeMetricLastRequest()
		fill(&req.Namespace, &req.MetricName, &req.Dimensions, &req.StartTime, &req.EndTime, &req.Length, &req.NextToken)
		_, err = c.api.Call(ctx, q.op, resource, req, func(client *cms.Client) error {
			resp, err := client.DescribeMetricLast(req)
			if err == nil {
				p = page{resp.NextToken, resp.RequestId, resp.Code, resp.Message, resp.Period, resp.Datapoints, resp.Success}
			}
			return err
		})
	} else {
		req := cms.CreateDescribeMetricListRequest()
		fill(&req.Namespace, &req.MetricName, &req.Dimensions, &req.StartTime, &req.EndTime, &req.Length, &req.NextToken)
		_, err = c.api.Call(ctx, q.op, resource, req, func(client *cms.Client) error {
			resp, err := client.DescribeMetricList(req)
			if err == nil {
				p = page{resp.NextToken, resp.RequestId, resp.Code, resp.Message, resp.Period, resp.Datapoints, resp.Success}
			}
			return err
		})
	}
	return p, err
}

// datapoint is one element of Datapoints; pointers tell absent from zero.
type datapoint struct {
	Timestamp  *float64 `json:"timestamp"` // ms
	InstanceID string   `json:"instanceId"`
	Average    *float64 `json:"Average"`
	Maximum    *float64 `json:"Maximum"`
}

// parse reads the Datapoints string of one page. A datapoint without an
// instance, a timestamp or an Average says nothing and is skipped.
func (c *Client) parse(op, resource string, p page) ([]Point, error) {
	if p.Datapoints == "" || p.Datapoints == "[]" {
		return nil, nil
	}
	if len(p.Datapoints) > maxDatapointsBytes {
		return nil, c.api.Errorf(op, resource, openapi.Transient, "Datapoints of %d bytes, more than %d (RequestId %s)", len(p.Datapoints), maxDatapointsBytes, p.RequestID)
	}
	var raw []datapoint
	if err := json.Unmarshal([]byte(p.Datapoints), &raw); err != nil {
		return nil, c.api.Errorf(op, resource, openapi.Transient, "Datapoints is not a JSON array of datapoints (RequestId %s): %v", p.RequestID, err)
	}
	seconds, err := strconv.Atoi(p.Period)
	if err != nil || seconds <= 0 {
		return nil, c.api.Errorf(op, resource, openapi.Transient, "Period %q is not a number of seconds (RequestId %s)", p.Period, p.RequestID)
	}
	out := make([]Point, 0, len(raw))
	for _, d := range raw {
		if d.InstanceID == "" || d.Timestamp == nil || d.Average == nil {
			continue
		}
		maximum := *d.Average
		if d.Maximum != nil {
			maximum = *d.Maximum
		}
		out = append(out, Point{
			InstanceID: d.InstanceID,
			Start:      time.UnixMilli(int64(*d.Timestamp)).UTC(),
			Period:     time.Duration(seconds) * time.Second,
			Average:    *d.Average,
			Maximum:    maximum,
		})
	}
	return out, nil
}
