package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// binary is the real bouncewatch, built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bouncewatch-test")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // a test runs the binary as another user
	binary = filepath.Join(dir, "bouncewatch")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// bw runs the binary and returns stdout, stderr and the exit code.
func bw(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

const postfixLog = "../../testdata/lab/postfix.log"

// TestReportText: the text report of the lab log is what README.md shows
// (so the README never drifts from the real output), and says what a
// postmaster needs in words a postmaster uses.
func TestReportText(t *testing.T) {
	out, stderr, code := bw(t, nil, "report", postfixLog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "Example (`report testdata/lab/postfix.log`, in UTC):\n\n```\n"
	_, example, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatal("README.md has no report example")
	}
	example, _, _ = strings.Cut(example, "```")
	if want := strings.ReplaceAll(out, "../../testdata", "testdata"); example != want {
		t.Errorf("README.md's example differs from the real output; the real output is:\n%s", want)
	}
	for _, want := range []string{
		"366 lines (48.9 KiB): 153 delivery results, 213 other lines (not delivery results)\n",
		"2.0.0  33         0         0        0        delivered\n",
		"4.4.7  0          0         0        10       expired: the queue lifetime ran out, returned to the sender\n",
		"4.3.2       5           3          0        2        0          60%                   40s 40s 40s\n",
		"06  ████████████████████████████████████████  75\n(the other hours: none)\n",
		"Still waiting for a retry at the end: 0 recipients",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestReportShellOrder: `report mail.log*` lists mail.log before
// mail.log.1; the files are read in the order of their first log times,
// and the report says so.
func TestReportShellOrder(t *testing.T) {
	data, err := os.ReadFile(postfixLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	dir := t.TempDir()
	older, newer := filepath.Join(dir, "mail.log.1"), filepath.Join(dir, "mail.log")
	os.WriteFile(older, []byte(strings.Join(lines[:200], "")), 0o644)
	os.WriteFile(newer, []byte(strings.Join(lines[200:], "")), 0o644)
	want, _, _ := bw(t, nil, "report", "--format=prometheus", postfixLog)
	got, stderr, code := bw(t, nil, "report", "--format=prometheus", newer, older)
	if code != 0 || !strings.Contains(stderr, "read in the order of their first log times: "+older+", "+newer) {
		t.Errorf("want the order said on stderr, got exit %d: %s", code, stderr)
	}
	strip := func(s string) string {
		return regexp.MustCompile(`(?m)^.*_timestamp_seconds.*$`).ReplaceAllString(s, "")
	}
	if strip(got) != strip(want) {
		t.Error("the files in the shell's order give other figures than the whole log")
	}
	text, _, _ := bw(t, nil, "report", newer, older)
	if !strings.Contains(text, "(read in the order of their first log times: "+older+", "+newer+")") {
		t.Errorf("the text report does not say the order:\n%.300s", text)
	}
}

// TestReportNothingRecognised: a file with no delivery line (a reject log,
// journalctl -o cat output) says so and suggests check.
func TestReportNothingRecognised(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cat.log")
	os.WriteFile(f, []byte("6BD60BE58E: to=<a@b.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (x)\nconnect from unknown[192.0.2.1]\n"), 0o644)
	out, stderr, code := bw(t, nil, "report", f)
	if code != 1 || out != "" || !strings.Contains(stderr, "no delivery line recognised in "+f) || !strings.Contains(stderr, "bouncewatch check "+f) {
		t.Errorf("want exit 1 saying nothing was recognised and how to check, got %d: %q %q", code, out, stderr)
	}
}

func TestReportJSON(t *testing.T) {
	out, stderr, code := bw(t, nil, "report", "--format=json", "../../testdata/lab/exim-mainlog")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Codes []struct {
			Code        string            `json:"code"`
			Events      map[string]uint64 `json:"events"`
			Outcomes    map[string]uint64 `json:"retry_outcomes"`
			SuccessRate *float64          `json:"retry_success_rate"`
			Resolution  []struct {
				Outcome string
				N       int
				P50     float64 `json:"p50_seconds"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc.Codes {
		if c.Code != "4.3.2" {
			continue
		}
		if c.Events["deferred"] != 21 || c.Outcomes["delivered"] != 3 || c.Outcomes["expired"] != 1 {
			t.Errorf("4.3.2: want 21 deferred (5 of them retry time not reached), 3 delivered, 1 expired; got %v %v", c.Events, c.Outcomes)
		}
		if c.SuccessRate == nil || *c.SuccessRate != 0.75 {
			t.Errorf("4.3.2: want success rate 0.75, got %v", c.SuccessRate)
		}
		if len(c.Resolution) == 0 || c.Resolution[0].Outcome != "delivered" || c.Resolution[0].N != 3 || c.Resolution[0].P50 != 30 {
			t.Errorf("4.3.2: want 3 delivered resolutions with p50 30s, got %+v", c.Resolution)
		}
		return
	}
	t.Errorf("no 4.3.2 in %s", out)
}

// TestReportAcrossRotatedFiles: a deferral in mail.log.2.gz and its delivery
// in mail.log correlate when the files are given oldest first, and the
// metrics equal those of the unrotated log; the same through stdin.
func TestReportAcrossRotatedFiles(t *testing.T) {
	data, err := os.ReadFile(postfixLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	// Cut where retry.example has been deferred but not yet delivered.
	cut := 0
	for i, l := range lines {
		if strings.Contains(l, " 06:14:48 ") {
			cut = i
			break
		}
	}
	if cut == 0 {
		t.Fatal("no cut point")
	}
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Join(lines[:cut/2], "")))
	zw.Close()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("mail.log.2.gz", gz.String())
	mid := write("mail.log.1", strings.Join(lines[cut/2:cut], ""))
	cur := write("mail.log", strings.Join(lines[cut:], ""))

	whole, stderr, code := bw(t, nil, "report", "--format=prometheus", postfixLog)
	if code != 0 {
		t.Fatal(stderr)
	}
	rotated, stderr, code := bw(t, nil, "report", "--format=prometheus", old, mid, cur)
	if code != 0 {
		t.Fatal(stderr)
	}
	strip := func(s string) string { // the reference time differs: drop timestamps
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.Contains(l, "_timestamp_seconds") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(whole) != strip(rotated) {
		t.Errorf("rotated files give other metrics than the whole log:\n%s\n---\n%s", whole, rotated)
	}
	if !strings.Contains(rotated, `bouncewatch_retry_outcomes_total{code="4.3.2",outcome="delivered",source="report"} 3`) {
		t.Errorf("deliveries in mail.log not correlated with deferrals in older files:\n%s", rotated)
	}
	piped, stderr, code := bw(t, data, "report", "--format=prometheus", "-")
	if code != 0 {
		t.Fatal(stderr)
	}
	if strip(piped) != strip(whole) {
		t.Errorf("stdin gives other metrics than the file")
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	data, _ := os.ReadFile(postfixLog)
	zw.Write(data)
	zw.Close()
	truncated := filepath.Join(dir, "mail.log.1.gz")
	os.WriteFile(truncated, gz.Bytes()[:gz.Len()/2], 0o644)
	notgz := filepath.Join(dir, "plain.gz")
	os.WriteFile(notgz, []byte("not gzip at all\n"), 0o644)
	badRules := filepath.Join(dir, "rules.yaml")
	os.WriteFile(badRules, []byte("rules:\n  - name: x\n    match: '(?P<queue_id>['\n    status: sent\n"), 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{"report", filepath.Join(dir, "nope.log")}, 1, "nope.log: no such file or directory"},
		{"truncated gzip: the report of what was read, then the error", []string{"report", truncated}, 1, "mail.log.1.gz: after line"},
		{"not gzip", []string{"report", notgz}, 1, "plain.gz: gzip: invalid header"},
		{"directory", []string{"report", dir}, 1, "is a directory"},
		{"bad rules", []string{"--config.file=" + badRules, "report", postfixLog}, 1, "rules.yaml:3: rule \"x\": compile match: error parsing regexp"},
		{"bad rules in check", []string{"check", "--config.file=" + badRules}, 1, "rules.yaml:3: rule \"x\""},
		{"unknown format", []string{"report", "--format=xml", postfixLog}, 2, "enum value must be one of"},
		{"no file", []string{"report"}, 2, "required argument 'file' not provided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := bw(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("want exit %d with %q, got exit %d: %s", tt.code, tt.want, code, stderr)
			}
		})
	}
	// What was read before the damage is reported.
	out, _, _ := bw(t, nil, "report", truncated)
	if !strings.Contains(out, "bouncewatch report of "+truncated) || !strings.Contains(out, "delivery results") {
		t.Errorf("want the report of what was read before the truncation, got %q", out)
	}
}

func TestCheck(t *testing.T) {
	probe := filepath.Join(t.TempDir(), "probe.log")
	// A verification probe is not a delivery line: skipped, not listed. A
	// delivery line from a Postfix without dsn= (before 2.3) is listed.
	os.WriteFile(probe, []byte("Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<a@b.example>, relay=b.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)\nnoise\n"+
		"Nov 27 06:02:22 mx postfix/smtp[1]: 6BD60BE58F: to=<a@b.example>, relay=b.example[192.0.2.1]:25, delay=1, status=deferred (451 busy)\n"+
		// A deferral whose reply says nothing a reason knows.
		"Nov 27 06:02:23 mx postfix/smtp[1]: 6BD60BE590: to=<a@b.example>, relay=b.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.0.0, status=deferred (host b.example[192.0.2.1] said: 451 go away (in reply to RCPT TO command))\n"), 0o644)
	out, stderr, code := bw(t, nil, "check", postfixLog, "../../testdata/lab/exim-mainlog", probe)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"rules.yaml (built in): OK, 15 rules, 12 reasons",
		"postfix-delivery        99\n",
		// The reasons of the failures, and a failure no pattern explains.
		"Reasons of the ",
		"not_accepting  ",
		"Failures no reason's pattern matched (first 1):\n" + probe + ":4: ",
		"postfix-verify          1\n",
		"exim-retry-not-reached  7\n",
		"exim-deferred           24\n",
		"Unmatched lines that look like deliveries (first 1):\n" + probe + ":3: \"Nov 27 06:02:22 mx postfix/smtp[1]: 6BD60BE58F",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = bw(t, nil, "check")
	if code != 0 || out != "rules.yaml (built in): OK, 15 rules, 12 reasons\n" {
		t.Errorf("check without files: exit %d, %q", code, out)
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, _, code := bw(t, nil, "--help")
	if code != 0 || !strings.Contains(out, "report") || !strings.Contains(out, "check") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	out, _, code = bw(t, nil, "--version")
	if code != 0 || !strings.Contains(out, "bouncewatch") {
		t.Errorf("--version: exit %d\n%s", code, out)
	}
}
