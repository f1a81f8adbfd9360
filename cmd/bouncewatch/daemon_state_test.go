package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/state"
	"github.com/bouncewatch/bouncewatch/tailer"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// waitScrapeUntil polls /metrics until ok holds for a scrape, and returns
// that scrape; what says what is waited for.
func (p *proc) waitScrapeUntil(what string, ok func(m map[string]float64) bool) map[string]float64 {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := p.scrape()
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("want %s, not reached in time", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDaemonDiscardsBadState: with a state file that cannot be used, the
// daemon neither crashes nor loops: it moves the file aside with its bytes,
// counts and logs that, starts fresh (counting the log from the configured
// start exactly like report), and at SIGTERM exits 0 leaving a good file.
func TestDaemonDiscardsBadState(t *testing.T) {
	// A valid file for the same source, to be cut in half.
	valid := filepath.Join(t.TempDir(), "valid.json")
	err := state.Write(valid, &state.File{
		Written: time.Now(),
		Sources: map[string]state.Source{"mail": {
			Position: &tailer.Position{Path: "/var/log/mail.log", Dev: 1, Ino: 2, Fingerprint: []byte("Nov 27"), Offset: 4096},
			Tracker:  tracker.State{Now: time.Now(), Messages: []tracker.MessageState{}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	want := reportCounters(t, "mail", postfixLog)

	tests := []struct {
		name    string
		content string
		why     string // in the log line that says the file is unusable
	}{
		{"corrupt", "\x00\x8f\xff garbage\n", "corrupt state file: invalid character"},
		{"empty", "", "empty state file"},
		{"truncated", string(good[:len(good)/2]), "corrupt state file: unexpected end of JSON input"},
		{"newer version", `{"version":99,"sources":{}}`, "state file version 99 is from a newer bouncewatch"},
		{"no version", `{}`, "not a bouncewatch state file (no version)"},
		{"bad tracker", `{"version":1,"sources":{"mail":{"tracker":{"messages":[{"id":"Q1"}]}}}}`, `without id or recipients`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "mail.log")
			copyFile(t, postfixLog, log)
			size := fileSize(t, log)
			stateFile := filepath.Join(dir, "state.json")
			if err := os.WriteFile(stateFile, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}

			p := startDaemon(t, "--source.file=mail="+log, "--source.from-beginning", "--state.file="+stateFile, "--state.interval=1h")
			p.waitHTTP("/-/ready")
			m := p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(size))
			if got := m["bouncewatch_state_file_discarded_total"]; got != 1 {
				t.Errorf("bouncewatch_state_file_discarded_total: want 1, got %v", got)
			}
			if d := diffCounters(want, counters(m)); len(d) > 0 {
				t.Errorf("want the daemon to start fresh and count like report, differs:\n%s", strings.Join(d, "\n"))
			}

			aside, _ := filepath.Glob(stateFile + ".bad-*")
			if len(aside) != 1 {
				t.Fatalf("want one %s.bad-* file, got %q", filepath.Base(stateFile), aside)
			}
			if got, err := os.ReadFile(aside[0]); err != nil || string(got) != tt.content {
				t.Errorf("want %s to hold the old bytes %q, got %q, %v", aside[0], tt.content, got, err)
			}

			if code := p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("SIGTERM: want exit 0, got %d", code)
			}
			// The process is gone: its log is complete and safe to read.
			logText := p.stderr.String()
			for _, w := range []string{`msg="state file unusable; starting fresh"`, tt.why, `msg="moved the state file aside"`, filepath.Base(aside[0])} {
				if !strings.Contains(logText, w) {
					t.Errorf("want the log to contain %q, got:\n%s", w, logText)
				}
			}
			f, err := state.Read(stateFile)
			if err != nil {
				t.Fatalf("want a good state file after SIGTERM, got %v", err)
			}
			if pos := f.Sources["mail"].Position; pos == nil || pos.Path != log || pos.Offset != size {
				t.Errorf("state file position: want %s at %d, got %+v", log, size, pos)
			}
			if got := f.Metrics.Bytes["mail"]; got != uint64(size) {
				t.Errorf("state file bytes counter: want %d, got %d", size, got)
			}
		})
	}
}

// TestDaemonStateDirUnwritable: when the state file cannot be written (its
// directory is a regular file), the daemon keeps following and serving,
// counts every failed checkpoint, stays ready, and SIGTERM still exits 0.
func TestDaemonStateDirUnwritable(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(postfixLog)
	if err != nil {
		t.Fatal(err)
	}
	// Start with the first half of the lab log; the rest is appended later.
	cut := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	log := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(log, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "notadir")
	if err := os.WriteFile(notDir, []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(notDir, "state.json")

	p := startDaemon(t, "--source.file=mail="+log, "--source.from-beginning", "--state.file="+stateFile, "--state.interval=100ms")
	p.waitHTTP("/-/ready")
	const failures = "bouncewatch_checkpoint_failures_total"
	m := p.waitScrapeUntil("the first half counted and 2 failed checkpoints", func(m map[string]float64) bool {
		return m[`bouncewatch_log_bytes_total{source="mail"}`] == float64(cut) && m[failures] >= 2
	})
	if got := m["bouncewatch_state_file_discarded_total"]; got != 0 {
		t.Errorf("bouncewatch_state_file_discarded_total: want 0 (there is no state file), got %v", got)
	}

	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	before := m[failures]
	m = p.waitScrapeUntil("the appended lines counted and more failed checkpoints", func(m map[string]float64) bool {
		return m[`bouncewatch_log_bytes_total{source="mail"}`] == float64(len(data)) && m[failures] > before
	})
	if d := diffCounters(reportCounters(t, "mail", postfixLog), counters(m)); len(d) > 0 {
		t.Errorf("want the whole log counted like report, differs:\n%s", strings.Join(d, "\n"))
	}
	resp, err := http.Get("http://" + p.addr + "/-/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/-/ready after failed checkpoints: want 200, got %d", resp.StatusCode)
	}

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: want exit 0, got %d", code)
	}
	logText := p.stderr.String()
	for _, w := range []string{`msg="cannot write the state file"`, "not a directory"} {
		if !strings.Contains(logText, w) {
			t.Errorf("want the log to contain %q, got:\n%s", w, logText)
		}
	}
	if got, err := os.ReadFile(notDir); err != nil || string(got) != "in the way\n" {
		t.Errorf("want %s untouched, got %q, %v", notDir, got, err)
	}
}
