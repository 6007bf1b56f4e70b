package ecsapi

import "github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"

// Error is a failed ECS call, after any retries.
type Error = openapi.Error

// service is ECS to the shared call layer.
var service = openapi.Register(&openapi.Service{
	Name:    "ECS",
	Package: "ecsapi",
	Actions: Actions,
	Codes:   codes,
	// Only a bandwidth change meets the instance's 5-minute lock; on other
	// actions Throttling is plain rate limiting.
	Reclassify: func(op string, class Class) Class {
		if class == Locked && op != actionModify {
			return Transient
		}
		return class
	},
})

// codes covers every error code of ModifyInstanceNetworkSpec, the
// idempotence and tag codes ECS answers, the POP gateway's common codes and
// the SDK's own client-side codes. The classes decide retries: Transient,
// InProgress and Locked are retried with the same ClientToken; Throttling
// left after the retries is the 5-minute lock.
var codes = openapi.CommonCodes("ECS", "ecs", "ECS_ENDPOINT", "the next timer run decides again", map[string]openapi.CodeInfo{
	// ModifyInstanceNetworkSpec.
	"InvalidInstanceId.NotFound":                       {Class: Permanent, Hint: "check the instance ID and the function's region"},
	"InvalidInternetMaxBandwidthIn.ValueNotSupported":  {Class: Permanent, Hint: "choose an inbound bandwidth within the instance's range"},
	"InvalidInternetMaxBandwidthOut.ValueNotSupported": {Class: Permanent, Hint: "lower the policy's bandwidth to the instance's maximum (100 Mbit/s, 200 for PrePaid PayByBandwidth)"},
	"IncorrectInstanceStatus":                          {Class: StatusConflict, Hint: "wait until the instance is Running or Stopped"},
	"InvalidInstanceStatus":                            {Class: StatusConflict, Hint: "wait until the instance is Running or Stopped"},
	"InstanceLockedForSecurity":                        {Class: Permanent, Hint: "resolve the security lock in the ECS console"},
	"InstanceExpiredOrInArrears":                       {Class: Permanent, Hint: "renew the instance or settle the overdue payment"},
	"ChargeTypeViolation":                              {Class: Permanent, Hint: "the instance's billing method does not allow this change"},
	"OperationDenied":                                  {Class: StatusConflict, Hint: "ECS refuses this change for the instance (billing cycle, network type or account); see the message"},
	"InvalidParameter.Bandwidth":                       {Class: Permanent, Hint: "choose a bandwidth ECS allows for this instance"},
	"InvalidParameter.Conflict":                        {Class: Permanent, Hint: "remove the conflicting parameter; see the message"},
	"InvalidStartTime.ValueNotSupported":               {Class: Permanent, Hint: "make the temporary upgrade end at least 3 hours after it starts"},
	"Account.Arrearage":                                {Class: Permanent, Hint: "settle the account's overdue payment"},
	"InvalidInternetChargeType.ValueNotSupported":      {Class: Permanent, Hint: "use PayByTraffic or PayByBandwidth"},
	"DecreasedBandwidthNotAllowed":                     {Class: Permanent, Hint: "PayByBandwidth subscription bandwidth can only be raised; change it in the console"},
	"BandwidthUpgradeDenied.EipBoundInstance":          {Class: Permanent, Hint: "instances with an EIP cannot get a temporary upgrade; change the EIP's bandwidth instead"},
	"InvalidClientToken.ValueNotSupported":             {Class: Permanent, Hint: "use an ASCII ClientToken of at most 64 characters"},
	"InvalidAccountStatus.NotEnoughBalance":            {Class: Permanent, Hint: "top up the account"},
	"InvalidInstance.UnPaidOrder":                      {Class: Permanent, Hint: "pay or cancel the unpaid order in the console"},
	"Throttling":                                       {Class: Locked, Hint: "ECS allows one bandwidth change per instance every 5 minutes; the next timer run decides again"},
	"InvalidAction":                                    {Class: Permanent, Hint: "the region's ECS endpoint does not offer this action; check the region and endpoint"},
	"IpAllocationError":                                {Class: Transient, Hint: "ECS could not allocate a public IP; the next timer run decides again"},
	"InvalidParam.AllocatePublicIp":                    {Class: Permanent, Hint: "AllocatePublicIp applies only to PostPaid instances going up from 0 Mbit/s"},
	"InstanceDowngrade.QuotaExceed":                    {Class: Permanent, Hint: "the instance has used its 3 downgrades; raise the policy's floor"},
	"InvalidBandwidth.ValueNotSupported":               {Class: Permanent, Hint: "a temporary upgrade must not be below the current bandwidth"},
	"InvalidInstance.InstanceNotSupported":             {Class: Permanent, Hint: "a VPC instance with an EIP has no instance bandwidth; scale the EIP instead"},
	"LastOrderProcessing":                              {Class: InProgress, Hint: "the previous order is still processing; the change may be under way; nothing new is bought"},
	"NAT_PUBLIC_IP_BINDING_FAILED":                     {Class: Transient, Hint: "ECS could not bind the NAT public IP; the next timer run decides again"},
	"InvalidInstance.EipNotSupport":                    {Class: Permanent, Hint: "unassociate the EIP first, or scale the EIP instead"},
	"InvalidNetworkType.ValueNotSupported":             {Class: Permanent, Hint: "the instance's network type does not support this change"},
	"InternalError":                                    {Class: Transient, Hint: "ECS failed internally; the next timer run decides again"},
	"IdempotentParameterMismatch":                      {Class: Permanent, Hint: "a ClientToken was reused with other parameters; this is a bug in the caller"},

	// Idempotence: an earlier request with the same ClientToken is still
	// being processed, so the change may be under way.
	"LastTokenProcessing":    {Class: InProgress, Hint: "the request with this ClientToken is still processing; the change may be under way; nothing new is bought"},
	"LastRequestProcessing":  {Class: InProgress, Hint: "the previous request is still processing; the change may be under way; nothing new is bought"},
	"Idempotence.Processing": {Class: InProgress, Hint: "the request with this ClientToken is still processing; the change may be under way; nothing new is bought"},

	// TagResources.
	"InvalidTagCount": {Class: Permanent, Hint: "ECS allows 20 tags per instance: remove one tag so the function can keep its state tag bandwidth-autoscaler:state"},
})

// Classify says what a caller can do about an ECS error code and HTTP status.
// Unknown codes are Transient on 5xx or when no response arrived at all
// (empty code, status 0), and Permanent otherwise.
func Classify(code string, httpStatus int) Class {
	return service.Classify(code, httpStatus)
}

// Hint is a short advice for an ECS error code, empty when none is known.
// "<Action>" in it stands for the failing action; (*Error).Hint fills it in.
func Hint(code string) string {
	return service.Hint(code)
}

// invalid is the error for a request this package refuses to send.
func invalid(op, resource, message string) *Error {
	return service.Invalid(op, resource, message)
}
