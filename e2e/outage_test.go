//go:build e2e

package e2e

// TestOutage runs the real outage of e2e/outage.sh LIVE: Postfix and Exim
// send through a receiver that answers 421 4.3.2 at the greeting for
// outage.example (until T+60) and dead.example (forever: it expires), 452
// 4.3.2 at RCPT for ratelimit.example (until T+40), and accepts ok.example;
// `bouncewatch run` follows both logs as shipped and a real Prometheus
// evaluates the shipped alert rules. The reference is e2e/outage-count.awk
// over the same logs (plain awk, never bouncewatch's code), with the
// semantics of DESIGN.md: "delivery temporarily suspended" and "retry time
// not reached" lines are deferrals (the latter with the domain's latest
// code), -odqs lines are not.
//
//	go test -tags e2e -run TestOutage -count=1 -v ./e2e/      # about 3 minutes, as root
//	E2E_REUSE=1 go test -tags e2e -run TestOutage -v ./e2e/   # judge the last run's artifacts again
//
// Artifacts in $E2E_OUTAGE_OUT (default /tmp/bouncewatch-outage).

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bouncewatch/bouncewatch/internal/browsertest"
)

func TestOutage(t *testing.T) {
	requireScenario(t)
	dir := os.Getenv("E2E_OUTAGE_OUT")
	if dir == "" {
		dir = "/tmp/bouncewatch-outage"
	}
	if !reuse() {
		runScenario(t, 7*time.Minute, nil, filepath.Join(repoRoot(t), "e2e", "outage.sh"), dir)
	}
	a := loadArtifacts(t, dir)
	metrics := a.metrics(t, "metrics.txt")
	t0 := a.factFloat(t, "T0")
	t.Logf("artifacts in %s; mode %s; switch at T+%.1f s", dir, a.fact(t, "mode"), a.factFloat(t, "switch")-t0)

	sources := []string{"postfix", "exim"}
	logs := map[string]string{"postfix": a.path("postfix-tx.log"), "exim": a.path("exim-mainlog")}
	// the independent count (plain awk, no bouncewatch code)
	ref := outageCount(runAwk(t, "outage-count.awk", nil, logs["postfix"], logs["exim"]))

	t.Run("scenario", func(t *testing.T) { checkOutageScenario(t, a, ref, logs) })

	t.Run("bouncewatch", func(t *testing.T) {
		t.Run("no error in its log", func(t *testing.T) {
			var errs []string
			for line := range strings.SplitSeq(string(a.read(t, "bouncewatch.log")), "\n") {
				if strings.Contains(line, "level=error") || strings.Contains(line, "level=ERROR") {
					errs = append(errs, line)
				}
			}
			if len(errs) > 0 {
				t.Errorf("want no level=error line, got %d:\n  %s", len(errs), strings.Join(first(errs, 10), "\n  "))
			}
		})
		t.Run("stopped on SIGTERM with status 0", func(t *testing.T) {
			if got := a.fact(t, "bw_exit"); got != "0" {
				t.Errorf("want exit status 0, got %s", got)
			}
		})
		t.Run("counters never went down", func(t *testing.T) { checkCountersNeverDown(t, a, "metrics.txt") })
		t.Run("no counter reset in Prometheus", func(t *testing.T) { checkNoResets(t, a, metrics) })
		for _, src := range sources {
			t.Run(src+"/read every byte from its start", func(t *testing.T) {
				b, err := os.ReadFile(logs[src])
				if err != nil {
					t.Fatal(err)
				}
				want := float64(len(b)) - a.factFloat(t, "bw_start_bytes_"+src)
				if got := metrics.Sum("bouncewatch_log_bytes_total", "source="+src); got != want {
					t.Errorf("bouncewatch_log_bytes_total: want %v (the log's size since bouncewatch started), got %v", want, got)
				}
			})
		}
	})

	t.Run("mid-outage status page", func(t *testing.T) { checkMidOutage(t, a, logs) })

	for _, src := range sources {
		m := map[string]string{"source": src}
		t.Run(src, func(t *testing.T) {
			rcpts := ref.rows("RCPT", src)
			t.Run("retry_outcomes_total per first code, outcome", func(t *testing.T) {
				want := table{}
				for _, r := range rcpts {
					if o := outcomeName(r[5]); o != "" {
						want[r[4]+" "+o]++
					}
				}
				expectTable(t, "bouncewatch_retry_outcomes_total", want, group(metrics, "bouncewatch_retry_outcomes_total", m, "code", "outcome"))
			})
			t.Run("resolution_seconds per first code, outcome", func(t *testing.T) {
				var obs []resolution
				for _, r := range rcpts {
					if o := outcomeName(r[5]); o != "" {
						obs = append(obs, resolution{r[4], o, atof(t, r[7]) - atof(t, r[6])})
					}
				}
				checkResolution(t, metrics, src, obs)
			})
			t.Run("retry_attempts per first code, outcome", func(t *testing.T) {
				count, sum := table{}, table{}
				for _, r := range rcpts {
					if o := outcomeName(r[5]); o != "" {
						count[r[4]+" "+o]++
						sum[r[4]+" "+o] += atof(t, r[8])
					}
				}
				expectTable(t, "bouncewatch_retry_attempts_count", count, group(metrics, "bouncewatch_retry_attempts_count", m, "code", "outcome"))
				expectTable(t, "bouncewatch_retry_attempts_sum (deferral lines while pending)", sum, group(metrics, "bouncewatch_retry_attempts_sum", m, "code", "outcome"))
			})
			t.Run("4.3.2 deferral events per domain", func(t *testing.T) {
				want := table{}
				for _, r := range ref.rows("EVENTS", src) { // EVENTS src domain status code n
					if r[3] == "deferred" && r[4] == "4.3.2" {
						want[r[2]] += atof(t, r[5])
					}
				}
				expectTable(t, `bouncewatch_domain_events_total{status="deferred",code="4.3.2"}`, want,
					group(metrics, "bouncewatch_domain_events_total", map[string]string{"source": src, "status": "deferred", "code": "4.3.2"}, "domain"))
			})
			t.Run("reason of each domain's deferrals (issue 11)", func(t *testing.T) {
				// every deferral of the 421 domains is the receiver not accepting
				// (suspended and retry-time-not-reached lines take the domain's
				// latest reason with its code), every one of ratelimit.example is
				// the rate limit; the awk reference counts the deferral lines
				want := table{}
				reasons := map[string]string{"outage.example": "not_accepting", "dead.example": "not_accepting", "ratelimit.example": "rate_limited"}
				for _, r := range ref.rows("EVENTS", src) { // EVENTS src domain status code n
					if r[3] == "deferred" {
						reason := reasons[r[2]]
						if reason == "" {
							reason = "(a domain that should not defer)"
						}
						want[r[2]+" "+reason] += atof(t, r[5])
					}
				}
				expectTable(t, `bouncewatch_domain_reason_events_total{status="deferred"} per domain, reason`, want,
					group(metrics, "bouncewatch_domain_reason_events_total", map[string]string{"source": src, "status": "deferred"}, "domain", "reason"))
				if got := metrics.Sum("bouncewatch_reason_events_total", "source="+src, "reason=undefined"); got != 0 {
					t.Errorf(`bouncewatch_reason_events_total{reason="undefined"}: want 0 (every reply of the lab is placed), got %v`, got)
				}
			})
			t.Run("domain_events_total per domain, status, code", func(t *testing.T) {
				want := table{}
				for _, r := range ref.rows("EVENTS", src) {
					want[r[2]+" "+r[3]+" "+r[4]] += atof(t, r[5])
				}
				expectTable(t, "bouncewatch_domain_events_total", want, group(metrics, "bouncewatch_domain_events_total", m, "domain", "status", "code"))
			})
			t.Run("pending gauges back to 0", func(t *testing.T) {
				for _, g := range []string{"bouncewatch_deferred_recipients", "bouncewatch_domain_deferred_recipients", "bouncewatch_tracker_entries"} {
					if got := group(metrics, g, m, "code", "domain"); len(got) > 0 {
						t.Errorf("%s at the end: want 0 everywhere, got%s", g, got)
					}
				}
			})
			t.Run("outage.example pending mid-outage", func(t *testing.T) {
				mid := a.metrics(t, "mid/metrics.txt")
				if got := mid.Sum("bouncewatch_domain_deferred_recipients", "source="+src, "domain=outage.example"); got <= 0 {
					t.Errorf("bouncewatch_domain_deferred_recipients{domain=\"outage.example\"} at T+%.0f: want > 0, got %v", a.factFloat(t, "mid")-t0, got)
				} else {
					t.Logf("at T+%.0f: %v recipients of outage.example pending", a.factFloat(t, "mid")-t0, got)
				}
			})
		})
	}

	polls := a.alertPolls(t)
	var ever []promAlert
	for _, p := range polls {
		ever = append(ever, p.Alerts...)
	}
	// firing: when each source/domain first fired, since T0
	firing := func(name string) map[string]float64 {
		at := map[string]float64{}
		for _, p := range polls {
			for _, k := range alertSet(p.Alerts, name, true, "firing") {
				if _, ok := at[k]; !ok {
					at[k] = p.T - t0
				}
			}
		}
		return at
	}
	t.Run("alert "+alertName, func(t *testing.T) {
		firedAt := firing(alertName)
		for _, src := range sources {
			for _, d := range []string{"outage.example", "dead.example"} {
				t.Run("fired for "+src+"/"+d, func(t *testing.T) {
					if at, ok := firedAt[src+"/"+d]; ok {
						t.Logf("firing from T+%.0f s", at)
					} else {
						t.Errorf("want %s firing for source %s, domain %s in one of %d polls every 2 s, got never (pending or firing ever: %v)",
							alertName, src, d, len(polls), alertSet(ever, alertName, true))
					}
				})
			}
		}
		t.Run("never for ok.example", func(t *testing.T) {
			if got := alertSet(ever, alertName, false); slices.Contains(got, "ok.example") {
				t.Errorf("want never pending or firing for ok.example, got it (all: %v)", got)
			}
		})
		t.Logf("firing at the end: %v; ever firing: %v", alertSet(a.finalAlerts(t), alertName, true, "firing"), alertSet(ever, alertName, true, "firing"))
	})
	// the cause alerts of issue 11: the rate limit is named as such, and
	// nothing in the lab is a block or an authentication failure
	t.Run("alert BouncewatchRateLimited", func(t *testing.T) {
		const name = "BouncewatchRateLimited"
		firedAt := firing(name)
		for _, src := range sources {
			t.Run("fired for "+src+"/ratelimit.example", func(t *testing.T) {
				if at, ok := firedAt[src+"/ratelimit.example"]; ok {
					t.Logf("firing from T+%.0f s", at)
				} else {
					t.Errorf("want %s firing for source %s, domain ratelimit.example in one of %d polls every 2 s, got never (pending or firing ever: %v)",
						name, src, len(polls), alertSet(ever, name, true))
				}
			})
		}
		t.Run("never for the other domains", func(t *testing.T) {
			for _, d := range alertSet(ever, name, false) {
				if d != "ratelimit.example" {
					t.Errorf("want %s pending or firing for ratelimit.example only, got it for %s", name, d)
				}
			}
		})
	})
	for _, name := range []string{"BouncewatchBlocked", "BouncewatchAuthFailuresRising"} {
		t.Run("alert "+name+" never", func(t *testing.T) {
			if got := alertSet(ever, name, true); len(got) > 0 {
				t.Errorf("want %s never pending or firing (no block, no authentication failure in the lab), got %v", name, got)
			}
		})
	}
}

