package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBodyBytes bounds a request body; SDK requests have an empty one.
const maxBodyBytes = 1 << 20

// What the real endpoints name themselves in error bodies, and their
// product in the troubleshooting link.
const (
	hostID    = "ecs.aliyuncs.com"
	cmsHostID = "metrics.cn-hangzhou.aliyuncs.com"
)

// actionFunc runs one action with the server lock held.
type actionFunc func(s *Server, p url.Values) (any, *apiError)

var actions = map[string]actionFunc{
	"DescribeInstances":         (*Server).describeInstances,
	"DescribeInstanceAttribute": (*Server).describeInstanceAttribute,
	"ModifyInstanceNetworkSpec": (*Server).modifyInstanceNetworkSpec,
	"TagResources":              (*Server).tagResources,
	"UntagResources":            (*Server).untagResources,
	"ListTagResources":          (*Server).listTagResources,
}

// ServeHTTP answers the ECS API and, for requests of Version 2019-01-01,
// 2016-04-28 and 2015-05-01, the CloudMonitor, VPC and RAM APIs at "/"; read-only views of the state at
// /_emulator/orders, /_emulator/requests and /_emulator/instances; and
// POST /_emulator/demand {"instanceId":...,"mbps":...} to set a demand.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		s.serveView(w, r)
		return
	}
	requestID := newRequestID()
	params, perr := readParams(r)
	action := params.Get("Action")
	status, code := s.serveAPI(w, r, requestID, params, perr)
	s.logRequest(action, params, status, code, requestID)
}

// serveAPI answers one API call and returns the status and code it answered.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, requestID string, params url.Values, perr *apiError) (int, string) {
	version := params.Get("Version")
	product := "Ecs"
	switch version {
	case cmsVersion:
		product = "Cms"
	case vpcVersion:
		product = "Vpc"
	case ramVersion:
		product = "Ram"
	}
	fail := func(e *apiError) (int, string) {
		writeError(w, requestID, e, product)
		return e.Status, e.Code
	}
	if perr != nil {
		return fail(perr)
	}
	action := params.Get("Action")
	if action == "" {
		return fail(errCodef("MissingParameter", "Action is mandatory for this action."))
	}
	table := actions
	switch product {
	case "Cms":
		table = cmsActions
	case "Vpc":
		table = vpcActions
	case "Ram":
		table = ramActions
	}
	run, ok := table[action]
	if !ok {
		return fail(errCode("InvalidAction.NotFound"))
	}
	if product == "Ecs" && version != apiVersion {
		return fail(errCodef("InvalidVersion", "Specified parameter Version %q is not valid; this endpoint serves %s (ECS), %s (CloudMonitor), %s (VPC) and %s (RAM).", version, apiVersion, cmsVersion, vpcVersion, ramVersion))
	}
	if e := s.authenticate(r.Method, params); e != nil {
		return fail(e)
	}
	fault, ok := s.takeFault(action)
	if ok && fault.Latency > 0 {
		timer := time.NewTimer(fault.Latency)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			// The client is gone: nothing is applied, nobody reads an answer.
			return 0, "ClientClosedRequest"
		}
	}
	s.mu.Lock()
	var result any
	var e *apiError
	if !ok || fault.Code == "" || fault.ApplyThenFail {
		result, e = run(s, params)
	}
	s.mu.Unlock()
	if ok && fault.Code != "" {
		return fail(fault.apiError())
	}
	if e != nil {
		return fail(e)
	}
	writeJSON(w, http.StatusOK, withRequestID(result, requestID))
	return http.StatusOK, ""
}

// takeFault consumes one call of the first fault matching action.
func (s *Server) takeFault(action string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.Action != "" && f.Action != action {
			continue
		}
		taken := *f
		f.Count--
		if f.Count <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return taken, true
	}
	return Fault{}, false
}

func (f Fault) apiError() *apiError {
	e := errStatus(f.Code, f.HTTPStatus)
	if _, known := lookupCode(f.Code, 0); !known {
		e = &apiError{http.StatusBadRequest, f.Code, "Injected fault " + f.Code + "."}
	}
	if f.HTTPStatus != 0 {
		e.Status = f.HTTPStatus
	}
	if f.Message != "" {
		e.Message = f.Message
	}
	return e
}

// readParams merges the query and the form body, as the gateway does.
func readParams(r *http.Request) (url.Values, *apiError) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return url.Values{}, errCodef("MethodNotAllowed", "Method %s is not supported; use GET or POST.", r.Method)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return url.Values{}, errCodef("InvalidParameter", "The request parameters cannot be parsed: %v", err)
	}
	return r.Form, nil
}

// logRequest appends to the request log, dropping the oldest half when full
// so that appends stay amortised O(1).
func (s *Server) logRequest(action string, params url.Values, status int, code, requestID string) {
	logged := make(url.Values, len(params))
	for k, v := range params {
		if k != "Signature" && k != "SecurityToken" {
			logged[k] = append([]string(nil), v...)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= s.maxRequests {
		s.requests = append(s.requests[:0], s.requests[len(s.requests)/2:]...)
	}
	s.requests = append(s.requests, Request{Action: action, Params: logged, Status: status, Code: code, RequestId: requestID, Time: s.clock()})
}

func (s *Server) serveView(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_emulator/demand" && r.Method == http.MethodPost {
		s.serveDemand(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "read-only: use GET", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/_emulator/orders":
		writeJSON(w, http.StatusOK, s.Orders())
	case "/_emulator/requests":
		writeJSON(w, http.StatusOK, s.Requests())
	case "/_emulator/instances":
		writeJSON(w, http.StatusOK, s.Instances())
	default:
		http.NotFound(w, r)
	}
}

// writeError answers e as ECS does, or as CloudMonitor does (which also
// says Success false).
func writeError(w http.ResponseWriter, requestID string, e *apiError, product string) {
	host := hostID
	cms := product == "Cms"
	switch product {
	case "Cms":
		host = cmsHostID
	case "Vpc":
		host = vpcHostID
	case "Ram":
		host = ramHostID
	}
	body := map[string]any{
		"RequestId": requestID,
		"HostId":    host,
		"Code":      e.Code,
		"Message":   e.Message,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code) + "&product=" + product + "&requestId=" + requestID,
	}
	if cms {
		body["Success"] = false
	}
	writeJSON(w, e.Status, body)
}

// serveDemand sets one instance's demand from a JSON body.
func (s *Server) serveDemand(w http.ResponseWriter, r *http.Request) {
	var req struct {
		InstanceID string  `json:"instanceId"`
		Mbps       float64 `json:"mbps"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "want {\"instanceId\": \"i-...\", \"mbps\": 12.5}: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.SetDemand(req.InstanceID, req.Mbps); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"instanceId": req.InstanceID, "mbps": req.Mbps})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // Recommend URLs keep their "&" as ECS sends them
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		body.Reset()
		fmt.Fprintf(&body, `{"Code":"InternalError","Message":%q}`, err.Error())
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}

// withRequestID adds RequestId to a response object.
func withRequestID(result any, requestID string) any {
	m, ok := result.(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	m["RequestId"] = requestID
	return m
}

// newRequestID returns a UUID-shaped upper-case ID like ECS request IDs.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
