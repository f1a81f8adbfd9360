package metrics

import (
	"sort"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// kind is what a family's samples are.
type kind uint8

const (
	counter kind = iota
	gauge
	histo
)

// family is a metric family: its name, help, labels and buckets are public
// API. Collect and WriteText both take its series from rows.
type family struct {
	name, help string
	kind       kind
	bounds     []float64 // histograms: the upper bounds, +Inf implied
	le         []string  // bounds as le label values
	labels     []string  // in the order rows gives their values
	byName     []int     // labels' indexes in name order, the exposition's
	open       []string  // in name order: `{name="` for the first, `,name="` after
	desc       *prometheus.Desc
}

func fam(k kind, bounds []float64, name, help string, labels ...string) *family {
	f := &family{name: name, help: help, kind: k, bounds: bounds, labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
	for i := range labels {
		f.byName = append(f.byName, i)
	}
	for _, b := range bounds {
		f.le = append(f.le, string(appendFloat(nil, b)))
	}
	sort.SliceStable(f.byName, func(a, b int) bool { return labels[f.byName[a]] < labels[f.byName[b]] })
	if len(labels) > maxLabels {
		panic("metrics: " + name + " has more labels than maxLabels")
	}
	for k, i := range f.byName {
		f.open = append(f.open, string("{,"[min(k, 1)])+labels[i]+`="`)
	}
	return f
}

// The metric families.
var (
	famEvents       = fam(counter, nil, "bouncewatch_events_total", "Delivery status events read from the logs, by status and enhanced status code.", "source", "status", "code")
	famDomainEvents = fam(counter, nil, "bouncewatch_domain_events_total", "Delivery status events per recipient domain; domains past the cap are counted as \"other\".", "source", "domain", "status", "code")
	famByHour       = fam(counter, nil, "bouncewatch_events_by_hour_total", "Delivery status events by hour of day of the log time, in the configured time zone.", "source", "status", "code", "hour")
	famOutcomes     = fam(counter, nil, "bouncewatch_retry_outcomes_total", "Deferred recipients that reached an outcome, by the first temporary code.", "source", "code", "outcome")
	famResolution   = fam(histo, ResolutionBuckets, "bouncewatch_resolution_seconds", "Time from a recipient's first deferral to its outcome, in seconds of log time.", "source", "code", "outcome")
	famAttempts     = fam(histo, AttemptsBuckets, "bouncewatch_retry_attempts", "Deferrals of a recipient before its outcome.", "source", "code", "outcome")
	famDeferred     = fam(gauge, nil, "bouncewatch_deferred_recipients", "Recipients waiting for a retry now, by the first temporary code.", "source", "code")
	famDomainDefer  = fam(gauge, nil, "bouncewatch_domain_deferred_recipients", "Recipients waiting for a retry now, per recipient domain.", "source", "domain")
	famOldest       = fam(gauge, nil, "bouncewatch_domain_oldest_deferral_timestamp_seconds", "Log time of the oldest deferral still pending, per recipient domain.", "source", "domain")
	famCodeInfo     = fam(gauge, nil, "bouncewatch_status_code_info", "Registry text of the enhanced status codes seen (RFC 3463, RFC 5248 and later).", "code", "class", "subject", "description")
	famLines        = fam(counter, nil, "bouncewatch_log_lines_total", "Log lines read, by what became of them.", "source", "result")
	famBytes        = fam(counter, nil, "bouncewatch_log_bytes_total", "Bytes of log read.", "source")
	famLastEvent    = fam(gauge, nil, "bouncewatch_log_last_event_timestamp_seconds", "Log time of the newest delivery line read.", "source")
	famRotations    = fam(counter, nil, "bouncewatch_log_rotations_total", "Log rotations noticed, by kind (rename or truncate).", "source", "kind")
	famLostFiles    = fam(counter, nil, "bouncewatch_log_lost_files_total", "Log files that disappeared (deleted, or rotated out of reach) before they were read to their end.", "source")
	famLostBytes    = fam(counter, nil, "bouncewatch_log_lost_bytes_total", "Bytes known to be unread in the lost log files (at least; what was written after the last look is unknown).", "source")
	famOverflow     = fam(counter, nil, "bouncewatch_label_overflow_total", "Label values folded into \"other\" because their label set was full.", "label")
	famEntries      = fam(gauge, nil, "bouncewatch_tracker_entries", "Deferred recipients held by the retry tracker.", "source")

	famReasonEvents   = fam(counter, nil, "bouncewatch_reason_events_total", "Delivery status events by the reason of the reply (rules.yaml's reasons; \"delivered\" for a 2xx result, \"undefined\" when none matched).", "source", "status", "reason")
	famDomainReason   = fam(counter, nil, "bouncewatch_domain_reason_events_total", "Deferred, bounced and expired events per recipient domain and reason.", "source", "domain", "status", "reason")
	famReasonOutcomes = fam(counter, nil, "bouncewatch_reason_retry_outcomes_total", "Deferred recipients that reached an outcome, by the reason of their first deferral.", "source", "reason", "outcome")
	famReasonResolve  = fam(histo, ResolutionBuckets, "bouncewatch_reason_resolution_seconds", "Time from a recipient's first deferral to its outcome, in seconds of log time, by the reason of the first deferral.", "source", "reason", "outcome")
	famReasonInfo     = fam(gauge, nil, "bouncewatch_reason_info", "The reasons of the rules in use, with their descriptions.", "reason", "description")
)

// families lists every family by name, the order of the exposition.
var families = func() []*family {
	fs := []*family{
		famEvents, famDomainEvents, famByHour, famOutcomes, famResolution, famAttempts,
		famDeferred, famDomainDefer, famOldest, famCodeInfo, famLines, famBytes,
		famLastEvent, famRotations, famLostFiles, famLostBytes, famOverflow, famEntries,
		famReasonEvents, famDomainReason, famReasonOutcomes, famReasonResolve, famReasonInfo,
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	return fs
}()

var hourLabels = func() (h [24]string) {
	for i := range h {
		h[i] = strconv.Itoa(100 + i)[1:]
	}
	return
}()

// Set is the collector of every source's metrics, for a private registry.
type Set struct {
	labels *Labels

	mu      sync.Mutex // guards sources and text; held during Collect, so scrapes take turns
	sources []owned
	text    textWriter // WriteText's buffers, for the next one
}

type owned struct {
	src  *Source
	lock sync.Locker
	snap *snapshot // reused from scrape to scrape
}

// NewSet returns a collector over the label sets l.
func NewSet(l *Labels) *Set { return &Set{labels: l} }

// Labels returns the label sets.
func (s *Set) Labels() *Labels { return s.labels }

// Add registers a source's metrics; lock is what its owner holds while it
// changes them.
func (s *Set) Add(src *Source, lock sync.Locker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources = append(s.sources, owned{src: src, lock: lock, snap: &snapshot{}})
}

// Describe implements prometheus.Collector.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range families {
		ch <- f.desc
	}
}

// snapshot is a copy of one Source's series, taken under its owner's lock.
type snapshot struct {
	events       []kv[eventKey, uint64]
	domainEvents []kv[domainKey, uint64]
	byHour       []kv[hourKey, uint64]
	outcomes     []kv[outcomeKey, outcomeStats]
	pendingCode  []kv[uint16, int64]
	pendingDom   []kv[uint32, domainGauge]
	reasonEvents []kv[reasonKey, uint64]
	domainReason []kv[domainReasonKey, uint64]
	reasonOut    []kv[reasonOutcomeKey, histogram]
	counts       Counts
	overflow     [numOverflow]uint64
}

type kv[K comparable, V any] struct {
	k K
	v V
}

func copyMap[K comparable, V any](dst []kv[K, V], m map[K]V) []kv[K, V] {
	dst = dst[:0]
	for k, v := range m {
		dst = append(dst, kv[K, V]{k, v})
	}
	return dst
}

func copyMapPtr[K comparable, V any](dst []kv[K, V], m map[K]*V) []kv[K, V] {
	dst = dst[:0]
	for k, v := range m {
		dst = append(dst, kv[K, V]{k, *v})
	}
	return dst
}

// take copies src into the snapshot. The histogram buckets are copied too:
// the source goes on counting once the lock is released.
func (sn *snapshot) take(src *Source) {
	sn.events = sn.events[:0]
	src.events.each(func(k eventKey, v uint64) { sn.events = append(sn.events, kv[eventKey, uint64]{k, v}) })
	sn.domainEvents = sn.domainEvents[:0]
	src.domainEvents.each(func(d uint32, k statusCode, v uint64) {
		sn.domainEvents = append(sn.domainEvents, kv[domainKey, uint64]{domainKey{d, k.status, k.code}, v})
	})
	sn.byHour = sn.byHour[:0]
	src.byHour.each(func(k hourKey, v uint64) { sn.byHour = append(sn.byHour, kv[hourKey, uint64]{k, v}) })
	sn.outcomes = sn.outcomes[:0]
	for k, o := range src.outcomes {
		c := *o
		c.resolution.Buckets = append([]uint64(nil), o.resolution.Buckets...)
		c.attempts.Buckets = append([]uint64(nil), o.attempts.Buckets...)
		sn.outcomes = append(sn.outcomes, kv[outcomeKey, outcomeStats]{k, c})
	}
	sn.reasonEvents = sn.reasonEvents[:0]
	src.reasonEvents.each(func(k reasonKey, v uint64) { sn.reasonEvents = append(sn.reasonEvents, kv[reasonKey, uint64]{k, v}) })
	sn.domainReason = sn.domainReason[:0]
	src.domainReasonEvents.each(func(d uint32, k statusReason, v uint64) {
		sn.domainReason = append(sn.domainReason, kv[domainReasonKey, uint64]{domainReasonKey{d, k.status, k.reason}, v})
	})
	sn.reasonOut = sn.reasonOut[:0]
	for k, h := range src.reasonOutcomes {
		c := *h
		c.Buckets = append([]uint64(nil), h.Buckets...)
		sn.reasonOut = append(sn.reasonOut, kv[reasonOutcomeKey, histogram]{k, c})
	}
	sn.pendingCode = copyMap(sn.pendingCode, src.pendingCode)
	sn.pendingDom = copyMapPtr(sn.pendingDom, src.pendingDomain)
	sn.counts = src.Counts()
	sn.overflow = src.overflow
}

// view is every source's snapshot with the label names their indexes
// refer to: what one scrape or one report shows.
type view struct {
	sources    []owned
	domains    []string
	codes      []string
	codeValues []parser.Code
	reasons    [][2]string
	overflow   [numOverflow]uint64
	labels     []string // one series' label values, for emit
}

// lv returns vals in the view's scratch slice: what emit is given is valid
// until the next series.
func (v *view) lv(vals ...string) []string {
	v.labels = append(v.labels[:0], vals...)
	return v.labels
}

// take copies each source under its owner's lock, which is held only for
// the copy: reading the logs waits for a scrape no longer than it takes to
// copy the series. The caller holds s.mu (the snapshots are reused).
func (s *Set) take() *view {
	for _, o := range s.sources {
		o.lock.Lock()
		o.snap.take(o.src)
		o.lock.Unlock()
	}
	// After the copies: every index they hold has its name.
	v := &view{sources: s.sources, reasons: s.labels.reasons()}
	v.domains, v.codes, v.codeValues = s.labels.names()
	for _, o := range s.sources {
		for i, n := range o.snap.overflow {
			v.overflow[i] += n
		}
	}
	return v
}

// sample is one series' value: v, or for a histogram h.
type sample struct {
	v float64
	h *histogram
}

func num[T uint64 | int64](n T) sample { return sample{v: float64(n)} }

// rows calls emit with each series of f, its label values in f.labels'
// order.
func (v *view) rows(f *family, emit func(sample, []string)) {
	if f == famCodeInfo {
		for i, c := range v.codeValues {
			if i == 0 {
				continue
			}
			info := c.Describe()
			emit(sample{v: 1}, v.lv(v.codes[i], info.Class, info.Subject, info.Description))
		}
		return
	}
	if f == famOverflow {
		for i, n := range v.overflow {
			emit(num(n), v.lv(overflowNames[i]))
		}
		return
	}
	if f == famReasonInfo {
		for _, r := range v.reasons {
			emit(sample{v: 1}, v.lv(r[0], r[1]))
		}
		return
	}
	for _, o := range v.sources {
		v.sourceRows(f, o.src.name, o.snap, emit)
	}
}

// sourceRows is rows for the families with a source label.
func (v *view) sourceRows(f *family, src string, sn *snapshot, emit func(sample, []string)) {
	domains, codes := v.domains, v.codes
	switch f {
	case famEvents:
		for _, e := range sn.events {
			emit(num(e.v), v.lv(src, e.k.status.String(), codes[e.k.code]))
		}
	case famDomainEvents:
		for _, e := range sn.domainEvents {
			emit(num(e.v), v.lv(src, domains[e.k.domain], e.k.status.String(), codes[e.k.code]))
		}
	case famByHour:
		for _, e := range sn.byHour {
			emit(num(e.v), v.lv(src, e.k.status.String(), codes[e.k.code], hourLabels[e.k.hour]))
		}
	case famOutcomes:
		for i := range sn.outcomes {
			e := &sn.outcomes[i]
			emit(num(e.v.resolution.Count), v.lv(src, codes[e.k.code], e.k.outcome.String()))
		}
	case famResolution:
		for i := range sn.outcomes {
			e := &sn.outcomes[i]
			emit(sample{h: &e.v.resolution}, v.lv(src, codes[e.k.code], e.k.outcome.String()))
		}
	case famAttempts:
		for i := range sn.outcomes {
			e := &sn.outcomes[i]
			emit(sample{h: &e.v.attempts}, v.lv(src, codes[e.k.code], e.k.outcome.String()))
		}
	case famReasonEvents:
		for _, e := range sn.reasonEvents {
			emit(num(e.v), v.lv(src, e.k.status.String(), e.k.reason.String()))
		}
	case famDomainReason:
		for _, e := range sn.domainReason {
			emit(num(e.v), v.lv(src, domains[e.k.domain], e.k.status.String(), e.k.reason.String()))
		}
	case famReasonOutcomes:
		for _, e := range sn.reasonOut {
			emit(num(e.v.Count), v.lv(src, e.k.reason.String(), e.k.outcome.String()))
		}
	case famReasonResolve:
		for i := range sn.reasonOut {
			e := &sn.reasonOut[i]
			emit(sample{h: &e.v}, v.lv(src, e.k.reason.String(), e.k.outcome.String()))
		}
	case famDeferred:
		for _, e := range sn.pendingCode {
			emit(num(e.v), v.lv(src, codes[e.k]))
		}
	case famDomainDefer:
		for _, e := range sn.pendingDom {
			emit(num(e.v.n), v.lv(src, domains[e.k]))
		}
	case famOldest:
		for _, e := range sn.pendingDom {
			if e.v.n > 0 {
				emit(sample{v: float64(e.v.oldest) / 1e9}, v.lv(src, domains[e.k]))
			}
		}
	case famEntries:
		emit(num(sn.counts.Pending), v.lv(src))
	case famLines:
		for _, r := range parser.Results {
			emit(num(sn.counts.Lines[r]), v.lv(src, r.String()))
		}
	case famBytes:
		emit(num(sn.counts.Bytes), v.lv(src))
	case famLastEvent:
		if !sn.counts.LastEvent.IsZero() {
			emit(sample{v: float64(sn.counts.LastEvent.UnixNano()) / 1e9}, v.lv(src))
		}
	case famRotations:
		for kind, n := range sn.counts.Rotations {
			emit(num(n), v.lv(src, rotationNames[kind]))
		}
	case famLostFiles:
		emit(num(sn.counts.LostFiles), v.lv(src))
	case famLostBytes:
		emit(num(sn.counts.LostBytes), v.lv(src))
	}
}

// Collect implements prometheus.Collector.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.take()
	for _, f := range families {
		v.rows(f, func(sm sample, labels []string) { ch <- f.metric(sm, labels) })
	}
}

func (f *family) metric(sm sample, labels []string) prometheus.Metric {
	switch f.kind {
	case counter:
		return prometheus.MustNewConstMetric(f.desc, prometheus.CounterValue, sm.v, labels...)
	case gauge:
		return prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, sm.v, labels...)
	}
	buckets := make(map[float64]uint64, len(f.bounds))
	for i, b := range f.bounds {
		var n uint64
		if sm.h.Buckets != nil {
			n = sm.h.Buckets[i]
		}
		buckets[b] = n
	}
	return prometheus.MustNewConstHistogram(f.desc, sm.h.Count, sm.h.Sum, buckets, labels...)
}

var (
	_ prometheus.Collector = (*Set)(nil)
	_ tracker.Sink         = (*Source)(nil)
)
