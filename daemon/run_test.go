package daemon

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/status"
)

// readLabLog starts a daemon on a copy of the lab's Postfix log, read from
// its start, and returns once it has read all of it, with what it serves then.
func readLabLog(t *testing.T) (*running, Config, string, exposition.Samples) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	copyFile(t, postfixLog, log)
	cfg := testConfig(t, dir, SourceConfig{Name: "mail", Kind: File, Target: log})
	cfg.FromBeginning = true
	r := start(t, cfg)
	return r, cfg, log, r.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(fileSize(t, log)))
}

// TestCountsLikeReport: the daemon following the lab log from its start
// counts exactly what report counts; a stop writes the state, and a restart
// continues with nothing read twice.
func TestCountsLikeReport(t *testing.T) {
	r, cfg, log, read := readLabLog(t)
	got := read.Counters()
	want := reportSamples(t, "mail", log)
	if d := exposition.Diff(want, got, daemonOnly); len(d) > 0 {
		t.Errorf("daemon and report differ:\n%s", strings.Join(d, "\n"))
	}
	if took := r.stop(); took > 5*time.Second {
		t.Errorf("the stop took %v", took)
	}
	if _, err := os.Stat(cfg.StateFile); err != nil {
		t.Fatalf("no state file after the stop: %v", err)
	}

	r2 := start(t, cfg)
	waitUntil(t, "/-/ready", func() bool { code, _ := r2.get("/-/ready"); return code == 200 })
	// A re-read would show by now: the follower has looked several times.
	time.Sleep(100 * time.Millisecond)
	if d := exposition.Diff(want, r2.scrape().Counters(), daemonOnly); len(d) > 0 {
		t.Errorf("after the restart:\n%s", strings.Join(d, "\n"))
	}
}

