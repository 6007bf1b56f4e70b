// Package fcruntime serves the Function Compute runtime API on loopback, so that a real fc.Start
// binary runs on a developer machine and in tests exactly as it does on Function Compute: it polls
// GET /2020-11-11/runtime/invocation/next, runs the invocation and answers on .../{id}/response
// or .../{id}/error. It is for tests and local runs only; the function never imports it.
package fcruntime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	apiPrefix = "/2020-11-11/runtime/invocation/"

	// MaxBodyBytes caps an invocation payload and a function's answer, as Function Compute caps
	// synchronous invocations; it bounds the memory one invocation can take.
	MaxBodyBytes = 32 << 20

	// DefaultTimeout applies when Invocation.Timeout is zero.
	DefaultTimeout = 60 * time.Second
	// MaxTimeout is the longest execution time Function Compute allows.
	MaxTimeout = 24 * time.Hour

	// answerGrace is how long past its deadline a function may take to deliver its answer over
	// loopback before the invocation counts as timed out.
	answerGrace = 2 * time.Second

	maxRequestIDLen = 128
)

var (
	// ErrServerClosed is returned by Invoke once the server is closed.
	ErrServerClosed = errors.New("fcruntime: server closed")
	// ErrFunctionTimeout is returned by Invoke when the function did not answer by its deadline.
	ErrFunctionTimeout = errors.New("fcruntime: function timed out")
)

// Credentials are the STS credentials of the function's role, passed with each invocation.
type Credentials struct{ AccessKeyID, AccessKeySecret, SecurityToken string }

// Invocation is one call of the function.
type Invocation struct {
	RequestID   string // "" means a generated one
	Payload     []byte
	Credentials Credentials
	Region      string
	AccountID   string
	// FunctionName, Handler and MemoryMB fill fccontext's Function; empty values are not sent.
	FunctionName string
	Handler      string
	MemoryMB     int
	// Timeout is sent as x-fc-function-timeout (whole seconds, rounded up) and as
	// x-fc-function-deadline (hand-out time + Timeout, epoch ms). Zero means DefaultTimeout.
	Timeout    time.Duration
	RetryCount int
}

// StackFrame is one frame of a panic's stack trace, as the FC Go SDK reports it.
type StackFrame struct {
	Path  string `json:"path"`
	Line  int32  `json:"line"`
	Label string `json:"label"`
}

// InvocationError is the body a function posts to .../{id}/error.
type InvocationError struct {
	Message    string       `json:"errorMessage"`
	Type       string       `json:"errorType"`
	StackTrace []StackFrame `json:"stackTrace,omitempty"`
	ShouldExit bool         `json:"shouldExit,omitempty"`
}

func (e *InvocationError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Result is how an invocation ended: exactly one of Body and Error is set.
type Result struct {
	RequestID string
	Body      []byte           // the /response body, when the function answered
	Error     *InvocationError // the /error body, when the function failed
	Duration  time.Duration    // from hand-out to the function to its answer
}

// Server is a local FC runtime API. Its zero value is not usable: call NewServer.
type Server struct {
	listener     net.Listener
	http         *http.Server
	maxBodyBytes int // caps payloads and answers

	queue     chan *invocation // unbuffered: an invocation is handed to exactly one poller
	closed    chan struct{}
	closeOnce sync.Once

	firstPoll     chan struct{}
	firstPollOnce sync.Once
	polling       atomic.Int64 // GET .../next requests currently waiting, for tests

	mu          sync.Mutex
	invocations map[string]*invocation // queued or running, by request id
}

type invocation struct {
	Invocation
	running bool          // handed out: answers are accepted; guarded by Server.mu
	done    chan response // buffered 1: the single answer
}

type response struct {
	result Result
	err    error
}

// NewServer starts a runtime API listening on 127.0.0.1 on a free port.
func NewServer() (*Server, error) { return listen(MaxBodyBytes) }

// listen is NewServer with a body cap that tests can make small.
func listen(maxBodyBytes int) (*Server, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fcruntime: listen: %w", err)
	}
	s := &Server{
		listener:     listener,
		maxBodyBytes: maxBodyBytes,
		queue:        make(chan *invocation),
		closed:       make(chan struct{}),
		firstPoll:    make(chan struct{}),
		invocations:  make(map[string]*invocation),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"next", s.next)
	mux.HandleFunc("POST "+apiPrefix+"{id}/response", s.answer(false))
	mux.HandleFunc("POST "+apiPrefix+"{id}/error", s.answer(true))
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Serve only returns once Close has run, so its error says nothing new.
	go func() { _ = s.http.Serve(listener) }()
	return s, nil
}

