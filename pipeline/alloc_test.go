package pipeline

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/loggen"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tailer"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// lineKinds are the kinds of line a mail log is made of, each as a function
// of i that gives the i-th line of its kind: a new queue id and recipient
// every time, as in a real log, over a few dozen domains.
var lineKinds = []struct {
	name string
	line func(i int) string
}{
	{"postfix noise", func(i int) string {
		return fmt.Sprintf("Nov 27 10:27:16 mx1 postfix/cleanup[6932]: %010X: message-id=<%d@example.net>", i, i)
	}},
	{"postfix delivery", func(i int) string {
		return fmt.Sprintf("Nov 27 10:27:16 mx1 postfix/smtp[8778]: %010X: to=<u%d@d%d.example>, relay=mx.d%d.example[203.0.113.87]:25, delay=1.8, delays=1.3/0.01/0.15/0.26, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 524D6FBDBE)", i, i, i%40, i%40)
	}},
	{"postfix deferral", func(i int) string {
		return fmt.Sprintf("Nov 27 10:27:16 mx1 postfix/smtp[8778]: %010X: to=<u%d@d%d.example>, relay=mx.d%d.example[203.0.113.87]:25, delay=1.8, delays=1.3/0.01/0.15/0.26, dsn=4.3.2, status=deferred (host mx.d%d.example[203.0.113.87] said: 432 4.3.2 System not accepting network messages (in reply to RCPT TO command))", i, i, i%40, i%40, i%40)
	}},
	// The deferrals above, retried: the same queue ids and recipients.
	{"postfix retry", func(i int) string {
		return fmt.Sprintf("Nov 27 10:37:16 mx1 postfix/smtp[8778]: %010X: to=<u%d@d%d.example>, relay=none, delay=601, delays=600/0.01/1/0, dsn=4.4.1, status=deferred (connect to mx.d%d.example[203.0.113.87]:25: Connection refused)", i, i, i%40, i%40)
	}},
	{"postfix expiry", func(i int) string {
		return fmt.Sprintf("Nov 27 11:27:16 mx1 postfix/qmgr[1033]: %010X: from=<billing@example.net>, status=expired, returned to sender", i)
	}},
	{"exim noise", func(i int) string {
		return fmt.Sprintf("2026-11-28 10:01:38 SMTP connection from (web1.example.net) [198.51.100.11]:%d I=[198.51.100.25]:587 (TCP/IP connection count = 4)", i)
	}},
	{"exim deferral", func(i int) string {
		return fmt.Sprintf("2026-11-29 06:16:00 1xX%03d-%06d-%02d == u%d@d%d.example R=dnslookup T=remote_smtp defer (-44) H=mx.d%d.example [203.0.113.5]: SMTP error from remote mail server after RCPT TO:<u%d@d%d.example>: 451 4.3.2 System not accepting network messages", i%1000, i, i%100, i, i%40, i%40, i, i%40)
	}},
	{"exim delivery", func(i int) string {
		return fmt.Sprintf("2026-11-29 06:26:00 1xX%03d-%06d-%02d => u%d@d%d.example R=dnslookup T=remote_smtp H=mx.d%d.example [198.51.100.146] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes K C=\"250 2.0.0 Ok: queued as 2505EE49D9\"", i%1000, i, i%100, i, i%40, i%40)
	}},
	{"exim expiry", func(i int) string {
		return fmt.Sprintf("2026-11-29 07:16:00 1xX%03d-%06d-%02d ** u%d@d%d.example: retry timeout exceeded", i%1000, i, i%100, i, i%40)
	}},
}

