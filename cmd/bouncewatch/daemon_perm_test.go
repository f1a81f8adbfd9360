package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
)

// TestUnreadableLog: a log the daemon may not read is reported clearly and
// retried; once readable, it is counted from where it should be. Root reads
// any file, so the daemon runs as nobody (the test needs root to do that).
func TestUnreadableLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the daemon as another user")
	}
	const nobody = 65534
	dir, err := os.MkdirTemp("", "bouncewatch-perm") // t.TempDir's parent is closed to others
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	log := filepath.Join(dir, "mail.log")
	copyFile(t, postfixLog, log)
	os.Chmod(log, 0o600) // root's, unreadable for nobody
	stateDir := filepath.Join(dir, "state")
	os.Mkdir(stateDir, 0o777)
	os.Chmod(stateDir, 0o777) // past the umask: nobody writes the state there

	p := startDaemonCmd(t, func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}, "--source.file=mail="+log, "--source.from-beginning", "--state.file="+filepath.Join(stateDir, "state"))
	stderr := p.stderr
	p.waitHTTP("/-/healthy")
	waitUntil(t, "the permission error in the log", func() bool {
		return strings.Contains(stderr.String(), "permission denied")
	})
	if resp, err := httpGet("http://" + p.addr + "/-/ready"); err != nil || resp.code != 503 || !strings.Contains(resp.body, "source mail (file "+log+"): open "+log+": permission denied") {
		t.Errorf("unreadable log: want /-/ready 503 saying why, got %v %+v", err, resp)
	}
	os.Chmod(log, 0o644)
	p.waitHTTP("/-/ready")
	got := p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(fileSize(t, log))).Counters()
	if d := exposition.Diff(reportCounters(t, "mail", log), got, daemonOnly); len(d) > 0 {
		t.Errorf("after the log became readable:\n%s", strings.Join(d, "\n"))
	}
	if n := strings.Count(stderr.String(), "permission denied"); n != 1 {
		t.Errorf("want the error logged once, not at every retry; got %d times:\n%s", n, stderr.String())
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}