// Addr is the host:port to put in FC_RUNTIME_API.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Polling is how many GET .../invocation/next requests are waiting now. A
// stopped process's poll lingers until its connection is seen closed, and
// would take the next invocation with it: wait for 0 before starting anew.
func (s *Server) Polling() int { return int(s.polling.Load()) }

// FirstPoll is closed at the first GET .../invocation/next: the function process is initialised.
func (s *Server) FirstPoll() <-chan struct{} { return s.firstPoll }

// Close stops serving and fails pending Invoke calls with ErrServerClosed. Stop the processes
// first: the FC SDK retries a failed poll at once, without back-off.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.http.Close()
	})
	return err
}

// Invoke queues inv for the next process polling the API and waits for the function's answer,
// for its deadline to pass, or for ctx to end. It is safe for concurrent use; with several
// processes polling, invocations go to whichever polls first.
func (s *Server) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	if inv.RequestID == "" {
		inv.RequestID = newRequestID()
	}
	if err := s.validate(inv); err != nil {
		return Result{}, err
	}
	if inv.Timeout == 0 {
		inv.Timeout = DefaultTimeout
	}
	pending := &invocation{Invocation: inv, done: make(chan response, 1)}
	s.mu.Lock()
	if _, taken := s.invocations[inv.RequestID]; taken {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("fcruntime: invoke %q: request id already in flight", inv.RequestID)
	}
	s.invocations[inv.RequestID] = pending
	s.mu.Unlock()
	// Whatever ends the wait, a late answer for this invocation must find nothing (404). The id
	// may already be reused by a new Invoke (a redelivery), whose entry must stay.
	defer func() {
		s.mu.Lock()
		if s.invocations[inv.RequestID] == pending {
			delete(s.invocations, inv.RequestID)
		}
		s.mu.Unlock()
	}()

	select {
	case s.queue <- pending:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("fcruntime: invoke %q: no process took it: %w", inv.RequestID, context.Cause(ctx))
	case <-s.closed:
		return Result{}, fmt.Errorf("fcruntime: invoke %q: %w", inv.RequestID, ErrServerClosed)
	}
	start := time.Now()
	timeout := time.NewTimer(inv.Timeout + answerGrace)
	defer timeout.Stop()
	select {
	case r := <-pending.done:
		r.result.Duration = time.Since(start)
		return r.result, r.err
	case <-timeout.C:
		return Result{}, fmt.Errorf("fcruntime: invoke %q: no answer within %v: %w", inv.RequestID, inv.Timeout, ErrFunctionTimeout)
	case <-ctx.Done():
		return Result{}, fmt.Errorf("fcruntime: invoke %q: waiting for the answer: %w", inv.RequestID, context.Cause(ctx))
	case <-s.closed:
		return Result{}, fmt.Errorf("fcruntime: invoke %q: %w", inv.RequestID, ErrServerClosed)
	}
}

func (s *Server) validate(inv Invocation) error {
	// The SDK builds the answer URL by appending the id, so it must be a plain path segment.
	if len(inv.RequestID) > maxRequestIDLen {
		return fmt.Errorf("fcruntime: request id of %d bytes exceeds %d", len(inv.RequestID), maxRequestIDLen)
	}
	for _, c := range []byte(inv.RequestID) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("fcruntime: request id %q: only letters, digits, '-', '_' and '.' are allowed", inv.RequestID)
		}
	}
	if len(inv.Payload) > s.maxBodyBytes {
		return fmt.Errorf("fcruntime: invoke %q: payload of %d bytes exceeds %d", inv.RequestID, len(inv.Payload), s.maxBodyBytes)
	}
	if inv.Timeout < 0 || inv.Timeout > MaxTimeout {
		return fmt.Errorf("fcruntime: invoke %q: timeout %v outside [0, %v]", inv.RequestID, inv.Timeout, MaxTimeout)
	}
	if inv.RetryCount < 0 || inv.MemoryMB < 0 {
		return fmt.Errorf("fcruntime: invoke %q: negative retry count %d or memory %d", inv.RequestID, inv.RetryCount, inv.MemoryMB)
	}
	return nil
}