// outcomeName maps the reference's outcome to bouncewatch's label value
// ("" for a recipient still pending, which is no outcome).
func outcomeName(o string) string {
	switch o {
	case "pending":
		return ""
	case "removed":
		return "abandoned"
	}
	return o
}

// outageRef is outage-count.awk's output, by kind (the first field).
type outageRef map[string][][]string

func outageCount(lines [][]string) outageRef {
	r := outageRef{}
	for _, l := range lines {
		if len(l) > 1 {
			r[l[0]] = append(r[l[0]], l)
		}
	}
	return r
}

// rows are the lines of a kind for a source (field 2).
func (r outageRef) rows(kind, src string) [][]string {
	var out [][]string
	for _, l := range r[kind] {
		if l[1] == src {
			out = append(out, l)
		}
	}
	return out
}

// cnt sums the last field of the lines of a kind whose fields 2.. match
// want ("*" matches anything).
func (r outageRef) cnt(kind string, want ...string) float64 {
	var s float64
	for _, l := range r[kind] {
		ok := true
		for i, w := range want {
			if w != "*" && (i+1 >= len(l) || l[i+1] != w) {
				ok = false
			}
		}
		if ok {
			v, _ := strconv.ParseFloat(l[len(l)-1], 64)
			s += v
		}
	}
	return s
}

