package metrics_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

func ruleSet(t testing.TB, yaml string) *parser.RuleSet {
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

// fixture is a Set with sources, each fed through a tracker as a pipeline
// would feed it.
type fixture struct {
	rs      *parser.RuleSet
	labels  *metrics.Labels
	set     *metrics.Set
	sources map[string]*metrics.Source
	tr      map[string]*tracker.Tracker
	mu      sync.Mutex
}

func newFixture(t testing.TB, names ...string) *fixture {
	rs := ruleSet(t, rulesText)
	f := &fixture{rs: rs, labels: metrics.NewLabels(rs), sources: map[string]*metrics.Source{}, tr: map[string]*tracker.Tracker{}}
	f.set = metrics.NewSet(f.labels)
	for _, n := range names {
		f.sources[n] = metrics.NewSource(n, f.labels, rs)
		f.tr[n] = tracker.New(time.Hour, 1<<20)
		f.set.Add(f.sources[n], &f.mu)
	}
	return f
}

func (f *fixture) observe(src string, ev *parser.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tr[src].Observe(ev, f.sources[src])
}

func event(qid, domain, code string, st parser.Status, at time.Duration) *parser.Event {
	c, _ := parser.ParseCode(code)
	return &parser.Event{Time: t0.Add(at), Status: st, Code: c, QueueID: []byte(qid), Recipient: []byte("a@" + domain), Domain: []byte(domain)}
}

func gather(t *testing.T, s prometheus.Collector, names ...string) string {
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
// The caps are shared by the sources.
func TestLabelCaps(t *testing.T) {
	f := newFixture(t, "mail", "exim")
	for i, d := range []string{"a.example", "b.example", "c.example", "d.example", "gmail.com", "a.example"} {
		src := []string{"mail", "exim"}[i%2]
		f.observe(src, event(fmt.Sprint("Q", i), d, "4.3.2", parser.StatusDeferred, 0))
	}
	f.observe("mail", event("R1", "a.example", "4.4.1", parser.StatusDeferred, 0))
	f.observe("mail", event("R2", "a.example", "4.7.0", parser.StatusDeferred, 0)) // third code: past max_codes 2
	got := gather(t, f.set, "bouncewatch_domain_events_total", "bouncewatch_label_overflow_total")
	want := `bouncewatch_domain_events_total{code=4.3.2,domain=a.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=c.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=gmail.com,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.4.1,domain=a.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=other,domain=a.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=a.example,source=exim,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=b.example,source=exim,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=other,source=exim,status=deferred} 1
bouncewatch_label_overflow_total{label=domain} 1
bouncewatch_label_overflow_total{label=code} 1
`
	if got := sortLines(got); got != sortLines(want) {
		t.Errorf("want\n%s\ngot\n%s", sortLines(want), got)
	}
}

// TestFoldedUntilReload: a domain past the cap folds at every event (each is
// counted) and gets its label once a reload raises the cap.
func TestFoldedUntilReload(t *testing.T) {
	f := newFixture(t, "mail")
	for i, d := range []string{"a.example", "b.example", "c.example", "d.example", "d.example", "e.example"} {
		f.observe("mail", event(fmt.Sprint("Q", i), d, "4.3.2", parser.StatusDeferred, 0))
	}
	want := `bouncewatch_domain_events_total{code=4.3.2,domain=a.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=b.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=c.example,source=mail,status=deferred} 1
bouncewatch_domain_events_total{code=4.3.2,domain=other,source=mail,status=deferred} 3
bouncewatch_label_overflow_total{label=domain} 3
bouncewatch_label_overflow_total{label=code} 0
`
	got := gather(t, f.set, "bouncewatch_domain_events_total", "bouncewatch_label_overflow_total")
	if got := sortLines(got); got != sortLines(want) {
		t.Errorf("before the reload: want\n%s\ngot\n%s", sortLines(want), got)
	}
	rs := ruleSet(t, strings.Replace(rulesText, "max_domains: 3", "max_domains: 5", 1))
	f.labels.SetRules(rs)
	f.sources["mail"].SetRules(rs)
	f.observe("mail", event("Q9", "d.example", "4.3.2", parser.StatusDeferred, 0))
	got = gather(t, f.set, "bouncewatch_domain_events_total", "bouncewatch_label_overflow_total")
	if !strings.Contains(got, "domain=d.example,source=mail,status=deferred} 1\n") || !strings.Contains(got, "{label=domain} 3\n") {
		t.Errorf("after raising max_domains, d.example has no label of its own, or folded again:\n%s", got)
	}
}

func sortLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j] < l[i] {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return strings.Join(l, "\n")
}

// TestHostileDomainsStayBounded feeds many distinct domains: the series count
// never passes the cap, and neither do the pending gauges.
func TestHostileDomainsStayBounded(t *testing.T) {
	f := newFixture(t, "mail")
	for i := range 10000 {
		f.observe("mail", event(fmt.Sprint("Q", i), fmt.Sprintf("d%d.example", i), "4.3.2", parser.StatusDeferred, time.Duration(i)*time.Millisecond))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.set)
	for _, name := range []string{"bouncewatch_domain_events_total", "bouncewatch_domain_deferred_recipients", "bouncewatch_domain_oldest_deferral_timestamp_seconds"} {
		n, err := testutil.GatherAndCount(reg, name)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3+1 { // three domains and other
			t.Errorf("%s: want 4 series, got %d", name, n)
		}
	}
	got := gather(t, f.set, "bouncewatch_domain_deferred_recipients", "bouncewatch_tracker_entries")
	if !strings.Contains(got, "domain=other,source=mail} 9997") || !strings.Contains(got, "bouncewatch_tracker_entries{source=mail} 10000") {
		t.Errorf("pending gauges:\n%s", got)
	}
}

// TestPendingGauges: the deferred-recipient gauges follow the tracker's
// notifications and stay at 0 once the recipients are resolved.
func TestPendingGauges(t *testing.T) {
	f := newFixture(t, "mail")
	f.observe("mail", event("Q", "a.example", "4.3.2", parser.StatusDeferred, 0))
	f.observe("mail", event("R", "b.example", "4.3.2", parser.StatusDeferred, time.Minute))
	f.observe("mail", event("S", "b.example", "4.4.1", parser.StatusDeferred, 2*time.Minute))
	names := []string{"bouncewatch_deferred_recipients", "bouncewatch_domain_deferred_recipients", "bouncewatch_domain_oldest_deferral_timestamp_seconds", "bouncewatch_tracker_entries"}
	got := gather(t, f.set, names...)
	want := fmt.Sprintf(`bouncewatch_deferred_recipients{code=4.3.2,source=mail} 2
bouncewatch_deferred_recipients{code=4.4.1,source=mail} 1
bouncewatch_domain_deferred_recipients{domain=a.example,source=mail} 1
bouncewatch_domain_deferred_recipients{domain=b.example,source=mail} 2
bouncewatch_domain_oldest_deferral_timestamp_seconds{domain=a.example,source=mail} %v
bouncewatch_domain_oldest_deferral_timestamp_seconds{domain=b.example,source=mail} %v
bouncewatch_tracker_entries{source=mail} 3
`, float64(t0.Unix()), float64(t0.Unix()+60))
	if sortLines(got) != sortLines(want) {
		t.Errorf("want\n%s\ngot\n%s", sortLines(want), sortLines(got))
	}
	// The oldest of b.example is delivered: its oldest moves to the next.
	f.observe("mail", event("R", "b.example", "2.0.0", parser.StatusSent, 3*time.Minute))
	if got := gather(t, f.set, "bouncewatch_domain_oldest_deferral_timestamp_seconds"); !strings.Contains(got, fmt.Sprintf("domain=b.example,source=mail} %v", float64(t0.Unix()+120))) {
		t.Errorf("want b.example's oldest at its remaining recipient, got\n%s", got)
	}
	// An hour and more later a.example is abandoned (the TTL), S delivered.
	f.observe("mail", event("S", "b.example", "2.0.0", parser.StatusSent, 62*time.Minute))
	got = gather(t, f.set, "bouncewatch_deferred_recipients", "bouncewatch_domain_deferred_recipients", "bouncewatch_domain_oldest_deferral_timestamp_seconds", "bouncewatch_retry_outcomes_total")
	want = `bouncewatch_deferred_recipients{code=4.3.2,source=mail} 0
bouncewatch_deferred_recipients{code=4.4.1,source=mail} 0
bouncewatch_domain_deferred_recipients{domain=a.example,source=mail} 0
bouncewatch_domain_deferred_recipients{domain=b.example,source=mail} 0
bouncewatch_retry_outcomes_total{code=4.3.2,outcome=abandoned,source=mail} 1
bouncewatch_retry_outcomes_total{code=4.3.2,outcome=delivered,source=mail} 1
bouncewatch_retry_outcomes_total{code=4.4.1,outcome=delivered,source=mail} 1
`
	if sortLines(got) != sortLines(want) {
		t.Errorf("want\n%s\ngot\n%s", sortLines(want), sortLines(got))
	}
}

// TestLogSeriesFromTheStart: a configured source exports its log series
// before its first line, so that an alert on no lines can fire for it.
func TestLogSeriesFromTheStart(t *testing.T) {
	f := newFixture(t, "mail")
	got := gather(t, f.set, "bouncewatch_log_lines_total", "bouncewatch_log_bytes_total", "bouncewatch_log_rotations_total", "bouncewatch_log_lost_files_total")
	for _, want := range []string{
		"bouncewatch_log_lines_total{result=matched,source=mail} 0", "bouncewatch_log_lines_total{result=unmatched,source=mail} 0",
		"bouncewatch_log_bytes_total{source=mail} 0", "bouncewatch_log_rotations_total{kind=rename,source=mail} 0",
		"bouncewatch_log_lost_files_total{source=mail} 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %s, got\n%s", want, got)
		}
	}
}