// TestEndpoints: health, readiness, the landing page, and reloads through
// POST /-/reload (only with the lifecycle API) that keep the old rules when
// the new ones are bad.
func TestEndpoints(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	os.WriteFile(log, nil, 0o644)
	cfg := testConfig(t, dir, SourceConfig{Name: "mail", Kind: File, Target: log})
	r := start(t, cfg)
	waitUntil(t, "/-/ready", func() bool { code, _ := r.get("/-/ready"); return code == 200 })
	for _, p := range []string{"/-/healthy", "/"} {
		if code, body := r.get(p); code != 200 {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	if s := r.scrape(); s["bouncewatch_config_last_reload_successful"] != 1 {
		t.Errorf("want reload status 1, got %v", s["bouncewatch_config_last_reload_successful"])
	}
	if code, _ := r.get("/-/reload"); code != 405 {
		t.Errorf("GET /-/reload: want 405, got %d", code)
	}
	good, _ := os.ReadFile(cfg.RulesFile)
	os.WriteFile(cfg.RulesFile, []byte("rules: [\n"), 0o644)
	if code, body := r.post("/-/reload"); code != 500 || !strings.Contains(body, "rules.yaml:") {
		t.Errorf("bad rules reload: want 500 naming the file, got %d %s", code, body)
	}
	if s := r.scrape(); s["bouncewatch_config_last_reload_successful"] != 0 {
		t.Errorf("want reload status 0 after a bad file, got %v", s["bouncewatch_config_last_reload_successful"])
	}
	os.WriteFile(cfg.RulesFile, good, 0o644)
	if code, body := r.post("/-/reload"); code != 200 {
		t.Errorf("good rules reload: %d %s", code, body)
	}
	if s := r.scrape(); s["bouncewatch_config_last_reload_successful"] != 1 {
		t.Errorf("want reload status 1 again, got %v", s["bouncewatch_config_last_reload_successful"])
	}

	cfg.EnableLifecycle = false
	cfg.StateFile = filepath.Join(dir, "state2")
	r2 := start(t, cfg)
	if code, body := r2.post("/-/reload"); code != 403 || !strings.Contains(body, "--web.enable-lifecycle") {
		t.Errorf("without --web.enable-lifecycle: want 403, got %d %s", code, body)
	}
}

// TestScrapeEncodings: /metrics answers a scraper that asks for gzip (as
// Prometheus does) compressed, and one that does not in plain text; both
// parse, with each family once: the set's, the daemon's own, Go's and the
// process's. gzip comes more than once: a later scrape reuses the
// compressor of an earlier one.
func TestScrapeEncodings(t *testing.T) {
	r, _, _, _ := readLabLog(t)
	for _, c := range []struct {
		enc      string
		wantGzip bool
	}{{"gzip", true}, {"identity", false}, {"gzip;q=0", false}, {"gzip; q=0.000", false}, {"br, gzip;q=0.5", true}, {"gzip", true}} {
		enc, wantGzip := c.enc, c.wantGzip
		req, _ := http.NewRequest("GET", r.srv.URL+"/metrics", nil)
		req.Header.Set("Accept-Encoding", enc) // set by hand: the client does not decompress
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := io.Reader(resp.Body)
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != wantGzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", enc, got, wantGzip)
		}
		if wantGzip {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		text, err := io.ReadAll(body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q", ct)
		}
		s, err := exposition.Parse(bytes.NewReader(text)) // fails on a family written twice
		if err != nil {
			t.Fatalf("Accept-Encoding %q: %v", enc, err)
		}
		for _, name := range []string{"bouncewatch_events_total", "bouncewatch_config_last_reload_successful", "bouncewatch_build_info", "go_goroutines", "process_cpu_seconds_total"} {
			if len(s.Prefix(name)) == 0 {
				t.Errorf("Accept-Encoding %q: no %s", enc, name)
			}
		}
	}
}

// TestConcurrentScrapes: scrapes at the same time (two Prometheus servers,
// a person with curl) each get a whole exposition, though one buffer and
// compressor are kept for the next scrape; the others make their own.
func TestConcurrentScrapes(t *testing.T) {
	r, _, _, _ := readLabLog(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range 4 {
				req, _ := http.NewRequest("GET", r.srv.URL+"/metrics", nil)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					resp.Body.Close()
					t.Error(err)
					return
				}
				text, err := io.ReadAll(zr)
				resp.Body.Close()
				if err != nil {
					t.Error(err)
					return
				}
				s, err := exposition.Parse(bytes.NewReader(text))
				if err != nil {
					t.Error(err)
					return
				}
				if len(s.Prefix("bouncewatch_events_total")) == 0 || len(s.Prefix("process_cpu_seconds_total")) == 0 {
					t.Errorf("an exposition without its families: %d bytes", len(text))
				}
			}
		})
	}
	wg.Wait()
}

// TestMissingFileHoldsBackNothing: a configured file that does not exist yet
// does not hold back /metrics of the other sources; /-/ready names it and
// says why; its series exist from the start.
func TestMissingFileHoldsBackNothing(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	copyFile(t, postfixLog, log)
	missing := filepath.Join(dir, "exim", "mainlog")
	cfg := testConfig(t, dir, SourceConfig{Name: "mail", Kind: File, Target: log}, SourceConfig{Name: "exim", Kind: File, Target: missing})
	cfg.FromBeginning = true
	r := start(t, cfg)
	s := r.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(fileSize(t, log)))
	for _, series := range []string{`bouncewatch_log_lines_total{result="matched",source="exim"}`, `bouncewatch_log_bytes_total{source="exim"}`} {
		if v, ok := s[series]; !ok || v != 0 {
			t.Errorf("%s: want 0 from the start, got %v (present %v)", series, v, ok)
		}
	}
	code, body := r.get("/-/ready")
	if code != 503 || !strings.Contains(body, "source exim (file "+missing+"): ") || !strings.Contains(body, "no such file") || strings.Contains(body, "source mail") {
		t.Errorf("/-/ready: want 503 naming only the missing exim file, got %d:\n%s", code, body)
	}
	os.MkdirAll(filepath.Dir(missing), 0o755)
	os.WriteFile(missing, []byte("2026-11-27 06:14:28 1xWpE4-0005dn-1w Completed\n"), 0o644)
	waitUntil(t, "ready once the file appears", func() bool { code, _ := r.get("/-/ready"); return code == 200 })
	r.waitSample(`bouncewatch_log_lines_total{result="matched",source="exim"}`, 1)
}

