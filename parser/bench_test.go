package parser_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/bouncewatch/bouncewatch/parser"
)

// BenchmarkParseLab parses the real lab logs line by line and reports
// lines/s and allocations per line.
func BenchmarkParseLab(b *testing.B) {
	for _, name := range []string{"postfix.log", "exim-mainlog", "syslog-rfc3339.log"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile("../testdata/lab/" + name)
			if err != nil {
				b.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			p := parser.NewParser(defaultRules(b), "bench")
			p.SetReference(reference)
			var ev parser.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(data) / len(lines)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Parse(lines[i%len(lines)], &ev)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
