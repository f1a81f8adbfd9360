// Package metrics owns bouncewatch's Prometheus metric families: their fixed
// names and help, the counters, histograms and gauges behind them, and the
// bounded label sets (domains and codes are capped when first seen and fold
// into "other").
//
// Each log source has a Source: its counters, and its pending-recipient
// gauges kept up to date from the tracker's notifications, so that a scrape
// costs the number of series, never the number of pending recipients. A
// Source belongs to its source's pipeline, which serialises every change;
// the Set, a prometheus.Collector, copies each Source under the pipeline's
// lock (a copy of the series, nothing more) and builds the metrics outside
// it. The label sets are shared by every source (Labels).
package metrics

import (
	"slices"
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

// maxLabelBytes caps any label value that comes from configuration or a log;
// a reason's description, which is prose, may be longer.
const (
	maxLabelBytes       = 128
	maxDescriptionBytes = 512
)

// Labels is the set of domain and code label values, shared by every source
// and capped by the rules' limits. It is safe for concurrent use.
type Labels struct {
	mu          sync.Mutex
	maxDomains  int
	maxCodes    int
	always      map[string]bool
	domains     map[string]uint32 // label value -> index into domainNames; index 0 is "other"
	domainNames []string
	codes       map[parser.Code]uint16 // index 0 is "other"
	codeNames   []string
	codeValues  []parser.Code
	reasonInfo  [][2]string // name, description of the rules' reasons
}

// NewLabels returns label sets with the caps of rs.
func NewLabels(rs *parser.RuleSet) *Labels {
	l := &Labels{
		domains:     map[string]uint32{Other: 0},
		domainNames: []string{Other},
		codes:       map[parser.Code]uint16{0: 0},
		codeNames:   []string{Other},
		codeValues:  []parser.Code{0},
	}
	l.SetRules(rs)
	return l
}

// SetRules applies the caps and always-kept domains of a (re)loaded rule
// set. Values already in a label set stay there.
func (l *Labels) SetRules(rs *parser.RuleSet) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxDomains, l.maxCodes = rs.Limits.MaxDomains, rs.Limits.MaxCodes
	l.always = map[string]bool{}
	for _, d := range rs.AlwaysDomains {
		l.always[d] = true
	}
	l.reasonInfo = l.reasonInfo[:0]
	for _, r := range rs.Reasons {
		l.reasonInfo = append(l.reasonInfo, [2]string{r.Name, cleanLabel(r.Description, maxDescriptionBytes)})
	}
}

// reasons returns the name and description of every reason of the rules.
func (l *Labels) reasons() [][2]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reasonInfo)
}

// domain returns the label index of d, adding it while there is room; folded
// says it went to "other".
func (l *Labels) domain(d []byte) (idx uint32, folded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.domains[string(d)]; ok {
		return i, false
	}
	if len(l.domainNames)-1 >= l.maxDomains && !l.always[string(d)] {
		return 0, true
	}
	return l.addDomain(string(d)), false
}

func (l *Labels) addDomain(name string) uint32 {
	i := uint32(len(l.domainNames))
	l.domains[name] = i
	l.domainNames = append(l.domainNames, cleanLabel(name))
	return i
}

// code is domain for codes.
func (l *Labels) code(c parser.Code) (idx uint16, folded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.codes[c]; ok {
		return i, false
	}
	if len(l.codeNames)-1 >= l.maxCodes {
		return 0, true
	}
	return l.addCode(c), false
}

func (l *Labels) addCode(c parser.Code) uint16 {
	i := uint16(len(l.codeNames))
	l.codes[c] = i
	l.codeNames = append(l.codeNames, c.String())
	l.codeValues = append(l.codeValues, c)
	return i
}

// names returns the label values by index. The slices only ever grow, so
// the ones returned stay valid for every index handed out before the call.
func (l *Labels) names() (domains, codes []string, codeValues []parser.Code) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.domainNames, l.codeNames, l.codeValues
}

// DomainName returns the label value of a group (a domain label index).
func (l *Labels) DomainName(g tracker.Group) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(g) < len(l.domainNames) {
		return l.domainNames[g]
	}
	return ""
}

// restoreDomain returns the index of a label value read from a checkpoint,
// adding it whatever the cap: a restored series keeps its label.
func (l *Labels) restoreDomain(name string) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.domains[name]; ok {
		return i
	}
	return l.addDomain(name)
}

func (l *Labels) restoreCode(c parser.Code) uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.codes[c]; ok {
		return i
	}
	return l.addCode(c)
}

// cleanLabel makes a label value valid UTF-8 and at most maxLabelBytes long.
func cleanLabel(v string, max ...int) string {
	limit := maxLabelBytes
	if len(max) > 0 {
		limit = max[0]
	}
	if !utf8.ValidString(v) {
		v = strconv.QuoteToASCII(v)
	}
	if len(v) > limit {
		v = v[:limit]
		for !utf8.ValidString(v) {
			v = v[:len(v)-1]
		}
	}
	return v
}

type eventKey struct {
	status parser.Status
	code   uint16
}

