package report_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bouncewatch/bouncewatch/internal/labtest"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	rules     = labtest.Rules
	reference = labtest.Reference
)

func run(t testing.TB, files ...string) *report.Summary {
	t.Helper()
	s, err := report.Run(context.Background(), report.Options{Rules: rules(t), Source: "lab", Reference: reference}, files)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGolden compares the exposition of every real log under testdata/lab
// with its golden file, byte for byte.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("../testdata/lab/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no lab logs: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			s := run(t, f)
			var got bytes.Buffer
			if err := s.WritePrometheus(&got); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("../testdata/golden", name+".prom")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if !bytes.Equal(want, got.Bytes()) {
				t.Errorf("%s differs from the golden file; diff it with go test ./report -update && git diff", name)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(s.Metrics)
			problems, err := testutil.GatherAndLint(reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

// count reads one series of the metric set, e.g.
// count(t, s, "bouncewatch_events_total", "lab", "deferred", "4.3.2").
func count(t *testing.T, s *report.Summary, name string, labels ...string) float64 {
	t.Helper()
	var out bytes.Buffer
	if err := s.WritePrometheus(&out); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, `="`+l+`"`) {
				ok = false
				break
			}
		}
		if ok {
			var v float64
			f := strings.Fields(line)
			if _, err := fmt.Sscan(f[len(f)-1], &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// expect is one series value a test expects.
type expect struct {
	name   string
	metric string
	labels []string
	want   float64
}

func checkCounts(t *testing.T, s *report.Summary, tests []expect) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(t, s, tt.metric, tt.labels...); got != tt.want {
				t.Errorf("%s%q: want %v, got %v", tt.metric, tt.labels, tt.want, got)
			}
		})
	}
}

// TestPostfixLab checks what a postmaster would check by hand against
// testdata/lab/postfix.log (real Postfix 3.7.11, maillog_file):
// grep -c 'dsn=4.3.2, status=deferred' gives 19, and so on.
func TestPostfixLab(t *testing.T) {
	s := run(t, "../testdata/lab/postfix.log")
	tests := []expect{
		{"deferrals with 4.3.2", "bouncewatch_events_total", []string{"deferred", "4.3.2"}, 19},
		{"deferrals without enhanced code", "bouncewatch_events_total", []string{"deferred", "4.0.0"}, 5},
		{"connection refused: 23 attempts and 12 \"delivery temporarily suspended\" lines", "bouncewatch_events_total", []string{"deferred", "4.4.1"}, 35},
		{"sent", "bouncewatch_events_total", []string{"sent", "2.0.0"}, 33},
		{"bounced 5.1.1 (3 smtp, 1 lmtp)", "bouncewatch_events_total", []string{"bounced", "5.1.1"}, 4},
		{"bounced 5.0.0", "bouncewatch_events_total", []string{"bounced", "5.0.0"}, 1},
		{"bounced 5.1.2 (error transport)", "bouncewatch_events_total", []string{"bounced", "5.1.2"}, 1},
		{"expired recipients (10 qmgr lines, one recipient each)", "bouncewatch_events_total", []string{"expired", "4.4.7"}, 10},
		{"retry.example: 9 deferrals", "bouncewatch_domain_events_total", []string{"retry.example", "deferred", "4.3.2"}, 9},
		{"retry.example: bob, gina, oscar delivered", "bouncewatch_retry_outcomes_total", []string{"4.3.2", "delivered"}, 3},
		{"expire.example and hold.example expired", "bouncewatch_retry_outcomes_total", []string{"4.3.2", "expired"}, 2},
		{"down.example: judy and jim2..7 expired", "bouncewatch_retry_outcomes_total", []string{"4.4.1", "expired"}, 7},
		{"nocode-defer.example expired", "bouncewatch_retry_outcomes_total", []string{"4.0.0", "expired"}, 1},
		{"3 resolutions observed for 4.3.2 delivered", "bouncewatch_resolution_seconds_count", []string{"4.3.2", "delivered"}, 3},
		{"each took 40 s (06:14:28 -> 06:15:08)", "bouncewatch_resolution_seconds_sum", []string{"4.3.2", "delivered"}, 120},
		{"3 deferrals each", "bouncewatch_retry_attempts_sum", []string{"4.3.2", "delivered"}, 9},
		{"nothing pending at the end", "bouncewatch_tracker_entries", []string{"lab"}, 0},
		{"lines", "bouncewatch_log_lines_total", []string{"matched"}, 153},
		{"nothing skipped", "bouncewatch_log_lines_total", []string{"skipped"}, 0},
	}
	checkCounts(t, s, tests)
}

