package metrics_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	expo "github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// textRules has a reason whose description needs every escape of a label
// value, and caps that fold.
const textRules = `
timezone: UTC
limits:
  max_domains: 40
  max_codes: 6
reasons:
  - name: quoted
    description: 'A "quoted" back\slash'
    text: "quota"
rules:
  - name: r
    match: '(?P<queue_id>\S+) (?P<recipient>\S+)'
    status: deferred
`

// TestWriteTextIsGathersText: WriteText writes exactly what a registry's
// Gather encoded by expfmt writes, for every family and kind (histograms,
// info gauges, folded labels, two sources), with other collectors' families
// in their places by name.
func TestWriteTextIsGathersText(t *testing.T) {
	rs := ruleSet(t, textRules)
	labels := metrics.NewLabels(rs)
	set := metrics.NewSet(labels)
	var mu fakeLock
	for si, name := range []string{"mail", "exim"} {
		src := metrics.NewSource(name, labels, rs)
		set.Add(src, &mu)
		tr := tracker.New(time.Hour, 1<<20)
		temp := []string{"4.3.2", "4.2.2", "4.7.1", "4.4.1", "4.3.0"}
		observe := func(i int, code string, st parser.Status, at time.Duration) {
			// Domains that differ only past their first 8 bytes, and one
			// that is the start of others, as well as short ones: the
			// order of the series must not come from a prefix alone.
			dom := fmt.Sprintf("d%d.example", i%53)
			if i%3 == 0 {
				dom = fmt.Sprintf("mail.example%d", i%7)[:12+min(i%7, 1)]
			}
			ev := event(fmt.Sprint("Q", i), dom, code, st, at)
			ev.Reason = parser.Reason(i % 3)
			tr.Observe(ev, src)
			src.Line(100+i, parser.Matched, ev.Time)
		}
		// Each recipient is deferred, once or twice, then delivered,
		// bounced, expired or still waiting.
		for i := range 300 + 50*si {
			at := time.Duration(i) * 7 * time.Minute
			observe(i, temp[i%len(temp)], parser.StatusDeferred, at)
			if i%2 == 0 {
				observe(i, temp[(i+1)%len(temp)], parser.StatusDeferred, at+time.Hour)
			}
			switch i % 4 {
			case 0:
				observe(i, "2.0.0", parser.StatusSent, at+time.Duration(i)*time.Minute)
			case 1:
				observe(i, "5.1.1", parser.StatusBounced, at+2*time.Hour)
			case 2:
				observe(i, "4.4.7", parser.StatusExpired, at+5*24*time.Hour)
			}
		}
		src.Line(5000, parser.TooLong, t0)
		src.Rotation(metrics.RotationTruncate)
	}
	other := prometheus.NewRegistry()
	other.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bouncewatch_config_last_reload_successful", Help: "h"}, func() float64 { return 1 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "go_goroutines", Help: "h"}, func() float64 { return 3 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "a_first", Help: "h\\n"}, func() float64 { return 0.25 }),
	)
	extra, err := other.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := gatheredText(t, set, other)
	var got bytes.Buffer
	if err := set.WriteText(&got, extra); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("WriteText differs from Gather's text:\n%s", lineDiff(want.String(), got.String()))
	}
	// Again, in the buffers the first one left: the same text.
	var again bytes.Buffer
	if err := set.WriteText(&again, extra); err != nil {
		t.Fatal(err)
	}
	if again.String() != want.String() {
		t.Fatalf("a second WriteText differs from Gather's text:\n%s", lineDiff(want.String(), again.String()))
	}
	s, err := expo.Parse(&got)
	if err != nil {
		t.Fatal(err)
	}
	for _, series := range []string{
		`bouncewatch_reason_info{description="A \"quoted\" back\\slash",reason="quoted"}`,
		`bouncewatch_resolution_seconds_count{code="4.3.2",outcome="delivered",source="exim"}`,
		`bouncewatch_label_overflow_total{label="domain"}`,
		`a_first`, `go_goroutines`,
	} {
		if _, ok := s[series]; !ok {
			t.Errorf("missing %s in\n%s", series, want.String())
		}
	}
}

// gatheredText is what a registry's Gather of cs, encoded by expfmt, writes.
func gatheredText(t *testing.T, cs ...prometheus.Collector) *bytes.Buffer {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return &b
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(a, b string) string {
	al, bl := bytes.Split([]byte(a), []byte("\n")), bytes.Split([]byte(b), []byte("\n"))
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			return fmt.Sprintf("line %d:\nwant %s\ngot  %s", i+1, x, y)
		}
	}
	return ""
}

type fakeLock struct{}

func (fakeLock) Lock()   {}
func (fakeLock) Unlock() {}

// chunkWriter records the largest write, and fails once failAfter bytes
// have been written (when failAfter > 0).
type chunkWriter struct {
	bytes.Buffer
	largest, failAfter int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	if w.failAfter > 0 && w.Len()+len(p) > w.failAfter {
		return 0, fmt.Errorf("disk full")
	}
	return w.Buffer.Write(p)
}

// TestWriteTextStreams: a family of thousands of series (one per domain) is
// written as it is made, in pieces of about 32 KB, not held whole (it would
// be a report's peak RSS), and still byte for byte Gather's text; a failed
// write is WriteText's error.
func TestWriteTextStreams(t *testing.T) {
	rs := ruleSet(t, strings.Replace(textRules, "max_domains: 40", "max_domains: 5000", 1))
	labels := metrics.NewLabels(rs)
	set := metrics.NewSet(labels)
	var mu fakeLock
	src := metrics.NewSource("mail", labels, rs)
	set.Add(src, &mu)
	tr := tracker.New(time.Hour, 1<<20)
	for i := range 4000 {
		tr.Observe(event(fmt.Sprint("Q", i), fmt.Sprintf("d%d.example", i), "4.3.2", parser.StatusDeferred, time.Duration(i)*time.Second), src)
	}
	want := gatheredText(t, set)
	var got chunkWriter
	if err := set.WriteText(&got, nil); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("WriteText differs from Gather's text:\n%s", lineDiff(want.String(), got.String()))
	}
	// 32 KB, and the samples of the series that crossed it.
	if got.largest > 40<<10 || got.Len() < 400<<10 {
		t.Errorf("%d bytes written in pieces of up to %d bytes; want more than 400 KB in pieces of at most 40 KB", got.Len(), got.largest)
	}
	failing := chunkWriter{failAfter: 100 << 10}
	if err := set.WriteText(&failing, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteText to a writer that fails after 100 KB: error %v, want disk full", err)
	}
}