type domainKey struct {
	domain uint32
	status parser.Status
	code   uint16
}

type hourKey struct {
	status parser.Status
	code   uint16
	hour   uint8
}

type outcomeKey struct {
	code    uint16
	outcome tracker.Outcome
}

type reasonKey struct {
	status parser.Status
	reason parser.Reason
}

type domainReasonKey struct {
	domain uint32
	status parser.Status
	reason parser.Reason
}

type reasonOutcomeKey struct {
	reason  parser.Reason
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

type domainGauge struct {
	n      int64
	oldest int64 // unix nanoseconds; meaningful while n > 0
}

// Rotation kinds, as in the kind label.
const (
	RotationRename = iota
	RotationTruncate
	numRotations
)

var rotationNames = [numRotations]string{"rename", "truncate"}

// Label overflow kinds, as in the label label.
const (
	overflowDomain = iota
	overflowCode
	numOverflow
)

var overflowNames = [numOverflow]string{"domain", "code"}

// Source holds every metric value of one log source. It is not safe for
// concurrent use: its owner (the source's pipeline) serialises the calls,
// and the Set reads it under the owner's lock. It is a tracker.Sink.
type Source struct {
	name   string
	labels *Labels
	loc    *time.Location

	// Label indexes already looked up, so that the shared Labels is locked
	// only for values this source has not seen (or that folded).
	domCache  map[string]uint32
	codeCache map[parser.Code]uint16
	// codeSlots holds the latest codes in one probe each, in front of
	// codeCache: every event looks its code up, and a map probe costs
	// about a hundred instructions.
	codeSlots [64]codeSlot

	events       byCode
	domainEvents perDomain[statusCode]
	byHour       byHour
	outcomes     map[outcomeKey]*outcomeStats

	// By reason: the set of reasons is fixed by the rules files, so these
	// are as bounded as the code label.
	reasonEvents       byReason
	domainReasonEvents perDomain[statusReason] // failures only
	reasonOutcomes     map[reasonOutcomeKey]*histogram

	lines     [parser.NumResults]uint64
	bytes     uint64
	lastEvent int64 // unix nanoseconds of the newest delivery line; 0 before one
	rotations [numRotations]uint64
	lostFiles uint64
	lostBytes uint64
	overflow  [numOverflow]uint64

	// Pending gauges, from the tracker's notifications. Entries are never
	// removed: a series that was non-zero once stays, at 0, so that alerts
	// see a recovery rather than a vanished series.
	pendingCode   map[uint16]int64
	pendingDomain map[uint32]*domainGauge
	pendingTotal  int64

	// state is the memory of the last State, which the next one reuses.
	state stateBuilder
}

// NewSource returns the empty metrics of the source name.
func NewSource(name string, labels *Labels, rs *parser.RuleSet) *Source {
	return &Source{
		name: cleanLabel(name), labels: labels, loc: rs.Location,
		domCache: map[string]uint32{}, codeCache: map[parser.Code]uint16{},
		outcomes: map[outcomeKey]*outcomeStats{}, reasonOutcomes: map[reasonOutcomeKey]*histogram{},
		pendingCode: map[uint16]int64{}, pendingDomain: map[uint32]*domainGauge{},
	}
}

// Name returns the source label value.
func (s *Source) Name() string { return s.name }

// Labels returns the label sets the source counts in.
func (s *Source) Labels() *Labels { return s.labels }

// SetRules applies the time zone of a (re)loaded rule set.
func (s *Source) SetRules(rs *parser.RuleSet) { s.loc = rs.Location }

// Group returns the domain's label index (tracker.Sink), counting a value
// folded into "other". Folded values are not remembered: the cache would
// copy each, and the shared Labels answers them without allocating.
func (s *Source) Group(domain []byte) tracker.Group {
	if i, ok := s.domCache[string(domain)]; ok {
		return tracker.Group(i)
	}
	i, folded := s.labels.domain(domain)
	if folded {
		s.overflow[overflowDomain]++
	} else {
		s.domCache[string(domain)] = i
	}
	return tracker.Group(i)
}

// codeSlot is a code and its label index.
type codeSlot struct {
	code parser.Code // 0: empty
	idx  uint16
}

// codeIndex returns the label index of c; count says to count a fold (for
// events; outcomes and gauges of a folded code were counted at its event).
func (s *Source) codeIndex(c parser.Code, count bool) uint16 {
	slot := &s.codeSlots[uint32(c)*0x9e3779b1>>26] // Fibonacci hashing: the top 6 bits
	if slot.code == c && c != 0 {
		return slot.idx
	}
	if i, ok := s.codeCache[c]; ok {
		*slot = codeSlot{c, i}
		return i
	}
	i, folded := s.labels.code(c)
	if !folded {
		s.codeCache[c] = i
		*slot = codeSlot{c, i}
	} else if count {
		s.overflow[overflowCode]++
	}
	return i
}

// Event counts one delivery event (tracker.Sink).
func (s *Source) Event(ev *parser.Event, g tracker.Group) {
	code := s.codeIndex(ev.Code, true)
	s.events.add(ev.Status, code, 1)
	if g != tracker.NoGroup {
		s.domainEvents.add(uint32(g), statusCode{ev.Status, code}, 1)
	}
	s.byHour.add(ev.Status, code, uint8(ev.Time.In(s.loc).Hour()), 1)
	s.reasonEvents.add(ev.Status, ev.Reason, 1)
	if g != tracker.NoGroup && ev.Status != parser.StatusSent {
		s.domainReasonEvents.add(uint32(g), statusReason{ev.Status, ev.Reason}, 1)
	}
}

// Resolved counts one retry outcome (tracker.Sink).
func (s *Source) Resolved(r *tracker.Resolution) {
	k := outcomeKey{s.codeIndex(r.FirstCode, false), r.Outcome}
	o := s.outcomes[k]
	if o == nil {
		o = &outcomeStats{}
		s.outcomes[k] = o
	}
	o.resolution.observe(r.Duration().Seconds(), ResolutionBuckets)
	o.attempts.observe(float64(r.Attempts), AttemptsBuckets)
	rk := reasonOutcomeKey{r.FirstReason, r.Outcome}
	h := s.reasonOutcomes[rk]
	if h == nil {
		h = &histogram{}
		s.reasonOutcomes[rk] = h
	}
	h.observe(r.Duration().Seconds(), ResolutionBuckets)
}

// Pending keeps the deferred-recipient gauges (tracker.Sink).
func (s *Source) Pending(c parser.Code, g tracker.Group, delta int, oldest time.Time) {
	s.pendingCode[s.codeIndex(c, false)] += int64(delta)
	s.pendingTotal += int64(delta)
	if g == tracker.NoGroup {
		return
	}
	d := s.pendingDomain[uint32(g)]
	if d == nil {
		d = &domainGauge{}
		s.pendingDomain[uint32(g)] = d
	}
	d.n += int64(delta)
	d.oldest = 0
	if !oldest.IsZero() {
		d.oldest = oldest.UnixNano()
	}
}

// Line counts one log line of n bytes (newline included) and its result; t
// is its log time when known.
func (s *Source) Line(n int, res parser.Result, t time.Time) {
	s.lines[res]++
	s.bytes += uint64(n)
	if !t.IsZero() {
		s.lastEvent = max(s.lastEvent, t.UnixNano())
	}
}

// Part counts the bytes of a part of a line that is not whole yet (a line
// Exim split for syslog): the line is counted once whole.
func (s *Source) Part(n int) { s.bytes += uint64(n) }

// Rotation counts a log rotation (RotationRename or RotationTruncate).
func (s *Source) Rotation(kind int) { s.rotations[kind]++ }

// Lost counts a file that disappeared before it was read to its end, and
// the bytes known to be unread in it.
func (s *Source) Lost(bytes int64) {
	s.lostFiles++
	s.lostBytes += uint64(max(bytes, 0))
}

// Counts is what the text report and the status page read of a source.
type Counts struct {
	Lines     [parser.NumResults]uint64
	Bytes     uint64
	LastEvent time.Time
	Rotations [numRotations]uint64
	LostFiles uint64
	LostBytes uint64
	Pending   int64
}

// Counts returns the line and file counters.
func (s *Source) Counts() Counts {
	c := Counts{Lines: s.lines, Bytes: s.bytes, Rotations: s.rotations, LostFiles: s.lostFiles, LostBytes: s.lostBytes, Pending: s.pendingTotal}
	if s.lastEvent != 0 {
		c.LastEvent = time.Unix(0, s.lastEvent)
	}
	return c
}

var _ tracker.Sink = (*Source)(nil)

// PendingDomain is the pending gauge of one domain label.
type PendingDomain struct {
	Group  tracker.Group
	N      int64
	Oldest time.Time // zero when N is 0
}

// View is what the status page reads of a source's metrics.
type View struct {
	Pending []PendingDomain
	Hours   [24][parser.StatusExpired + 1]uint64 // events by hour of day and status
	// Delivered counts the recipients delivered after a deferral per bucket
	// of ResolutionBuckets, and in a last one those that took longer.
	Delivered []uint64
}

// View returns what the status page shows of the source.
func (s *Source) View() View {
	v := View{Delivered: make([]uint64, len(ResolutionBuckets)+1)}
	for g, d := range s.pendingDomain {
		pd := PendingDomain{Group: tracker.Group(g), N: d.n}
		if d.n > 0 && d.oldest != 0 {
			pd.Oldest = time.Unix(0, d.oldest)
		}
		v.Pending = append(v.Pending, pd)
	}
	s.byHour.each(func(k hourKey, n uint64) { v.Hours[k.hour][k.status] += n })
	for k, o := range s.outcomes {
		if k.outcome != tracker.Delivered || o.resolution.Buckets == nil {
			continue
		}
		var below uint64
		for i, c := range o.resolution.Buckets {
			v.Delivered[i] += c - below
			below = c
		}
		v.Delivered[len(ResolutionBuckets)] += o.resolution.Count - below
	}
	return v
}
