package emulator

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// RAM (API version 2015-05-01) is served on the same port: requests with
// this Version go to ramActions, signature-verified like every action. One
// Server is one account: its roles, its custom policies with their
// versions, and which policies are attached to which role. Comments marked
// "Assumption" describe behaviour the RAM API reference does not settle.
const ramVersion = "2015-05-01"

// ramActions are the RAM actions served.
var ramActions = map[string]actionFunc{
	"CreateRole":          (*Server).ramCreateRole,
	"GetRole":             (*Server).ramGetRole,
	"UpdateRole":          (*Server).ramUpdateRole,
	"CreatePolicy":        (*Server).ramCreatePolicy,
	"GetPolicy":           (*Server).ramGetPolicy,
	"CreatePolicyVersion": (*Server).ramCreatePolicyVersion,
	"AttachPolicyToRole":  (*Server).ramAttachPolicyToRole,
	"ListPoliciesForRole": (*Server).ramListPoliciesForRole,
}

const (
	ramHostID = "ram.aliyuncs.com"
	// ramMaxVersions is how many versions a custom policy keeps (RAM: 5).
	ramMaxVersions = 5
	ramTimeLayout  = "2006-01-02T15:04:05Z"
)

// ramNames: RoleName and PolicyName are 1-64 (role) / 1-128 (policy)
// letters, digits, periods, hyphens and underscores (role) or hyphens
// (policy). Assumption: one pattern of at most 64 characters of letters,
// digits, ".", "-" and "_" for both.
var ramNames = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ramErrors are the RAM codes answered (after the other tables in lookupCode).
// Assumption: the statuses are those of the RAM reference's error pages
// (404 for EntityNotExist.*, 409 for EntityAlreadyExists.* and
// LimitExceeded.*); the messages are representative.
var ramErrors = []CodeInfo{
	{"EntityNotExist.Role", 404, "The role does not exist."},
	{"EntityNotExist.Policy", 404, "The policy does not exist."},
	{"EntityAlreadyExists.Role", 409, "The role already exists."},
	{"EntityAlreadyExists.Policy", 409, "The policy already exists."},
	{"EntityAlreadyExists.Role.Policy", 409, "The policy has already been attached to the role."},
	{"LimitExceeded.Policy.Version", 409, "The count of versions of the policy exceeds the limit of 5."},
	{"InvalidParameter.PolicyType", 400, "The parameter PolicyType is invalid."},
	{"InvalidParameter.RoleName.InvalidChars", 400, "The parameter RoleName contains invalid chars."},
	{"InvalidParameter.PolicyName.InvalidChars", 400, "The parameter PolicyName contains invalid chars."},
	{"MalformedPolicyDocument", 400, "The policy document is malformed."},
}

// RAMRole is one role as GetRole answers it.
type RAMRole struct {
	RoleName, RoleId, Arn, Description string
	AssumeRolePolicyDocument           string
	CreateDate, UpdateDate             string
}

// RAMPolicyVersion is one version of a custom policy.
type RAMPolicyVersion struct {
	VersionId, PolicyDocument, CreateDate string
}

// RAMPolicy is one custom policy with its versions, oldest first.
type RAMPolicy struct {
	PolicyName, Description, DefaultVersion string
	Versions                                []RAMPolicyVersion
	CreateDate, UpdateDate                  string
	nextVersion                             int
}

// defaultDocument is the document of the default version.
func (p *RAMPolicy) defaultDocument() string {
	for _, v := range p.Versions {
		if v.VersionId == p.DefaultVersion {
			return v.PolicyDocument
		}
	}
	return ""
}

// ramAttachment is one policy attached to a role.
type ramAttachment struct {
	PolicyType, PolicyName, AttachDate string
}

// ramAccount is one Server's RAM state (guarded by the Server's lock).
type ramAccount struct {
	roles       map[string]*RAMRole // by lower-case name: RAM names are case-insensitive
	policies    map[string]*RAMPolicy
	attachments map[string][]ramAttachment // by lower-case role name
}

