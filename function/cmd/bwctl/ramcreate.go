package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/openapi"
)

// ramActions are the RAM API actions rbac -create calls; the operator
// needs ram:<action> for each.
var ramActions = []string{"GetRole", "CreateRole", "UpdateRole", "GetPolicy", "CreatePolicy", "CreatePolicyVersion", "ListPoliciesForRole", "AttachPolicyToRole"}

var ramService = openapi.Register(&openapi.Service{
	Name:    "RAM",
	Package: "bwctl",
	Actions: ramActions,
	Codes: openapi.CommonCodes("RAM", "ram", "RAM_ENDPOINT", "nothing more was changed", map[string]openapi.CodeInfo{
		"EntityNotExist.Role":             {Class: openapi.Permanent},
		"EntityNotExist.Policy":           {Class: openapi.Permanent},
		"EntityAlreadyExists.Role":        {Class: openapi.Permanent},
		"EntityAlreadyExists.Policy":      {Class: openapi.Permanent},
		"EntityAlreadyExists.Role.Policy": {Class: openapi.Permanent},
		"LimitExceeded.Policy.Version":    {Class: openapi.Permanent, Hint: "the policy has 5 versions: delete one"},
		"MalformedPolicyDocument":         {Class: openapi.Permanent, Hint: "check the JSON of the policy document"},
	}),
})

// ramCreate creates the role, its policy and the attachment, each only when
// absent: an existing role or policy with the same document (compared as
// JSON) is unchanged; one with another document is reported and left alone,
// unless force (then the role's trust policy is updated, and the policy gets
// a new default version). It returns the number of objects that differ and
// were left alone.
func (e *env) ramCreate(ctx context.Context, role, policyName string, trust, perms []byte, force bool) (int, error) {
	api, err := openapi.New(ramService, ram.NewClientWithOptions, openapi.Config{Region: e.region, Endpoint: e.getenv("RAM_ENDPOINT"), Credentials: e.creds, Retry: e.retry})
	if err != nil {
		return 0, err
	}
	differs := 0

	// The role and its trust policy.
	get := ram.CreateGetRoleRequest()
	get.RoleName = role
	var have *ram.GetRoleResponse
	_, err = api.Call(ctx, "GetRole", role, get, func(c *ram.Client) (err error) { have, err = c.GetRole(get); return })
	switch {
	case isCode(err, "EntityNotExist.Role"):
		req := ram.CreateCreateRoleRequest()
		req.RoleName, req.AssumeRolePolicyDocument = role, string(trust)
		req.Description = "ecs-bandwidth-autoscaler: the function's role (bwctl rbac -create)"
		if _, err := api.Call(ctx, "CreateRole", role, req, func(c *ram.Client) error { _, err := c.CreateRole(req); return err }); err != nil {
			return differs, err
		}
		fmt.Fprintf(e.out, "role %s: created\n", role)
	case err != nil:
		return differs, err
	case sameJSON(have.Role.AssumeRolePolicyDocument, trust):
		fmt.Fprintf(e.out, "role %s: unchanged\n", role)
	case force:
		req := ram.CreateUpdateRoleRequest()
		req.RoleName, req.NewAssumeRolePolicyDocument = role, string(trust)
		if _, err := api.Call(ctx, "UpdateRole", role, req, func(c *ram.Client) error { _, err := c.UpdateRole(req); return err }); err != nil {
			return differs, err
		}
		fmt.Fprintf(e.out, "role %s: trust policy replaced (-force); it was %s\n", role, compact(have.Role.AssumeRolePolicyDocument))
	default:
		differs++
		fmt.Fprintf(e.out, "role %s: differs: its trust policy is %s, want %s (left alone; -force replaces it)\n", role, compact(have.Role.AssumeRolePolicyDocument), compact(string(trust)))
	}

	// The policy.
	gp := ram.CreateGetPolicyRequest()
	gp.PolicyName, gp.PolicyType = policyName, "Custom"
	var pol *ram.GetPolicyResponse
	_, err = api.Call(ctx, "GetPolicy", policyName, gp, func(c *ram.Client) (err error) { pol, err = c.GetPolicy(gp); return })
	policyDiffers := false
	switch {
	case isCode(err, "EntityNotExist.Policy"):
		req := ram.CreateCreatePolicyRequest()
		req.PolicyName, req.PolicyDocument = policyName, string(perms)
		req.Description = "ecs-bandwidth-autoscaler: what the function calls (bwctl rbac -create)"
		if _, err := api.Call(ctx, "CreatePolicy", policyName, req, func(c *ram.Client) error { _, err := c.CreatePolicy(req); return err }); err != nil {
			return differs, err
		}
		fmt.Fprintf(e.out, "policy %s: created\n", policyName)
	case err != nil:
		return differs, err
	case sameJSON(pol.DefaultPolicyVersion.PolicyDocument, perms):
		fmt.Fprintf(e.out, "policy %s: unchanged (version %s)\n", policyName, pol.DefaultPolicyVersion.VersionId)
	case force:
		req := ram.CreateCreatePolicyVersionRequest()
		req.PolicyName, req.PolicyDocument = policyName, string(perms)
		req.SetAsDefault, req.RotateStrategy = requests.NewBoolean(true), "DeleteOldestNonDefaultVersionWhenLimitExceeded"
		var v *ram.CreatePolicyVersionResponse
		if _, err := api.Call(ctx, "CreatePolicyVersion", policyName, req, func(c *ram.Client) (err error) { v, err = c.CreatePolicyVersion(req); return }); err != nil {
			return differs, err
		}
		fmt.Fprintf(e.out, "policy %s: new default version %s (-force; it was %s: %s)\n", policyName, v.PolicyVersion.VersionId,
			pol.DefaultPolicyVersion.VersionId, actionDiff(pol.DefaultPolicyVersion.PolicyDocument, perms))
	default:
		differs++
		policyDiffers = true
		fmt.Fprintf(e.out, "policy %s: differs from ram-policy.json (version %s: %s); left alone, and not attached by bwctl (-force makes ram-policy.json its default version)\n",
			policyName, pol.DefaultPolicyVersion.VersionId, actionDiff(pol.DefaultPolicyVersion.PolicyDocument, perms))
	}
	if policyDiffers {
		return differs, nil
	}

	// The attachment.
	lp := ram.CreateListPoliciesForRoleRequest()
	lp.RoleName = role
	var attached *ram.ListPoliciesForRoleResponse
	if _, err := api.Call(ctx, "ListPoliciesForRole", role, lp, func(c *ram.Client) (err error) { attached, err = c.ListPoliciesForRole(lp); return }); err != nil {
		return differs, err
	}
	for _, p := range attached.Policies.Policy {
		if p.PolicyType == "Custom" && strings.EqualFold(p.PolicyName, policyName) {
			fmt.Fprintf(e.out, "attachment of %s to %s: unchanged\n", policyName, role)
			return differs, nil
		}
	}
	at := ram.CreateAttachPolicyToRoleRequest()
	at.PolicyType, at.PolicyName, at.RoleName = "Custom", policyName, role
	_, err = api.Call(ctx, "AttachPolicyToRole", role, at, func(c *ram.Client) error { _, err := c.AttachPolicyToRole(at); return err })
	if err != nil && !isCode(err, "EntityAlreadyExists.Role.Policy") {
		return differs, err
	}
	fmt.Fprintf(e.out, "attachment of %s to %s: attached\n", policyName, role)
	return differs, nil
}

