package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

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

// startDaemon starts the real binary with args plus a listen address and a
// short poll interval; callers wait for what they need (p.waitHTTP).
func startDaemon(t *testing.T, args ...string) *proc {
	t.Helper()
	return startDaemonCmd(t, nil, args...)
}

// startDaemonCmd is startDaemon with a hook to change the command first
// (e.g. to run it as another user).
func startDaemonCmd(t *testing.T, modify func(*exec.Cmd), args ...string) *proc {
	t.Helper()
	p := &proc{t: t, addr: freeAddr(t), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, append([]string{"run", "--web.listen-address=" + p.addr, "--tail.poll=20ms", "--log.level=debug"}, args...)...)
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
			t.Logf("daemon log:\n%s", p.stderr.String())
		}
	})
	return p
}

// waitHTTP polls url until it answers status 200 or the deadline passes.
func (p *proc) waitHTTP(path string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
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
			p.t.Fatalf("%s not ready in time:\n%s", path, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape returns the bouncewatch_ samples of /metrics as name{labels} -> value.
func (p *proc) scrape() map[string]float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	return parseSamples(p.t, resp.Body)
}

func parseSamples(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "bouncewatch_") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", l)
		}
		out[l[:i]] = v
	}
	return out
}

// stop sends sig and waits for the exit; it returns the exit code.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("daemon did not stop on %v:\n%s", sig, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// counters keeps the counter samples (and histogram parts) of a scrape, which
// must never go down between scrapes of one history.
func counters(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		name := k
		if i := strings.IndexByte(k, '{'); i >= 0 {
			name = k[:i]
		}
		if strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_sum") {
			out[k] = v
		}
	}
	return out
}

// reportCounters runs bouncewatch report over files with the given source
// name and returns its counter samples: what the daemon must have counted.
func reportCounters(t *testing.T, source string, files ...string) map[string]float64 {
	t.Helper()
	out, stderr, code := bw(t, nil, append([]string{"report", "--format=prometheus", "--source=" + source}, files...)...)
	if code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	return counters(parseSamples(t, strings.NewReader(out)))
}

// diffCounters lists the differences between two counter sets, ignoring the
// series only the daemon has.
func diffCounters(want, got map[string]float64) []string {
	var d []string
	for k, v := range want {
		if daemonOnly(k) {
			continue
		}
		if got[k] != v {
			d = append(d, fmt.Sprintf("%s: want %v, got %v", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 && !daemonOnly(k) {
			d = append(d, fmt.Sprintf("%s: want nothing, got %v", k, v))
		}
	}
	return d
}

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

func httpPost(url string) (httpResult, error) {
	resp, err := http.Post(url, "text/plain", nil)
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
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
