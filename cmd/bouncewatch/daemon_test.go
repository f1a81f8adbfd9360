package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitCounter polls until the sample equals want.
func (p *proc) waitSample(key string, want float64) map[string]float64 {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := p.scrape()
		if m[key] == want {
			return m
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: want %v, last %v", key, want, m[key])
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

// TestDaemonCountsLikeReport: the daemon following the lab log from its start
// counts exactly what report counts; SIGTERM writes the state and exits 0,
// and a restart continues with zero re-reads.
func TestDaemonCountsLikeReport(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	copyFile(t, postfixLog, log)
	size := fileSize(t, log)
	stateFile := filepath.Join(dir, "state", "state.json")
	args := []string{"--source.file=mail=" + log, "--source.from-beginning", "--state.file=" + stateFile, "--state.interval=1h"}

	p := startDaemon(t, args...)
	p.waitHTTP("/-/ready")
	got := counters(p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(size)))
	want := reportCounters(t, "mail", log)
	if d := diffCounters(want, got); len(d) > 0 {
		t.Errorf("daemon and report differ:\n%s", strings.Join(d, "\n"))
	}
	start := time.Now()
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: want exit 0, got %d", code)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("SIGTERM took %v", el)
	}
	if _, err := os.Stat(stateFile); err != nil {
		t.Fatalf("no state file after SIGTERM: %v", err)
	}

	p2 := startDaemon(t, args...)
	p2.waitHTTP("/-/ready")
	time.Sleep(200 * time.Millisecond) // a re-read would show by now
	got2 := counters(p2.scrape())
	if d := diffCounters(want, got2); len(d) > 0 {
		t.Errorf("after the restart:\n%s", strings.Join(d, "\n"))
	}
	p2.stop(syscall.SIGTERM)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestDaemonEndpoints(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	rules := filepath.Join(dir, "rules.yaml")
	copyFile(t, "../../rules.yaml", rules)
	os.WriteFile(log, nil, 0o644)
	p := startDaemon(t, "--source.file=mail="+log, "--state.file="+filepath.Join(dir, "state.json"), "--config.file="+rules)
	p.waitHTTP("/-/ready")
	p.waitHTTP("/-/healthy")
	p.waitHTTP("/")
	if m := p.scrape(); m["bouncewatch_config_last_reload_successful"] != 1 {
		t.Errorf("want reload status 1, got %v", m["bouncewatch_config_last_reload_successful"])
	}
	os.WriteFile(rules, []byte("rules: [\n"), 0o644)
	resp, err := httpPost("http://" + p.addr + "/-/reload")
	if err != nil || resp.code != 500 || !strings.Contains(resp.body, "rules.yaml:") {
		t.Errorf("bad rules reload: want 500 naming the file, got %v %+v", err, resp)
	}
	if m := p.scrape(); m["bouncewatch_config_last_reload_successful"] != 0 {
		t.Errorf("want reload status 0 after a bad file, got %v", m["bouncewatch_config_last_reload_successful"])
	}
	copyFile(t, "../../rules.yaml", rules)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitSample("bouncewatch_config_last_reload_successful", 1)
	p.stop(syscall.SIGINT)
}

// TestStdinSource: `--source.file=NAME=-` counts what arrives on standard
// input, and SIGTERM stops the daemon while it waits for more.
func TestStdinSource(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(postfixLog)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := startDaemonCmd(t, func(cmd *exec.Cmd) { cmd.Stdin = r }, "--source.file=mail=-", "--state.file="+filepath.Join(dir, "state.json"))
	r.Close()
	w.Write(data)
	p.waitHTTP("/-/ready")
	got := counters(p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(len(data))))
	if d := diffCounters(reportCounters(t, "mail", postfixLog), got); len(d) > 0 {
		t.Errorf("stdin source and report differ:\n%s", strings.Join(d, "\n"))
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM with standard input still open: exit %d", code)
	}
}
