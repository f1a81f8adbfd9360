package metrics

import (
	"fmt"
	"slices"
	"time"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// State is every value of a Set, for the daemon's checkpoint: restored, the
// counters continue where they were, so Prometheus sees no reset.
type State struct {
	Sources  []string          `json:"sources"`
	Domains  []string          `json:"domains"` // label set in order of arrival, "other" excluded
	Codes    []string          `json:"codes"`
	Overflow map[string]uint64 `json:"overflow"`
	Series   []SeriesState     `json:"series"`
	Gauges   []SeriesState     `json:"pending_gauges"` // pending gauges that exist, values unused
	// Lines per source by result, in parser.Results order.
	Lines     map[string][]uint64          `json:"lines"`
	Bytes     map[string]uint64            `json:"bytes"`
	LastEvent map[string]time.Time         `json:"last_event"`
	Rotations map[string]map[string]uint64 `json:"rotations"`
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
	seriesGauge    = "pending"
)

// Export returns every value.
func (s *Set) Export() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.export()
}

// Export returns every value, from inside Update: together with the trackers
// and positions read in the same Update, it is one consistent snapshot.
func (b Batch) Export() State { return b.s.export() }

func (s *Set) export() State {
	st := State{
		Sources: append([]string(nil), s.sourceNames...), Domains: append([]string(nil), s.domainNames[1:]...),
		Codes: append([]string(nil), s.codeNames[1:]...), Overflow: map[string]uint64{},
		Lines: map[string][]uint64{}, Bytes: map[string]uint64{}, LastEvent: map[string]time.Time{}, Rotations: map[string]map[string]uint64{},
	}
	for k, v := range s.overflow {
		st.Overflow[k] = v
	}
	src := func(i uint16) string { return s.sourceNames[i] }
	for k, v := range s.events {
		st.Series = append(st.Series, SeriesState{Metric: seriesEvents, Labels: []string{src(k.src), k.status.String(), s.codeNames[k.code]}, Value: v})
	}
	for k, v := range s.domainEvents {
		st.Series = append(st.Series, SeriesState{Metric: seriesDomain, Labels: []string{src(k.src), s.domainNames[k.domain], k.status.String(), s.codeNames[k.code]}, Value: v})
	}
	for k, v := range s.byHour {
		st.Series = append(st.Series, SeriesState{Metric: seriesHour, Labels: []string{src(k.src), k.status.String(), s.codeNames[k.code], hourLabels[k.hour]}, Value: v})
	}
	for k, o := range s.outcomes {
		st.Series = append(st.Series, SeriesState{Metric: seriesOutcomes, Labels: []string{src(k.src), s.codeNames[k.code], k.outcome.String()},
			// Copies: the state is encoded after the lock is released.
			Value: o.resolution.Count, Sum: o.resolution.Sum, Buckets: slices.Clone(o.resolution.Buckets),
			Sum2: o.attempts.Sum, Bucket2: slices.Clone(o.attempts.Buckets)})
	}
	for k := range s.seenGauges {
		l := []string{src(k.src), "code", s.codeNames[k.code]}
		if k.kind == kindDomain {
			l = []string{src(k.src), "domain", s.domainNames[k.domain]}
		}
		st.Gauges = append(st.Gauges, SeriesState{Metric: seriesGauge, Labels: l})
	}
	for i, l := range s.lines {
		st.Lines[src(i)] = append([]uint64(nil), l[:]...)
	}
	for i, v := range s.bytes {
		st.Bytes[src(i)] = v
	}
	for i, v := range s.lastEvent {
		st.LastEvent[src(i)] = v
	}
	for i, r := range s.rotations {
		st.Rotations[src(i)] = map[string]uint64{}
		for k, v := range r {
			st.Rotations[src(i)][k] = v
		}
	}
	return st
}