// checkOutageScenario checks that the logs show the scenario (what
// outage.sh's own checks were): the outage at the greeting, the suspended and
// retry-time-not-reached deferrals, recovery, expiry, nothing lost.
func checkOutageScenario(t *testing.T, a *artifacts, ref outageRef, logs map[string]string) {
	submitted := outageCount(func() [][]string {
		var out [][]string
		for line := range strings.SplitSeq(string(a.read(t, "submitted.txt")), "\n") {
			out = append(out, strings.Fields(line))
		}
		return out
	}())
	ge := func(t *testing.T, what string, got, min float64) {
		t.Helper()
		if got < min {
			t.Errorf("%s: want at least %v, got %v", what, min, got)
		}
	}
	eq := func(t *testing.T, what string, want, got float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: want %v, got %v", what, want, got)
		}
	}
	t.Run("orchestration", func(t *testing.T) {
		eq(t, "both queues empty by T+240 (1: yes; "+a.facts["queues_left"]+")", 1, a.factFloat(t, "queues_drained"))
		if g := a.fact(t, "outage_greeting_after_switch"); !strings.HasPrefix(g, "220 ") {
			t.Errorf("the outage listener's greeting after the switch: want 220 ..., got %q", g)
		}
		if b, err := os.ReadFile(a.path("exim-paniclog")); err == nil {
			t.Errorf("exim wrote a paniclog: want none, got %.300s", b)
		}
	})
	t.Run("no line lost", func(t *testing.T) {
		pf, ex := string(a.read(t, "postfix-tx.log")), string(a.read(t, "exim-mainlog"))
		qidRE := regexp.MustCompile(`\]: ([0-9A-F]+): `)
		active := map[string]bool{}
		for line := range strings.SplitSeq(pf, "\n") {
			if m := qidRE.FindStringSubmatch(line); m != nil {
				if strings.HasSuffix(line, " (queue active)") {
					active[m[1]] = true
				} else if strings.HasSuffix(line, ": removed") {
					delete(active, m[1])
				}
			}
		}
		eq(t, "postfix-tx.log: queue ids 'queue active' without a 'removed' line", 0, float64(len(active)))
		open := map[string]bool{}
		for line := range strings.SplitSeq(ex, "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[3] == "<=" {
				open[f[2]] = true
			} else if len(f) >= 4 && f[3] == "Completed" {
				delete(open, f[2])
			}
		}
		eq(t, "exim-mainlog: message ids with '<=' but no 'Completed'", 0, float64(len(open)))
	})
	for _, src := range []string{"postfix", "exim"} {
		t.Run(src, func(t *testing.T) {
			msgs := map[string]int{}
			for _, r := range ref.rows("RCPT", src) {
				if strings.HasSuffix(r[3], "@outage.example") || strings.HasSuffix(r[3], "@dead.example") {
					msgs[r[2]]++
				}
			}
			ge(t, "messages to outage.example/dead.example with a deferred recipient", float64(len(msgs)), 30)
			eq(t, "... = the messages submitted to them", submitted.cnt("OUTAGEMSGS", src), float64(len(msgs)))
			big := 0
			for _, n := range msgs {
				if n >= 3 {
					big++
				}
			}
			ge(t, "of them with 3-5 recipients in one domain", float64(big), 5)
			for _, d := range []string{"outage.example", "dead.example", "ok.example", "ratelimit.example"} {
				want := submitted.cnt("SUBMITTED", src, d)
				if src == "postfix" && d == "ok.example" {
					want += submitted.cnt("PROBES", src) // the sendmail -bv probes are recipients in the log too
				}
				eq(t, d+" recipients in the log = recipients submitted", want, ref.cnt("RECIPIENTS", src, d))
			}
			for _, d := range []string{"outage.example", "dead.example"} {
				ge(t, d+" deferrals at the GREETING with 4.3.2", ref.cnt("PHASES", src, d, "greeting", "4.3.2"), 1)
				n := 0.0
				for _, r := range ref.rows("PHASES", src) {
					if r[2] == d && r[3] != "greeting" {
						n++
					}
				}
				eq(t, d+" deferrals NOT at the greeting (kinds)", 0, n)
			}
			ge(t, "ratelimit.example deferrals at RCPT with 4.3.2 (452)", ref.cnt("PHASES", src, "ratelimit.example", "rcpt", "4.3.2"), 1)
			// the receiver's words exactly, as a rate-limiting receiver says them (its milter)
			log := map[string]string{"postfix": "postfix-tx.log", "exim": "exim-mainlog"}[src]
			ge(t, "'452 4.3.2 Connection rate limit exceeded' replies for ratelimit.example",
				float64(len(regexp.MustCompile(`ratelimit\.example.*: 452 4\.3\.2 Connection rate limit exceeded\b`).FindAllIndex(a.read(t, log), -1))), 10)
			o := ref.cnt("RECIPIENTS", src, "outage.example")
			ge(t, "outage.example recipients", o, 30)
			eq(t, "outage.example recipients delivered (all, after the recovery)", o, ref.cnt("OUTCOMES", src, "outage.example", "*", "delivered"))
			o = ref.cnt("RECIPIENTS", src, "dead.example")
			ge(t, "dead.example recipients", o, 10)
			eq(t, "dead.example recipients expired (all)", o, ref.cnt("OUTCOMES", src, "dead.example", "*", "expired"))
			eq(t, "dead.example recipients whose first code is 4.3.2", o, ref.cnt("OUTCOMES", src, "dead.example", "4.3.2", "*"))
			ge(t, "dead.example expired events", ref.cnt("EVENTS", src, "dead.example", "expired"), 10)
			eq(t, "ratelimit.example recipients delivered (all)", ref.cnt("RECIPIENTS", src, "ratelimit.example"), ref.cnt("OUTCOMES", src, "ratelimit.example", "*", "delivered"))
			eq(t, "ok.example sent events (all its recipients)", submitted.cnt("SUBMITTED", src, "ok.example"), ref.cnt("EVENTS", src, "ok.example", "sent"))
			eq(t, "recipients pending at the end", 0, ref.cnt("OUTCOMES", src, "*", "*", "pending"))
			eq(t, "recipients removed while pending", 0, ref.cnt("OUTCOMES", src, "*", "*", "removed"))
			if src == "postfix" {
				for _, d := range []string{"outage.example", "dead.example"} {
					ge(t, d+" 'delivery temporarily suspended' deferrals (dsn=4.3.2)", ref.cnt("DEFERRALS", src, d, "suspended", "4.3.2"), 1)
				}
				ge(t, "recipients whose FIRST deferral line is a suspended line", ref.cnt("FIRSTKIND", src, "*", "suspended"), 1)
				ge(t, "recipients whose ONLY deferral lines are suspended lines", ref.cnt("ONLYKIND", src, "*", "suspended"), 1)
				ge(t, "address verification probe lines (ignored)", ref.cnt("IGNORED", src), 1)
				ge(t, "'status=expired, returned to sender' lines", ref.cnt("EXPIRYWORDING", src, "dead.example"), 1)
				ge(t, "'refused to talk to me: 421 4.3.2' lines", float64(strings.Count(string(a.read(t, "postfix-tx.log")), "refused to talk to me: 421 4.3.2 ")), 1)
			} else {
				for _, d := range []string{"outage.example", "dead.example"} {
					ge(t, d+" 'retry time not reached' deferrals", ref.cnt("DEFERRALS", src, d, "retry-wait"), 1)
				}
				ge(t, "recipients whose FIRST deferral line is 'retry time not reached'", ref.cnt("FIRSTKIND", src, "*", "retry-wait"), 1)
				ge(t, "-odqs deferrals (skipped)", ref.cnt("SKIPPED", src, "*", "odqs"), 1)
				ge(t, "queue runs", ref.cnt("QUEUERUNS", src), 3)
				ge(t, "dead.example '** ...: retry timeout exceeded'", ref.cnt("EXPIRYWORDING", src, "dead.example", "retry-timeout-exceeded"), 1)
				ge(t, "dead.example '** ... all hosts ... have been failing for a long time'", ref.cnt("EXPIRYWORDING", src, "dead.example", "all-hosts-failing"), 1)
				ge(t, "'after initial connection: 421 4.3.2' lines", float64(strings.Count(string(a.read(t, "exim-mainlog")), "after initial connection: 421 4.3.2 ")), 1)
			}
		})
	}
	t.Run("receiver", func(t *testing.T) {
		rx := string(a.read(t, "postfix-rx.log"))
		for _, d := range []string{"outage", "dead"} {
			re := regexp.MustCompile(`postfix-rx/` + d + `/smtpd\[\d+\]: NOQUEUE: reject: CONNECT from .*: 421 4\.3\.2 `)
			ge(t, "'reject: CONNECT ... 421 4.3.2' on the "+d+" listener", float64(len(re.FindAllStringIndex(rx, -1))), 1)
		}
	})
	for _, src := range []string{"postfix", "exim"} {
		var lines []string
		for _, kind := range []string{"RECIPIENTS", "DEFERRALS", "FIRSTKIND", "OUTCOMES"} {
			for _, r := range ref.rows(kind, src) {
				lines = append(lines, strings.Join(r, " "))
			}
		}
		slices.Sort(lines)
		t.Logf("%s, as the logs say:\n  %s", src, strings.Join(lines, "\n  "))
	}
}

