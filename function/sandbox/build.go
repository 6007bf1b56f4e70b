package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds the function at functionDir (the folder of its main package
// and the bundled policy.yaml) into a new temporary folder, with the policy
// beside the binary as `make build` puts it. remove deletes the folder.
func Build(functionDir string) (binary string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "function")
	if err != nil {
		return "", nil, err
	}
	remove = func() { _ = os.RemoveAll(dir) }
	binary = filepath.Join(dir, "main")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, ".")
	build.Dir = functionDir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("building the function: %w\n%s", err, out)
	}
	policy, err := os.ReadFile(filepath.Join(functionDir, "policy.yaml"))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "policy.yaml"), policy, 0o644)
	}
	if err != nil {
		remove()
		return "", nil, err
	}
	return binary, remove, nil
}
