//go:build e2e

package e2e

// TestContainerSidecar proves the image of deploy/Dockerfile as a sidecar,
// with no registry: deploy/build-image.sh builds it FROM scratch with
// Debian's buildah, and e2e/container.sh runs it with Debian's podman the
// way a sidecar runs: the MTA's log directory mounted read-only, a read-only
// root file system, the image's non-root user, the state on a podman volume,
// the host's network. The daemon in the container must count exactly what
// `bouncewatch report` counts over the same lines, stop cleanly on SIGTERM
// leaving its state file in the volume, and after a restart continue from
// it: no re-count, no reset.
//
//	sudo go test -tags e2e -run TestContainerSidecar -count=1 -v ./e2e/   # about 15 s with a warm Go cache
//
// It needs root, buildah, podman and runc (apt-get install -y
// --no-install-recommends buildah podman runc); without them it is skipped,
// unless CI is set.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/internal/testenv"
)

const (
	ctrUID         = 65532 // USER in deploy/Dockerfile
	ctrImage       = "localhost/bouncewatch:e2e-test"
	ctrName        = "bouncewatch-sidecar-test"
	ctrStateVolume = "bouncewatch-sidecar-test-state"
	ctrLabLog      = "testdata/lab/postfix.log"
	ctrFirstPart   = 200 // lines of ctrLabLog before the restart; the rest after it
)

