package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
)

// These tests run the real binary as a user installs it: the shipped
// defaults (poll, rotate-wait, checkpoint interval, rules), only the paths
// and the listen address given.

// proc is a running bouncewatch daemon started by a test.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuffer
	done   chan error
}

// lockedBuffer is the daemon's stderr, safe to read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDaemon starts `bouncewatch run` with args and a listen address.
func startDaemon(t *testing.T, args ...string) *proc {
	t.Helper()
	return startDaemonCmd(t, nil, args...)
}

// startDaemonCmd is startDaemon with a hook to change the command first
// (e.g. to run it as another user).
func startDaemonCmd(t *testing.T, modify func(*exec.Cmd), args ...string) *proc {
	t.Helper()
	p := &proc{t: t, addr: freeAddr(t), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, append([]string{"run", "--web.listen-address=" + p.addr, "--log.level=debug"}, args...)...)
	p.cmd.Env = append(os.Environ(), "TZ=UTC")
	p.cmd.Stderr = p.stderr
	if modify != nil {
		modify(p.cmd)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("daemon log (last 4 KiB):\n%s", tail(p.stderr.String(), 4096))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitHTTP polls path until it answers 200 or the deadline passes.
func (p *proc) waitHTTP(path string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-p.done:
			p.t.Fatalf("daemon exited early: %v\n%s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready in time:\n%s", path, tail(p.stderr.String(), 4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape returns the bouncewatch_ samples of /metrics; nil while it answers
// anything but 200, or does not listen yet.
func (p *proc) scrape() exposition.Samples {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	s, err := exposition.Parse(resp.Body)
	if err != nil {
		p.t.Fatalf("the scrape does not parse: %v", err)
	}
	return s.Prefix("bouncewatch_")
}

// waitSample polls until the sample equals want and returns that scrape.
func (p *proc) waitSample(key string, want float64) exposition.Samples {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := p.scrape()
		if m != nil && m[key] == want {
			return m
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: want %v, last %v", key, want, m[key])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig and waits for the exit; it returns the exit code.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("daemon did not stop on %v:\n%s", sig, tail(p.stderr.String(), 4096))
	}
	return p.cmd.ProcessState.ExitCode()
}

// reportCounters runs bouncewatch report over files with the given source
// name and returns its counter samples: what the daemon must have counted.
func reportCounters(t *testing.T, source string, files ...string) exposition.Samples {
	t.Helper()
	out, stderr, code := bw(t, nil, append([]string{"report", "--format=prometheus", "--source=" + source}, files...)...)
	if code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	s, err := exposition.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return s.Counters()
}

// daemonOnly says a series is one the report does not have.
func daemonOnly(k string) bool {
	for _, p := range []string{"bouncewatch_log_rotations_total", "bouncewatch_checkpoint_", "bouncewatch_state_file_"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

type httpResult struct {
	code int
	body string
}

func httpGet(url string) (httpResult, error) {
	resp, err := http.Get(url)
	if err != nil {
		return httpResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, string(b)}, nil
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
