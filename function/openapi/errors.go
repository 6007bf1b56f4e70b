package openapi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

// Error is a failed call, after any retries.
type Error struct {
	Op         string // API action, e.g. ModifyInstanceNetworkSpec
	Resource   string // what the call was about (instance ID, tag), may be empty
	Code       string // the service's error code; empty for transport errors
	HTTPStatus int    // 0 when no response arrived
	RequestID  string
	Message    string // scrubbed of credentials
	Class      Class
	Attempts   int
	// Err is the underlying transport or context error, if any. It never
	// carries the request URL, which holds the signature and SecurityToken.
	Err error

	svc *Service // the service that answered; nil when built elsewhere
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Resource != "" {
		b.WriteString(" " + e.Resource)
	}
	b.WriteString(": ")
	var detail []string
	if e.HTTPStatus != 0 {
		detail = append(detail, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	}
	if e.RequestID != "" {
		detail = append(detail, "RequestId "+e.RequestID)
	}
	switch {
	case e.Code != "":
		b.WriteString(e.Code)
		if len(detail) > 0 {
			b.WriteString(" (" + strings.Join(detail, ", ") + ")")
		}
	case len(detail) > 0:
		b.WriteString(strings.Join(detail, ", "))
	case e.Message == "":
		b.WriteString("request failed")
	default:
		// A transport or context error: the message is all there is.
		b.WriteString(e.Message)
		return b.String()
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Hint is what a user can do about e, with the action filled in where the
// fix is a RAM grant. Empty when no advice is known.
func (e *Error) Hint() string {
	svc := e.svc
	if svc == nil {
		svc = serviceOf(e.Op)
	}
	if svc == nil {
		return ""
	}
	action := e.Op
	if svc.HintAction != nil {
		action = svc.HintAction(e.Op)
	}
	return strings.ReplaceAll(svc.Hint(e.Code), ActionPlaceholder, action)
}

// ActionPlaceholder stands for the failing action in a hint; a Service's
// HintAction says what it becomes (the RAM action's name).
const ActionPlaceholder = "<Action>"

// CodeInfo is what an error code means to a caller.
type CodeInfo struct {
	Class Class
	Hint  string // what the user can do; may hold ActionPlaceholder
}

// Service is what the call layer needs to know about one product's API.
type Service struct {
	Name    string // in messages: "ECS", "CloudMonitor"
	Package string // prefixes configuration errors: "ecsapi"
	// Actions are the API actions the service package calls; an *Error built
	// outside the call layer finds its service by its Op among them.
	Actions []string
	// Codes is every code the service answers, the gateway's included (see
	// CommonCodes).
	Codes map[string]CodeInfo
	// HintAction is what ActionPlaceholder in a hint stands for, given the
	// action; nil means the action itself.
	HintAction func(op string) string
	// Reclassify adjusts the class of a code for one action; nil means none.
	Reclassify func(op string, class Class) Class
}

var (
	registryMu sync.Mutex
	registry   []*Service
)

// Register records svc so that an *Error built without it (by a caller's
// test, say) still finds its hints, and returns svc.
func Register(svc *Service) *Service {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry = append(registry, svc)
	return svc
}

// serviceOf is the one registered service that calls op, nil when none or
// several do.
func serviceOf(op string) *Service {
	registryMu.Lock()
	defer registryMu.Unlock()
	var found *Service
	for _, svc := range registry {
		for _, a := range svc.Actions {
			if a == op {
				if found != nil && found != svc {
					return nil
				}
				found = svc
			}
		}
	}
	return found
}

// Classify says what a caller can do about an error code and HTTP status.
// Unknown codes are Transient on 5xx or when no response arrived at all
// (empty code, status 0), and Permanent otherwise.
func (s *Service) Classify(code string, httpStatus int) Class {
	if info, ok := s.Codes[code]; ok {
		return info.Class
	}
	if httpStatus >= 500 || (code == "" && httpStatus == 0) {
		return Transient
	}
	return Permanent
}

// Hint is a short advice for an error code, empty when none is known.
func (s *Service) Hint(code string) string {
	return s.Codes[code].Hint
}

// Invalid is the error for a request a service package refuses to send.
func (s *Service) Invalid(op, resource, message string) *Error {
	return &Error{Op: op, Resource: resource, Class: Permanent, Message: "invalid request: " + message, svc: s}
}

// CommonCodes are the codes of the POP gateway, shared by every RPC action
// of every product, and the SDK's own client-side codes, in the words of one
// service: name ("ECS"), ramPrefix ("ecs"), the variable that sets its
// endpoint ("ECS_ENDPOINT"), and what follows a transient failure ("the
// next timer run decides again"). own is merged over them.
func CommonCodes(name, ramPrefix, endpointVar, then string, own map[string]CodeInfo) map[string]CodeInfo {
	codes := map[string]CodeInfo{
		"IncompleteSignature":                        {Permanent, "the request signature is malformed; check the AccessKeySecret"},
		"SignatureDoesNotMatch":                      {Permanent, "check the AccessKeySecret"},
		"InvalidAccessKeyId.NotFound":                {Permanent, "the AccessKeyId does not exist; check the function's role"},
		"InvalidAccessKeyId.Inactive":                {Permanent, "the AccessKey is disabled; enable it or use another"},
		"InvalidTimeStamp.Format":                    {Permanent, "the request timestamp is malformed"},
		"InvalidTimeStamp.Expired":                   {Permanent, "the clock is off by more than 15 minutes; fix the time source"},
		"SignatureNonceUsed":                         {Transient, "a nonce was reused; a retry signs with a fresh one"},
		"InvalidSignatureMethod":                     {Permanent, "use HMAC-SHA1 signatures"},
		"UnsupportedHTTPMethod":                      {Permanent, "the endpoint refused the HTTP method; check " + endpointVar},
		"InvalidApi.NotFound":                        {Permanent, "the endpoint does not know this API; check " + endpointVar + " and the region"},
		"InvalidAction.NotFound":                     {Permanent, "the endpoint does not know this API; check " + endpointVar + " and the region"},
		"MissingParameter":                           {Permanent, "a required parameter is missing; this is a bug in the caller"},
		"MissingSecurityToken":                       {Permanent, "STS credentials need their SecurityToken"},
		"InvalidSecurityToken.Expired":               {Permanent, "the invocation's STS credentials expired; the next invocation gets fresh ones"},
		"InvalidSecurityToken.Malformed":             {Permanent, "the SecurityToken is malformed; check the function's role"},
		"InvalidSecurityToken.MismatchWithAccessKey": {Permanent, "the SecurityToken does not belong to the AccessKeyId"},
		"Forbidden.RAM":                              {Permanent, "grant the function's role " + ramPrefix + ":" + ActionPlaceholder},
		"Throttling.User":                            {Transient, "the account's API rate limit was hit; " + then},
		"Throttling.Api":                             {Transient, "the API's rate limit was hit; " + then},
		"ServiceUnavailable":                         {Transient, name + " is unavailable; " + then},
		// A 2xx whose body does not decode may still have been applied, so
		// it is retried (with the same ClientToken).
		sdkerrors.JsonUnmarshalErrorCode: {Transient, name + " answered with a body that is not valid JSON"},
	}
	for code, info := range own {
		codes[code] = info
	}
	return codes
}

// MaxMessageLen bounds the message kept from an error body (a gateway may
// answer with a whole HTML page).
const MaxMessageLen = 512

// stringToSignMarker starts the part of a signature error that echoes the
// string to sign, which holds the AccessKeyId and SecurityToken.
const stringToSignMarker = "server string to sign is:"

// scrub removes credentials from text that leaves this package.
func (c *Client[C]) scrub(text string) string {
	if i := strings.Index(text, stringToSignMarker); i >= 0 {
		text = text[:i+len(stringToSignMarker)] + " [removed]"
	}
	for _, secret := range []string{c.creds.AccessKeySecret, c.creds.SecurityToken, c.creds.AccessKeyID} {
		if secret == "" {
			continue
		}
		// Raw, escaped once (a URL) and twice (a string to sign).
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.QueryEscape(url.QueryEscape(secret))} {
			text = strings.ReplaceAll(text, form, "***")
		}
	}
	if len(text) > MaxMessageLen {
		text = text[:MaxMessageLen] + "..."
	}
	return text
}

// Errorf is an error of class about op that the service package found in an
// answer (a repeated NextToken, a body it cannot read), scrubbed.
func (c *Client[C]) Errorf(op, resource string, class Class, format string, args ...any) *Error {
	return &Error{Op: op, Resource: resource, Class: class, Message: c.scrub(fmt.Sprintf(format, args...)), svc: c.svc}
}

// AnswerError is the error for a code the service answered inside a 2xx
// body (CloudMonitor's Success:false), classified like an error answer.
func (c *Client[C]) AnswerError(op, resource, code string, httpStatus int, requestID, message string) *Error {
	e := &Error{Op: op, Resource: resource, Code: code, HTTPStatus: httpStatus, RequestID: requestID, Message: c.scrub(message), svc: c.svc}
	e.Class = c.classify(op, code, httpStatus)
	return e
}

func (c *Client[C]) classify(op, code string, httpStatus int) Class {
	class := c.svc.Classify(code, httpStatus)
	if c.svc.Reclassify != nil {
		class = c.svc.Reclassify(op, class)
	}
	return class
}

// toError turns what the SDK returned into an *Error, classified and scrubbed.
func (c *Client[C]) toError(op, resource string, err error) *Error {
	e := &Error{Op: op, Resource: resource, svc: c.svc}
	var serverErr *sdkerrors.ServerError
	var clientErr *sdkerrors.ClientError
	var urlErr *url.Error
	switch {
	case errors.As(err, &serverErr):
		e.Code = serverErr.ErrorCode()
		e.HTTPStatus = serverErr.HttpStatus()
		e.RequestID = serverErr.RequestId()
		e.Message = serverErr.Message()
	case errors.As(err, &clientErr):
		e.Code = clientErr.ErrorCode()
		e.Message = clientErr.Message()
	case errors.As(err, &urlErr):
		// The URL holds the signature and SecurityToken: keep only the
		// host and the cause.
		host := ""
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			host = u.Host
		}
		e.Message = fmt.Sprintf("%s %s: %v", urlErr.Op, host, urlErr.Err)
		e.Err = urlErr.Err
	default:
		e.Message = err.Error()
	}
	e.Message = c.scrub(e.Message)
	e.Class = c.classify(op, e.Code, e.HTTPStatus)
	return e
}

func (s *Service) pkg() string {
	if s.Package != "" {
		return s.Package
	}
	return "openapi"
}