// TestLabelValuesAreValid: label values from logs and configuration are
// valid UTF-8 and short, and the exposition passes the linter.
func TestLabelValuesAreValid(t *testing.T) {
	f := newFixture(t, "bad\xffsource"+strings.Repeat("x", 300))
	for name := range f.sources {
		f.observe(name, event("Q", "\xff\xfe.example", "4.3.2", parser.StatusDeferred, 0))
		f.sources[name].Line(100, parser.Matched, t0)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.set)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err) // the registry refuses invalid UTF-8
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, l := range strings.Split(strings.TrimSpace(gather(t, f.set, "bouncewatch_events_total")), "\n") {
		if len(l) > 200 {
			t.Errorf("label not capped: %d bytes", len(l))
		}
	}
}

// TestHistogramBuckets checks the fixed buckets of the resolution histogram.
func TestHistogramBuckets(t *testing.T) {
	f := newFixture(t, "mail")
	for _, secs := range []int{30, 60, 61, 4000, 500000} {
		f.sources["mail"].Resolved(&tracker.Resolution{FirstCode: 4<<20 | 3<<10 | 2, Outcome: tracker.Delivered, First: t0, Time: t0.Add(time.Duration(secs) * time.Second), Attempts: 1})
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.set)
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

// TestStateRoundTrip: a source restored from its JSON state (and its
// pending recipients from the tracker's) exposes exactly what the original
// did, and counts on alike.
func TestStateRoundTrip(t *testing.T) {
	orig := newFixture(t, "mail")
	feed := func(f *fixture, from, to int) {
		for i := from; i < to; i++ {
			d := []string{"a.example", "b.example", "c.example", "d.example", "gmail.com"}[i%5]
			st := []parser.Status{parser.StatusDeferred, parser.StatusDeferred, parser.StatusBounced, parser.StatusDeferred, parser.StatusSent}[i%5]
			f.observe("mail", event(fmt.Sprint("Q", i%7), d, []string{"4.3.2", "4.4.1", "5.1.1", "4.3.2", "2.0.0"}[i%5], st, time.Duration(i)*time.Minute))
		}
		f.sources["mail"].Line(120, parser.Matched, t0)
		f.sources["mail"].Rotation(metrics.RotationRename)
	}
	feed(orig, 0, 20)
	orig.sources["mail"].State() // the first sizes the next: the state restored is a later one
	data, err := json.Marshal(orig.sources["mail"].State())
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := json.Marshal(orig.labels.State())

	back := newFixture(t)
	var ls metrics.LabelState
	json.Unmarshal(labels, &ls)
	if err := back.labels.Restore(ls); err != nil {
		t.Fatal(err)
	}
	var st metrics.SourceState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	src := metrics.NewSource("mail", back.labels, back.rs)
	if err := src.Restore(st); err != nil {
		t.Fatal(err)
	}
	back.sources["mail"], back.tr["mail"] = src, tracker.New(time.Hour, 1<<20)
	back.set.Add(src, &back.mu)
	// The pending recipients come back through the tracker, as on a restart.
	restoreTracker(t, orig, back)
	if a, b := exposition(t, orig.set), exposition(t, back.set); a != b {
		t.Errorf("restored exposition differs:\n%s\n---\n%s", a, b)
	}
	feed(orig, 20, 40)
	feed(back, 20, 40)
	if a, b := exposition(t, orig.set), exposition(t, back.set); a != b {
		t.Errorf("restored source counts differently:\n%s\n---\n%s", a, b)
	}
	st.Series = append(st.Series, metrics.SeriesState{Metric: "events", Labels: []string{"deferred", "9.9.9"}})
	if err := metrics.NewSource("mail", back.labels, back.rs).Restore(st); err == nil {
		t.Error("want an error for a bad code in the state")
	}
}

func exposition(t *testing.T, s prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		// protobuf's text varies its spacing from build to build on
		// purpose; one space between fields keeps the tests' strings stable.
		fmt.Fprintln(&b, strings.Join(strings.Fields(mf.String()), " "))
	}
	return b.String()
}