// newRequestID returns a random UUID-shaped id, as FC request ids are.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// next long-polls until an invocation is queued, then hands it out with its context headers.
func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.firstPollOnce.Do(func() { close(s.firstPoll) })
	s.polling.Add(1)
	var inv *invocation
	select {
	case inv = <-s.queue:
		s.polling.Add(-1)
	case <-r.Context().Done():
		s.polling.Add(-1)
		return
	case <-s.closed:
		s.polling.Add(-1)
		http.Error(w, "runtime API closed", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	inv.running = true
	s.mu.Unlock()

	deadline := time.Now().Add(inv.Timeout)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("x-fc-request-id", inv.RequestID)
	h.Set("x-fc-function-deadline", strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set("x-fc-function-timeout", strconv.FormatInt(int64((inv.Timeout+time.Second-1)/time.Second), 10))
	h.Set("x-fc-retry-count", strconv.Itoa(inv.RetryCount))
	setIfAny(h, "x-fc-access-key-id", inv.Credentials.AccessKeyID)
	setIfAny(h, "x-fc-access-key-secret", inv.Credentials.AccessKeySecret)
	setIfAny(h, "x-fc-security-token", inv.Credentials.SecurityToken)
	setIfAny(h, "x-fc-region", inv.Region)
	setIfAny(h, "x-fc-account-id", inv.AccountID)
	setIfAny(h, "x-fc-function-name", inv.FunctionName)
	setIfAny(h, "x-fc-function-handler", inv.Handler)
	if inv.MemoryMB > 0 {
		h.Set("x-fc-function-memory", strconv.Itoa(inv.MemoryMB))
	}
	w.WriteHeader(http.StatusOK)
	// A failed write means the process went away; Invoke then ends on its timeout or ctx.
	_, _ = w.Write(inv.Payload)
}

func setIfAny(h http.Header, key, value string) {
	if value != "" {
		h.Set(key, value)
	}
}

// answer takes a function's /response (failed false) or /error (failed true) for a running
// invocation.
func (s *Server) answer(failed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.mu.Lock()
		inv, ok := s.invocations[id]
		if ok && inv.running {
			delete(s.invocations, id) // a second answer for the same id is unknown
		}
		s.mu.Unlock()
		if !ok || !inv.running {
			http.Error(w, fmt.Sprintf("unknown invocation %q", id), http.StatusNotFound)
			return
		}
		resp, status := readAnswer(id, r.Body, s.maxBodyBytes, failed)
		if status != http.StatusOK {
			http.Error(w, resp.err.Error(), status)
		}
		inv.done <- resp
	}
}

// readAnswer reads a bounded answer body and the HTTP status to reply with.
func readAnswer(id string, r io.Reader, limit int, failed bool) (response, int) {
	body, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return response{err: fmt.Errorf("fcruntime: invoke %q: reading the answer: %w", id, err)}, http.StatusBadRequest
	}
	if len(body) > limit {
		return response{err: fmt.Errorf("fcruntime: invoke %q: answer exceeds %d bytes", id, limit)}, http.StatusRequestEntityTooLarge
	}
	if !failed {
		return response{result: Result{RequestID: id, Body: body}}, http.StatusOK
	}
	var fnErr InvocationError
	if err := json.Unmarshal(body, &fnErr); err != nil {
		return response{err: fmt.Errorf("fcruntime: invoke %q: malformed error body %.200q: %w", id, body, err)}, http.StatusBadRequest
	}
	return response{result: Result{RequestID: id, Error: &fnErr}}, http.StatusOK
}
