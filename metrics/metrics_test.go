package metrics_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

func ruleSet(t *testing.T, yaml string) *parser.RuleSet {
	t.Helper()
	rs, err := parser.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

const rulesText = `
timezone: UTC
limits:
  max_domains: 3
  max_codes: 2
domains:
  always: [Gmail.COM]
rules:
  - name: r
    match: '(?P<queue_id>\S+) (?P<recipient>\S+)'
    status: deferred
`

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func event(domain, code string, st parser.Status) *parser.Event {
	c, _ := parser.ParseCode(code)
	return &parser.Event{Time: t0, Source: "mail", Status: st, Code: c, QueueID: []byte("Q"), Recipient: []byte("a@" + domain), Domain: []byte(domain)}
}

func gather(t *testing.T, s *metrics.Set, names ...string) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	var b strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, n := range names {
			if mf.GetName() != n {
				continue
			}
			for _, m := range mf.GetMetric() {
				var l []string
				for _, lp := range m.GetLabel() {
					l = append(l, lp.GetName()+"="+lp.GetValue())
				}
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
				fmt.Fprintf(&b, "%s{%s} %v\n", n, strings.Join(l, ","), v)
			}
		}
	}
	return b.String()
}

// TestLabelCaps: domains and codes past their caps fold into "other" and are
// counted in bouncewatch_label_overflow_total; domains.always never folds.
func TestLabelCaps(t *testing.T) {
	s := metrics.New(ruleSet(t, rulesText))
	for _, d := range []string{"a.example", "b.example", "c.example", "d.example", "gmail.com", "a.example"} {
		s.Event(event(d, "4.3.2", parser.StatusDeferred))
	}
	s.Event(event("a.example", "4.4.1", parser.StatusDeferred))
	s.Event(event("a.example", "4.7.0", parser.StatusDeferred)) // third code: past max_codes 2
	got := gather(t, s, "bouncewatch_domain_events_total", "bouncewatch_label_overflow_total")
	want := `bouncewatch_domain_events_total{code=4.3.2,domain=a.example,source=mail,status=deferred} 2
bouncewatch_domain_events_total{code=4.3.2,domain=b.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=c.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=gmail.com,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=other,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.4.1,domain=a.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=other,domain=a.example,source=mail,status=deferred} 1
bouncewatch_label_overflow_total{label=code} 1
bouncewatch_label_overflow_total{label=domain} 1
`
	if got != want {
		t.Errorf("want\n%s\ngot\n%s", want, got)
	}
}

// TestHostileDomainsStayBounded feeds many distinct domains: the series count
// never passes the cap.
func TestHostileDomainsStayBounded(t *testing.T) {
	s := metrics.New(ruleSet(t, rulesText))
	for i := 0; i < 10000; i++ {
		s.Event(event(fmt.Sprintf("d%d.example", i), "4.3.2", parser.StatusDeferred))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	n, err := testutil.GatherAndCount(reg, "bouncewatch_domain_events_total")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3+1 { // three domains and other
		t.Errorf("want 4 series, got %d", n)
	}
}

// TestPendingGauges: the deferred-recipient gauges come from the tracker and
// stay at 0 once the recipients are resolved.
func TestPendingGauges(t *testing.T) {
	rs := ruleSet(t, rulesText)
	s := metrics.New(rs)
	tr := tracker.New("mail", time.Hour, 100)
	s.AddPendingSource(tr)
	d := event("a.example", "4.3.2", parser.StatusDeferred)
	tr.Observe(d, s)
	d2 := event("b.example", "4.3.2", parser.StatusDeferred)
	d2.QueueID = []byte("R")
	d2.Time = t0.Add(time.Minute)
	tr.Observe(d2, s)
	got := gather(t, s, "bouncewatch_deferred_recipients", "bouncewatch_domain_deferred_recipients", "bouncewatch_domain_oldest_deferral_timestamp_seconds", "bouncewatch_tracker_entries")
	want := fmt.Sprintf(`bouncewatch_deferred_recipients{code=4.3.2,source=mail} 2
bouncewatch_domain_deferred_recipients{domain=a.example,source=mail} 1
bouncewatch_domain_deferred_recipients{domain=b.example,source=mail} 1
bouncewatch_domain_oldest_deferral_timestamp_seconds{domain=a.example,source=mail} %v
bouncewatch_domain_oldest_deferral_timestamp_seconds{domain=b.example,source=mail} %v
bouncewatch_tracker_entries{source=mail} 2
`, float64(t0.Unix()), float64(t0.Unix()+60))
	if got != want {
		t.Errorf("want\n%s\ngot\n%s", want, got)
	}
	sent := event("b.example", "2.0.0", parser.StatusSent)
	sent.QueueID = []byte("R")
	sent.Time = t0.Add(61 * time.Minute)
	tr.Observe(sent, s) // a.example is past the 1h TTL by now: abandoned
	got = gather(t, s, "bouncewatch_deferred_recipients", "bouncewatch_domain_deferred_recipients", "bouncewatch_retry_outcomes_total")
	want = `bouncewatch_deferred_recipients{code=4.3.2,source=mail} 0
bouncewatch_domain_deferred_recipients{domain=a.example,source=mail} 0
bouncewatch_domain_deferred_recipients{domain=b.example,source=mail} 0
bouncewatch_retry_outcomes_total{code=4.3.2,outcome=abandoned,source=mail} 1
bouncewatch_retry_outcomes_total{code=4.3.2,outcome=delivered,source=mail} 1
`
	if got != want {
		t.Errorf("want\n%s\ngot\n%s", want, got)
	}
}

// TestLabelValuesAreValid: label values from logs are valid UTF-8 and short,
// and the exposition passes the linter.
func TestLabelValuesAreValid(t *testing.T) {
	s := metrics.New(ruleSet(t, rulesText))
	s.Event(&parser.Event{Time: t0, Source: "bad\xffsource" + strings.Repeat("x", 300), Status: parser.StatusSent, Code: 2 << 20})
	s.Resolved(&tracker.Resolution{Source: "mail", FirstCode: 4 << 20, Outcome: tracker.Delivered, First: t0, Time: t0.Add(90 * time.Second), Attempts: 2})
	s.Line("mail", 100, parser.Matched, t0)
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err) // the registry refuses invalid UTF-8
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	out := gather(t, s, "bouncewatch_events_total")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if len(l) > 200 {
			t.Errorf("label not capped: %d bytes", len(l))
		}
	}
}

