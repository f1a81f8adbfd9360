package report_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/loggen"
	"github.com/bouncewatch/bouncewatch/report"
)

// TestAllocationsDoNotGrowWithTheLog: a report over three times the lines
// allocates about as much as one over a third: nothing is kept per line or
// per event beyond the pending recipients, whose number does not grow with
// the length of the log.
func TestAllocationsDoNotGrowWithTheLog(t *testing.T) {
	for _, mta := range []struct {
		name string
		gen  func(*bufio.Writer, int) error
	}{
		{"postfix", func(w *bufio.Writer, n int) error { return loggen.Postfix(w, n, 1) }},
		{"exim", func(w *bufio.Writer, n int) error { return loggen.Exim(w, n, 1) }},
	} {
		allocs := func(lines int) uint64 {
			path := filepath.Join(t.TempDir(), mta.name+".log")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriter(f)
			if err := mta.gen(w, lines); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			if _, err := report.Run(context.Background(), report.Options{Rules: rules(t), Reference: reference}, []string{path}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&m1)
			return m1.Mallocs - m0.Mallocs
		}
		small, large := allocs(100000), allocs(300000)
		perLine := (float64(large) - float64(small)) / 200000
		t.Logf("%s: %d allocations for 100,000 lines, %d for 300,000: %.4f per extra line", mta.name, small, large, perLine)
		if perLine > 0.01 {
			t.Errorf("%s: %.4f allocations per line", mta.name, perLine)
		}
	}
}
