package metrics

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TextContentType is the media type WriteText writes.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes the set in the text exposition format (version 0.0.4),
// byte for byte as a registry's Gather and expfmt would: families by name,
// series ordered by their label values in the order of the label names.
// extra (the daemon's own families, already gathered) are written in their
// places by name. Only one family's series are held at a time, as label
// references: a scrape or a report of thousands of domains costs a few
// hundred kilobytes, not the megabytes of Gather's protocol buffers.
func (s *Set) WriteText(w io.Writer, extra []*dto.MetricFamily) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.take()
	extra = slices.Clone(extra)
	slices.SortFunc(extra, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	bw := bufio.NewWriterSize(w, 32<<10)
	t := &textWriter{w: bw}
	for _, f := range families {
		for len(extra) > 0 && extra[0].GetName() < f.name {
			if _, err := expfmt.MetricFamilyToText(bw, extra[0]); err != nil {
				return err
			}
			extra = extra[1:]
		}
		t.family(v, f)
	}
	for _, mf := range extra {
		if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// textWriter writes families; its buffers are reused from one to the next.
type textWriter struct {
	w     *bufio.Writer
	rows  []textRow
	label []string // the rows' label values, in name order
	num   []byte
}

type textRow struct {
	at int // label[at:at+len(f.labels)]
	sample
}

func (t *textWriter) family(v *view, f *family) {
	t.rows, t.label = t.rows[:0], t.label[:0]
	v.rows(f, func(sm sample, labels ...string) {
		t.rows = append(t.rows, textRow{len(t.label), sm})
		for _, i := range f.byName {
			t.label = append(t.label, labels[i])
		}
	})
	if len(t.rows) == 0 {
		return // as Gather: no series, no family
	}
	n := len(f.labels)
	slices.SortFunc(t.rows, func(a, b textRow) int {
		// strings.Compare compares once; slices.Compare's cmp.Compare
		// compares twice when the first label values differ.
		for i, l := range t.label[a.at : a.at+n] {
			if c := strings.Compare(l, t.label[b.at+i]); c != 0 {
				return c
			}
		}
		return 0
	})
	t.w.WriteString("# HELP ")
	t.w.WriteString(f.name)
	t.w.WriteByte(' ')
	helpEscaper.WriteString(t.w, f.help)
	t.w.WriteString("\n# TYPE ")
	t.w.WriteString(f.name)
	t.w.WriteString([...]string{counter: " counter\n", gauge: " gauge\n", histo: " histogram\n"}[f.kind])
	for _, r := range t.rows {
		labels := t.label[r.at : r.at+n]
		if f.kind != histo {
			t.sample(f, "", labels, "", r.v)
			continue
		}
		for i := range f.bounds {
			var c uint64
			if r.h.Buckets != nil {
				c = r.h.Buckets[i]
			}
			t.sample(f, "_bucket", labels, f.le[i], float64(c))
		}
		t.sample(f, "_bucket", labels, "+Inf", float64(r.h.Count))
		t.sample(f, "_sum", labels, "", r.h.Sum)
		t.sample(f, "_count", labels, "", float64(r.h.Count))
	}
}

// sample writes one line: name, labels (and le when not ""), value.
func (t *textWriter) sample(f *family, suffix string, labels []string, le string, v float64) {
	w := t.w
	w.WriteString(f.name)
	w.WriteString(suffix)
	if len(labels) > 0 || le != "" {
		sep := byte('{')
		for i, l := range labels {
			w.WriteByte(sep)
			w.WriteString(f.labels[f.byName[i]])
			w.WriteString(`="`)
			if needsEscape(l) {
				labelEscaper.WriteString(w, l)
			} else {
				w.WriteString(l) // domains, codes, reasons: nothing to escape
			}
			w.WriteByte('"')
			sep = ','
		}
		if le != "" {
			w.WriteByte(sep)
			w.WriteString(`le="`)
			w.WriteString(le)
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	t.num = appendFloat(t.num[:0], v)
	w.Write(t.num)
	w.WriteByte('\n')
}

// appendFloat formats a value as expfmt does: 'g', shortest, and +Inf,
// -Inf, NaN.
func appendFloat(b []byte, v float64) []byte {
	// Most values are counts. 'g' writes a whole number below a million
	// (its shortest form's exponent is below 6) as the integer; -0 is "-0".
	if i := int64(v); float64(i) == v && i > -1e6 && i < 1e6 && (i != 0 || !math.Signbit(v)) {
		return strconv.AppendInt(b, i, 10)
	}
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// needsEscape reports whether a label value has a byte labelEscaper
// replaces. (strings.ContainsAny is slower on the short values of labels.)
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\n' || c == '"' {
			return true
		}
	}
	return false
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)
