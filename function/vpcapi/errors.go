package vpcapi

import "github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"

// service is VPC to the shared call layer.
var service = openapi.Register(&openapi.Service{
	Name:    "VPC",
	Package: "vpcapi",
	Actions: Actions,
	Codes:   codes,
})

// codes are the error codes of ModifyEipAddressAttribute as the VPC API
// reference lists them (https://help.aliyun.com/document_detail/36019.htm),
// the tag codes, and the gateway's common codes. Forbidden.RAM's hint names
// vpc:<Action>.
var codes = openapi.CommonCodes("VPC", "vpc", "VPC_ENDPOINT", "the next timer run decides again", map[string]openapi.CodeInfo{
	"InvalidAllocationId.NotFound":  {Class: openapi.Permanent, Hint: "check the EIP's allocation ID and the function's region"},
	"InvalidParameter":              {Class: openapi.Permanent, Hint: "VPC refused the bandwidth: 1 to 200 Mbit/s for a PayByTraffic EIP, 1 to 500 for PayByBandwidth; lower the policy's max"},
	"IncorrectEipStatus":            {Class: openapi.StatusConflict, Hint: "the EIP's status refuses the change for now (being associated, unassociated or changed); the next timer run decides again"},
	"Forbidden.ChargeTypeIsPrepaid": {Class: openapi.Permanent, Hint: "a subscription (PrePaid) EIP's bandwidth can be changed only in the console"},
	"InsufficientBalance.Eip":       {Class: openapi.Permanent, Hint: "top up the account"},
	"OrderError.EIP":                {Class: openapi.Transient, Hint: "VPC could not place the order; the next timer run decides again"},
	"QuotaExceeded.LargeSpec":       {Class: openapi.Permanent, Hint: "the account's quota of large-bandwidth EIPs is used up; raise it or lower the policy's max"},
	"OperationConflict":             {Class: openapi.InProgress, Hint: "another operation on the EIP is in progress; the change may be under way; nothing new is bought"},
	"Throttling":                    {Class: openapi.Transient, Hint: "VPC throttled the call; the next timer run decides again"},
	"InternalError":                 {Class: openapi.Transient, Hint: "VPC failed internally; the next timer run decides again"},
	"InvalidTagCount":               {Class: openapi.Permanent, Hint: "VPC allows 20 tags per EIP: remove one so the function can keep its state tag bandwidth-autoscaler:state"},
	"InvalidResourceId.NotFound":    {Class: openapi.Permanent, Hint: "check the EIP's allocation ID and the function's region"},
})

// Classify says what a caller can do about a VPC error code and HTTP status.
func Classify(code string, httpStatus int) Class { return service.Classify(code, httpStatus) }

// Hint is a short advice for a VPC error code, empty when none is known.
func Hint(code string) string { return service.Hint(code) }

func invalid(op, resource, message string) *Error { return service.Invalid(op, resource, message) }