// restoreTracker moves the pending recipients of orig's tracker into back's
// through the checkpoint encoding, as a restart does.
func restoreTracker(t *testing.T, orig, back *fixture) {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := orig.tr["mail"].Encode(w, orig.labels.DomainName); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := back.tr["mail"].Decode(bufio.NewReader(&buf), back.sources["mail"].RestoreGroup, back.sources["mail"]); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkScrape scrapes a source with a million pending recipients: the
// cost is that of the series, and the lock that reading needs is held only
// to copy them (reported as lock-ns). "text" is what the daemon serves
// (WriteText); "gather" is a registry's Gather and expfmt, for comparison.
func BenchmarkScrape(b *testing.B) {
	f := newFixture(b, "mail")
	for i := range 1000000 {
		f.observe("mail", event(fmt.Sprint("Q", i), fmt.Sprintf("d%d.example", i%5000), "4.3.2", parser.StatusDeferred, time.Duration(i)*time.Millisecond))
	}
	lock := &timedLock{}
	set := metrics.NewSet(f.labels)
	set.Add(f.sources["mail"], lock)
	b.Run("text", func(b *testing.B) {
		for b.Loop() {
			if err := set.WriteText(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(lock.max.Nanoseconds()), "max-lock-ns")
	})
	b.Run("gather", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(set)
		for b.Loop() {
			mfs, err := reg.Gather()
			if err != nil {
				b.Fatal(err)
			}
			enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// timedLock is a mutex that records the longest time it was held.
type timedLock struct {
	mu    sync.Mutex
	since time.Time
	max   time.Duration
}

func (l *timedLock) Lock() { l.mu.Lock(); l.since = time.Now() }
func (l *timedLock) Unlock() {
	l.max = max(l.max, time.Since(l.since))
	l.mu.Unlock()
}

// TestManyCodes: with more codes than the source's one-probe slots and past
// max_codes, each event is still counted under its own code, and each
// event of a folded code under "other" and in the overflow counter.
func TestManyCodes(t *testing.T) {
	rs := ruleSet(t, strings.Replace(rulesText, "max_codes: 2", "max_codes: 100", 1))
	labels := metrics.NewLabels(rs)
	set := metrics.NewSet(labels)
	src := metrics.NewSource("mail", labels, rs)
	var mu sync.Mutex
	set.Add(src, &mu)
	var want strings.Builder
	for round := range 2 {
		for i := range 120 {
			code := fmt.Sprintf("4.%d.%d", i/10, i%10)
			src.Event(event(fmt.Sprint("Q", i), "a.example", code, parser.StatusDeferred, 0), tracker.NoGroup)
			if round == 0 && i < 100 {
				fmt.Fprintf(&want, "bouncewatch_events_total{code=%s,source=mail,status=deferred} 2\n", code)
			}
		}
	}
	want.WriteString("bouncewatch_events_total{code=other,source=mail,status=deferred} 40\n")
	want.WriteString("bouncewatch_label_overflow_total{label=code} 40\n")
	want.WriteString("bouncewatch_label_overflow_total{label=domain} 0\n")
	got := gather(t, set, "bouncewatch_events_total", "bouncewatch_label_overflow_total")
	if got, want := sortLines(got), sortLines(want.String()); got != want {
		t.Errorf("want\n%s\ngot\n%s", want, got)
	}
}
