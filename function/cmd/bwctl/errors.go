package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

var credentialCodes = []string{"SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive",
	"IncompleteSignature", "InvalidSecurityToken.Expired", "InvalidSecurityToken.Malformed", "InvalidSecurityToken.MismatchWithAccessKey"}

var permissionCodes = []string{"Forbidden.RAM", "Forbidden", "AccessForbidden", "NoPermission", "Forbidden.NotAuthorized"}

// oneLine is the one line an operator needs: refused credentials, a missing
// permission, an unknown region, or the error itself.
func oneLine(err error) string {
	var ur unknownRegionError
	if errors.As(err, &ur) {
		return ur.Error()
	}
	var oe *openapi.Error
	if errors.As(err, &oe) {
		switch {
		case slices.Contains(credentialCodes, oe.Code):
			return fmt.Sprintf("credentials refused: %s on %s (check the AccessKey; RequestId %s)", oe.Code, oe.Op, oe.RequestID)
		case slices.Contains(permissionCodes, oe.Code):
			return fmt.Sprintf("permission missing: grant %s (%s on %s; RequestId %s)", ramAction(oe.Op), oe.Code, oe.Op, oe.RequestID)
		case oe.Code == "InvalidRegionId" || oe.Code == "InvalidRegionId.NotFound":
			return "unknown region: " + oe.Message
		}
		var dns *net.DNSError
		if errors.As(oe, &dns) && dns.IsNotFound && strings.HasSuffix(dns.Name, ".aliyuncs.com") {
			return fmt.Sprintf("unknown region: no endpoint %s answers", dns.Name)
		}
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// ramAction is the RAM action an API action needs.
func ramAction(op string) string {
	if slices.Contains(ecsapi.Actions, op) {
		return "ecs:" + op
	}
	if slices.Contains(ramActions, op) {
		return "ram:" + op
	}
	switch op {
	case "DescribeMetricLast", "DescribeMetricList":
		return "cms:" + strings.Replace(op, "Describe", "Query", 1)
	case "DescribeMetricRuleList":
		return "cms:DescribeMetricRuleList"
	}
	return "cms:" + op
}
