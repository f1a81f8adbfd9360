package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metric families. Their names, labels and buckets are public API.
var (
	descEvents       = desc("bouncewatch_events_total", "Delivery status events read from the logs, by status and enhanced status code.", "source", "status", "code")
	descDomainEvents = desc("bouncewatch_domain_events_total", "Delivery status events per recipient domain; domains past the cap are counted as \"other\".", "source", "domain", "status", "code")
	descByHour       = desc("bouncewatch_events_by_hour_total", "Delivery status events by hour of day of the log time, in the configured time zone.", "source", "status", "code", "hour")
	descOutcomes     = desc("bouncewatch_retry_outcomes_total", "Deferred recipients that reached an outcome, by the first temporary code.", "source", "code", "outcome")
	descResolution   = desc("bouncewatch_resolution_seconds", "Time from a recipient's first deferral to its outcome, in seconds of log time.", "source", "code", "outcome")
	descAttempts     = desc("bouncewatch_retry_attempts", "Deferrals of a recipient before its outcome.", "source", "code", "outcome")
	descDeferred     = desc("bouncewatch_deferred_recipients", "Recipients waiting for a retry now, by the first temporary code.", "source", "code")
	descDomainDefer  = desc("bouncewatch_domain_deferred_recipients", "Recipients waiting for a retry now, per recipient domain.", "source", "domain")
	descOldest       = desc("bouncewatch_domain_oldest_deferral_timestamp_seconds", "Log time of the oldest deferral still pending, per recipient domain.", "source", "domain")
	descCodeInfo     = desc("bouncewatch_status_code_info", "Registry text of the enhanced status codes seen (RFC 3463, RFC 5248 and later).", "code", "class", "subject", "description")
	descLines        = desc("bouncewatch_log_lines_total", "Log lines read, by what became of them.", "source", "result")
	descBytes        = desc("bouncewatch_log_bytes_total", "Bytes of log read.", "source")
	descLastEvent    = desc("bouncewatch_log_last_event_timestamp_seconds", "Log time of the newest delivery line read.", "source")
	descRotations    = desc("bouncewatch_log_rotations_total", "Log rotations noticed, by kind (rename or truncate).", "source", "kind")
	descLostFiles    = desc("bouncewatch_log_lost_files_total", "Log files that disappeared (deleted, or rotated out of reach) before they were read to their end.", "source")
	descLostBytes    = desc("bouncewatch_log_lost_bytes_total", "Bytes known to be unread in the lost log files (at least; what was written after the last look is unknown).", "source")
	descOverflow     = desc("bouncewatch_label_overflow_total", "Label values folded into \"other\" because their label set was full.", "label")
	descEntries      = desc("bouncewatch_tracker_entries", "Deferred recipients held by the retry tracker.", "source")

	descReasonEvents   = desc("bouncewatch_reason_events_total", "Delivery status events by the reason of the reply (rules.yaml's reasons; \"delivered\" for a 2xx result, \"undefined\" when none matched).", "source", "status", "reason")
	descDomainReason   = desc("bouncewatch_domain_reason_events_total", "Deferred, bounced and expired events per recipient domain and reason.", "source", "domain", "status", "reason")
	descReasonOutcomes = desc("bouncewatch_reason_retry_outcomes_total", "Deferred recipients that reached an outcome, by the reason of their first deferral.", "source", "reason", "outcome")
	descReasonResolve  = desc("bouncewatch_reason_resolution_seconds", "Time from a recipient's first deferral to its outcome, in seconds of log time, by the reason of the first deferral.", "source", "reason", "outcome")
	descReasonInfo     = desc("bouncewatch_reason_info", "The reasons of the rules in use, with their descriptions.", "reason", "description")
)

var allDescs = []*prometheus.Desc{
	descEvents, descDomainEvents, descByHour, descOutcomes, descResolution, descAttempts,
	descDeferred, descDomainDefer, descOldest, descCodeInfo, descLines, descBytes,
	descLastEvent, descRotations, descLostFiles, descLostBytes, descOverflow, descEntries,
	descReasonEvents, descDomainReason, descReasonOutcomes, descReasonResolve, descReasonInfo,
}

