// Package exposition reads Prometheus text exposition into flat samples, for
// tests that compare what the daemon serves with what report computes or
// what the logs say: "name{a="x",b="y"}" -> value, labels sorted.
package exposition

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples maps a series to its value.
type Samples map[string]float64

// Parse reads the text exposition format with expfmt.
func Parse(r io.Reader) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	out := Samples{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := labelPairs(m.GetLabel())
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key(name, labels)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key(name, labels)] = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				out[key(name, labels)] = m.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[key(name+"_count", labels)] = float64(h.GetSampleCount())
				out[key(name+"_sum", labels)] = h.GetSampleSum()
				bucket := func(le string, v float64) {
					out[key(name+"_bucket", append(slices.Clone(labels), [2]string{"le", le}))] = v
				}
				for _, b := range h.GetBucket() {
					bucket(formatLe(b.GetUpperBound()), float64(b.GetCumulativeCount()))
				}
				bucket("+Inf", float64(h.GetSampleCount()))
			}
		}
	}
	return out, nil
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func labelPairs(ls []*dto.LabelPair) [][2]string {
	out := make([][2]string, 0, len(ls)+1)
	for _, l := range ls {
		out = append(out, [2]string{l.GetName(), l.GetValue()})
	}
	return out
}

func key(name string, labels [][2]string) string {
	if len(labels) == 0 {
		return name
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i][0] < labels[j][0] })
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", l[0], l[1])
	}
	b.WriteByte('}')
	return b.String()
}

// Name returns the metric name of a series key.
func Name(series string) string {
	name, _, _ := strings.Cut(series, "{")
	return name
}

// Counters keeps the samples that must never go down between two scrapes of
// one history: counters and the parts of histograms.
func (s Samples) Counters() Samples {
	out := Samples{}
	for k, v := range s {
		name := Name(k)
		if strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_sum") {
			out[k] = v
		}
	}
	return out
}

// Prefix keeps the samples whose series start with p.
func (s Samples) Prefix(p string) Samples {
	out := Samples{}
	for k, v := range s {
		if strings.HasPrefix(k, p) {
			out[k] = v
		}
	}
	return out
}

// Sum adds the samples of a metric that carry every given label (a="b").
func (s Samples) Sum(name string, labels ...string) float64 {
	var sum float64
	for k, v := range s {
		if Name(k) != name {
			continue
		}
		ok := true
		for _, l := range labels {
			n, val, _ := strings.Cut(l, "=")
			if !strings.Contains(k, n+"="+strconv.Quote(strings.Trim(val, `"`))) {
				ok = false
				break
			}
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// Diff lists, sorted, the series whose values differ between want and got,
// leaving out those skip says to; a series missing on one side counts as 0.
func Diff(want, got Samples, skip func(series string) bool) []string {
	var d []string
	for k, v := range want {
		if (skip == nil || !skip(k)) && got[k] != v {
			d = append(d, fmt.Sprintf("%s: want %v, got %v", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 && (skip == nil || !skip(k)) {
			d = append(d, fmt.Sprintf("%s: want nothing, got %v", k, v))
		}
	}
	sort.Strings(d)
	return d
}

// WentDown lists the counters of before that are lower in now.
func WentDown(before, now Samples) []string {
	var d []string
	for k, v := range before {
		if now[k] < v {
			d = append(d, fmt.Sprintf("%s: %v -> %v", k, v, now[k]))
		}
	}
	sort.Strings(d)
	return d
}
