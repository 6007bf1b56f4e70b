// Command ecs-emulator serves the ECS and CloudMonitor API emulator on a
// local address for `make run` and manual experiments: ECS (2014-05-26) and
// CloudMonitor's DescribeMetricLast / DescribeMetricList (2019-01-01) share
// the one port.
//
//	go run ./function/cmd/ecs-emulator -addr 127.0.0.1:0 -instances function/emulator/testdata/instances.json
//
// It prints ECS_ENDPOINT, CMS_ENDPOINT and the credentials to use, then
// serves until interrupted. GET /_emulator/orders, /_emulator/requests and
// /_emulator/instances show the state; POST /_emulator/demand
// {"instanceId": "i-...", "mbps": 12.5} sets an instance's demand, which
// CloudMonitor reports as min(demand, cap).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ecs-emulator:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("ecs-emulator", flag.ContinueOnError)
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "ecs-emulator serves ECS and CloudMonitor (DescribeMetricLast, DescribeMetricList) on one port; POST /_emulator/demand sets demands.")
		flags.PrintDefaults()
	}
	addr := flags.String("addr", "127.0.0.1:0", "listen address")
	instancesFile := flags.String("instances", "", "JSON file with the instances to serve (required)")
	lock := flags.Duration("lock", 5*time.Minute, "lock after each successful bandwidth change")
	publishDelay := flags.Duration("publish-delay", time.Minute, "how long after a period ends CloudMonitor serves its datapoint")
	keyID := flags.String("access-key-id", "", "AccessKeyId to accept (default: a random STS-style key)")
	secret := flags.String("access-key-secret", "", "AccessKeySecret to accept (default: random)")
	token := flags.String("security-token", "", "SecurityToken the key requires (default: random; \"-\" for a plain AccessKey)")
	// Parse errors are returned, not printed twice; -h and --help print the
	// usage on stdout and succeed, as a request for help is no failure.
	flags.SetOutput(io.Discard)
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: ecs-emulator -instances FILE [flags]\n\nServes the ECS API emulator; prints ECS_ENDPOINT and the credentials to use.\n\nFlags:")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			flags.SetOutput(stdout)
			flags.Usage()
			return nil
		}
		return fmt.Errorf("%w (ecs-emulator -h lists the flags)", err)
	}
	if *instancesFile == "" {
		return errors.New("-instances is required")
	}
	instances, err := loadFile(*instancesFile)
	if err != nil {
		return err
	}
	cred := emulator.Credential{AccessKeyID: *keyID, AccessKeySecret: *secret, SecurityToken: *token}
	if cred.AccessKeyID == "" {
		cred.AccessKeyID = "STS.emulator" + randomHex(8)
	}
	if cred.AccessKeySecret == "" {
		cred.AccessKeySecret = randomHex(16)
	}
	switch cred.SecurityToken {
	case "":
		cred.SecurityToken = randomHex(24)
	case "-":
		cred.SecurityToken = ""
	}

	srv := emulator.New(emulator.Config{Credentials: []emulator.Credential{cred}, LockDuration: *lock, PublishDelay: *publishDelay})
	for _, in := range instances {
		srv.AddInstance(in)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	// These are throwaway credentials of a local emulator, printed so that a
	// person can point the function at it.
	fmt.Fprintf(stdout, "ECS_ENDPOINT=http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "CMS_ENDPOINT=http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "VPC_ENDPOINT=http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "ALIBABA_CLOUD_ACCESS_KEY_ID=%s\n", cred.AccessKeyID)
	fmt.Fprintf(stdout, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=%s\n", cred.AccessKeySecret)
	fmt.Fprintf(stdout, "ALIBABA_CLOUD_SECURITY_TOKEN=%s\n", cred.SecurityToken)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(shutdown)
	}()
	if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func loadFile(path string) ([]emulator.Instance, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	instances, err := emulator.LoadInstances(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return instances, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
