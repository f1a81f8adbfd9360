package daemon

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/internal/labtest"
	"github.com/bouncewatch/bouncewatch/internal/loggen"
	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/pipeline"
	"github.com/bouncewatch/bouncewatch/tailer"
)

// generatedSet is the metrics of a source that has read the generator's
// first n lines of mta ("postfix" or "exim").
func generatedSet(tb testing.TB, mta string, n int) *metrics.Set {
	gen := loggen.Postfix
	if mta == "exim" {
		gen = loggen.Exim
	}
	var log bytes.Buffer
	if err := gen(&log, n, 1); err != nil {
		tb.Fatal(err)
	}
	rs := labtest.Rules(tb)
	labels := metrics.NewLabels(rs)
	s := pipeline.New(pipeline.Options{Name: "mail", Rules: rs, Labels: labels, Now: func() time.Time { return labtest.Reference }})
	set := metrics.NewSet(labels)
	s.Register(set)
	var lines []tailer.Line
	for l := range bytes.Lines(log.Bytes()) {
		lines = append(lines, tailer.Line{Data: bytes.TrimSuffix(l, []byte("\n")), N: len(l)})
	}
	s.Lines(lines, &tailer.Position{Files: []tailer.FilePos{{Path: "/var/log/mail.log"}}})
	return set
}

// TestRenderGzip: a compressed scrape is the plain one, compressed, and a
// scratch used again gives the same bytes.
func TestRenderGzip(t *testing.T) {
	set := generatedSet(t, "exim", 20000)
	var sc scrapeScratch
	plain, err := sc.render(set, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	plain = bytes.Clone(plain)
	if _, err := exposition.Parse(bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		z, err := sc.render(set, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("gzip scrape: %d bytes uncompressed, plain scrape %d", len(got), len(plain))
		}
	}
}

// BenchmarkScrape renders /metrics for a source that has read the
// generator's first 600,000 lines (what bench/daemon-cpu.sh's daemon serves
// at its end, about 6,000 series) as a scrape does every 15 s: "text" as
// curl asks for it, "gzip" as Prometheus does.
func BenchmarkScrape(b *testing.B) {
	for _, mta := range []string{"postfix", "exim"} {
		set := generatedSet(b, mta, 600000)
		for _, gz := range []bool{false, true} {
			name := mta + "/text"
			if gz {
				name = mta + "/gzip"
			}
			b.Run(name, func(b *testing.B) {
				var sc scrapeScratch
				var n int
				b.ReportAllocs()
				for b.Loop() {
					body, err := sc.render(set, nil, gz)
					if err != nil {
						b.Fatal(err)
					}
					n = len(body)
				}
				b.ReportMetric(float64(n), "bytes")
			})
		}
	}
}