// TestNoAllocationsPerLine: after a warm-up, a line of any kind costs the
// whole way through (parser, tracker, metrics, status page) no allocation.
// Deferrals of new recipients take tracker slots from slabs made once per
// thousands of recipients.
func TestNoAllocationsPerLine(t *testing.T) {
	const n = 20000
	for _, withObserver := range []bool{false, true} {
		s, _ := newSource(t)
		if withObserver {
			s.obs = countingObserver{}
		}
		pos := &tailer.Position{Files: []tailer.FilePos{{Path: "/var/log/mail.log"}}}
		batch := make([]tailer.Line, 1)
		// A warm-up round of every kind first, so that every label (domain,
		// code, outcome) exists: a new label is a new series, made once.
		for _, k := range lineKinds {
			for i := range 200 {
				batch[0] = tailer.Line{Data: []byte(k.line(10*n + i)), N: 1}
				s.Lines(batch, pos)
			}
		}
		for _, k := range lineKinds {
			lines := make([][]byte, 2*n+1)
			for i := range lines {
				lines[i] = []byte(k.line(i))
			}
			i := 0
			before := s.Counts()
			allocs := testing.AllocsPerRun(n, func() {
				batch[0] = tailer.Line{Data: lines[i], N: len(lines[i]) + 1}
				i++
				s.Lines(batch, pos)
			})
			after := s.Counts()
			if allocs != 0 {
				t.Errorf("%s (observer %v): %.2f allocations per line", k.name, withObserver, allocs)
			}
			// AllocsPerRun rounds down; count them all. What is left is the
			// tracker's slabs and index growing and, as it empties, being
			// compacted: a few dozen in 20,000 lines.
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for j := n + 1; j < len(lines); j++ {
				batch[0] = tailer.Line{Data: lines[j], N: len(lines[j]) + 1}
				s.Lines(batch, pos)
			}
			runtime.ReadMemStats(&m1)
			t.Logf("%s (observer %v): %d allocations in %d lines", k.name, withObserver, m1.Mallocs-m0.Mallocs, n)
			if total := m1.Mallocs - m0.Mallocs; total > n/200 {
				t.Errorf("%s (observer %v): %d allocations in %d lines", k.name, withObserver, total, n)
			}
			// The lines were what the kind says: matched, or unmatched noise.
			matched := after.Lines[parser.Matched] - before.Lines[parser.Matched]
			if want := k.name == "postfix noise" || k.name == "exim noise"; (matched == 0) != want {
				t.Errorf("%s: %d of %d lines matched", k.name, matched, n+1)
			}
		}
	}
}

// countingObserver stands for the report's observer; it keeps nothing.
type countingObserver struct{}

func (countingObserver) Line([]byte, parser.Result, *parser.Rule, *parser.Event) {}
func (countingObserver) Event(*parser.Event, tracker.Group)                      {}
func (countingObserver) Resolved(*tracker.Resolution)                            {}

// BenchmarkLineKinds times one line of each kind through the whole
// pipeline (parser, tracker, metrics, status page), as the daemon feeds it.
func BenchmarkLineKinds(b *testing.B) {
	for _, k := range lineKinds {
		b.Run(strings.ReplaceAll(k.name, " ", "-"), func(b *testing.B) {
			s, _ := newSource(b)
			pos := &tailer.Position{Files: []tailer.FilePos{{Path: "/var/log/mail.log"}}}
			const n = 1 << 14
			lines := make([]tailer.Line, n)
			for i := range lines {
				l := []byte(k.line(i))
				lines[i] = tailer.Line{Data: l, N: len(l) + 1}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Lines(lines[i%n:i%n+1], pos)
				i++
			}
		})
	}
}

// BenchmarkMix times the generator's realistic day (about 60% other lines,
// 30% deliveries, 10% deferrals, bounces and expiries) through the whole
// pipeline in the daemon's batches: 2,500 lines, what a poll every 250 ms
// finds at 10,000 lines/s. Each pass starts from a fresh source, as a day's
// log would; ns/line is the figure bench/daemon-cpu.sh's share comes from.
func BenchmarkMix(b *testing.B) {
	const n, batch = 200000, 2500
	for _, mta := range []struct {
		name string
		gen  func(io.Writer, int, uint64) error
	}{{"postfix", loggen.Postfix}, {"exim", loggen.Exim}} {
		b.Run(mta.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := mta.gen(&buf, n, 1); err != nil {
				b.Fatal(err)
			}
			lines := splitLines(buf.Bytes())
			pos := &tailer.Position{Files: []tailer.FilePos{{Path: "/var/log/mail.log"}}}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s, _ := newSource(b)
				b.StartTimer()
				for i := 0; i < len(lines); i += batch {
					s.Lines(lines[i:min(i+batch, len(lines))], pos)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/line")
		})
	}
}

// BenchmarkCheckpoint writes the checkpoint of a source that has read the
// generator's first 600,000 Postfix lines (what bench/daemon-cpu.sh's
// daemon holds at its end), as the daemon does every 10 s; "pending" is the
// recipients written out with the counters.
func BenchmarkCheckpoint(b *testing.B) {
	var buf bytes.Buffer
	if err := loggen.Postfix(&buf, 600000, 1); err != nil {
		b.Fatal(err)
	}
	s, _ := newSource(b)
	pos := &tailer.Position{Files: []tailer.FilePos{{Path: "/var/log/mail.log"}}}
	s.Lines(splitLines(buf.Bytes()), pos)
	n := 0
	s.EachPending(func(tracker.Group, parser.Code, time.Time) { n++ })
	w := bufio.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteCheckpoint(w, "/var/log/mail.log"); err != nil {
			b.Fatal(err)
		}
		w.Flush()
	}
	b.ReportMetric(float64(n), "pending")
}
