package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bouncewatch/bouncewatch/internal/labtest"
	"github.com/bouncewatch/bouncewatch/internal/loggen"
	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/tailer"
)

// feed runs the lines of a file through s as the tailer would, in batches,
// with a made-up position.
func feed(t *testing.T, s *Source, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pos := &tailer.Position{Files: []tailer.FilePos{{Path: path, Offset: int64(len(data)), Size: int64(len(data))}}}
	s.Lines(splitLines(data), pos)
}

// splitLines cuts a log into the lines the tailer would hand out.
func splitLines(data []byte) []tailer.Line {
	var lines []tailer.Line
	for l := range bytes.Lines(data) {
		lines = append(lines, tailer.Line{Data: bytes.TrimSuffix(l, []byte("\n")), N: len(l)})
	}
	return lines
}

func newSource(t testing.TB) (*Source, *metrics.Set) {
	rs := labtest.Rules(t)
	labels := metrics.NewLabels(rs)
	s := New(Options{Name: "lab", Rules: rs, Labels: labels, Now: func() time.Time { return labtest.Reference }})
	set := metrics.NewSet(labels)
	s.Register(set)
	return s, set
}

func exposition(t *testing.T, set *metrics.Set) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(set)
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

// TestCheckpointRoundTrip: a source restored from its checkpoint exposes
// what the original did, has its position, and counts on alike.
func TestCheckpointRoundTrip(t *testing.T) {
	orig, origSet := newSource(t)
	feed(t, orig, "../testdata/lab/exim-mainlog")
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := orig.WriteCheckpoint(w, "/var/log/exim4/mainlog"); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	back, _ := newSource(t)
	r, err := ReadCheckpoint(bufio.NewReader(&buf), labtest.Rules(t), metrics.NewLabels(labtest.Rules(t)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "lab" || r.Target != "/var/log/exim4/mainlog" || len(r.Position.Files) != 1 {
		t.Errorf("restored %q %q %+v", r.Name, r.Target, r.Position)
	}
	// The restored metrics count in the labels they were read into.
	backSet := metrics.NewSet(r.metrics.Labels())
	back.Install(r)
	back.Register(backSet)
	if a, b := exposition(t, origSet), exposition(t, backSet); a != b {
		t.Errorf("restored source differs:\n%s\n---\n%s", a, b)
	}
	feed(t, orig, "../testdata/lab/exim-mainlog")
	feed(t, back, "../testdata/lab/exim-mainlog")
	if a, b := exposition(t, origSet), exposition(t, backSet); a != b {
		t.Errorf("restored source counts differently:\n%s\n---\n%s", a, b)
	}
}

// TestCheckpointMetaIsMarshals: the checkpoint's metadata, written without
// reflection, is byte for byte what json.Marshal writes, for a day of
// Postfix and one of Exim, with a line Exim split for syslog waiting for
// its other parts.
func TestCheckpointMetaIsMarshals(t *testing.T) {
	for _, mta := range []struct {
		name string
		gen  func(io.Writer, int, uint64) error
	}{{"postfix", loggen.Postfix}, {"exim", loggen.Exim}} {
		var buf bytes.Buffer
		if err := mta.gen(&buf, 50000, 1); err != nil {
			t.Fatal(err)
		}
		s, _ := newSource(t)
		pos := &tailer.Position{Files: []tailer.FilePos{{Path: "/var/log/mail.log", Offset: 10, Size: 20}}}
		s.Lines(splitLines(buf.Bytes()), pos)
		long := `2026-11-27 06:02:21 1xWp2L-0007Qm-2o ** carol@long.example R=dnslookup T=remote_smtp: SMTP error: 550 ` + strings.Repeat("x", 2000)
		s.Lines(lines(eximSyslog("Nov 27 06:02:21 vm exim[28573]: ", long)[0]), pos)
		meta := checkpointMeta{Name: s.name, Target: "/var/log/mail.log", Position: s.pos, Metrics: s.metrics.State(), Splits: s.join.parts, Seq: s.seq}
		if len(meta.Metrics.Series) < 100 || len(meta.Splits) != 1 || meta.Seq == 0 {
			t.Fatalf("%s: the checkpoint is missing what it should test: %d series, %d splits, seq %d", mta.name, len(meta.Metrics.Series), len(meta.Splits), meta.Seq)
		}
		got, err := meta.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(meta)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: differs from json.Marshal at byte %d:\n got %.120q\nwant %.120q", mta.name, i, got[max(0, i-40):], want[max(0, i-40):])
		}
	}
}

// blockingWriter blocks every write until released.
type blockingWriter struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-b.release
	return len(p), nil
}

// TestScrapeDuringCheckpoint: a scrape does not wait for a checkpoint that
// is writing the pending recipients out (here: stuck writing them).
func TestScrapeDuringCheckpoint(t *testing.T) {
	s, set := newSource(t)
	feed(t, s, "../testdata/lab/postfix.log")
	for i := range 5000 { // enough pending recipients to fill the writer's buffer
		line := fmt.Sprintf("Nov 27 06:20:00 tx postfix/smtp[1]: Q%07X: to=<u%d@big.example>, relay=x[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.3.2, status=deferred (451 4.3.2 busy)", i, i)
		s.Lines([]tailer.Line{{Data: []byte(line), N: len(line) + 1}}, &tailer.Position{})
	}
	bw := &blockingWriter{started: make(chan struct{}, 1), release: make(chan struct{})}
	done := make(chan error)
	go func() { done <- s.WriteCheckpoint(bufio.NewWriterSize(bw, 4096), "x") }()
	<-bw.started
	scraped := make(chan string)
	go func() { scraped <- exposition(t, set) }()
	select {
	case out := <-scraped:
		if !strings.Contains(out, `value:5000`) {
			t.Errorf("the scrape during the checkpoint lacks the 5000 pending recipients")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a scrape waited for a checkpoint")
	}
	close(bw.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
