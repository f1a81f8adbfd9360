//go:build e2e

// Package e2e holds bouncewatch's end-to-end tests, with real MTAs and a real
// Prometheus:
//
//   - TestEndToEnd: a real Postfix and a real Exim send to a real Postfix that
//     answers 451 4.3.2 on loopback, `bouncewatch run` follows their logs live
//     (one through journald and rsyslog, one as Exim's mainlog, each rotated
//     once, with a restart in between), and a real Prometheus scrapes it and
//     evaluates alerting/bouncewatch.rules.yml (e2e/run.sh orchestrates).
//   - TestOutage: a real receiver outage (421 4.3.2 at the greeting) that
//     recovers, one that never does, a rate limit, followed live by
//     bouncewatch and Prometheus (e2e/outage.sh orchestrates).
//   - TestFleet: remote write from two bouncewatch to a central Prometheus.
//   - TestContainerSidecar: the image of deploy/Dockerfile run with podman as
//     a sidecar (e2e/container.sh).
//
// The scripts only orchestrate and leave artifacts (logs, every scrape,
// Prometheus' answers, facts); these tests judge them: bouncewatch's figures
// against an independent awk count of the same logs (e2e/logcount.awk,
// e2e/outage-count.awk; never bouncewatch's own parser), against `bouncewatch
// report` over the same files, and against what Prometheus saw.
//
//	go test -tags e2e -count=1 -v -timeout 20m ./e2e/          # as root, about 6 minutes on 2 cores
//	E2E_REUSE=1 go test -tags e2e -run TestEndToEnd -v ./e2e/  # judge the last run's artifacts again
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
)

// the buckets of bouncewatch_resolution_seconds (README's metrics table)
var resolutionBuckets = []float64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 432000}