// statusJSON is what the mid-outage checks read of GET /api/v1/status (the
// README's field names; decoded as a client would, not with bouncewatch's types).
type statusJSON struct {
	Live      bool      `json:"live"`
	Ready     bool      `json:"ready"`
	Reference time.Time `json:"reference"`
	Deferring []struct {
		Source           string     `json:"source"`
		Domain           string     `json:"domain"`
		Pending          float64    `json:"pending_recipients"`
		Oldest           *time.Time `json:"oldest_deferral"`
		OldestAgeSeconds float64    `json:"oldest_age_seconds"`
		FirstCode        struct {
			Code string `json:"code"`
		} `json:"first_code"`
		CurrentCode struct {
			Code string `json:"code"`
		} `json:"current_code"`
		Reason struct {
			Reason string `json:"reason"`
		} `json:"reason"`
		Lately float64 `json:"deferrals_last_15m"`
	} `json:"deferring"`
	Totals struct {
		Pending float64 `json:"pending_recipients"`
	} `json:"totals"`
	Sources []struct {
		Name  string  `json:"name"`
		Bytes float64 `json:"bytes"`
	} `json:"sources"`
}

// savedHeader is a header of a response saved by http_save (FILE.headers,
// curl -D), "" when absent.
func savedHeader(t *testing.T, a *artifacts, rel, name string) string {
	t.Helper()
	for line := range strings.SplitSeq(string(a.read(t, rel+".headers")), "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// checkMidOutage judges what bouncewatch served at T+50, while outage.example
// was down: mid/metrics.txt, mid/status.json, mid/index.html and
// mid/metrics-after.txt, taken back to back when no line was read in between
// (outage.sh's mid_snapshot), so that they show one state of the daemon.
// The reference for that state is outage-count.awk over the part of each log
// bouncewatch had read then (its start offset plus bouncewatch_log_bytes_total).
func checkMidOutage(t *testing.T, a *artifacts, logs map[string]string) {
	t0 := a.factFloat(t, "T0")
	var st statusJSON
	t.Run("GET /api/v1/status answered 200 with JSON", func(t *testing.T) {
		if got := strings.TrimSpace(string(a.read(t, "mid/status.json.status"))); got != "200" {
			t.Fatalf("want HTTP 200, got %q", got)
		}
		if ct := savedHeader(t, a, "mid/status.json", "Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type: want application/json, got %q", ct)
		}
		if err := json.Unmarshal(a.read(t, "mid/status.json"), &st); err != nil {
			t.Fatalf("want JSON, got %v: %.200q", err, a.read(t, "mid/status.json"))
		}
		if !st.Live || !st.Ready || st.Reference.IsZero() {
			t.Errorf("want live, ready and a reference time, got live %v, ready %v, reference %v", st.Live, st.Ready, st.Reference)
		}
		t.Logf("at T+%.1f s: %d domains deferring, %v recipients waiting", float64(st.Reference.UnixNano())/1e9-t0, len(st.Deferring), st.Totals.Pending)
	})
	if st.Reference.IsZero() {
		t.Fatal("no /api/v1/status to judge")
	}
	t.Run("GET / answered 200 with HTML", func(t *testing.T) {
		if got := strings.TrimSpace(string(a.read(t, "mid/index.html.status"))); got != "200" {
			t.Errorf("want HTTP 200, got %q", got)
		}
		if ct := savedHeader(t, a, "mid/index.html", "Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type: want text/html, got %q", ct)
		}
	})

	before, after := a.metrics(t, "mid/metrics.txt"), a.metrics(t, "mid/metrics-after.txt")
	t.Run("one state: no line read between the two /metrics around it", func(t *testing.T) {
		if q := strings.TrimSpace(string(a.read(t, "mid/quiet"))); q != "1" {
			t.Errorf("want a quiet moment (mid/quiet 1), got %q after %s tries", q, strings.TrimSpace(string(a.read(t, "mid/tries"))))
		}
		for _, s := range st.Sources {
			nb, na := before.Sum("bouncewatch_log_bytes_total", "source="+s.Name), after.Sum("bouncewatch_log_bytes_total", "source="+s.Name)
			if s.Bytes != nb || s.Bytes != na {
				t.Errorf("source %s: bytes read: /metrics before %v, /api/v1/status %v, /metrics after %v; want all equal", s.Name, nb, s.Bytes, na)
			}
		}
		if len(st.Sources) != 2 {
			t.Errorf("sources: want postfix and exim, got %d", len(st.Sources))
		}
	})

	// pending per "source domain" as the page says
	page := table{}
	for _, d := range st.Deferring {
		page[d.Source+" "+d.Domain] += d.Pending
	}
	for k, v := range page {
		if v == 0 {
			delete(page, k)
		}
	}
	t.Run("pending per domain = the pending gauges of /metrics", func(t *testing.T) {
		expectTable(t, "pending_recipients in /api/v1/status (want = bouncewatch_domain_deferred_recipients)",
			group(before, "bouncewatch_domain_deferred_recipients", nil, "source", "domain"), page)
		total := before.Sum("bouncewatch_deferred_recipients")
		if st.Totals.Pending != total {
			t.Errorf("totals.pending_recipients: want %v (sum of bouncewatch_deferred_recipients), got %v", total, st.Totals.Pending)
		}
		if tr := before.Sum("bouncewatch_tracker_entries"); tr != total {
			t.Errorf("bouncewatch_tracker_entries: want %v (the recipients waiting), got %v", total, tr)
		}
	})

	// the reference: outage-count.awk over what bouncewatch had read
	dir := t.TempDir()
	var prefixes []string
	for _, src := range []string{"postfix", "exim"} {
		b, err := os.ReadFile(logs[src])
		if err != nil {
			t.Fatal(err)
		}
		n := int(a.factFloat(t, "bw_start_bytes_"+src) + before.Sum("bouncewatch_log_bytes_total", "source="+src))
		if n > len(b) || (n > 0 && b[n-1] != '\n') {
			t.Fatalf("%s: bouncewatch had read %d bytes at T+50, not a line boundary of the %d-byte log", src, n, len(b))
		}
		p := filepath.Join(dir, src+".log")
		if err := os.WriteFile(p, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		prefixes = append(prefixes, p)
	}
	refPending, refOldest := table{}, map[string]float64{}
	for _, r := range outageCount(runAwk(t, "outage-count.awk", nil, prefixes...))["RCPT"] {
		if r[5] != "pending" {
			continue
		}
		_, d, _ := strings.Cut(r[3], "@")
		k := r[1] + " " + d
		refPending[k]++
		if first := atof(t, r[6]); refOldest[k] == 0 || first < refOldest[k] {
			refOldest[k] = first
		}
	}
	t.Run("pending per domain = the log read so far (awk)", func(t *testing.T) {
		expectTable(t, "pending_recipients in /api/v1/status (want = outage-count.awk over the lines read)", refPending, page)
	})

	for _, src := range []string{"postfix", "exim"} {
		t.Run(src+"/outage.example: 4.3.2 and the age of its oldest recipient", func(t *testing.T) {
			k := src + " outage.example"
			found := false
			for _, d := range st.Deferring {
				if d.Source != src || d.Domain != "outage.example" {
					continue
				}
				found = true
				if d.Pending <= 0 {
					t.Errorf("pending_recipients: want > 0, got %v", d.Pending)
				}
				if d.FirstCode.Code != "4.3.2" || d.CurrentCode.Code != "4.3.2" {
					t.Errorf("first_code, current_code: want 4.3.2, 4.3.2, got %q, %q", d.FirstCode.Code, d.CurrentCode.Code)
				}
				if d.Reason.Reason != "not_accepting" {
					t.Errorf("reason: want not_accepting (421 4.3.2 System not accepting network messages), got %q", d.Reason.Reason)
				}
				// the outage began before T0 (the 421 greeting is checked before the first
				// message): no recipient can wait longer than since T0 (Exim's log times are
				// whole seconds: 1 s slack)
				since := float64(st.Reference.UnixNano())/1e9 - t0
				if d.OldestAgeSeconds <= 0 || d.OldestAgeSeconds > since+1 {
					t.Errorf("oldest_age_seconds: want in (0, %.1f] (since T0, the outage's first message), got %v", since+1, d.OldestAgeSeconds)
				}
				if d.Oldest == nil {
					t.Fatalf("oldest_deferral: want a time, got none")
				}
				if got := st.Reference.Sub(*d.Oldest).Seconds(); !near(got, d.OldestAgeSeconds, 0.001) {
					t.Errorf("oldest_age_seconds %v: want reference - oldest_deferral = %v", d.OldestAgeSeconds, got)
				}
				if want, got := refOldest[k], float64(d.Oldest.UnixNano())/1e9; !near(got, want, 0.001) {
					t.Errorf("oldest_deferral: want %.6f (the first deferral line of the oldest recipient waiting, awk), got %.6f", want, got)
				}
				t.Logf("%v recipients waiting, oldest since T+%.1f (%.1f s ago), first and current code %s, reason %s, %v deferrals in 15 min",
					d.Pending, float64(d.Oldest.UnixNano())/1e9-t0, d.OldestAgeSeconds, d.CurrentCode.Code, d.Reason.Reason, d.Lately)
			}
			if !found {
				t.Errorf("want outage.example of source %s in deferring[], got none", src)
			}
		})
	}

	t.Run("ratelimit.example: reason rate_limited", func(t *testing.T) {
		n := 0
		for _, d := range st.Deferring {
			if d.Domain == "ratelimit.example" {
				n++
				if d.Reason.Reason != "rate_limited" {
					t.Errorf("%s/ratelimit.example: reason: want rate_limited (452 4.3.2 Connection rate limit exceeded), got %q", d.Source, d.Reason.Reason)
				}
			}
		}
		if n == 0 {
			t.Errorf("want ratelimit.example in deferring[] (deferred in the last 15 minutes), got none")
		}
	})
	t.Run("the page in Chromium shows outage.example with 4.3.2, not accepting", func(t *testing.T) {
		checkPageInBrowser(t, a, st)
	})
}

// checkPageInBrowser serves the saved mid/index.html with the headers it was
// served with (its Content-Security-Policy too), opens it in Debian's
// Chromium headless, checks what it renders, and leaves a full-page
// screenshot in mid/status-page.png.
func checkPageInBrowser(t *testing.T, a *artifacts, st statusJSON) {
	ctx := browsertest.Start(t)
	body := a.read(t, "mid/index.html")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		for _, h := range []string{"Content-Type", "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
			if v := savedHeader(t, a, "mid/index.html", h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.Write(body)
	}))
	defer srv.Close()
	errs := browsertest.ConsoleErrors(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#deferring")); err != nil {
		t.Fatalf("opening the saved page: %v", err)
	}
	text := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.body.innerText`))
	// Domain | Source | Waiting | Oldest deferral | First code | Latest code | Reason, one row per domain and source
	rows := browsertest.Run(t, ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#deferring tbody tr')].map(tr => [...tr.cells].slice(0, 7).map(c => c.innerText.replace(/\s+/g, ' ').trim()))`))
	png := browsertest.Run(t, ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	out := a.path("mid", "status-page.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)

	for _, want := range []string{"outage.example", "4.3.2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered text: want %q in it, got %.300q", want, text)
		}
	}
	for _, src := range []string{"postfix", "exim"} {
		var row []string
		for _, r := range rows {
			if len(r) == 7 && r[0] == "outage.example" && r[1] == src {
				row = r
			}
		}
		if row == nil {
			t.Errorf("want a row outage.example | %s in the table of deferring domains, got %q", src, rows)
			continue
		}
		if !strings.HasPrefix(row[4], "4.3.2") || !strings.HasPrefix(row[5], "4.3.2") {
			t.Errorf("outage.example | %s: want first and latest code 4.3.2, got %q, %q", src, row[4], row[5])
		}
		if row[6] != "not accepting" {
			t.Errorf("outage.example | %s: want reason \"not accepting\", got %q", src, row[6])
		}
		for _, d := range st.Deferring {
			if d.Source == src && d.Domain == "outage.example" && row[2] != strconv.FormatFloat(d.Pending, 'f', -1, 64) {
				t.Errorf("outage.example | %s: want %v waiting (as /api/v1/status), got %q", src, d.Pending, row[2])
			}
		}
		t.Logf("rendered: %s", strings.Join(row, " | "))
	}
	if len(rows) != len(st.Deferring) {
		t.Errorf("the table has %d rows, /api/v1/status %d domains deferring", len(rows), len(st.Deferring))
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors (a CSP violation is one): want none, got %q", e)
	}
}