// TestStdinSource: `--source.file=NAME=-` counts what arrives on standard
// input, and the stop does not wait for more input.
func TestStdinSource(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(postfixLog)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	cfg := testConfig(t, dir, SourceConfig{Name: "mail", Kind: Stdin, Target: "-"})
	cfg.Stdin = pr
	r := start(t, cfg)
	go pw.Write(data)
	got := r.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(len(data))).Counters()
	if d := exposition.Diff(reportSamples(t, "mail", postfixLog), got, daemonOnly); len(d) > 0 {
		t.Errorf("stdin source and report differ:\n%s", strings.Join(d, "\n"))
	}
	if took := r.stop(); took > 5*time.Second {
		t.Errorf("the stop with standard input still open took %v", took)
	}
}

// TestBadStateFile: with a state file that cannot be used, the daemon moves
// it aside with its bytes, counts and logs that, starts fresh, and leaves a
// good file at the stop.
func TestBadStateFile(t *testing.T) {
	r, cfg, log, _ := readLabLog(t)
	r.stop()
	good, err := os.ReadFile(cfg.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	want := reportSamples(t, "mail", postfixLog)
	tests := []struct {
		name, content, why string
	}{
		{"corrupt", "\x00\x8f\xff garbage\n", "not a bouncewatch state file"},
		{"empty", "", "empty state file"},
		{"cut short", string(good[:len(good)/2]), "the checksum does not match"},
		{"version 1", `{"version":1,"sources":{}}`, "state file version 1 (JSON) from an older bouncewatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.WriteFile(cfg.StateFile, []byte(tt.content), 0o600)
			r := start(t, cfg)
			s := r.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(fileSize(t, log)))
			if got := s["bouncewatch_state_file_discarded_total"]; got != 1 {
				t.Errorf("bouncewatch_state_file_discarded_total: want 1, got %v", got)
			}
			if d := exposition.Diff(want, s.Counters(), daemonOnly); len(d) > 0 {
				t.Errorf("want a fresh start that counts like report, differs:\n%s", strings.Join(d, "\n"))
			}
			aside, _ := filepath.Glob(cfg.StateFile + ".bad-*")
			if len(aside) != 1 {
				t.Fatalf("want one state.bad-* file, got %q", aside)
			}
			if b, _ := os.ReadFile(aside[0]); string(b) != tt.content {
				t.Errorf("want %s to hold the old bytes", aside[0])
			}
			os.Remove(aside[0])
			r.stop()
			for _, w := range []string{`msg="state file unusable; starting fresh"`, tt.why, `msg="moved the state file aside"`} {
				if !strings.Contains(r.log.String(), w) {
					t.Errorf("want the log to contain %q", w)
				}
			}
			// What it wrote at the stop is good: a restart counts on from it.
			r2 := start(t, cfg)
			s2 := r2.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(fileSize(t, log)))
			if s2["bouncewatch_state_file_discarded_total"] != 0 {
				t.Error("the state file written at the stop was discarded")
			}
			r2.stop()
		})
	}
}

