package metrics

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/bouncewatch/bouncewatch/internal/jsonw"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// LabelState is the content of the label sets, for the daemon's checkpoint.
type LabelState struct {
	Domains []string `json:"domains"` // in order of arrival, "other" excluded
	Codes   []string `json:"codes"`
}

// State returns the label sets.
func (l *Labels) State() LabelState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LabelState{Domains: slices.Clone(l.domainNames[1:]), Codes: slices.Clone(l.codeNames[1:])}
}

// Restore adds the values of st, in their order, whatever the caps: values
// that had a label keep it after a restart.
func (l *Labels) Restore(st LabelState) error {
	for _, d := range st.Domains {
		l.restoreDomain(d)
	}
	for _, s := range st.Codes {
		c, ok := parser.ParseCode(s)
		if !ok {
			return fmt.Errorf("metrics state: bad code %q", s)
		}
		l.restoreCode(c)
	}
	return nil
}

// SourceState is every counter of a Source, for the daemon's checkpoint:
// restored, the counters continue where they were, so Prometheus sees no
// reset. The pending gauges are not in it: the tracker's restore reports
// its recipients again. Label values are written out, not as indexes.
type SourceState struct {
	Series    []SeriesState `json:"series"`
	Gauges    [][2]string   `json:"pending_gauges"` // ("code"|"domain", value): gauge series that exist
	Lines     []uint64      `json:"lines"`          // by result, in parser.Results order
	Bytes     uint64        `json:"bytes"`
	LastEvent int64         `json:"last_event_unix_nano,omitempty"`
	Rotations []uint64      `json:"rotations"`
	LostFiles uint64        `json:"lost_files,omitempty"`
	LostBytes uint64        `json:"lost_bytes,omitempty"`
	Overflow  []uint64      `json:"overflow"`
}

// SeriesState is one counter or histogram series.
type SeriesState struct {
	Metric  string   `json:"metric"`
	Labels  []string `json:"labels"`
	Value   uint64   `json:"value,omitempty"`
	Sum     float64  `json:"sum,omitempty"`
	Buckets []uint64 `json:"buckets,omitempty"`
	Sum2    float64  `json:"attempts_sum,omitempty"`
	Bucket2 []uint64 `json:"attempts_buckets,omitempty"`
}

const (
	seriesEvents   = "events"
	seriesDomain   = "domain_events"
	seriesHour     = "events_by_hour"
	seriesOutcomes = "outcomes"
	seriesReason   = "reason_events"
	seriesDomReas  = "domain_reason_events"
	seriesReasOut  = "reason_outcomes"
)

// State returns every counter of the source. Its series are in the
// source's memory, which the next call reuses: a checkpoint every 10 s of
// thousands of series then allocates nothing (fresh memory is page faults,
// which cost more than the rest of it). Encode one before asking again.
func (s *Source) State() SourceState {
	domains, codes, _ := s.labels.names()
	st := SourceState{Bytes: s.bytes, LastEvent: s.lastEvent, LostFiles: s.lostFiles, LostBytes: s.lostBytes,
		Rotations: slices.Clone(s.rotations[:]), Overflow: slices.Clone(s.overflow[:])}
	for _, r := range parser.Results {
		st.Lines = append(st.Lines, s.lines[r])
	}
	b := &s.state
	b.series, b.labels = b.series[:0], b.labels[:0]
	s.events.each(func(k eventKey, v uint64) {
		b.add(SeriesState{Metric: seriesEvents, Value: v}, k.status.String(), codes[k.code])
	})
	s.domainEvents.each(func(d uint32, k statusCode, v uint64) {
		b.add(SeriesState{Metric: seriesDomain, Value: v}, domains[d], k.status.String(), codes[k.code])
	})
	s.byHour.each(func(k hourKey, v uint64) {
		b.add(SeriesState{Metric: seriesHour, Value: v}, k.status.String(), codes[k.code], hourLabels[k.hour])
	})
	for k, o := range s.outcomes {
		b.add(SeriesState{Metric: seriesOutcomes, Value: o.resolution.Count, Sum: o.resolution.Sum, Buckets: slices.Clone(o.resolution.Buckets),
			Sum2: o.attempts.Sum, Bucket2: slices.Clone(o.attempts.Buckets)}, codes[k.code], k.outcome.String())
	}
	s.reasonEvents.each(func(k reasonKey, v uint64) {
		b.add(SeriesState{Metric: seriesReason, Value: v}, k.status.String(), k.reason.String())
	})
	s.domainReasonEvents.each(func(d uint32, k statusReason, v uint64) {
		b.add(SeriesState{Metric: seriesDomReas, Value: v}, domains[d], k.status.String(), k.reason.String())
	})
	for k, h := range s.reasonOutcomes {
		b.add(SeriesState{Metric: seriesReasOut, Value: h.Count, Sum: h.Sum, Buckets: slices.Clone(h.Buckets)}, k.reason.String(), k.outcome.String())
	}
	st.Series = b.series
	for k := range s.pendingCode {
		st.Gauges = append(st.Gauges, [2]string{"code", codes[k]})
	}
	for k := range s.pendingDomain {
		st.Gauges = append(st.Gauges, [2]string{"domain", domains[k]})
	}
	return st
}