var ramAccounts sync.Map // *Server -> *ramAccount

func (s *Server) ram() *ramAccount {
	a, _ := ramAccounts.LoadOrStore(s, &ramAccount{roles: map[string]*RAMRole{}, policies: map[string]*RAMPolicy{}, attachments: map[string][]ramAttachment{}})
	return a.(*ramAccount)
}

func (s *Server) ramNow() string { return s.clock().UTC().Format(ramTimeLayout) }

// ramName reads a RoleName or PolicyName parameter.
func ramName(p url.Values, param, invalidCode string) (string, *apiError) {
	v := p.Get(param)
	if v == "" {
		return "", errCodef("MissingParameter", "%s is mandatory for this action.", param)
	}
	if !ramNames.MatchString(v) {
		return "", errCode(invalidCode)
	}
	return v, nil
}

// ramDocument reads a policy document parameter. Assumption: RAM checks
// that it is JSON with Version and Statement, answering
// MalformedPolicyDocument otherwise; it stores and returns the text as given.
func ramDocument(p url.Values, param string) (string, *apiError) {
	doc := p.Get(param)
	if doc == "" {
		return "", errCodef("MissingParameter", "%s is mandatory for this action.", param)
	}
	var probe struct {
		Version   string `json:"Version"`
		Statement []any  `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &probe); err != nil || probe.Version == "" || len(probe.Statement) == 0 {
		return "", errCodef("MalformedPolicyDocument", "The policy document %s is malformed: want JSON with Version and Statement.", param)
	}
	return doc, nil
}

func roleJSON(r *RAMRole) map[string]any {
	return map[string]any{"RoleName": r.RoleName, "RoleId": r.RoleId, "Arn": r.Arn, "Description": r.Description,
		"AssumeRolePolicyDocument": r.AssumeRolePolicyDocument, "CreateDate": r.CreateDate, "UpdateDate": r.UpdateDate, "MaxSessionDuration": 3600}
}

func policyJSON(p *RAMPolicy) map[string]any {
	return map[string]any{"PolicyName": p.PolicyName, "PolicyType": "Custom", "Description": p.Description,
		"DefaultVersion": p.DefaultVersion, "CreateDate": p.CreateDate, "UpdateDate": p.UpdateDate}
}

func (s *Server) ramCreateRole(p url.Values) (any, *apiError) {
	name, e := ramName(p, "RoleName", "InvalidParameter.RoleName.InvalidChars")
	if e != nil {
		return nil, e
	}
	doc, e := ramDocument(p, "AssumeRolePolicyDocument")
	if e != nil {
		return nil, e
	}
	a := s.ram()
	if _, ok := a.roles[strings.ToLower(name)]; ok {
		return nil, errCode("EntityAlreadyExists.Role")
	}
	now := s.ramNow()
	r := &RAMRole{RoleName: name, RoleId: fmt.Sprintf("3%017d", s.nextID()), Arn: "acs:ram::" + cmsUserID + ":role/" + strings.ToLower(name),
		Description: p.Get("Description"), AssumeRolePolicyDocument: doc, CreateDate: now, UpdateDate: now}
	a.roles[strings.ToLower(name)] = r
	return map[string]any{"Role": roleJSON(r)}, nil
}

func (s *Server) ramRole(p url.Values) (*RAMRole, *apiError) {
	name, e := ramName(p, "RoleName", "InvalidParameter.RoleName.InvalidChars")
	if e != nil {
		return nil, e
	}
	r, ok := s.ram().roles[strings.ToLower(name)]
	if !ok {
		return nil, errCodef("EntityNotExist.Role", "The role %s does not exist.", name)
	}
	return r, nil
}

func (s *Server) ramGetRole(p url.Values) (any, *apiError) {
	r, e := s.ramRole(p)
	if e != nil {
		return nil, e
	}
	return map[string]any{"Role": roleJSON(r)}, nil
}

// ramUpdateRole replaces the trust policy (NewAssumeRolePolicyDocument)
// and the description (NewDescription), each when given.
func (s *Server) ramUpdateRole(p url.Values) (any, *apiError) {
	r, e := s.ramRole(p)
	if e != nil {
		return nil, e
	}
	if p.Get("NewAssumeRolePolicyDocument") != "" {
		doc, e := ramDocument(p, "NewAssumeRolePolicyDocument")
		if e != nil {
			return nil, e
		}
		r.AssumeRolePolicyDocument = doc
	}
	if v, ok := p["NewDescription"]; ok {
		r.Description = v[0]
	}
	r.UpdateDate = s.ramNow()
	return map[string]any{"Role": roleJSON(r)}, nil
}

func (s *Server) ramCreatePolicy(p url.Values) (any, *apiError) {
	name, e := ramName(p, "PolicyName", "InvalidParameter.PolicyName.InvalidChars")
	if e != nil {
		return nil, e
	}
	doc, e := ramDocument(p, "PolicyDocument")
	if e != nil {
		return nil, e
	}
	a := s.ram()
	if _, ok := a.policies[strings.ToLower(name)]; ok {
		return nil, errCode("EntityAlreadyExists.Policy")
	}
	now := s.ramNow()
	pol := &RAMPolicy{PolicyName: name, Description: p.Get("Description"), DefaultVersion: "v1", CreateDate: now, UpdateDate: now, nextVersion: 2,
		Versions: []RAMPolicyVersion{{VersionId: "v1", PolicyDocument: doc, CreateDate: now}}}
	a.policies[strings.ToLower(name)] = pol
	return map[string]any{"Policy": policyJSON(pol)}, nil
}

// ramPolicy finds a custom policy. Assumption: system policies (PolicyType
// System) are not modelled; asking for one answers EntityNotExist.Policy.
func (s *Server) ramPolicy(p url.Values, typed bool) (*RAMPolicy, *apiError) {
	name, e := ramName(p, "PolicyName", "InvalidParameter.PolicyName.InvalidChars")
	if e != nil {
		return nil, e
	}
	if typed {
		switch p.Get("PolicyType") {
		case "Custom":
		case "System":
			return nil, errCodef("EntityNotExist.Policy", "The system policy %s is not served by this emulator.", name)
		case "":
			return nil, errCodef("MissingParameter", "PolicyType is mandatory for this action.")
		default:
			return nil, errCode("InvalidParameter.PolicyType")
		}
	}
	pol, ok := s.ram().policies[strings.ToLower(name)]
	if !ok {
		return nil, errCodef("EntityNotExist.Policy", "The policy %s does not exist.", name)
	}
	return pol, nil
}

func (s *Server) ramGetPolicy(p url.Values) (any, *apiError) {
	pol, e := s.ramPolicy(p, true)
	if e != nil {
		return nil, e
	}
	def := map[string]any{"VersionId": pol.DefaultVersion, "PolicyDocument": pol.defaultDocument(), "IsDefaultVersion": true}
	for _, v := range pol.Versions {
		if v.VersionId == pol.DefaultVersion {
			def["CreateDate"] = v.CreateDate
		}
	}
	return map[string]any{"Policy": policyJSON(pol), "DefaultPolicyVersion": def}, nil
}

// ramCreatePolicyVersion adds a version; SetAsDefault makes it the default.
// RotateStrategy DeleteOldestNonDefaultVersionWhenLimitExceeded deletes the
// oldest non-default version when 5 exist; None (the default) refuses with
// LimitExceeded.Policy.Version.
func (s *Server) ramCreatePolicyVersion(p url.Values) (any, *apiError) {
	pol, e := s.ramPolicy(p, false)
	if e != nil {
		return nil, e
	}
	doc, e := ramDocument(p, "PolicyDocument")
	if e != nil {
		return nil, e
	}
	setDefault, e := boolParam(p, "SetAsDefault", false)
	if e != nil {
		return nil, e
	}
	if len(pol.Versions) >= ramMaxVersions {
		switch p.Get("RotateStrategy") {
		case "", "None":
			return nil, errCode("LimitExceeded.Policy.Version")
		case "DeleteOldestNonDefaultVersionWhenLimitExceeded":
			for i, v := range pol.Versions {
				if v.VersionId != pol.DefaultVersion {
					pol.Versions = append(pol.Versions[:i], pol.Versions[i+1:]...)
					break
				}
			}
		default:
			return nil, errCodef("InvalidParameter", "The specified RotateStrategy %q is not valid.", p.Get("RotateStrategy"))
		}
	}
	now := s.ramNow()
	v := RAMPolicyVersion{VersionId: fmt.Sprintf("v%d", pol.nextVersion), PolicyDocument: doc, CreateDate: now}
	pol.nextVersion++
	pol.Versions = append(pol.Versions, v)
	if setDefault {
		pol.DefaultVersion = v.VersionId
	}
	pol.UpdateDate = now
	return map[string]any{"PolicyVersion": map[string]any{"VersionId": v.VersionId, "PolicyDocument": v.PolicyDocument,
		"CreateDate": v.CreateDate, "IsDefaultVersion": setDefault}}, nil
}

func (s *Server) ramAttachPolicyToRole(p url.Values) (any, *apiError) {
	pol, e := s.ramPolicy(p, true)
	if e != nil {
		return nil, e
	}
	r, e := s.ramRole(p)
	if e != nil {
		return nil, e
	}
	a := s.ram()
	key := strings.ToLower(r.RoleName)
	for _, at := range a.attachments[key] {
		if strings.EqualFold(at.PolicyName, pol.PolicyName) {
			return nil, errCode("EntityAlreadyExists.Role.Policy")
		}
	}
	a.attachments[key] = append(a.attachments[key], ramAttachment{PolicyType: "Custom", PolicyName: pol.PolicyName, AttachDate: s.ramNow()})
	return map[string]any{}, nil
}

func (s *Server) ramListPoliciesForRole(p url.Values) (any, *apiError) {
	r, e := s.ramRole(p)
	if e != nil {
		return nil, e
	}
	a := s.ram()
	rows := []map[string]any{}
	for _, at := range a.attachments[strings.ToLower(r.RoleName)] {
		row := map[string]any{"PolicyName": at.PolicyName, "PolicyType": at.PolicyType, "AttachDate": at.AttachDate}
		if pol, ok := a.policies[strings.ToLower(at.PolicyName)]; ok {
			row["DefaultVersion"], row["Description"] = pol.DefaultVersion, pol.Description
		}
		rows = append(rows, row)
	}
	return map[string]any{"Policies": map[string]any{"Policy": rows}}, nil
}

// RAMRole returns the role named name.
func (s *Server) RAMRole(name string) (RAMRole, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.ram().roles[strings.ToLower(name)]
	if !ok {
		return RAMRole{}, false
	}
	return *r, true
}

// RAMPolicy returns the custom policy named name, with its versions.
func (s *Server) RAMPolicy(name string) (RAMPolicy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ram().policies[strings.ToLower(name)]
	if !ok {
		return RAMPolicy{}, false
	}
	out := *p
	out.Versions = append([]RAMPolicyVersion(nil), p.Versions...)
	return out, true
}

// SetRAMPolicy creates or replaces the custom policy name with one version
// of document, as a user would in the console.
func (s *Server) SetRAMPolicy(name, document string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.ramNow()
	s.ram().policies[strings.ToLower(name)] = &RAMPolicy{PolicyName: name, DefaultVersion: "v1", CreateDate: now, UpdateDate: now, nextVersion: 2,
		Versions: []RAMPolicyVersion{{VersionId: "v1", PolicyDocument: document, CreateDate: now}}}
}

// RAMAttachedPolicies returns the names of the policies attached to role, sorted.
func (s *Server) RAMAttachedPolicies(role string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, at := range s.ram().attachments[strings.ToLower(role)] {
		out = append(out, at.PolicyName)
	}
	sort.Strings(out)
	return out
}