func TestEndToEnd(t *testing.T) {
	requireScenario(t)
	dir := os.Getenv("E2E_OUT")
	if dir == "" {
		dir = "/tmp/bouncewatch-e2e"
	}
	if !reuse() {
		runScenario(t, 5*time.Minute, []string{"E2E_OUT=" + dir}, filepath.Join(repoRoot(t), "e2e", "run.sh"))
	}
	a := loadArtifacts(t, dir)
	metrics := a.metrics(t, "metrics.txt")
	t0, sw := a.factFloat(t, "T0"), a.factFloat(t, "switch")
	t.Logf("artifacts in %s; mode %s (%s); %s", dir, a.fact(t, "mode"), a.facts["postfix_log"], a.facts["versions"])

	sources := []string{"postfix", "exim"}
	files := map[string][]string{}
	for _, src := range sources {
		for name := range strings.FieldsSeq(string(a.read(t, filepath.Join("logs", src+".files")))) {
			files[src] = append(files[src], a.path("logs", src, name))
		}
	}
	// the independent count of each log (plain awk, no bouncewatch code)
	count := map[string][][]string{}
	for _, src := range sources {
		count[src] = runAwk(t, "logcount.awk", []string{"SRC=" + src}, files[src]...)
		var b strings.Builder
		for _, l := range count[src] {
			b.WriteString(strings.Join(l, " ") + "\n")
		}
		_ = os.WriteFile(a.path("logcount-"+src+".txt"), []byte(b.String()), 0o644)
	}
	// awkRows is the reference's lines of a kind
	awkRows := func(src, kind string) [][]string {
		var out [][]string
		for _, l := range count[src] {
			if len(l) > 0 && l[0] == kind {
				out = append(out, l)
			}
		}
		return out
	}

	t.Run("scenario", func(t *testing.T) {
		t.Run("queues drained", func(t *testing.T) {
			if got := a.fact(t, "queues_drained"); got != "1" {
				t.Errorf("want both queues empty before T+200 s, got %s (%s)", got, a.facts["queues_left"])
			}
		})
		t.Run("alert rules as shipped but for:", func(t *testing.T) { checkRulesCopy(t, a) })
		t.Run("syslog chain lost no line", func(t *testing.T) {
			if a.fact(t, "mode") != "syslog" {
				t.Skipf("mode %s: no journald in the chain", a.fact(t, "mode"))
			}
			checkJournalReachedFile(t, a, files["postfix"])
		})
		t.Run("each log rotated once", func(t *testing.T) {
			for _, src := range sources {
				if want := 2; len(files[src]) != want {
					t.Errorf("%s: want %d files (rotated once), got %v", src, want, files[src])
				}
			}
		})
	})

	t.Run("bouncewatch", func(t *testing.T) {
		t.Run("no error in its logs", func(t *testing.T) {
			for _, f := range []string{"bouncewatch-1.log", "bouncewatch-2.log"} {
				var errs []string
				for line := range strings.SplitSeq(string(a.read(t, f)), "\n") {
					if strings.Contains(line, "level=error") || strings.Contains(line, "level=ERROR") {
						errs = append(errs, line)
					}
				}
				if len(errs) > 0 {
					t.Errorf("%s: want no level=error line, got %d:\n  %s", f, len(errs), strings.Join(first(errs, 10), "\n  "))
				}
			}
		})
		t.Run("stopped on SIGTERM with status 0", func(t *testing.T) {
			if got := a.fact(t, "bw1_exit"); got != "0" {
				t.Errorf("the first process: want exit status 0, got %s", got)
			}
			t.Logf("SIGTERM to exit: %s s", a.facts["bw1_stop_seconds"])
		})
		t.Run("counters never went down", func(t *testing.T) { checkCountersNeverDown(t, a, "metrics.txt") })
		for _, src := range sources {
			t.Run(src+"/read every byte and line", func(t *testing.T) {
				var size, lines float64
				for _, f := range files[src] {
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					size += float64(len(b))
					lines += float64(bytes.Count(b, []byte("\n")))
				}
				if got := metrics.Sum("bouncewatch_log_bytes_total", "source="+src); got != size {
					t.Errorf("bouncewatch_log_bytes_total: want %v (the files' sizes), got %v", size, got)
				}
				if got := metrics.Sum("bouncewatch_log_lines_total", "source="+src); got != lines {
					t.Errorf("bouncewatch_log_lines_total (all results): want %v (the files' lines), got %v", lines, got)
				}
			})
			t.Run(src+"/one rename rotation, nothing lost", func(t *testing.T) {
				for _, c := range []struct {
					series string
					labels []string
					want   float64
				}{
					{"bouncewatch_log_rotations_total", []string{"kind=rename"}, 1},
					{"bouncewatch_log_rotations_total", []string{"kind=truncate"}, 0},
					{"bouncewatch_log_lost_files_total", nil, 0},
					{"bouncewatch_log_lost_bytes_total", nil, 0},
				} {
					if got := metrics.Sum(c.series, append([]string{"source=" + src}, c.labels...)...); got != c.want {
						t.Errorf("%s%v: want %v, got %v", c.series, c.labels, c.want, got)
					}
				}
			})
			t.Run(src+"/daemon equals report over the same files", func(t *testing.T) {
				report := runReport(t, a, src, files[src])
				mine := func(series string) bool {
					return !strings.Contains(series, `source="`+src+`"`) || exposition.Name(series) == "bouncewatch_log_rotations_total"
				}
				if d := exposition.Diff(report, metrics, mine); len(d) > 0 {
					t.Errorf("want every series of `bouncewatch report` over %v, got %d differences (want = report, got = daemon):\n  %s",
						names(files[src]), len(d), strings.Join(first(d, 40), "\n  "))
				} else {
					n := 0
					for k := range report {
						if !mine(k) {
							n++
						}
					}
					t.Logf("%d series equal", n)
				}
			})
		}
	})

	for _, src := range sources {
		m := map[string]string{"source": src}
		t.Run(src+"/versus the log (awk)", func(t *testing.T) {
			t.Run("domain_events_total per domain, status, code", func(t *testing.T) {
				want := table{}
				for _, l := range awkRows(src, "EVENT") {
					want[l[1]+" "+l[2]+" "+l[3]] += atof(t, l[4])
				}
				expectTable(t, "bouncewatch_domain_events_total", want,
					group(metrics, "bouncewatch_domain_events_total", m, "domain", "status", "code"))
			})
			t.Run("events_total per status, code", func(t *testing.T) {
				want := table{}
				for _, l := range awkRows(src, "EVENT") {
					want[l[2]+" "+l[3]] += atof(t, l[4])
				}
				expectTable(t, "bouncewatch_events_total", want, group(metrics, "bouncewatch_events_total", m, "status", "code"))
			})
			t.Run("retry_outcomes_total per code, outcome", func(t *testing.T) {
				want := table{}
				for _, l := range awkRows(src, "OUTCOME") {
					want[l[1]+" "+l[2]] += atof(t, l[3])
				}
				expectTable(t, "bouncewatch_retry_outcomes_total", want, group(metrics, "bouncewatch_retry_outcomes_total", m, "code", "outcome"))
			})
			t.Run("resolution_seconds per code, outcome", func(t *testing.T) {
				var obs []resolution
				for _, l := range awkRows(src, "RESOLUTION") { // code outcome domain first end seconds
					obs = append(obs, resolution{l[1], l[2], atof(t, l[6])})
				}
				checkResolution(t, metrics, src, obs)
			})
			t.Run("nothing pending at the end", func(t *testing.T) {
				for _, l := range awkRows(src, "PENDING") {
					if l[1] != "0" {
						t.Errorf("recipients pending in the log: want 0, got %s", l[1])
					}
				}
				for _, g := range []string{"bouncewatch_deferred_recipients", "bouncewatch_domain_deferred_recipients", "bouncewatch_tracker_entries"} {
					if got := group(metrics, g, m); len(got) > 0 {
						t.Errorf("%s: want 0, got %v", g, got)
					}
				}
			})
			t.Run("grep cross-check of 4.3.2 deferrals", func(t *testing.T) {
				for _, d := range []string{"retry.example", "expire.example"} {
					want := grepCount(t, src, d, files[src])
					got := metrics.Sum("bouncewatch_domain_events_total", "source="+src, "domain="+d, "status=deferred", "code=4.3.2")
					if got != want {
						t.Errorf("%s: want %v (grep), got %v", d, want, got)
					} else {
						t.Logf("%s: %v deferrals with 4.3.2, as grep counts", d, got)
					}
				}
			})
		})

		if src == "exim" {
			t.Run("exim/retry time not reached, first read after the restart", func(t *testing.T) {
				checkInheritAcrossRestart(t, a, files["exim"], metrics)
			})
		}

		t.Run(src+"/scenario outcomes", func(t *testing.T) {
			for _, c := range []struct {
				what   string
				series string
				labels []string
				want   float64
			}{
				{"4.3.2 delivered (retry.example: gina bob oscar paul rita)", "bouncewatch_retry_outcomes_total", []string{"code=4.3.2", "outcome=delivered"}, 5},
				{"4.3.2 bounced (gone@retry.example, 550 5.1.1 after the switch)", "bouncewatch_retry_outcomes_total", []string{"code=4.3.2", "outcome=bounced"}, 1},
				{"4.3.2 expired (expire.example: carol cora cody)", "bouncewatch_retry_outcomes_total", []string{"code=4.3.2", "outcome=expired"}, 3},
				{"4.7.1 delivered (greylist.example)", "bouncewatch_retry_outcomes_total", []string{"code=4.7.1", "outcome=delivered"}, 1},
				{"no other outcome", "bouncewatch_retry_outcomes_total", nil, 10},
				{"expire.example expired events (4.4.7)", "bouncewatch_domain_events_total", []string{"domain=expire.example", "status=expired", "code=4.4.7"}, 3},
				{"bounce.example bounced events (5.1.1: dave dina)", "bouncewatch_domain_events_total", []string{"domain=bounce.example", "status=bounced", "code=5.1.1"}, 2},
				{"ok.example sent events", "bouncewatch_domain_events_total", []string{"domain=ok.example", "status=sent"}, 3},
				{"retry.example sent events", "bouncewatch_domain_events_total", []string{"domain=retry.example", "status=sent"}, 5},
				{"resolution_seconds_count{4.3.2,delivered}", "bouncewatch_resolution_seconds_count", []string{"code=4.3.2", "outcome=delivered"}, 5},
			} {
				if got := metrics.Sum(c.series, append([]string{"source=" + src}, c.labels...)...); got != c.want {
					t.Errorf("%s: want %v, got %v", c.what, c.want, got)
				}
			}
			// how long the outage was is timing: at least 12 deferrals (6 recipients, 2+ tries)
			if got := metrics.Sum("bouncewatch_domain_events_total", "source="+src, "domain=retry.example", "status=deferred", "code=4.3.2"); got < 12 {
				t.Errorf("retry.example 4.3.2 deferrals: want at least 12, got %v", got)
			}
		})

		t.Run(src+"/resolution covers the outage", func(t *testing.T) {
			// each recipient's time from its first deferral to its delivery covers
			// the time from that deferral to the switch (Exim logs whole seconds: 1 s slack)
			slack := 0.0
			if src == "exim" {
				slack = 1
			}
			var firstMin, firstMax float64
			n := 0
			for _, l := range awkRows(src, "RESOLUTION") {
				if l[1] != "4.3.2" || l[2] != "delivered" {
					continue
				}
				first, secs := atof(t, l[4]), atof(t, l[6])
				if secs < sw-first-slack {
					t.Errorf("%s: resolution %.3f s, shorter than its outage (switch - first deferral) %.3f s", l[3], secs, sw-first)
				}
				if n == 0 || first < firstMin {
					firstMin = first
				}
				if n == 0 || first > firstMax {
					firstMax = first
				}
				n++
			}
			cnt := metrics.Sum("bouncewatch_resolution_seconds_count", "source="+src, "code=4.3.2", "outcome=delivered")
			sum := metrics.Sum("bouncewatch_resolution_seconds_sum", "source="+src, "code=4.3.2", "outcome=delivered")
			if cnt == 0 || n == 0 {
				t.Fatalf("want deliveries after 4.3.2, got %v (bouncewatch), %d (log)", cnt, n)
			}
			// the histogram alone: no observation is below the shortest outage, so the mean is not either
			if mean, least := sum/cnt, sw-firstMax-slack; mean < least {
				t.Errorf("mean of resolution_seconds{4.3.2,delivered}: want at least %.1f s (switch - last first deferral), got %.1f s", least, mean)
			}
			t.Logf("outage %.1f s (first 4.3.2 deferral of retry.example -> switch at T+%.1f), mean resolution %.1f s", sw-firstMin, sw-t0, sum/cnt)
		})
	}

	t.Run("prometheus", func(t *testing.T) {
		t.Run("last scrape equals the final metrics", func(t *testing.T) {
			got := table{}
			for _, s := range promVector(t, a, "domain-events") {
				got[s.Metric["source"]+" "+s.Metric["domain"]+" "+s.Metric["status"]+" "+s.Metric["code"]] = sampleValue(t, s)
			}
			expectTable(t, "bouncewatch_domain_events_total in Prometheus", group(metrics, "bouncewatch_domain_events_total", nil, "source", "domain", "status", "code"), got)
		})
		t.Run("no counter reset across the restart", func(t *testing.T) { checkNoResets(t, a, metrics) })
		t.Run("one restart seen", func(t *testing.T) {
			res := promVector(t, a, "restarts")
			if len(res) != 1 {
				t.Fatalf("changes(process_start_time_seconds): want one series, got %v", res)
			}
			if got := sampleValue(t, res[0]); got != 1 {
				t.Errorf("changes(process_start_time_seconds{job=\"bouncewatch\"}[30m]): want 1 (one restart), got %v", got)
			}
		})
	})

	t.Run("alert "+alertName, func(t *testing.T) {
		deferring := map[string]bool{}
		var perSource []string
		for _, src := range sources {
			for _, l := range awkRows(src, "EVENT") {
				if l[2] == "deferred" && l[3] == "4.3.2" {
					deferring[l[1]] = true
					perSource = append(perSource, src+"/"+l[1])
				}
			}
		}
		slices.Sort(perSource)
		perSource = slices.Compact(perSource)
		want := []string{"expire.example", "retry.example"}
		final := a.finalAlerts(t)
		polls := a.alertPolls(t)
		var ever []promAlert
		for _, p := range polls {
			ever = append(ever, p.Alerts...)
		}
		t.Run("domains that deferred with 4.3.2 in the logs", func(t *testing.T) {
			got := []string{}
			for d := range deferring {
				got = append(got, d)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("want %v, got %v", want, got)
			}
		})
		t.Run("firing at the end for exactly those domains", func(t *testing.T) {
			if got := alertSet(final, alertName, false, "firing"); !slices.Equal(got, want) {
				t.Errorf("want %v, got %v", want, got)
			}
		})
		t.Run("firing at the end per source and domain", func(t *testing.T) {
			if got := alertSet(final, alertName, true, "firing"); !slices.Equal(got, perSource) {
				t.Errorf("want %v (from each MTA's log), got %v", perSource, got)
			}
		})
		t.Run("never active for another domain", func(t *testing.T) {
			if got := alertSet(ever, alertName, false); !slices.Equal(got, want) {
				t.Errorf("pending or firing in %d polls every 2 s: want only %v, got %v", len(polls), want, got)
			}
			for _, d := range []string{"ok.example", "bounce.example", "greylist.example"} {
				if slices.Contains(alertSet(ever, alertName, false), d) {
					t.Errorf("%s: want never pending or firing, got it", d)
				}
			}
		})
		for _, p := range polls {
			if len(alertSet(p.Alerts, alertName, false, "firing")) > 0 {
				t.Logf("%s first seen firing at T+%.0f s", alertName, p.T-t0)
				break
			}
		}
	})
}

