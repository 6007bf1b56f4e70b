package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/cmsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/vpcapi"
)

// rbac prints the function's RAM role (trust policy and permissions) and
// the aliyun CLI commands that create it; with -create it creates them
// itself (ramCreate).
func (e *env) rbac(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rbac", flag.ContinueOnError)
	fs.SetOutput(e.errw)
	dir := fs.String("deploy", "function/deploy", "the folder of ram-policy.json and trust-policy.json")
	role := fs.String("role", "ecs-bandwidth-autoscaler", "the role name")
	create := fs.Bool("create", false, "create the role, its policy and the attachment through the RAM API (RAM_ENDPOINT), where absent")
	force := fs.Bool("force", false, "with -create: replace a role's trust policy or a policy's document that differs")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	trust, err := os.ReadFile(filepath.Join(*dir, "trust-policy.json"))
	if err != nil {
		return err
	}
	perms, err := os.ReadFile(filepath.Join(*dir, "ram-policy.json"))
	if err != nil {
		return err
	}
	if err := checkPolicy(perms); err != nil {
		return err
	}
	if *force && !*create {
		return usageError{"rbac: -force goes with -create"}
	}
	policyName := *role + "-policy"
	if *create {
		if err := e.setup(true); err != nil {
			return err
		}
		n, err := e.ramCreate(ctx, *role, policyName, trust, perms, *force)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d RAM objects differ from %s and were left alone (rbac -create -force replaces them)", n, *dir)
		}
		return nil
	}
	fmt.Fprintf(e.out, "# trust policy of role %s (%s)\n%s\n", *role, filepath.Join(*dir, "trust-policy.json"), strings.TrimSpace(string(trust)))
	fmt.Fprintf(e.out, "# permissions of role %s (%s)\n%s\n", *role, filepath.Join(*dir, "ram-policy.json"), strings.TrimSpace(string(perms)))
	cmds := []string{
		fmt.Sprintf("aliyun ram CreateRole --RoleName %s --AssumeRolePolicyDocument \"$(cat %s)\"", *role, filepath.Join(*dir, "trust-policy.json")),
		fmt.Sprintf("aliyun ram CreatePolicy --PolicyName %s --PolicyDocument \"$(cat %s)\"", policyName, filepath.Join(*dir, "ram-policy.json")),
		fmt.Sprintf("aliyun ram AttachPolicyToRole --PolicyType Custom --PolicyName %s --RoleName %s", policyName, *role),
	}
	fmt.Fprintln(e.out, "# to create them (or: bwctl rbac -create):")
	for _, c := range cmds {
		fmt.Fprintln(e.out, c)
	}
	return nil
}

// checkPolicy checks that the permissions cover exactly what the function
// calls: ecsapi.Actions, cmsapi.RAMActions and vpcapi.RAMActions, plus what
// the file adds.
func checkPolicy(doc []byte) error {
	var p struct {
		Statement []struct {
			Action []string `json:"Action"`
		} `json:"Statement"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return fmt.Errorf("ram-policy.json: %w", err)
	}
	var have []string
	for _, s := range p.Statement {
		have = append(have, s.Action...)
	}
	var missing []string
	for _, a := range ecsapi.Actions {
		if !slices.Contains(have, "ecs:"+a) {
			missing = append(missing, "ecs:"+a)
		}
	}
	for _, a := range slices.Concat(cmsapi.RAMActions, vpcapi.RAMActions) {
		if !slices.Contains(have, a) {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ram-policy.json lacks %s, which the function calls", strings.Join(missing, ", "))
	}
	return nil
}