// stateBuilder collects the series of a State in one slice and their label
// values in one slab, both kept for the next State (Source.state).
type stateBuilder struct {
	series []SeriesState
	labels []string
}

func (b *stateBuilder) add(se SeriesState, labels ...string) {
	start := len(b.labels)
	b.labels = append(b.labels, labels...)
	se.Labels = b.labels[start:len(b.labels):len(b.labels)]
	b.series = append(b.series, se)
}

// Restore sets every counter of an empty source from st. Label values it
// names are added to the label sets whatever their caps.
func (s *Source) Restore(st SourceState) error {
	if len(st.Lines) != len(parser.Results) || len(st.Rotations) != numRotations || len(st.Overflow) != numOverflow {
		return fmt.Errorf("metrics state of %q: wrong number of line, rotation or overflow counters", s.name)
	}
	for i, r := range parser.Results {
		s.lines[r] = st.Lines[i]
	}
	s.bytes, s.lastEvent, s.lostFiles, s.lostBytes = st.Bytes, st.LastEvent, st.LostFiles, st.LostBytes
	copy(s.rotations[:], st.Rotations)
	copy(s.overflow[:], st.Overflow)
	for _, se := range st.Series {
		if err := s.restoreSeries(se); err != nil {
			return err
		}
	}
	for _, g := range st.Gauges {
		switch g[0] {
		case "code":
			c, err := s.restoredCode(g[1])
			if err != nil {
				return err
			}
			s.pendingCode[c] += 0
		case "domain":
			d := s.labels.restoreDomain(g[1])
			if s.pendingDomain[d] == nil {
				s.pendingDomain[d] = &domainGauge{}
			}
		default:
			return fmt.Errorf("metrics state of %q: unknown gauge kind %q", s.name, g[0])
		}
	}
	return nil
}

// RestoreGroup returns the group of a domain label value read from a
// checkpoint (the tracker's groups are label values there).
func (s *Source) RestoreGroup(name string) tracker.Group {
	return tracker.Group(s.labels.restoreDomain(name))
}

func (s *Source) restoredCode(v string) (uint16, error) {
	if v == Other {
		return 0, nil
	}
	c, ok := parser.ParseCode(v)
	if !ok {
		return 0, fmt.Errorf("metrics state of %q: bad code %q", s.name, v)
	}
	return s.labels.restoreCode(c), nil
}

func parseStatus(v string) (parser.Status, bool) {
	for _, st := range []parser.Status{parser.StatusSent, parser.StatusDeferred, parser.StatusBounced, parser.StatusExpired} {
		if st.String() == v {
			return st, true
		}
	}
	return parser.StatusNone, false
}