func TestContainerSidecar(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the container test must run as root (rootful podman): sudo go test -tags e2e -run TestContainerSidecar ./e2e/")
	}
	for _, tool := range []string{"buildah", "podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not found: %v (apt-get install -y --no-install-recommends buildah podman runc)", tool, err)
		}
	}
	start := time.Now()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}

	// podman's storage: short (its sockets live under it) and ours alone.
	store, err := os.MkdirTemp("", "bwc.")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := ctrSh(store, "bw_container_cleanup"); err != nil {
			t.Errorf("bw_container_cleanup: %v\n%s", err, out)
		}
		if err := os.RemoveAll(store); err != nil {
			t.Errorf("removing podman's storage: %v", err)
		}
	})

	// The image, with deploy/build-image.sh through container.sh.
	if out, err := ctrSh(store, "bw_container_build"); err != nil {
		t.Fatalf("building the image: %v\n%s", err, out)
	}
	t.Logf("image %s built in %v", ctrImage, time.Since(start).Round(100*time.Millisecond))

	// `bouncewatch report` on the host, over the first part and the whole log.
	dir := t.TempDir()
	bw := filepath.Join(dir, "bouncewatch")
	// The image's build flags, so that the Go build cache serves both.
	build := exec.Command("go", "build", "-trimpath", "-tags", "timetzdata", "-o", bw, "./cmd/bouncewatch")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	lab, err := os.ReadFile(filepath.Join(root, ctrLabLog))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(lab), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) <= ctrFirstPart {
		t.Fatalf("%s: %d lines, want more than %d", ctrLabLog, len(lines), ctrFirstPart)
	}
	head, tail := strings.Join(lines[:ctrFirstPart], ""), strings.Join(lines[ctrFirstPart:], "")
	report := func(content string) exposition.Samples {
		t.Helper()
		f := filepath.Join(dir, "report-input.log")
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bw, "report", "--format=prometheus", "--source=postfix", f)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bouncewatch report: %v", err)
		}
		s, err := exposition.Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("bouncewatch report: %v", err)
		}
		return s.Counters().Prefix("bouncewatch_")
	}
	wantHead, wantAll := report(head), report(head+tail)

	// The MTA's log directory: Postfix's maillog_file mode, readable by the
	// container's user.
	logDir := filepath.Join(dir, "maillog")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mailLog := filepath.Join(logDir, "mail.log")
	if err := os.WriteFile(mailLog, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}

	port := ctrFreePort(t)
	base := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	run := func() {
		t.Helper()
		t0 := time.Now()
		out, err := ctrSh(store, "bw_container_run", ctrName, strconv.Itoa(port), logDir, ctrStateVolume, "--",
			"run", "--source.file=postfix="+mailLog, "--source.from-beginning",
			"--state.file=/var/lib/bouncewatch/state", "--state.interval=1s")
		if err != nil {
			t.Fatalf("bw_container_run: %v\n%s", err, out)
		}
		ctrWaitReady(t, store, base+"/-/ready")
		t.Logf("container ready in %v", time.Since(t0).Round(10*time.Millisecond))
	}

	// 1. First start: every counter equals report over the same lines.
	run()
	if d := exposition.Diff(wantHead, ctrScrape(t, base), nil); len(d) > 0 {
		t.Errorf("first start: /metrics differs from `bouncewatch report` over the same %d lines:\n%s", ctrFirstPart, strings.Join(d, "\n"))
	}

	// 2. Hardening, seen from podman and from the kernel.
	inspect, err := ctrSh(store, "bw_podman", "inspect", "--format",
		`{{.State.Pid}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.NetworkMode}}`, ctrName)
	if err != nil {
		t.Fatalf("podman inspect: %v\n%s", err, inspect)
	}
	var pid int
	var readOnly bool
	var netMode string
	if _, err := fmt.Sscan(string(inspect), &pid, &readOnly, &netMode); err != nil {
		t.Fatalf("podman inspect: %q: %v", inspect, err)
	}
	if !readOnly {
		t.Errorf("podman inspect: HostConfig.ReadonlyRootfs is false")
	}
	if netMode != "host" {
		t.Errorf("podman inspect: network mode %q, want host", netMode)
	}
	mounts, err := ctrSh(store, "bw_podman", "inspect", "--format",
		`{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{"\n"}}{{end}}`, ctrName)
	if err != nil {
		t.Fatalf("podman inspect: %v\n%s", err, mounts)
	}
	var logMount, stateMount bool
	for _, m := range strings.Split(strings.TrimSpace(string(mounts)), "\n") {
		f := strings.Fields(m)
		switch {
		case len(f) == 3 && f[0] == "bind" && f[1] == logDir: // no name for a bind mount
			logMount = f[2] == "false"
			if !logMount {
				t.Errorf("podman inspect: the log directory is mounted read-write: %q", m)
			}
		case len(f) == 4 && f[0] == "volume" && f[1] == ctrStateVolume && f[2] == "/var/lib/bouncewatch":
			stateMount = f[3] == "true"
		}
	}
	if !logMount || !stateMount {
		t.Errorf("podman inspect: want %s read-only and the volume %s read-write on /var/lib/bouncewatch, got:\n%s", logDir, ctrStateVolume, mounts)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"Uid", "Gid"} {
		want := fmt.Sprintf("%s:\t%d\t%d\t%d\t%d", field, ctrUID, ctrUID, ctrUID, ctrUID)
		if !strings.Contains(string(status), want+"\n") {
			t.Errorf("the container's process (host pid %d): want %q in /proc/%d/status:\n%s", pid, want, pid, status)
		}
	}
	if !strings.Contains(string(status), "CapEff:\t0000000000000000\n") || !strings.Contains(string(status), "NoNewPrivs:\t1\n") {
		t.Errorf("the container's process: want no capabilities and no_new_privs:\n%s", status)
	}
	procMounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mounts", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, where := range []string{"/", logDir} {
		if opts := ctrMountOptions(string(procMounts), where); !strings.HasPrefix(opts, "ro,") {
			t.Errorf("in the container, %s is mounted %q, want ro:\n%s", where, opts, procMounts)
		}
	}
	// Writing through the read-only mounts fails for the process itself
	// (root on the host could still write through /proc/PID/root).
	for _, where := range []string{"/usr/local/bin", "/tmp", logDir} {
		if !strings.HasPrefix(ctrMountOptions(string(procMounts), ctrMountPointOf(string(procMounts), where)), "ro") {
			t.Errorf("in the container, %s is on a writable mount:\n%s", where, procMounts)
		}
	}

	// 3. SIGTERM: exit 0, the state file in the volume, owned by the user.
	t0 := time.Now()
	if out, err := ctrSh(store, "bw_container_stop", ctrName, "20"); err != nil {
		t.Errorf("bw_container_stop: %v (the container's exit status)\n%s\n%s", err, out, ctrLogs(store))
	}
	t.Logf("stopped in %v", time.Since(t0).Round(10*time.Millisecond))
	volume, err := ctrSh(store, "bw_podman", "volume", "inspect", "--format", "{{.Mountpoint}}", ctrStateVolume)
	if err != nil {
		t.Fatalf("podman volume inspect: %v\n%s", err, volume)
	}
	stateFile := filepath.Join(strings.TrimSpace(string(volume)), "state")
	fi, err := os.Stat(stateFile)
	if err != nil {
		t.Fatalf("no state file in the volume after SIGTERM: %v\n%s", err, ctrLogs(store))
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != ctrUID || fi.Size() == 0 {
		t.Errorf("state file %s: owner %d, size %d; want %d and not empty", stateFile, st.Uid, fi.Size(), ctrUID)
	}
	firstLogs := ctrLogs(store)
	if !strings.Contains(firstLogs, "no state file: first start") {
		t.Errorf("first start: want \"no state file: first start\" in the log:\n%s", firstLogs)
	}

	// 4. Restart with the same volume and the same arguments (as a sidecar
	// restarts): the state is restored, nothing is counted again ...
	run()
	logs := ctrLogs(store)
	if !strings.Contains(logs, "state restored") || strings.Contains(logs, "first start") {
		t.Errorf("restart: want \"state restored\" and no first start in the log:\n%s", logs)
	}
	if d := exposition.Diff(wantHead, ctrScrape(t, base), nil); len(d) > 0 {
		t.Errorf("restart: /metrics differs from `bouncewatch report` over the lines read before:\n%s", strings.Join(d, "\n"))
	}
	// ... and the lines the MTA writes next are counted on top.
	f, err := os.OpenFile(mailLog, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, tail); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var d []string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if d = exposition.Diff(wantAll, ctrScrape(t, base), nil); len(d) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(d) > 0 {
		t.Errorf("after the restart and %d more lines: /metrics differs from `bouncewatch report` over all %d lines:\n%s",
			len(lines)-ctrFirstPart, len(lines), strings.Join(d, "\n"))
	}
	if out, err := ctrSh(store, "bw_container_stop", ctrName, "20"); err != nil {
		t.Errorf("bw_container_stop after the restart: %v\n%s\n%s", err, out, ctrLogs(store))
	}
	t.Logf("%d series equal `bouncewatch report` before and after a restart; total %v",
		len(wantAll), time.Since(start).Round(100*time.Millisecond))
}

