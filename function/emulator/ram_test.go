package emulator

import (
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
)

func (e *env) ramClient(secret string) *ram.Client {
	e.t.Helper()
	c, err := ram.NewClientWithOptions("cn-hangzhou", sdk.NewConfig().WithScheme("HTTP"),
		credentials.NewStaticSTSCredentialsProvider(testCred.AccessKeyID, secret, testCred.SecurityToken))
	if err != nil {
		e.t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(e.http.URL, "http://")
	c.SetNoProxy(".*")
	return c
}

const (
	testTrust  = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["fc.aliyuncs.com"]}}]}`
	testPolicy = `{"Version":"1","Statement":[{"Effect":"Allow","Action":["ecs:DescribeInstances"],"Resource":["*"]}]}`
)

// The RAM actions through the real SDK: a role, a policy with versions, an
// attachment, and the codes of a second create, a missing entity and a
// wrong signature.
func TestRAMRolePolicyAttachment(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.ramClient(testCred.AccessKeySecret)

	get := ram.CreateGetRoleRequest()
	get.RoleName = "fn-role"
	if _, err := c.GetRole(get); cmsCode(t, err) != "EntityNotExist.Role" {
		t.Fatalf("GetRole of no role: %v", err)
	}
	create := ram.CreateCreateRoleRequest()
	create.RoleName, create.AssumeRolePolicyDocument = "fn-role", testTrust
	resp, err := c.CreateRole(create)
	if err != nil || resp.Role.RoleName != "fn-role" || !strings.HasSuffix(resp.Role.Arn, ":role/fn-role") {
		t.Fatalf("CreateRole: %v %+v", err, resp)
	}
	if _, err := c.CreateRole(create); cmsCode(t, err) != "EntityAlreadyExists.Role" {
		t.Fatalf("second CreateRole: %v", err)
	}
	if got, err := c.GetRole(get); err != nil || got.Role.AssumeRolePolicyDocument != testTrust {
		t.Fatalf("GetRole: %v %+v", err, got)
	}
	bad := ram.CreateCreateRoleRequest()
	bad.RoleName, bad.AssumeRolePolicyDocument = "other", "not json"
	if _, err := c.CreateRole(bad); cmsCode(t, err) != "MalformedPolicyDocument" {
		t.Fatalf("CreateRole of a malformed document: %v", err)
	}

	cp := ram.CreateCreatePolicyRequest()
	cp.PolicyName, cp.PolicyDocument = "fn-policy", testPolicy
	if _, err := c.CreatePolicy(cp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePolicy(cp); cmsCode(t, err) != "EntityAlreadyExists.Policy" {
		t.Fatalf("second CreatePolicy: %v", err)
	}
	gp := ram.CreateGetPolicyRequest()
	gp.PolicyName, gp.PolicyType = "fn-policy", "Custom"
	if got, err := c.GetPolicy(gp); err != nil || got.DefaultPolicyVersion.PolicyDocument != testPolicy || got.Policy.DefaultVersion != "v1" {
		t.Fatalf("GetPolicy: %v %+v", err, got)
	}
	for i := 2; i <= 5; i++ {
		v := ram.CreateCreatePolicyVersionRequest()
		v.PolicyName, v.PolicyDocument, v.SetAsDefault = "fn-policy", testPolicy, requests.NewBoolean(i == 5)
		if _, err := c.CreatePolicyVersion(v); err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
	}
	v := ram.CreateCreatePolicyVersionRequest()
	v.PolicyName, v.PolicyDocument = "fn-policy", testPolicy
	if _, err := c.CreatePolicyVersion(v); cmsCode(t, err) != "LimitExceeded.Policy.Version" {
		t.Fatalf("a sixth version: %v", err)
	}
	v.RotateStrategy, v.SetAsDefault = "DeleteOldestNonDefaultVersionWhenLimitExceeded", requests.NewBoolean(true)
	if got, err := c.CreatePolicyVersion(v); err != nil || got.PolicyVersion.VersionId != "v6" {
		t.Fatalf("a rotated sixth version: %v %+v", err, got)
	}
	if p, _ := e.srv.RAMPolicy("fn-policy"); p.DefaultVersion != "v6" || len(p.Versions) != 5 || p.Versions[0].VersionId != "v2" {
		t.Errorf("policy after rotation %+v", p)
	}

	at := ram.CreateAttachPolicyToRoleRequest()
	at.PolicyType, at.PolicyName, at.RoleName = "Custom", "fn-policy", "fn-role"
	if _, err := c.AttachPolicyToRole(at); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachPolicyToRole(at); cmsCode(t, err) != "EntityAlreadyExists.Role.Policy" {
		t.Fatalf("second attach: %v", err)
	}
	lp := ram.CreateListPoliciesForRoleRequest()
	lp.RoleName = "fn-role"
	if got, err := c.ListPoliciesForRole(lp); err != nil || len(got.Policies.Policy) != 1 || got.Policies.Policy[0].PolicyName != "fn-policy" || got.Policies.Policy[0].PolicyType != "Custom" {
		t.Fatalf("ListPoliciesForRole: %v %+v", err, got)
	}

	if _, err := e.ramClient("wrong").GetRole(get); cmsCode(t, err) != "SignatureDoesNotMatch" {
		t.Fatalf("a wrong secret: %v", err)
	}
}