func (s *Source) restoreSeries(se SeriesState) error {
	bad := fmt.Errorf("metrics state of %q: bad %s series %q", s.name, se.Metric, se.Labels)
	want := map[string]int{seriesEvents: 2, seriesDomain: 3, seriesHour: 3, seriesOutcomes: 2, seriesReason: 2, seriesDomReas: 3, seriesReasOut: 2}[se.Metric]
	if want == 0 || len(se.Labels) != want {
		return bad
	}
	switch se.Metric {
	case seriesEvents:
		st, ok := parseStatus(se.Labels[0])
		c, err := s.restoredCode(se.Labels[1])
		if !ok || err != nil {
			return bad
		}
		s.events.add(st, c, se.Value)
	case seriesDomain:
		st, ok := parseStatus(se.Labels[1])
		c, err := s.restoredCode(se.Labels[2])
		if !ok || err != nil {
			return bad
		}
		s.domainEvents.add(s.labels.restoreDomain(se.Labels[0]), statusCode{st, c}, se.Value)
	case seriesHour:
		st, ok := parseStatus(se.Labels[0])
		c, err := s.restoredCode(se.Labels[1])
		h := slices.Index(hourLabels[:], se.Labels[2])
		if !ok || err != nil || h < 0 {
			return bad
		}
		s.byHour.add(st, c, uint8(h), se.Value)
	case seriesOutcomes:
		c, err := s.restoredCode(se.Labels[0])
		o := slices.IndexFunc(outcomeNames(), func(n string) bool { return n == se.Labels[1] })
		if err != nil || o < 0 || len(se.Buckets) != len(ResolutionBuckets) || len(se.Bucket2) != len(AttemptsBuckets) {
			return bad
		}
		s.outcomes[outcomeKey{c, tracker.Outcome(o)}] = &outcomeStats{
			resolution: histogram{Count: se.Value, Sum: se.Sum, Buckets: slices.Clone(se.Buckets)},
			attempts:   histogram{Count: se.Value, Sum: se.Sum2, Buckets: slices.Clone(se.Bucket2)},
		}
	case seriesReason:
		st, ok := parseStatus(se.Labels[0])
		r, rok := parser.ReasonNamed(se.Labels[1])
		if !ok || !rok {
			return bad
		}
		s.reasonEvents.add(st, r, se.Value)
	case seriesDomReas:
		st, ok := parseStatus(se.Labels[1])
		r, rok := parser.ReasonNamed(se.Labels[2])
		if !ok || !rok {
			return bad
		}
		s.domainReasonEvents.add(s.labels.restoreDomain(se.Labels[0]), statusReason{st, r}, se.Value)
	case seriesReasOut:
		r, rok := parser.ReasonNamed(se.Labels[0])
		o := slices.IndexFunc(outcomeNames(), func(n string) bool { return n == se.Labels[1] })
		if !rok || o < 0 || len(se.Buckets) != len(ResolutionBuckets) {
			return bad
		}
		s.reasonOutcomes[reasonOutcomeKey{r, tracker.Outcome(o)}] = &histogram{Count: se.Value, Sum: se.Sum, Buckets: slices.Clone(se.Buckets)}
	}
	return nil
}

func outcomeNames() []string {
	names := make([]string, tracker.NumOutcomes)
	for o := range tracker.NumOutcomes {
		names[o] = o.String()
	}
	return names
}

// AppendJSON appends st as encoding/json would marshal it, byte for byte,
// in a fraction of the time.
func (st *SourceState) AppendJSON(b []byte) ([]byte, error) {
	var err error
	if st.Series == nil {
		b = append(b, `{"series":null`...)
	} else {
		b = append(b, `{"series":[`...)
		for i := range st.Series {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = st.Series[i].appendJSON(b); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"pending_gauges":`...)
	b = jsonw.Array(b, st.Gauges, func(b []byte, g [2]string) []byte { return jsonw.Strings(b, g[:]) })
	b = append(b, `,"lines":`...)
	b = jsonw.Uints(b, st.Lines)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendUint(b, st.Bytes, 10)
	if st.LastEvent != 0 {
		b = append(b, `,"last_event_unix_nano":`...)
		b = strconv.AppendInt(b, st.LastEvent, 10)
	}
	b = append(b, `,"rotations":`...)
	b = jsonw.Uints(b, st.Rotations)
	b = appendCount(b, `,"lost_files":`, st.LostFiles)
	b = appendCount(b, `,"lost_bytes":`, st.LostBytes)
	b = append(b, `,"overflow":`...)
	b = jsonw.Uints(b, st.Overflow)
	return append(b, '}'), nil
}

func (se *SeriesState) appendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"metric":`...)
	b = jsonw.String(b, se.Metric)
	b = append(b, `,"labels":`...)
	b = jsonw.Strings(b, se.Labels)
	b = appendCount(b, `,"value":`, se.Value)
	if b, err = appendHistogram(b, `,"sum":`, se.Sum, `,"buckets":`, se.Buckets); err != nil {
		return b, err
	}
	if b, err = appendHistogram(b, `,"attempts_sum":`, se.Sum2, `,"attempts_buckets":`, se.Bucket2); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// appendCount appends a field that is left out when 0 (omitempty).
func appendCount(b []byte, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendUint(append(b, key...), v, 10)
}

// appendHistogram appends a histogram's sum and buckets, each left out when
// empty (omitempty).
func appendHistogram(b []byte, sumKey string, sum float64, bucketsKey string, buckets []uint64) ([]byte, error) {
	var err error
	if sum != 0 {
		b = append(b, sumKey...)
		if b, err = jsonw.Float(b, sum); err != nil {
			return b, err
		}
	}
	if len(buckets) > 0 {
		b = append(b, bucketsKey...)
		b = jsonw.Uints(b, buckets)
	}
	return b, nil
}