var hourLabels = func() (h [24]string) {
	for i := range h {
		h[i] = strconv.Itoa(100 + i)[1:]
	}
	return
}()

// Set is the collector of every source's metrics, for a private registry.
type Set struct {
	labels *Labels

	mu      sync.Mutex // guards sources; held during Collect, so scrapes take turns
	sources []owned
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
	for _, d := range allDescs {
		ch <- d
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

// Collect implements prometheus.Collector. Each source is copied under its
// owner's lock, which is held only for the copy: reading the logs waits for
// a scrape no longer than it takes to copy the series.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.sources {
		o.lock.Lock()
		o.snap.take(o.src)
		o.lock.Unlock()
	}
	// After the copies: every index they hold has its name.
	domains, codes, codeValues := s.labels.names()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var overflow [numOverflow]uint64
	for _, o := range s.sources {
		src, sn := o.src.name, o.snap
		for _, e := range sn.events {
			counter(descEvents, e.v, src, e.k.status.String(), codes[e.k.code])
		}
		for _, e := range sn.domainEvents {
			counter(descDomainEvents, e.v, src, domains[e.k.domain], e.k.status.String(), codes[e.k.code])
		}
		for _, e := range sn.byHour {
			counter(descByHour, e.v, src, e.k.status.String(), codes[e.k.code], hourLabels[e.k.hour])
		}
		for _, e := range sn.outcomes {
			l := []string{src, codes[e.k.code], e.k.outcome.String()}
			counter(descOutcomes, e.v.resolution.Count, l...)
			ch <- constHistogram(descResolution, &e.v.resolution, ResolutionBuckets, l)
			ch <- constHistogram(descAttempts, &e.v.attempts, AttemptsBuckets, l)
		}
		for _, e := range sn.reasonEvents {
			counter(descReasonEvents, e.v, src, e.k.status.String(), e.k.reason.String())
		}
		for _, e := range sn.domainReason {
			counter(descDomainReason, e.v, src, domains[e.k.domain], e.k.status.String(), e.k.reason.String())
		}
		for _, e := range sn.reasonOut {
			l := []string{src, e.k.reason.String(), e.k.outcome.String()}
			counter(descReasonOutcomes, e.v.Count, l...)
			ch <- constHistogram(descReasonResolve, &e.v, ResolutionBuckets, l)
		}
		for _, e := range sn.pendingCode {
			gauge(descDeferred, float64(e.v), src, codes[e.k])
		}
		for _, e := range sn.pendingDom {
			gauge(descDomainDefer, float64(e.v.n), src, domains[e.k])
			if e.v.n > 0 {
				gauge(descOldest, float64(e.v.oldest)/1e9, src, domains[e.k])
			}
		}
		gauge(descEntries, float64(sn.counts.Pending), src)
		for _, r := range parser.Results {
			counter(descLines, sn.counts.Lines[r], src, r.String())
		}
		counter(descBytes, sn.counts.Bytes, src)
		if !sn.counts.LastEvent.IsZero() {
			gauge(descLastEvent, float64(sn.counts.LastEvent.UnixNano())/1e9, src)
		}
		for kind, v := range sn.counts.Rotations {
			counter(descRotations, v, src, rotationNames[kind])
		}
		counter(descLostFiles, sn.counts.LostFiles, src)
		counter(descLostBytes, sn.counts.LostBytes, src)
		for i, v := range sn.overflow {
			overflow[i] += v
		}
	}
	for i, c := range codeValues {
		if i == 0 {
			continue
		}
		info := c.Describe()
		gauge(descCodeInfo, 1, codes[i], info.Class, info.Subject, info.Description)
	}
	for i, v := range overflow {
		counter(descOverflow, v, overflowNames[i])
	}
	for _, r := range s.labels.reasons() {
		gauge(descReasonInfo, 1, r[0], r[1])
	}
}

func constHistogram(d *prometheus.Desc, h *histogram, bounds []float64, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	for i, b := range bounds {
		var v uint64
		if h.Buckets != nil {
			v = h.Buckets[i]
		}
		buckets[b] = v
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets, labels...)
}

var (
	_ prometheus.Collector = (*Set)(nil)
	_ tracker.Sink         = (*Source)(nil)
)
