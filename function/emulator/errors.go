package emulator

import (
	"fmt"
	"net/http"
)

// apiError is an ECS error answer: the HTTP status, the code and the message
// of the JSON error body.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("emulator: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// CodeInfo is one row of the error table: an error code with one of the HTTP
// statuses and messages ECS answers it with.
type CodeInfo struct {
	Code    string
	Status  int
	Message string
}

// SeedErrors is the error table of ModifyInstanceNetworkSpec, row for row as
// the API reference lists it (a code may appear with several statuses or
// messages). Messages documented only as "%s" get a representative text.
var SeedErrors = []CodeInfo{
	{"InvalidInstanceId.NotFound", 404, "The specified InstanceId does not exist."},
	{"InvalidInternetMaxBandwidthIn.ValueNotSupported", 400, "The specified InternetMaxBandwidthIn is beyond the permitted range."},
	{"InvalidInternetMaxBandwidthOut.ValueNotSupported", 400, "The specified InternetMaxBandwidthOut is beyond the permitted range."},
	{"IncorrectInstanceStatus", 403, "The current status of the instance does not support this operation."},
	{"InstanceLockedForSecurity", 403, "The specified operation is denied as your instance is locked for security reasons."},
	{"InstanceExpiredOrInArrears", 403, "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode)."},
	{"InternalError", 500, "The request processing has failed due to some unknown error."},
	{"ChargeTypeViolation", 403, "The operation is not permitted due to billing method of the instance."},
	{"OperationDenied", 403, "The operation is denied due to the instance is PrePaid."},
	{"OperationDenied", 400, "Specified instance is in VPC."},
	{"InvalidParameter.Bandwidth", 400, "The specified bandwidth is invalid."},
	{"InvalidParameter.Conflict", 400, "The specified parameters conflict with each other."},
	{"InvalidStartTime.ValueNotSupported", 400, "The specified EndTime is earlier than the StartTime."},
	{"Account.Arrearage", 400, "Your account has an outstanding payment."},
	{"InvalidInternetChargeType.ValueNotSupported", 400, "The specified InternetChargeType is invalid."},
	{"DecreasedBandwidthNotAllowed", 400, "The bandwidth of a subscription instance billed by bandwidth cannot be decreased."},
	{"BandwidthUpgradeDenied.EipBoundInstance", 400, "The specified VPC instance has bound EIP, temporary bandwidth upgrade is denied."},
	{"InvalidClientToken.ValueNotSupported", 400, "The ClientToken provided is invalid."},
	{"InvalidAccountStatus.NotEnoughBalance", 403, "Your account does not have enough balance."},
	{"InvalidInstance.UnPaidOrder", 403, "The specified Instance has unpaid order."},
	{"Throttling", 400, "Request was denied due to request throttling, please try again after 5 minutes."},
	{"InvalidAction", 400, "Specified action is not valid."},
	{"IpAllocationError", 400, "Allocate public ip failed."},
	{"InvalidParam.AllocatePublicIp", 400, "The specified param AllocatePublicIp is invalid."},
	{"InstanceDowngrade.QuotaExceed", 400, "Quota of instance downgrade is exceed."},
	{"InvalidBandwidth.ValueNotSupported", 400, "Instance upgrade bandwidth of temporary not allow less then existed."},
	{"InvalidInstance.InstanceNotSupported", 403, "The special vpc instance with eip not need bandwidth."},
	{"InvalidInstanceStatus", 400, "The specified instance status does not support this action."},
	{"InvalidInstanceStatus", 403, "The current status of the instance does not support this operation."},
	{"InvalidInstance.UnPaidOrder", 400, "Unpaid order exists in your account, please complete or cancel the payment in the expense center."},
	{"OperationDenied", 400, "After downgrade, you cannot upgrade or downgrade your instances again in the remaining time of the current billing cycle."},
	{"InvalidInternetChargeType.ValueNotSupported", 400, "The specified InternetChargeType cannot be changed this way."},
	{"LastOrderProcessing", 400, "The previous order is still processing, please try again later."},
	{"OperationDenied", 400, "The current user does not support this operation."},
	{"NAT_PUBLIC_IP_BINDING_FAILED", 403, "Binding nat public ip failed"},
	{"InvalidInstance.EipNotSupport", 403, "The specified instance with eip is not supported, please unassociate eip first."},
	{"InvalidNetworkType.ValueNotSupported", 403, "The specified parameter NetworkType is not valid."},
	{"InternalError", 500, "The request processing has failed due to some unknown error, exception or failure."},
}

// commonErrors are the gateway and idempotence codes every action can answer
// (ecs-sdk.md §3.1 and §5).
var commonErrors = []CodeInfo{
	{"IncompleteSignature", 400, "The request signature does not conform to Aliyun standards."},
	{"SignatureDoesNotMatch", 400, "Specified signature is not matched with our calculation."},
	{"InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."},
	{"InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."},
	{"InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."},
	{"SignatureNonceUsed", 400, "Specified signature nonce was used already."},
	{"InvalidSecurityToken.MismatchWithAccessKey", 400, "The specified SecurityToken does not match the AccessKeyId."},
	{"MissingSecurityToken", 400, "SecurityToken is mandatory for this AccessKeyId."},
	{"InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."},
	{"InvalidVersion", 400, "Specified parameter Version is not valid."},
	{"MissingParameter", 400, "A required parameter is missing."},
	{"InvalidParameter", 400, "A parameter is not valid."},
	{"IdempotentParameterMismatch", 400, "The request uses the same client token as a previous, but non-identical request."},
	{"ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server."},
	{"InvalidInstanceIds.ValueNotSupported", 400, "The specified InstanceIds exceed the limit of 100 or are malformed."},
	{"InvalidResourceType.NotSupported", 400, "The specified ResourceType is not supported."},
	{"InvalidResourceId.NotFound", 404, "The specified ResourceId is not found."},
	{"InvalidTagKey.Malformed", 400, "The specified Tag.n.Key is not valid."},
	{"InvalidTagValue.Malformed", 400, "The specified Tag.n.Value is not valid."},
	{"InvalidTagCount", 400, "An instance can carry at most 20 tags."},
	{"MethodNotAllowed", 405, "Only GET and POST are supported."},
}

// lookupCode returns the first row for code whose status is status (any
// status when status is 0).
func lookupCode(code string, status int) (CodeInfo, bool) {
	for _, table := range [][]CodeInfo{SeedErrors, commonErrors, cmsErrors, vpcErrors, ramErrors} {
		for _, row := range table {
			if row.Code == code && (status == 0 || row.Status == status) {
				return row, true
			}
		}
	}
	return CodeInfo{}, false
}

// errCode builds the error for code with its table status and message.
// Codes missing from the tables are programming errors of the emulator;
// they answer 500 rather than panic.
func errCode(code string) *apiError {
	row, ok := lookupCode(code, 0)
	if !ok {
		return &apiError{http.StatusInternalServerError, code, "unknown code " + code}
	}
	return &apiError{row.Status, row.Code, row.Message}
}

// errCodef is errCode with a specific message (the "%s" rows of the table).
func errCodef(code, format string, args ...any) *apiError {
	e := errCode(code)
	e.Message = fmt.Sprintf(format, args...)
	return e
}

// errStatus picks the row of code with the given status, for codes the
// table lists with several statuses.
func errStatus(code string, status int) *apiError {
	row, ok := lookupCode(code, status)
	if !ok {
		return errCode(code)
	}
	return &apiError{row.Status, row.Code, row.Message}
}