// TestHistogramBuckets checks the fixed buckets of the resolution histogram.
func TestHistogramBuckets(t *testing.T) {
	s := metrics.New(ruleSet(t, rulesText))
	for _, secs := range []int{30, 60, 61, 4000, 500000} {
		s.Resolved(&tracker.Resolution{Source: "mail", FirstCode: 4<<20 | 3<<10 | 2, Outcome: tracker.Delivered, First: t0, Time: t0.Add(time.Duration(secs) * time.Second), Attempts: 1})
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	want := `# HELP bouncewatch_resolution_seconds Time from a recipient's first deferral to its outcome, in seconds of log time.
# TYPE bouncewatch_resolution_seconds histogram
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="60"} 2
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="300"} 3
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="900"} 3
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="1800"} 3
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="3600"} 3
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="7200"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="14400"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="28800"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="43200"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="86400"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="172800"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="259200"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="432000"} 4
bouncewatch_resolution_seconds_bucket{code="4.3.2",outcome="delivered",source="mail",le="+Inf"} 5
bouncewatch_resolution_seconds_sum{code="4.3.2",outcome="delivered",source="mail"} 504151
bouncewatch_resolution_seconds_count{code="4.3.2",outcome="delivered",source="mail"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "bouncewatch_resolution_seconds"); err != nil {
		t.Error(err)
	}
}

// TestExportImport: a Set restored from its JSON state exposes exactly what
// the original did, and counts on from there.
func TestExportImport(t *testing.T) {
	rs := ruleSet(t, rulesText)
	orig := metrics.New(rs)
	for i, d := range []string{"a.example", "b.example", "c.example", "d.example", "gmail.com"} {
		e := event(d, []string{"4.3.2", "4.4.1", "5.1.1", "4.3.2", "2.0.0"}[i], []parser.Status{parser.StatusDeferred, parser.StatusDeferred, parser.StatusBounced, parser.StatusDeferred, parser.StatusSent}[i])
		orig.Event(e)
	}
	orig.Resolved(&tracker.Resolution{Source: "mail", FirstCode: 4<<20 | 3<<10 | 2, Outcome: tracker.Delivered, First: t0, Time: t0.Add(time.Hour), Attempts: 3})
	orig.Line("mail", 120, parser.Matched, t0)
	orig.Line("mail", 80, parser.Unmatched, time.Time{})
	orig.Rotation("mail", "rename")

	data, err := json.Marshal(orig.Export())
	if err != nil {
		t.Fatal(err)
	}
	var st metrics.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	restored := metrics.New(rs)
	if err := restored.Import(st); err != nil {
		t.Fatal(err)
	}
	if a, b := exposition(t, orig), exposition(t, restored); a != b {
		t.Errorf("restored exposition differs:\n%s\n---\n%s", a, b)
	}
	// Both go on alike: the label set and its caps were restored too.
	for _, s := range []*metrics.Set{orig, restored} {
		s.Event(event("e.example", "4.3.2", parser.StatusDeferred))
		s.Event(event("b.example", "4.4.1", parser.StatusDeferred))
	}
	if a, b := exposition(t, orig), exposition(t, restored); a != b {
		t.Errorf("restored set counts differently:\n%s\n---\n%s", a, b)
	}
	st.Codes = append(st.Codes, "9.9.9")
	if err := metrics.New(rs).Import(st); err == nil {
		t.Error("want an error for a bad code in the state")
	}
}

func exposition(t *testing.T, s *metrics.Set) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		fmt.Fprintln(&b, mf.String())
	}
	return b.String()
}
