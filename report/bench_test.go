package report_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/loggen"
	"github.com/bouncewatch/bouncewatch/report"
)

// BenchmarkReport times the whole pass (read, parse, track, count) over a
// generated realistic log and reports lines/s and allocations per line. The
// README's throughput command does the same on 1,000,000 lines next to mtail.
func BenchmarkReport(b *testing.B) {
	const lines = 200000
	for _, mta := range []struct {
		name string
		gen  func(*bytes.Buffer) error
	}{
		{"postfix", func(w *bytes.Buffer) error { return loggen.Postfix(w, lines, 1) }},
		{"exim", func(w *bytes.Buffer) error { return loggen.Exim(w, lines, 1) }},
	} {
		b.Run(mta.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := mta.gen(&buf); err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(b.TempDir(), mta.name+".log")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				b.Fatal(err)
			}
			rs := rules(b)
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := report.Run(context.Background(), report.Options{Rules: rs, Reference: reference}, []string{path}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
