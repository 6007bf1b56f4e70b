package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
)

// BenchmarkNodeRef is the reference for the function's CPU per scaling
// alarm: a minimal Node.js function doing what a scaling alarm needs of ECS,
// DescribeInstances then ModifyInstanceNetworkSpec through @alicloud/pop-core
// (function/cmd/benchreport/noderef/ref.js), against the same emulator and
// one fresh instance per iteration, as BenchmarkAlarm/change does. The script
// measures its own CPU (process.cpuUsage) over the iterations, after loading
// the SDK and the same warm-up of 32 Describes.
//
// It needs node and an installed pop-core: NODEREF_MODULES names the
// node_modules directory (`make bench` installs the pinned version of
// noderef/package.json into a temporary directory); without it, it skips.
func BenchmarkNodeRef(b *testing.B) {
	modules := os.Getenv("NODEREF_MODULES")
	if modules == "" {
		b.Skip("NODEREF_MODULES is not set (make bench installs @alicloud/pop-core and sets it)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not found")
	}
	script, err := filepath.Abs(filepath.Join("..", "cmd", "benchreport", "noderef", "ref.js"))
	if err != nil {
		b.Fatal(err)
	}
	cred := emulator.Credential{AccessKeyID: "STS.noderef" + strconv.FormatInt(time.Now().UnixNano(), 36), AccessKeySecret: "noderef-secret", SecurityToken: "CAISnoderef"}
	ecs := emulator.New(emulator.Config{Credentials: []emulator.Credential{cred}, LockDuration: 5 * time.Minute})
	instances := fleet("noderef", b.N)
	ids := make([]string, len(instances))
	for i, in := range withWarm(instances) {
		ecs.AddInstance(in)
		if i < len(ids) {
			ids[i] = in.InstanceId
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: ecs, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+modules,
		"ECS_ENDPOINT=http://"+ln.Addr().String(),
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+cred.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+cred.AccessKeySecret,
		"ALIBABA_CLOUD_SECURITY_TOKEN="+cred.SecurityToken,
		"NODEREF_INSTANCES="+strings.Join(ids, ","),
		"NODEREF_WARM="+warmID,
		"NODEREF_WARMUP=32",
		"NODEREF_MBPS=20",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_, from := ecsCalls(ecs, 0)
	b.ResetTimer()
	out, err := cmd.Output()
	b.StopTimer()
	if err != nil {
		b.Fatalf("node %s: %v\n%s", script, err, stderr.Bytes())
	}
	var rep struct {
		Iterations                     int
		CPUUserMicros, CPUSystemMicros float64
		WallMicros                     float64
		Node, PopCore                  string
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &rep); err != nil {
		b.Fatalf("ref.js printed %q: %v", out, err)
	}
	if rep.Iterations != b.N {
		b.Fatalf("ref.js ran %d iterations, want %d", rep.Iterations, b.N)
	}
	calls, to := ecsCalls(ecs, from)
	if calls["DescribeInstances"] != b.N+32 || calls["ModifyInstanceNetworkSpec"] != b.N || to-from != 2*b.N+32 {
		b.Fatalf("ECS calls %v, want %d Describe (32 of them warm-up) and %d Modify", calls, b.N+32, b.N)
	}
	orders := ecs.Orders()
	if len(orders) != b.N {
		b.Fatalf("%d orders for %d iterations", len(orders), b.N)
	}
	for _, o := range orders {
		if o.From != 10 || o.To != 20 {
			b.Fatalf("order %+v, want 10 → 20 Mbit/s", o)
		}
	}
	b.Logf("node %s, @alicloud/pop-core %s", rep.Node, rep.PopCore)
	n := float64(b.N)
	b.ReportMetric((rep.CPUUserMicros+rep.CPUSystemMicros)/1e3/n, "cpu-ms/alarm")
	b.ReportMetric(rep.CPUUserMicros/1e3/n, "user-ms/alarm")
	b.ReportMetric(rep.WallMicros/1e3/n, "wall-ms/alarm")
	b.ReportMetric(2, "ecs-calls/alarm")
}

// processCPU is the CPU time a process has used, user and system, summed over
// its threads from /proc/<pid>/task/*/schedstat, which counts nanoseconds
// (/proc/<pid>/stat counts 10 ms ticks: too coarse for a few hundred alarms of
// about a millisecond). The Go runtime keeps its threads, so none of the
// time is lost with an exited thread between two readings. Linux only.
func processCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return 0, err
	}
	if len(tasks) == 0 {
		return 0, errors.New("no /proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) < 1 {
			return 0, fmt.Errorf("unexpected %s: %q", t, b)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected %s: %q", t, b)
		}
		total += time.Duration(ns)
	}
	return total, nil
}