// TestEximLab is the same for testdata/lab/exim-mainlog (real Exim 4.96).
func TestEximLab(t *testing.T) {
	s := run(t, "../testdata/lab/exim-mainlog")
	tests := []expect{
		{"== lines with 4.3.2, and 5 retry-time-not-reached lines after them", "bouncewatch_events_total", []string{"deferred", "4.3.2"}, 21},
		{"== lines without code, and 1 retry-time-not-reached line after them", "bouncewatch_events_total", []string{"deferred", "4.0.0"}, 9},
		{"== Connection refused, and 1 retry-time-not-reached line after them", "bouncewatch_events_total", []string{"deferred", "4.4.1"}, 9},
		{"=> -> >> deliveries, *> not", "bouncewatch_events_total", []string{"sent", "2.0.0"}, 19},
		{"** 5.1.1 (nobody@ bounced twice around the freeze)", "bouncewatch_events_total", []string{"bounced", "5.1.1"}, 4},
		{"** retry timeout exceeded", "bouncewatch_events_total", []string{"expired", "4.4.7"}, 3},
		{"retry.example: bob, gina, sam delivered", "bouncewatch_retry_outcomes_total", []string{"4.3.2", "delivered"}, 3},
		{"carol@expire.example expired", "bouncewatch_retry_outcomes_total", []string{"4.3.2", "expired"}, 1},
		{"judy@down.example expired", "bouncewatch_retry_outcomes_total", []string{"4.4.1", "expired"}, 1},
		{"hank@nocode-defer.example expired", "bouncewatch_retry_outcomes_total", []string{"4.0.0", "expired"}, 1},
		{"bob and gina 30 s, sam 29 s after the first deferral", "bouncewatch_resolution_seconds_sum", []string{"4.3.2", "delivered"}, 89},
		{"*> skipped", "bouncewatch_log_lines_total", []string{"skipped"}, 1},
	}
	checkCounts(t, s, tests)
}

// TestRenderingsAgree: the same run of the lab written through rsyslog
// (traditional, RFC 3339, RFC 5424) and journalctl (short, short-iso,
// short-precise) gives the same counts.
func TestRenderingsAgree(t *testing.T) {
	files, _ := filepath.Glob("../testdata/lab/*-*.log")
	var first string
	var firstName string
	for _, f := range files {
		doc := run(t, f).Doc()
		doc.Files, doc.Bytes = nil, 0
		var b bytes.Buffer
		for _, c := range doc.Codes {
			b.WriteString(c.Code)
			for _, k := range []string{"sent", "deferred", "bounced", "expired"} {
				b.WriteString(" " + k + "=" + itoa(c.Events[k]))
			}
			for _, k := range []string{"delivered", "bounced", "expired", "abandoned"} {
				b.WriteString(" " + k + "=" + itoa(c.Outcomes[k]))
			}
			b.WriteString("\n")
		}
		if first == "" {
			first, firstName = b.String(), f
			continue
		}
		if b.String() != first {
			t.Errorf("%s and %s disagree:\n%s\n%s", firstName, f, first, b.String())
		}
	}
	if len(files) < 6 {
		t.Errorf("want 6 renderings, found %d", len(files))
	}
}

// TestHostileInput: every kind of bad line is counted where it belongs and
// nothing else changes.
func TestHostileInput(t *testing.T) {
	const pf = "Nov 27 06:02:21 mx postfix/smtp[1]: %s: to=<%s>, relay=none, delay=0, delays=0/0/0/0, dsn=%s, status=deferred (host x[192.0.2.1] said: 451 %s try later (in reply to RCPT TO command))"
	lines := []string{
		fmt.Sprintf(pf, "A0001", "a@ok.example", "4.3.2", "4.3.2"),
		fmt.Sprintf(pf, "A0002", "b@crlf.example", "4.3.2", "4.3.2") + "\r",
		fmt.Sprintf(pf, "A0003", "c@long.example", "4.3.2", "4.3.2") + strings.Repeat(" x", 40000),
		fmt.Sprintf(pf, "A0004", "d@b\xff\x00d.example", "4.3.2", "4.3.2"),
		fmt.Sprintf(pf, "A0005", "e@\xe2\x80\xaeevil.example", "4.7.1", "4.7.1"),
		strings.Replace(fmt.Sprintf(pf, "A0006", "f@time.example", "4.3.2", "4.3.2"), "Nov 27", "Nov 99", 1),
		fmt.Sprintf(pf, "A0007", "g@unknown.example", "4.999.999", "4.999.999"),
		fmt.Sprintf(pf, "A0008", "h@syntax.example", "4.1000.1", "4.1000.1"),
		"\x00\x00\x00",
		"",
	}
	path := filepath.Join(t.TempDir(), "hostile.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := run(t, path)
	want := map[parser.Result]uint64{parser.Matched: 5, parser.TooLong: 1, parser.BadTime: 1, parser.Unmatched: 3}
	for _, r := range parser.Results {
		if s.Lines[r] != want[r] {
			t.Errorf("%s lines: want %d, got %d", r, want[r], s.Lines[r])
		}
	}
	for _, c := range []struct {
		metric string
		labels []string
		want   float64
	}{
		{"bouncewatch_events_total", []string{"deferred", "4.3.2"}, 3},
		{"bouncewatch_events_total", []string{"deferred", "4.999.999"}, 1},
		{"bouncewatch_events_total", []string{"deferred", "4.7.1"}, 1},
		{"bouncewatch_domain_events_total", []string{"invalid", "4.3.2"}, 1},
		{"bouncewatch_domain_events_total", []string{"invalid", "4.7.1"}, 1},
		{"bouncewatch_domain_events_total", []string{"crlf.example"}, 1},
		{"bouncewatch_log_bytes_total", []string{"lab"}, float64(len(strings.Join(lines, "\n")) + 1)},
	} {
		if got := count(t, s, c.metric, c.labels...); got != c.want {
			t.Errorf("%s%q: want %v, got %v", c.metric, c.labels, c.want, got)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Metrics)
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("exposition not clean: %v %v", err, problems)
	}
}
