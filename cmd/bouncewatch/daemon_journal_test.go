package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeJournalctl stands in for journalctl, which needs a running journald:
// it prints the entries of a real journal export (testdata/journal, from the
// lab's journald) after --after-cursor, as journalctl -o json does, then
// waits as --follow would.
const fakeJournalctl = `#!/bin/sh
cursor=""
for a in "$@"; do case "$a" in --after-cursor=*) cursor="${a#--after-cursor=}";; esac; done
if [ -n "$cursor" ]; then
  awk -v c="\"__CURSOR\":\"$cursor\"" 'found {print} index($0, c) {found=1}' "$JOURNAL_FILE"
else
  cat "$JOURNAL_FILE"
fi
exec sleep 600
`

// TestJournalSource follows a unit's journal: the counts equal report's over
// journalctl -o short-precise of the same journal, and a restart resumes
// after the persisted cursor without re-reading.
func TestJournalSource(t *testing.T) {
	dir := t.TempDir()
	jc := filepath.Join(dir, "journalctl")
	if err := os.WriteFile(jc, []byte(fakeJournalctl), 0o755); err != nil {
		t.Fatal(err)
	}
	journal, _ := filepath.Abs("../../testdata/journal/journal.json")
	t.Setenv("JOURNAL_FILE", journal)
	args := []string{"--source.journal=mail=postfix.service", "--source.journalctl=" + jc, "--source.from-beginning",
		"--state.file=" + filepath.Join(dir, "state.json")}
	p := startDaemon(t, args...)
	p.waitHTTP("/-/ready")
	got := counters(p.waitSample(`bouncewatch_log_lines_total{result="matched",source="mail"}`, 231))
	// The same journal as journalctl -o short-precise printed it.
	want := reportCounters(t, "mail", "../../testdata/lab/journal-short-precise.log")
	for _, k := range []string{"bouncewatch_log_bytes_total", "bouncewatch_log_lines_total{result=\"unmatched\""} {
		for key := range want { // byte counts differ: the lines are rendered differently
			if strings.HasPrefix(key, k) {
				delete(want, key)
				delete(got, key)
			}
		}
	}
	if d := diffCounters(want, got); len(d) > 0 {
		t.Errorf("journal source and report differ:\n%s", strings.Join(d, "\n"))
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
	p2 := startDaemon(t, args...)
	p2.waitHTTP("/-/ready")
	got2 := counters(p2.waitSample(`bouncewatch_log_lines_total{result="matched",source="mail"}`, 231))
	for k := range got2 {
		if strings.HasPrefix(k, "bouncewatch_log_bytes_total") || strings.HasPrefix(k, "bouncewatch_log_lines_total{result=\"unmatched\"") {
			delete(got2, k)
		}
	}
	if d := diffCounters(got, got2); len(d) > 0 {
		t.Errorf("after the restart:\n%s", strings.Join(d, "\n"))
	}
}

func TestJournalctlMissing(t *testing.T) {
	_, stderr, code := bw(t, nil, "run", "--source.journal=mail=postfix.service", "--source.journalctl=/nonexistent/journalctl", "--state.file="+filepath.Join(t.TempDir(), "s.json"))
	if code != 1 || !strings.Contains(stderr, "journalctl not found") {
		t.Errorf("want exit 1 saying journalctl is missing, got %d: %s", code, stderr)
	}
}