// TestStateDirUnwritable: when the state file cannot be written, the daemon
// keeps following and serving, counts every failed checkpoint, stays ready.
func TestStateDirUnwritable(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile(postfixLog)
	cut := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	log := filepath.Join(dir, "mail.log")
	os.WriteFile(log, data[:cut], 0o644)
	notDir := filepath.Join(dir, "notadir")
	os.WriteFile(notDir, []byte("in the way\n"), 0o644)
	cfg := testConfig(t, dir, SourceConfig{Name: "mail", Kind: File, Target: log})
	cfg.FromBeginning, cfg.StateFile, cfg.StateInterval = true, filepath.Join(notDir, "state"), 20*time.Millisecond
	r := start(t, cfg)
	waitUntil(t, "2 failed checkpoints", func() bool { s := r.scrape(); return s["bouncewatch_checkpoint_failures_total"] >= 2 })
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(data[cut:])
	f.Close()
	s := r.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(len(data)))
	if d := exposition.Diff(reportSamples(t, "mail", postfixLog), s.Counters(), daemonOnly); len(d) > 0 {
		t.Errorf("want the whole log counted like report:\n%s", strings.Join(d, "\n"))
	}
	if code, body := r.get("/-/ready"); code != 200 {
		t.Errorf("/-/ready after failed checkpoints: %d %s", code, body)
	}
	r.stop()
	if !strings.Contains(r.log.String(), "not a directory") {
		t.Error("want the log to say why the checkpoint failed")
	}
}

// fakeJournalctl stands in for journalctl, which needs a running journald:
// it prints the entries of a real journal export (testdata/journal, from the
// lab's journald) after --after-cursor, slowly (so that readiness can be
// seen to wait for the backlog), and waits as --follow would.
const fakeJournalctl = `#!/bin/sh
cursor="" follow=""
for a in "$@"; do case "$a" in --after-cursor=*) cursor="${a#--after-cursor=}";; --follow) follow=1;; --unit=typo.service) exit 0;; esac; done
if [ -z "$follow" ]; then
  if [ -n "$cursor" ]; then
    awk -v c="\"__CURSOR\":\"$cursor\"" 'found {print} index($0, c) {found=1}' "$JOURNAL_FILE"
  else
    sleep 0.3; cat "$JOURNAL_FILE"
  fi
  exit 0
fi
exec sleep 600
`

// TestJournalSource follows a unit's journal: ready only once the backlog
// is read, the counts equal report's over journalctl -o short-precise of the
// same journal, and a restart resumes after the persisted cursor.
func TestJournalSource(t *testing.T) {
	dir := t.TempDir()
	jc := filepath.Join(dir, "journalctl")
	os.WriteFile(jc, []byte(fakeJournalctl), 0o755)
	journal, _ := filepath.Abs("../testdata/journal/journal.json")
	t.Setenv("JOURNAL_FILE", journal)
	cfg := testConfig(t, dir, SourceConfig{Name: "mail", Kind: Journal, Target: "postfix.service"})
	cfg.Journalctl, cfg.FromBeginning = jc, true
	r := start(t, cfg)
	if code, body := r.get("/-/ready"); code != 503 || !strings.Contains(body, "source mail (journal postfix.service): catching up") {
		t.Errorf("before the backlog is read: want 503 catching up, got %d %s", code, body)
	}
	// The same journal as journalctl -o short-precise printed it; the lines
	// are rendered differently, so their bytes and unmatched lines differ.
	want := reportSamples(t, "mail", "../testdata/lab/journal-short-precise.log")
	const matched = `bouncewatch_log_lines_total{result="matched",source="mail"}`
	waitUntil(t, "ready", func() bool { code, _ := r.get("/-/ready"); return code == 200 })
	if s := r.scrape(); s[matched] != want[matched] {
		t.Errorf("ready before the backlog was counted: %v of %v lines", s[matched], want[matched])
	}
	got := r.scrape().Counters()
	skip := func(k string) bool {
		return daemonOnly(k) || strings.HasPrefix(k, "bouncewatch_log_bytes_total") || strings.HasPrefix(k, `bouncewatch_log_lines_total{result="unmatched"`)
	}
	if d := exposition.Diff(want, got, skip); len(d) > 0 {
		t.Errorf("journal source and report differ:\n%s", strings.Join(d, "\n"))
	}
	r.stop()
	r2 := start(t, cfg)
	waitUntil(t, "ready after the restart", func() bool { code, _ := r2.get("/-/ready"); return code == 200 })
	if d := exposition.Diff(got, r2.scrape().Counters(), skip); len(d) > 0 {
		t.Errorf("after the restart:\n%s", strings.Join(d, "\n"))
	}
	r2.stop()

	// A unit with no entry at all (a typo) is said so.
	cfg.Sources[0].Target, cfg.StateFile, cfg.FromBeginning = "typo.service", filepath.Join(dir, "state3"), false
	r3 := start(t, cfg)
	waitUntil(t, "the warning", func() bool { return strings.Contains(r3.log.String(), "the journal has no entry for this unit") })
}

