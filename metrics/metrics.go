// Package metrics owns bouncewatch's Prometheus metric families: their fixed
// names and help, the counters and histograms behind them, and the bounded
// label sets (domains and codes are capped when first seen and fold into
// "other"). All state lives in one Set so that it can be checkpointed and
// restored as a whole; the Set is a prometheus.Collector for a private
// registry.
package metrics

import (
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// Other is the label value that values past a cap fold into.
const Other = "other"

// Buckets of the histograms; DESIGN.md fixes them (they are public API).
var (
	ResolutionBuckets = []float64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 432000}
	AttemptsBuckets   = []float64{1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50}
)

// maxLabelBytes caps any label value that comes from configuration or a log.
const maxLabelBytes = 128

type eventKey struct {
	src    uint16
	status parser.Status
	code   uint16
}

type domainKey struct {
	src    uint16
	domain uint32
	status parser.Status
	code   uint16
}

type hourKey struct {
	src    uint16
	status parser.Status
	code   uint16
	hour   uint8
}

type outcomeKey struct {
	src     uint16
	code    uint16
	outcome tracker.Outcome
}

// histogram is the state of one histogram series.
type histogram struct {
	Count   uint64
	Sum     float64
	Buckets []uint64 // cumulative counts per upper bound
}

func (h *histogram) observe(v float64, bounds []float64) {
	if h.Buckets == nil {
		h.Buckets = make([]uint64, len(bounds))
	}
	h.Count++
	h.Sum += v
	for i, b := range bounds {
		if v <= b {
			h.Buckets[i]++
		}
	}
}

type outcomeStats struct {
	resolution histogram
	attempts   histogram
}

// PendingSource is what the deferred-recipient gauges are computed from at
// scrape time: the tracker of one source.
type PendingSource interface {
	Source() string
	Len() int
	Pending(yield func(domain string, code parser.Code, first time.Time))
}

// Set holds every metric value. Its methods are safe for concurrent use.
type Set struct {
	mu sync.Mutex

	loc        *time.Location
	maxDomains int
	maxCodes   int
	always     map[string]bool

	sources     map[string]uint16
	sourceNames []string
	domains     map[string]uint32 // label value -> index into domainNames; index 0 is "other"
	domainNames []string
	codes       map[parser.Code]uint16 // index 0 is "other"
	codeNames   []string
	codeValues  []parser.Code
	overflow    map[string]uint64 // label -> folds

	events       map[eventKey]uint64
	domainEvents map[domainKey]uint64
	byHour       map[hourKey]uint64
	outcomes     map[outcomeKey]*outcomeStats

	lines      map[uint16]*[parser.NumResults]uint64
	bytes      map[uint16]uint64
	lastEvent  map[uint16]time.Time
	rotations  map[uint16]map[string]uint64
	seenGauges map[gaugeKey]bool

	pending []PendingSource

	reloadOK       bool
	checkpointTime time.Time
	// process-level counters, not checkpointed (a restart resets them)
	checkpointFailures uint64
	stateDiscarded     uint64
	daemon             bool // the daemon's own families are exposed
}

type gaugeKey struct {
	src    uint16
	domain uint32 // 0 with code set: a per-code gauge
	code   uint16
	kind   uint8
}

// New returns an empty Set with the label caps and time zone of rs.
func New(rs *parser.RuleSet) *Set {
	s := &Set{
		sources:      map[string]uint16{},
		domains:      map[string]uint32{Other: 0},
		domainNames:  []string{Other},
		codes:        map[parser.Code]uint16{0: 0},
		codeNames:    []string{Other},
		codeValues:   []parser.Code{0},
		overflow:     map[string]uint64{"domain": 0, "code": 0},
		events:       map[eventKey]uint64{},
		domainEvents: map[domainKey]uint64{},
		byHour:       map[hourKey]uint64{},
		outcomes:     map[outcomeKey]*outcomeStats{},
		lines:        map[uint16]*[parser.NumResults]uint64{},
		bytes:        map[uint16]uint64{},
		lastEvent:    map[uint16]time.Time{},
		rotations:    map[uint16]map[string]uint64{},
		seenGauges:   map[gaugeKey]bool{},
		reloadOK:     true,
	}
	s.SetRules(rs)
	return s
}

// SetRules applies the caps, time zone and always-kept domains of a (re)loaded
// rule set. Values already in a label set stay there.
func (s *Set) SetRules(rs *parser.RuleSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loc = rs.Location
	s.maxDomains = rs.Limits.MaxDomains
	s.maxCodes = rs.Limits.MaxCodes
	s.always = map[string]bool{}
	for _, d := range rs.AlwaysDomains {
		s.always[d] = true
	}
}

// AddPendingSource registers a tracker for the deferred-recipient gauges.
func (s *Set) AddPendingSource(p PendingSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sourceIndex(p.Source())
	s.pending = append(s.pending, p)
}

// Batch is the Set as seen inside Update: the same counting methods without
// taking the lock, which Update holds. It is a tracker.Sink.
type Batch struct{ s *Set }

// Event counts one delivery event.
func (b Batch) Event(ev *parser.Event) { b.s.event(ev) }

// Resolved counts one retry outcome.
func (b Batch) Resolved(r *tracker.Resolution) { b.s.resolved(r) }

// Line counts one log line, as Set.Line.
func (b Batch) Line(source string, n int, res parser.Result, t time.Time) {
	b.s.line(source, n, res, t)
}

