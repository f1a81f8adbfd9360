package daemon

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The daemon's own metric families: the rules reload, the checkpoint and
// the state file. They are not in a report, and not checkpointed (they
// describe this process).
var (
	descReload       = prometheus.NewDesc("bouncewatch_config_last_reload_successful", "Whether the last rules reload succeeded (1) or kept the old rules (0).", nil, nil)
	descCheckpoint   = prometheus.NewDesc("bouncewatch_checkpoint_last_success_timestamp_seconds", "Wall time of the last state file written successfully.", nil, nil)
	descCheckpointKO = prometheus.NewDesc("bouncewatch_checkpoint_failures_total", "State files that could not be written (since the process started).", nil, nil)
	descDiscarded    = prometheus.NewDesc("bouncewatch_state_file_discarded_total", "State files found corrupt, empty, unreadable or from another version on start, moved aside (since the process started).", nil, nil)
)

type ownMetrics struct {
	mu             sync.Mutex
	reloadOK       bool
	checkpoint     time.Time
	checkpointFail uint64
	discarded      uint64
}

func newOwnMetrics() *ownMetrics { return &ownMetrics{reloadOK: true} }

func (o *ownMetrics) setReload(ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reloadOK = ok
}

func (o *ownMetrics) checkpointed(t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checkpoint = t
}

func (o *ownMetrics) checkpointFailed() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checkpointFail++
}

func (o *ownMetrics) stateDiscarded() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.discarded++
}

// lastCheckpoint returns the time of the last good checkpoint (zero before
// one) and the failures so far.
func (o *ownMetrics) lastCheckpoint() (time.Time, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.checkpoint, o.checkpointFail
}

// Describe implements prometheus.Collector.
func (o *ownMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- descReload
	ch <- descCheckpoint
	ch <- descCheckpointKO
	ch <- descDiscarded
}

// Collect implements prometheus.Collector.
func (o *ownMetrics) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	defer o.mu.Unlock()
	reload := 0.0
	if o.reloadOK {
		reload = 1
	}
	ch <- prometheus.MustNewConstMetric(descReload, prometheus.GaugeValue, reload)
	if !o.checkpoint.IsZero() {
		ch <- prometheus.MustNewConstMetric(descCheckpoint, prometheus.GaugeValue, float64(o.checkpoint.UnixNano())/1e9)
	}
	ch <- prometheus.MustNewConstMetric(descCheckpointKO, prometheus.CounterValue, float64(o.checkpointFail))
	ch <- prometheus.MustNewConstMetric(descDiscarded, prometheus.CounterValue, float64(o.discarded))
}