// ctrSh runs one function of container.sh with the test's storage and
// image, in UTC like the report it is compared with.
func ctrSh(store string, args ...string) ([]byte, error) {
	cmd := exec.Command("bash", append([]string{"-c", `set -euo pipefail; source ./container.sh; "$@"`, "bash"}, args...)...)
	cmd.Env = append(os.Environ(), "BW_CONTAINER_DIR="+store, "BW_CONTAINER_IMAGE="+ctrImage, "TZ=UTC")
	return cmd.CombinedOutput()
}

func ctrLogs(store string) string {
	out, err := ctrSh(store, "bw_container_logs", ctrName)
	if err != nil {
		return fmt.Sprintf("(podman logs: %v) %s", err, out)
	}
	return string(out)
}

// ctrWaitReady polls /-/ready until 200, failing early when the container stops.
func ctrWaitReady(t *testing.T, store, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	last := ""
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		if out, err := ctrSh(store, "bw_podman", "inspect", "--format", "{{.State.Running}}", ctrName); err != nil || strings.TrimSpace(string(out)) != "true" {
			t.Fatalf("the container is not running (%v %s); its log:\n%s", err, out, ctrLogs(store))
		}
	}
	t.Fatalf("%s not ready after 30s (%s); the container's log:\n%s", url, last, ctrLogs(store))
}

// ctrScrape reads the bouncewatch_ counters (and histogram parts) of /metrics.
func ctrScrape(t *testing.T, base string) exposition.Samples {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	s, err := exposition.Parse(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return s.Counters().Prefix("bouncewatch_")
}

func ctrFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ctrMountOptions returns the options of the last mount on exactly where, in
// /proc/PID/mounts format ("" if none).
func ctrMountOptions(mounts, where string) string {
	opts := ""
	for _, line := range strings.Split(mounts, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == where {
			opts = f[3] + ","
		}
	}
	return opts
}

// ctrMountPointOf returns the mount point that holds path (the longest prefix).
func ctrMountPointOf(mounts, path string) string {
	best := "/"
	for _, line := range strings.Split(mounts, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			mp := f[1]
			if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
				best = mp
			}
		}
	}
	return best
}
