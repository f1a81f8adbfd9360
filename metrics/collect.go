package metrics

import (
	"strconv"
	"time"

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
	descOverflow     = desc("bouncewatch_label_overflow_total", "Label values folded into \"other\" because their label set was full.", "label")
	descEntries      = desc("bouncewatch_tracker_entries", "Deferred recipients held by the retry tracker.", "source")
	descReload       = desc("bouncewatch_config_last_reload_successful", "Whether the last rules reload succeeded (1) or kept the old rules (0).")
	descCheckpoint   = desc("bouncewatch_checkpoint_last_success_timestamp_seconds", "Wall time of the last state file written successfully.")
	descCheckpointKO = desc("bouncewatch_checkpoint_failures_total", "State files that could not be written (since the process started).")
	descDiscarded    = desc("bouncewatch_state_file_discarded_total", "State files found corrupt, empty, unreadable or from a newer version on start, moved aside (since the process started).")
)

var allDescs = []*prometheus.Desc{
	descEvents, descDomainEvents, descByHour, descOutcomes, descResolution, descAttempts,
	descDeferred, descDomainDefer, descOldest, descCodeInfo, descLines, descBytes,
	descLastEvent, descRotations, descOverflow, descEntries, descReload, descCheckpoint,
	descCheckpointKO, descDiscarded,
}

// Describe implements prometheus.Collector.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

var hourLabels = func() (h [24]string) {
	for i := range h {
		h[i] = strconv.Itoa(100 + i)[1:]
	}
	return
}()

// Collect implements prometheus.Collector.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for k, v := range s.events {
		counter(descEvents, v, s.sourceNames[k.src], k.status.String(), s.codeNames[k.code])
	}
	for k, v := range s.domainEvents {
		counter(descDomainEvents, v, s.sourceNames[k.src], s.domainNames[k.domain], k.status.String(), s.codeNames[k.code])
	}
	for k, v := range s.byHour {
		counter(descByHour, v, s.sourceNames[k.src], k.status.String(), s.codeNames[k.code], hourLabels[k.hour])
	}
	for k, o := range s.outcomes {
		l := []string{s.sourceNames[k.src], s.codeNames[k.code], k.outcome.String()}
		counter(descOutcomes, o.resolution.Count, l...)
		ch <- constHistogram(descResolution, &o.resolution, ResolutionBuckets, l)
		ch <- constHistogram(descAttempts, &o.attempts, AttemptsBuckets, l)
	}
	s.collectPending(gauge)
	for i, c := range s.codeValues {
		if i == 0 {
			continue
		}
		info, _ := parser.Describe(c.String())
		gauge(descCodeInfo, 1, s.codeNames[i], info.Class, info.Subject, info.Description)
	}
	for src, l := range s.lines {
		for _, r := range parser.Results {
			counter(descLines, l[r], s.sourceNames[src], r.String())
		}
		counter(descBytes, s.bytes[src], s.sourceNames[src])
		rot := s.rotations[src]
		for _, kind := range []string{"rename", "truncate"} {
			counter(descRotations, rot[kind], s.sourceNames[src], kind)
		}
	}
	for src, t := range s.lastEvent {
		gauge(descLastEvent, float64(t.UnixNano())/1e9, s.sourceNames[src])
	}
	for label, v := range s.overflow {
		counter(descOverflow, v, label)
	}
	reload := 0.0
	if s.reloadOK {
		reload = 1
	}
	gauge(descReload, reload)
	if !s.checkpointTime.IsZero() {
		gauge(descCheckpoint, float64(s.checkpointTime.UnixNano())/1e9)
	}
	if s.daemon {
		counter(descCheckpointKO, s.checkpointFailures)
		counter(descDiscarded, s.stateDiscarded)
	}
}

const (
	kindCode uint8 = iota
	kindDomain
)

// collectPending computes the deferred-recipient gauges from the trackers.
// Series that were non-zero once are kept at 0 afterwards, so that alerts see
// a recovery rather than a vanished series.
func (s *Set) collectPending(gauge func(*prometheus.Desc, float64, ...string)) {
	counts := map[gaugeKey]int{}
	oldest := map[gaugeKey]time.Time{}
	for _, p := range s.pending {
		src := s.sourceIndex(p.Source())
		gauge(descEntries, float64(p.Len()), s.sourceNames[src])
		p.Pending(func(domain string, code parser.Code, first time.Time) {
			// Lookups only: a value folded into "other" was counted as an
			// overflow when its event came, not again at every scrape.
			counts[gaugeKey{src: src, code: s.codes[code], kind: kindCode}]++
			dk := gaugeKey{src: src, domain: s.domains[domain], kind: kindDomain}
			counts[dk]++
			if o, ok := oldest[dk]; !ok || first.Before(o) {
				oldest[dk] = first
			}
		})
	}
	for k := range counts {
		s.seenGauges[k] = true
	}
	for k := range s.seenGauges {
		v := float64(counts[k])
		if k.kind == kindCode {
			gauge(descDeferred, v, s.sourceNames[k.src], s.codeNames[k.code])
			continue
		}
		gauge(descDomainDefer, v, s.sourceNames[k.src], s.domainNames[k.domain])
		if t, ok := oldest[k]; ok {
			gauge(descOldest, float64(t.UnixNano())/1e9, s.sourceNames[k.src], s.domainNames[k.domain])
		}
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

// compile-time checks
var (
	_ prometheus.Collector = (*Set)(nil)
	_ tracker.Sink         = (*Set)(nil)
)
