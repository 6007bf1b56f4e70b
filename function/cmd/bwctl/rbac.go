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
)

// rbac prints the function's RAM role (trust policy and permissions) and
// the aliyun CLI commands that create it.
func (e *env) rbac(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rbac", flag.ContinueOnError)
	fs.SetOutput(e.errw)
	dir := fs.String("deploy", "function/deploy", "the folder of ram-policy.json and trust-policy.json")
	role := fs.String("role", "ecs-bandwidth-autoscaler", "the role name")
	create := fs.Bool("create", false, "create the role and its policy")
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
	fmt.Fprintf(e.out, "# trust policy of role %s (%s)\n%s\n", *role, filepath.Join(*dir, "trust-policy.json"), strings.TrimSpace(string(trust)))
	fmt.Fprintf(e.out, "# permissions of role %s (%s)\n%s\n", *role, filepath.Join(*dir, "ram-policy.json"), strings.TrimSpace(string(perms)))
	cmds := []string{
		fmt.Sprintf("aliyun ram CreateRole --RoleName %s --AssumeRolePolicyDocument \"$(cat %s)\"", *role, filepath.Join(*dir, "trust-policy.json")),
		fmt.Sprintf("aliyun ram CreatePolicy --PolicyName %s-policy --PolicyDocument \"$(cat %s)\"", *role, filepath.Join(*dir, "ram-policy.json")),
		fmt.Sprintf("aliyun ram AttachPolicyToRole --PolicyType Custom --PolicyName %s-policy --RoleName %s", *role, *role),
	}
	if *create {
		// services/ram is in the SDK module, but bwctl does not create IAM
		// objects itself: the commands below are reviewed and run by hand.
		fmt.Fprintln(e.out, "# -create: bwctl does not create RAM objects itself; run these aliyun CLI commands (they need ram:CreateRole, ram:CreatePolicy, ram:AttachPolicyToRole):")
	} else {
		fmt.Fprintln(e.out, "# to create them:")
	}
	for _, c := range cmds {
		fmt.Fprintln(e.out, c)
	}
	return nil
}

// checkPolicy checks that the permissions cover exactly what the function
// calls: ecsapi.Actions and cmsapi.RAMActions, plus what the file adds.
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
	for _, a := range cmsapi.RAMActions {
		if !slices.Contains(have, a) {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ram-policy.json lacks %s, which the function calls", strings.Join(missing, ", "))
	}
	return nil
}