func TestJournalctlMissing(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), SourceConfig{Name: "mail", Kind: Journal, Target: "postfix.service"})
	cfg.Journalctl = "/nonexistent/journalctl"
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "journalctl not found") {
		t.Errorf("want an error saying journalctl is missing, got %v", err)
	}
}

// TestReloadAppliesLineLimit: a reload that changes max_line_bytes applies to
// the running follower at its next read.
func TestReloadAppliesLineLimit(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	os.WriteFile(log, nil, 0o644)
	cfg := testConfig(t, dir, SourceConfig{Name: "mail", Kind: File, Target: log})
	r := start(t, cfg)
	waitUntil(t, "/-/ready", func() bool { code, _ := r.get("/-/ready"); return code == 200 })
	rules, _ := os.ReadFile(cfg.RulesFile)
	os.WriteFile(cfg.RulesFile, bytes.Replace(rules, []byte("max_line_bytes: 65536"), []byte("max_line_bytes: 300"), 1), 0o644)
	if code, body := r.post("/-/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "Nov 27 06:14:28 tx postfix/smtp[1]: %s\n", strings.Repeat("x", 400))
	f.Close()
	r.waitSample(`bouncewatch_log_lines_total{result="too_long",source="mail"}`, 1)
}

// TestStatusEndpoints: / and /api/v1/status show, during a real outage, the
// domains deferring with the recipients the metrics count as waiting; the
// page is served with a strict CSP; the files it links are served.
func TestStatusEndpoints(t *testing.T) {
	dir := t.TempDir()
	postfix, exim := outageNow(t, dir)
	cfg := testConfig(t, dir, SourceConfig{Name: "postfix", Kind: File, Target: postfix}, SourceConfig{Name: "exim", Kind: File, Target: exim})
	cfg.FromBeginning = true
	r := start(t, cfg)
	waitUntil(t, "ready", func() bool { code, _ := r.get("/-/ready"); return code == 200 })
	metrics := r.scrape()
	_, body := r.get("/api/v1/status")
	var page status.Page
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if !page.Live || !page.Ready || len(page.Sources) != 2 || page.Checkpoint == nil || page.Rules.Count == 0 {
		t.Errorf("status: %+v", page)
	}
	var sum int64
	for _, d := range page.Deferring {
		want := metrics[fmt.Sprintf(`bouncewatch_domain_deferred_recipients{domain=%q,source=%q}`, d.Domain, d.Source)]
		if float64(d.Pending) != want {
			t.Errorf("%s %s: %d waiting on the page, %v in the metrics", d.Source, d.Domain, d.Pending, want)
		}
		if d.Pending > 0 && (d.CurrentCode.Code != "4.3.2" || d.Oldest == nil || d.OldestAgeSeconds < 0) {
			t.Errorf("%s %s: %+v", d.Source, d.Domain, d)
		}
		sum += d.Pending
	}
	if total := metrics.Sum("bouncewatch_tracker_entries"); float64(sum) != total || sum == 0 {
		t.Errorf("%d recipients waiting on the page, %v in the tracker", sum, total)
	}
	resp, err := http.Get(r.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("/: %d, CSP %q", resp.StatusCode, csp)
	}
	for path, want := range map[string]string{"/alerting/bouncewatch.rules.yml": "BouncewatchRepeated432", "/dashboard.json": `"panels"`, "/nothing": "404 page not found"} {
		if _, body := r.get(path); !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", path, want)
		}
	}
}