func names(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

// runReport runs `bouncewatch report --format=prometheus` (the binary that
// ran) over the files, oldest first, and keeps its output next to the
// artifacts.
func runReport(t *testing.T, a *artifacts, src string, files []string) exposition.Samples {
	t.Helper()
	args := []string{}
	if c := a.facts["bw_config"]; c != "" {
		args = append(args, "--config.file="+c)
	}
	args = append(append(args, "report", "--format=prometheus", "--source="+src), files...)
	cmd := exec.Command(a.path("bouncewatch"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bouncewatch %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	_ = os.WriteFile(a.path("report-"+src+".prom"), out, 0o644)
	s, err := exposition.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("report output: %v", err)
	}
	return s
}

// resolution is one recipient's way from its first deferral to its outcome,
// as the reference saw it.
type resolution struct {
	code, outcome string
	seconds       float64
}

// checkResolution compares bouncewatch_resolution_seconds per (code, outcome)
// with the reference's per-recipient resolutions: the count, the sum (within
// 1 ms per recipient) and every bucket.
func checkResolution(t *testing.T, metrics exposition.Samples, src string, obs []resolution) {
	t.Helper()
	type agg struct {
		n, sum float64
		le     []float64
	}
	want := map[string]*agg{}
	for _, o := range obs {
		k := o.code + " " + o.outcome
		if want[k] == nil {
			want[k] = &agg{le: make([]float64, len(resolutionBuckets))}
		}
		w := want[k]
		w.n++
		w.sum += o.seconds
		for i, b := range resolutionBuckets {
			if o.seconds <= b {
				w.le[i]++
			}
		}
	}
	m := map[string]string{"source": src}
	gotCount := group(metrics, "bouncewatch_resolution_seconds_count", m, "code", "outcome")
	for k := range gotCount {
		if want[k] == nil {
			t.Errorf("resolution_seconds_count{%s}: want 0, got %v", k, gotCount[k])
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := want[k]
		code, outcome, _ := strings.Cut(k, " ")
		labels := []string{"source=" + src, "code=" + code, "outcome=" + outcome}
		if got := metrics.Sum("bouncewatch_resolution_seconds_count", labels...); got != w.n {
			t.Errorf("resolution_seconds_count{%s}: want %v, got %v", k, w.n, got)
		}
		// log times: Postfix's have microseconds, Exim's whole seconds; both readings
		// take the same times, so the tolerance is only for float sums
		tol := 0.001*w.n + 0.0005
		if got := metrics.Sum("bouncewatch_resolution_seconds_sum", labels...); !near(got, w.sum, tol) {
			t.Errorf("resolution_seconds_sum{%s}: want %.6f s (the sum over recipients of outcome time - first deferral time), got %.6f s", k, w.sum, got)
		}
		for i, b := range resolutionBuckets {
			le := fmt.Sprint(b)
			if got := metrics.Sum("bouncewatch_resolution_seconds_bucket", append(labels, "le="+le)...); got != w.le[i] {
				t.Errorf("resolution_seconds_bucket{%s,le=%s}: want %v, got %v", k, le, w.le[i], got)
			}
		}
		t.Logf("%s: %v recipients, %.3f s in all (mean %.1f s)", k, w.n, w.sum, w.sum/w.n)
	}
}

// grepCount counts, as a plain grep would, the deferral lines of a domain
// that bouncewatch counts with code 4.3.2 (DESIGN.md, rules.yaml): Postfix
// "to=<...@domain>, ... dsn=4.3.2, status=deferred" (also "delivery
// temporarily suspended", which carries the dsn= of the failure); Exim
// " == ...@domain " lines with " 4.3.2 " in the reply, plus its "retry time
// not reached" lines once a 4.3.2 line of the domain came before (they take
// the code of the domain's latest deferral), but not the -odqs lines (queued
// on purpose). The Exim count holds only while every Exim deferral of the
// domain that carries a code carries 4.3.2, as in run.sh's scenario; the
// test fails otherwise.
func grepCount(t *testing.T, src, domain string, files []string) float64 {
	t.Helper()
	var pf, attempt *regexp.Regexp
	if src == "postfix" {
		pf = regexp.MustCompile(`to=<[^>]*@` + regexp.QuoteMeta(domain) + `>.*, dsn=4\.3\.2, status=deferred `)
	} else {
		attempt = regexp.MustCompile(` == [^ ]*@` + regexp.QuoteMeta(domain) + ` `)
	}
	retryWait := regexp.MustCompile(`[Rr]etry time not (yet )?reached`)
	queued := regexp.MustCompile(`defer \((0|-1)\): (SMTP delivery explicitly queued|domain matches queue_smtp_domains, or -odqs set)`)
	n, seen432 := 0.0, false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			switch {
			case pf != nil:
				if pf.MatchString(line) {
					n++
				}
			case !attempt.MatchString(line) || queued.MatchString(line):
			case retryWait.MatchString(line):
				if seen432 {
					n++
				}
			case strings.Contains(line, " 4.3.2 "):
				seen432 = true
				n++
			default:
				t.Errorf("%s deferral without 4.3.2 (the grep count assumes none): %s", domain, line)
			}
		}
	}
	return n
}

// checkInheritAcrossRestart looks at the Exim "retry time not reached" lines
// of a domain that come, in the mainlog written after the restart, before
// any line of that domain with a code: bouncewatch read them only after the
// restart, so their code (the domain's latest) came from the checkpoint.
// run.sh's `exim -q` while bouncewatch is down makes them; whether Exim wrote
// them depends on its retry times, so the test skips when there are none.
// Their counts are in the comparison with logcount.awk; this says they were
// there, and that no Exim deferral fell back to 4.0.0.
func checkInheritAcrossRestart(t *testing.T, a *artifacts, files []string, metrics exposition.Samples) {
	t.Helper()
	b, err := os.ReadFile(files[len(files)-1]) // the mainlog written after the restart
	if err != nil {
		t.Fatal(err)
	}
	coded := map[string]bool{}
	n := map[string]int{}
	lineRE := regexp.MustCompile(` == [^ @]*@([^ ]+) `)
	for line := range strings.SplitSeq(string(b), "\n") {
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if strings.Contains(line, "retry time not reached") {
			if !coded[m[1]] {
				n[m[1]]++
			}
		} else {
			coded[m[1]] = true
		}
	}
	if len(n) == 0 {
		t.Skip("no such line in this run (Exim's retry times): the restart did not have to carry a domain's code")
	}
	if got := metrics.Sum("bouncewatch_events_total", "source=exim", "status=deferred", "code=4.0.0"); got != 0 {
		t.Errorf("exim deferrals with 4.0.0 (no code known for the domain): want 0, got %v", got)
	}
	t.Logf("%v: their code came through the checkpoint (the counts per code equal logcount.awk's)", n)
}

// checkJournalReachedFile checks that every line the private journald took
// from the sending Postfix is in mail.log (journald -> rsyslogd dropped none),
// and that journald did not report a missed forward.
func checkJournalReachedFile(t *testing.T, a *artifacts, files []string) {
	t.Helper()
	// "<time> <host> postfix-tx/qmgr[123]: message": the part from the tag on
	tagRE := regexp.MustCompile(`^\S+ \S+ (postfix-tx/\S+\[\d+\]: .*)$`)
	collect := func(b []byte) map[string]int {
		m := map[string]int{}
		for line := range strings.SplitSeq(string(b), "\n") {
			if s := tagRE.FindStringSubmatch(line); s != nil {
				m[s[1]]++
			}
		}
		return m
	}
	journal := a.read(t, filepath.Join("logs", "journal.txt"))
	var file []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file = append(file, b...)
	}
	inJournal, inFile := collect(journal), collect(file)
	var missing []string
	n := 0
	for k, c := range inJournal {
		n += c
		if inFile[k] < c {
			missing = append(missing, fmt.Sprintf("%dx %s", c-inFile[k], k))
		}
	}
	sort.Strings(missing)
	if n == 0 {
		t.Fatal("logs/journal.txt: no postfix-tx line")
	}
	if len(missing) > 0 {
		t.Errorf("want every postfix-tx line of the journal in mail.log, got %d missing (journald -> rsyslogd dropped them):\n  %s", len(missing), strings.Join(first(missing, 20), "\n  "))
	}
	for line := range strings.SplitSeq(string(journal), "\n") {
		if strings.Contains(line, "Forwarding to syslog missed") {
			t.Errorf("journald: %s", line)
		}
	}
	t.Logf("all %d postfix-tx lines of the journal are in mail.log; max_dgram_qlen %s in the syslog namespace (host %s)", n, a.facts["syslog_dgram_qlen"], a.facts["syslog_host_dgram_qlen"])
}