func isCode(err error, code string) bool {
	var oe *openapi.Error
	return errors.As(err, &oe) && oe.Code == code
}

// sameJSON says whether two documents are the same JSON value.
func sameJSON(have string, want []byte) bool {
	var a, b any
	if json.Unmarshal([]byte(have), &a) != nil || json.Unmarshal(want, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func compact(doc string) string {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return doc
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// actionDiff names the actions one document grants and the other does not.
func actionDiff(have string, want []byte) string {
	h, w := policyActions([]byte(have)), policyActions(want)
	var missing, extra []string
	for _, a := range w {
		if !slices.Contains(h, a) {
			missing = append(missing, a)
		}
	}
	for _, a := range h {
		if !slices.Contains(w, a) {
			extra = append(extra, a)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "lacks "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "also grants "+strings.Join(extra, ", "))
	}
	if len(parts) == 0 {
		return "the same actions, other statements or resources"
	}
	return strings.Join(parts, "; ")
}

// policyActions are the actions of a policy document's statements, whether
// each Action is a string or a list.
func policyActions(doc []byte) []string {
	var p struct {
		Statement []struct {
			Action any `json:"Action"`
		} `json:"Statement"`
	}
	_ = json.Unmarshal(doc, &p)
	var out []string
	for _, s := range p.Statement {
		switch a := s.Action.(type) {
		case string:
			out = append(out, a)
		case []any:
			for _, x := range a {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
