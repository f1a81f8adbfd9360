//go:build e2e

// Package e2e is bouncewatch's end-to-end test: a real Postfix and a real Exim
// send to a real Postfix that answers 451 4.3.2 on loopback, `bouncewatch run`
// follows their logs live (one through journald and rsyslog, one as Exim's
// mainlog, each rotated once, with a restart in between), and a real Prometheus
// scrapes it and evaluates alerting/bouncewatch.rules.yml.
//
// The work is done by run.sh (bash, as root, about 1.5 minutes); this test runs
// it so that it reports like any other Go test:
//
//	go test -tags e2e -count=1 -v -timeout 15m ./e2e/
package e2e

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the end-to-end test must run as root: it installs Debian packages and runs Postfix and Exim (sudo go test -tags e2e ./e2e/)")
	}
	cmd := exec.CommandContext(t.Context(), "bash", "run.sh")
	if deadline, ok := t.Deadline(); ok {
		// Leave run.sh time to stop what it started before go test gives up.
		remaining := time.Until(deadline) - time.Minute
		if remaining < 5*time.Minute {
			t.Fatalf("go test -timeout leaves %v; the end-to-end test needs up to 10 minutes (use -timeout 15m)", remaining)
		}
		timer := time.AfterFunc(remaining, func() {
			if cmd.Process != nil {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
		})
		defer timer.Stop()
	}
	// On cancellation run.sh gets SIGTERM, so that its trap stops the MTAs,
	// bouncewatch and Prometheus by pid.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("e2e/run.sh failed after %v: %v (the FAIL: lines above say which assertion)", time.Since(start).Round(time.Second), err)
	}
	t.Logf("e2e/run.sh passed in %v", time.Since(start).Round(time.Second))
}
