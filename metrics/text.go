package metrics

import (
	"cmp"
	"encoding/binary"
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
	t := &s.text
	t.w, t.buf = w, t.buf[:0]
	defer func() { t.w = nil }()
	for _, f := range families {
		for len(extra) > 0 && extra[0].GetName() < f.name {
			if err := t.flush(); err != nil {
				return err
			}
			if _, err := expfmt.MetricFamilyToText(w, extra[0]); err != nil {
				return err
			}
			extra = extra[1:]
		}
		if err := t.family(v, f); err != nil {
			return err
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, mf := range extra {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return nil
}

// textWriter writes families. The Set keeps it: its buffers serve the next
// scrape too.
type textWriter struct {
	w     io.Writer
	buf   []byte // what is written, given to w once flushAt bytes have gathered
	rows  []textRow
	order []int32  // rows' indexes, sorted
	label []string // the rows' label values, in name order
}

// maxLabels is the most labels a family has.
const maxLabels = 4

type textRow struct {
	at int // label[at:at+len(f.labels)]
	// The first 8 bytes of each label value, big-endian and zero-padded:
	// rows are sorted by their label values, and most comparisons are
	// settled by these, without comparing strings.
	key   [maxLabels]uint64
	short uint8 // bit i: label i has its key whole (8 bytes or fewer, no NUL)
	sample
}

// flushAt bounds the text held before it is written: a report's largest
// family (a series per domain) is megabytes, which would be peak RSS.
const flushAt = 32 << 10

func (t *textWriter) flush() error {
	_, err := t.w.Write(t.buf)
	t.buf = t.buf[:0]
	return err
}

// prefixKey is the first 8 bytes of l as a big-endian number, zero-padded:
// prefixKey(a) < prefixKey(b) only if a < b. whole says that l is its key
// alone: two such values with one key are equal.
func prefixKey(l string) (key uint64, whole bool) {
	var b [8]byte
	n := copy(b[:], l)
	key = binary.BigEndian.Uint64(b[:])
	if len(l) > 8 {
		return key, false
	}
	// A NUL in l would pass for padding: the padding set to 0xff, any zero
	// byte left is one of l's.
	v := key | (1<<(8*(8-n)) - 1)
	return key, (v-0x0101010101010101)&^v&0x8080808080808080 == 0
}

// compare orders rows by their label values in name order, as Gather does.
func (t *textWriter) compare(a, b *textRow, n int) int {
	for i := range n {
		if a.key[i] != b.key[i] {
			return cmp.Compare(a.key[i], b.key[i])
		}
		if a.short&b.short&(1<<i) != 0 {
			continue // the keys hold them whole: equal
		}
		if c := strings.Compare(t.label[a.at+i], t.label[b.at+i]); c != 0 {
			return c
		}
	}
	return 0
}

func (t *textWriter) family(v *view, f *family) error {
	t.rows, t.label = t.rows[:0], t.label[:0]
	n := len(f.labels)
	v.rows(f, func(sm sample, labels []string) {
		r := textRow{at: len(t.label), sample: sm}
		for k, i := range f.byName {
			t.label = append(t.label, labels[i])
			key, whole := prefixKey(labels[i])
			r.key[k] = key
			if whole {
				r.short |= 1 << k
			}
		}
		t.rows = append(t.rows, r)
	})
	if len(t.rows) == 0 {
		return nil // as Gather: no series, no family
	}
	// Sorted by index: a swap moves 4 bytes, not a row.
	t.order = t.order[:0]
	for i := range t.rows {
		t.order = append(t.order, int32(i))
	}
	slices.SortFunc(t.order, func(a, b int32) int { return t.compare(&t.rows[a], &t.rows[b], n) })
	b := append(t.buf, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, [...]string{counter: " counter\n", gauge: " gauge\n", histo: " histogram\n"}[f.kind]...)
	for _, i := range t.order {
		if len(b) >= flushAt {
			t.buf = b
			if err := t.flush(); err != nil {
				return err
			}
			b = t.buf
		}
		r := &t.rows[i]
		labels := t.label[r.at : r.at+n]
		if f.kind != histo {
			b = f.appendSample(b, "", labels, "", r.v)
			continue
		}
		for i := range f.bounds {
			var c uint64
			if r.h.Buckets != nil {
				c = r.h.Buckets[i]
			}
			b = f.appendSample(b, "_bucket", labels, f.le[i], float64(c))
		}
		b = f.appendSample(b, "_bucket", labels, "+Inf", float64(r.h.Count))
		b = f.appendSample(b, "_sum", labels, "", r.h.Sum)
		b = f.appendSample(b, "_count", labels, "", float64(r.h.Count))
	}
	t.buf = b
	return nil
}

// appendSample appends one line: name, labels (and le when not ""), value.
func (f *family) appendSample(b []byte, suffix string, labels []string, le string, v float64) []byte {
	b = append(b, f.name...)
	b = append(b, suffix...)
	for i, l := range labels {
		b = append(b, f.open[i]...) // {name=" or ,name="
		b = appendEscaped(b, l, true)
		b = append(b, '"')
	}
	if le != "" {
		if len(labels) == 0 {
			b = append(b, `{le="`...)
		} else {
			b = append(b, `,le="`...)
		}
		b = append(b, le...)
		b = append(b, '"')
	}
	if len(labels) > 0 || le != "" {
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

// appendEscaped appends s with backslashes and newlines escaped, and double
// quotes too in a label value, as expfmt does.
func appendEscaped(b []byte, s string, label bool) []byte {
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '\\':
			esc = `\\`
		case '\n':
			esc = `\n`
		case '"':
			if !label {
				continue
			}
			esc = `\"`
		default:
			continue // copied with the run it is in: domains, codes and reasons have nothing to escape
		}
		b = append(append(b, s[done:i]...), esc...)
		done = i + 1
	}
	return append(b, s[done:]...)
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