// Import replaces every value with st. The label caps of the current rules
// apply to values that arrive later; restored label values are all kept.
func (s *Set) Import(st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := New(&parser.RuleSet{Location: s.loc, Limits: parser.Limits{MaxDomains: s.maxDomains, MaxCodes: s.maxCodes}})
	n.always, n.pending, n.reloadOK, n.checkpointTime = s.always, s.pending, s.reloadOK, s.checkpointTime
	for _, name := range st.Sources {
		n.sourceIndex(name)
	}
	for _, d := range st.Domains {
		i := uint32(len(n.domainNames))
		n.domains[d] = i
		n.domainNames = append(n.domainNames, d)
	}
	for _, c := range st.Codes {
		code, ok := parser.ParseCode(c)
		if !ok {
			return fmt.Errorf("metrics state: bad code %q", c)
		}
		i := uint16(len(n.codeNames))
		n.codes[code] = i
		n.codeNames = append(n.codeNames, c)
		n.codeValues = append(n.codeValues, code)
	}
	for k, v := range st.Overflow {
		n.overflow[k] = v
	}
	code := func(c string) (uint16, error) {
		if c == Other {
			return 0, nil
		}
		p, ok := parser.ParseCode(c)
		if i, known := n.codes[p]; ok && known {
			return i, nil
		}
		return 0, fmt.Errorf("metrics state: code %q not in the label set", c)
	}
	domain := func(d string) (uint32, error) {
		if i, ok := n.domains[d]; ok {
			return i, nil
		}
		return 0, fmt.Errorf("metrics state: domain %q not in the label set", d)
	}
	for _, se := range append(st.Series, st.Gauges...) {
		if err := n.importSeries(se, code, domain); err != nil {
			return err
		}
	}
	for name, l := range st.Lines {
		arr := new([parser.NumResults]uint64)
		copy(arr[:], l)
		n.lines[n.sourceIndex(name)] = arr
	}
	for name, v := range st.Bytes {
		n.bytes[n.sourceIndex(name)] = v
	}
	for name, v := range st.LastEvent {
		n.lastEvent[n.sourceIndex(name)] = v
	}
	for name, r := range st.Rotations {
		m := map[string]uint64{}
		for k, v := range r {
			m[k] = v
		}
		n.rotations[n.sourceIndex(name)] = m
	}
	n.loc = s.loc
	// Field by field: s.mu is held and must not be overwritten.
	s.loc, s.maxDomains, s.maxCodes, s.always = n.loc, n.maxDomains, n.maxCodes, n.always
	s.sources, s.sourceNames, s.domains, s.domainNames = n.sources, n.sourceNames, n.domains, n.domainNames
	s.codes, s.codeNames, s.codeValues, s.overflow = n.codes, n.codeNames, n.codeValues, n.overflow
	s.events, s.domainEvents, s.byHour, s.outcomes = n.events, n.domainEvents, n.byHour, n.outcomes
	s.lines, s.bytes, s.lastEvent, s.rotations, s.seenGauges = n.lines, n.bytes, n.lastEvent, n.rotations, n.seenGauges
	s.pending, s.reloadOK, s.checkpointTime = n.pending, n.reloadOK, n.checkpointTime
	return nil
}

func (n *Set) importSeries(se SeriesState, code func(string) (uint16, error), domain func(string) (uint32, error)) error {
	bad := fmt.Errorf("metrics state: bad %s series %q", se.Metric, se.Labels)
	want := map[string]int{seriesEvents: 3, seriesDomain: 4, seriesHour: 4, seriesOutcomes: 3, seriesGauge: 3}[se.Metric]
	if want == 0 || len(se.Labels) != want {
		return bad
	}
	src := n.sourceIndex(se.Labels[0])
	status := func(s string) (parser.Status, error) {
		st := parser.StatusNone
		for _, c := range []parser.Status{parser.StatusSent, parser.StatusDeferred, parser.StatusBounced, parser.StatusExpired} {
			if c.String() == s {
				st = c
			}
		}
		if st == parser.StatusNone {
			return st, bad
		}
		return st, nil
	}
	switch se.Metric {
	case seriesEvents:
		st, err := status(se.Labels[1])
		c, err2 := code(se.Labels[2])
		if err != nil || err2 != nil {
			return bad
		}
		n.events[eventKey{src, st, c}] = se.Value
	case seriesDomain:
		d, err := domain(se.Labels[1])
		st, err2 := status(se.Labels[2])
		c, err3 := code(se.Labels[3])
		if err != nil || err2 != nil || err3 != nil {
			return bad
		}
		n.domainEvents[domainKey{src, d, st, c}] = se.Value
	case seriesHour:
		st, err := status(se.Labels[1])
		c, err2 := code(se.Labels[2])
		h := -1
		for i, l := range hourLabels {
			if l == se.Labels[3] {
				h = i
			}
		}
		if err != nil || err2 != nil || h < 0 {
			return bad
		}
		n.byHour[hourKey{src, st, c, uint8(h)}] = se.Value
	case seriesOutcomes:
		c, err := code(se.Labels[1])
		o := tracker.NumOutcomes
		for i := tracker.Outcome(0); i < tracker.NumOutcomes; i++ {
			if i.String() == se.Labels[2] {
				o = i
			}
		}
		if err != nil || o == tracker.NumOutcomes || len(se.Buckets) != len(ResolutionBuckets) || len(se.Bucket2) != len(AttemptsBuckets) {
			return bad
		}
		n.outcomes[outcomeKey{src, c, o}] = &outcomeStats{
			resolution: histogram{Count: se.Value, Sum: se.Sum, Buckets: append([]uint64(nil), se.Buckets...)},
			attempts:   histogram{Count: se.Value, Sum: se.Sum2, Buckets: append([]uint64(nil), se.Bucket2...)},
		}
	case seriesGauge:
		switch se.Labels[1] {
		case "code":
			c, err := code(se.Labels[2])
			if err != nil {
				return bad
			}
			n.seenGauges[gaugeKey{src: src, code: c, kind: kindCode}] = true
		case "domain":
			d, err := domain(se.Labels[2])
			if err != nil {
				return bad
			}
			n.seenGauges[gaugeKey{src: src, domain: d, kind: kindDomain}] = true
		default:
			return bad
		}
	}
	return nil
}