// Update runs f with the Set locked: what f does to the trackers that feed
// the Set and to the counters happens at once for a scrape or a checkpoint,
// which take the same lock.
func (s *Set) Update(f func(b Batch)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(Batch{s})
}

func (s *Set) sourceIndex(name string) uint16 {
	if i, ok := s.sources[name]; ok {
		return i
	}
	i := uint16(len(s.sourceNames))
	s.sources[name] = i
	s.sourceNames = append(s.sourceNames, cleanLabel(name))
	return i
}

// domainIndex returns the label index of d, adding it while there is room.
func (s *Set) domainIndex(d []byte) uint32 {
	if i, ok := s.domains[string(d)]; ok {
		return i
	}
	name := string(d)
	if len(s.domainNames)-1 >= s.maxDomains && !s.always[name] {
		s.overflow["domain"]++
		return 0
	}
	i := uint32(len(s.domainNames))
	s.domains[name] = i
	s.domainNames = append(s.domainNames, cleanLabel(name))
	return i
}

func (s *Set) codeIndex(c parser.Code) uint16 {
	if i, ok := s.codes[c]; ok {
		return i
	}
	if len(s.codeNames)-1 >= s.maxCodes {
		s.overflow["code"]++
		return 0
	}
	i := uint16(len(s.codeNames))
	s.codes[c] = i
	s.codeNames = append(s.codeNames, c.String())
	s.codeValues = append(s.codeValues, c)
	return i
}

// cleanLabel makes a label value valid UTF-8 and at most maxLabelBytes long.
func cleanLabel(v string) string {
	if !utf8.ValidString(v) {
		v = strconv.QuoteToASCII(v)
	}
	if len(v) > maxLabelBytes {
		v = v[:maxLabelBytes]
		for !utf8.ValidString(v) {
			v = v[:len(v)-1]
		}
	}
	return v
}

// Event counts one delivery event (tracker.Sink).
func (s *Set) Event(ev *parser.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.event(ev)
}

func (s *Set) event(ev *parser.Event) {
	src := s.sourceIndex(ev.Source)
	code := s.codeIndex(ev.Code)
	s.events[eventKey{src, ev.Status, code}]++
	if ev.Status == parser.StatusDeferred {
		// The pending gauges of a code or domain exist from its first deferral on.
		s.seenGauges[gaugeKey{src: src, code: code, kind: kindCode}] = true
	}
	if len(ev.Domain) > 0 {
		dom := s.domainIndex(ev.Domain)
		s.domainEvents[domainKey{src, dom, ev.Status, code}]++
		if ev.Status == parser.StatusDeferred {
			s.seenGauges[gaugeKey{src: src, domain: dom, kind: kindDomain}] = true
		}
	}
	s.byHour[hourKey{src, ev.Status, code, uint8(ev.Time.In(s.loc).Hour())}]++
}

// Resolved counts one retry outcome (tracker.Sink).
func (s *Set) Resolved(r *tracker.Resolution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolved(r)
}

func (s *Set) resolved(r *tracker.Resolution) {
	k := outcomeKey{s.sourceIndex(r.Source), s.codeIndex(r.FirstCode), r.Outcome}
	o := s.outcomes[k]
	if o == nil {
		o = &outcomeStats{}
		s.outcomes[k] = o
	}
	o.resolution.observe(r.Duration().Seconds(), ResolutionBuckets)
	o.attempts.observe(float64(r.Attempts), AttemptsBuckets)
}

// Line counts one log line of n bytes (newline included) and its result; t is
// its log time when known.
func (s *Set) Line(source string, n int, res parser.Result, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line(source, n, res, t)
}

func (s *Set) line(source string, n int, res parser.Result, t time.Time) {
	src := s.sourceIndex(source)
	l := s.lines[src]
	if l == nil {
		l = new([parser.NumResults]uint64)
		s.lines[src] = l
	}
	l[res]++
	s.bytes[src] += uint64(n)
	if !t.IsZero() && t.After(s.lastEvent[src]) {
		s.lastEvent[src] = t
	}
}

// Rotation counts a log rotation of kind "rename" or "truncate".
func (s *Set) Rotation(source, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.sourceIndex(source)
	if s.rotations[src] == nil {
		s.rotations[src] = map[string]uint64{}
	}
	s.rotations[src][kind]++
}

// SetReloadSuccess records the result of the latest rules reload.
func (s *Set) SetReloadSuccess(ok bool) {
	s.mu.Lock()
	s.reloadOK = ok
	s.mu.Unlock()
}

// SetDaemon exposes the families only the daemon has (checkpoint and state
// file counters); report output leaves them out.
func (s *Set) SetDaemon() {
	s.mu.Lock()
	s.daemon = true
	s.mu.Unlock()
}

// CheckpointFailed counts a state file that could not be written.
func (s *Set) CheckpointFailed() {
	s.mu.Lock()
	s.checkpointFailures++
	s.mu.Unlock()
}

// StateDiscarded counts a state file that could not be used on start and was
// moved aside.
func (s *Set) StateDiscarded() {
	s.mu.Lock()
	s.stateDiscarded++
	s.mu.Unlock()
}

// SetCheckpoint records the time of the latest successful checkpoint.
func (s *Set) SetCheckpoint(t time.Time) {
	s.mu.Lock()
	s.checkpointTime = t
	s.mu.Unlock()
}

// CodesSeen returns the codes that have a label of their own, sorted.
func (s *Set) CodesSeen() []parser.Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]parser.Code(nil), s.codeValues[1:]...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
