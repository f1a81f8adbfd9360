package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/pipeline"
	"github.com/bouncewatch/bouncewatch/state"
)

// stateHeader opens the state file: the label sets, then one section per
// source, in this order.
type stateHeader struct {
	Written time.Time          `json:"written"`
	Labels  metrics.LabelState `json:"labels"`
	Sources []string           `json:"sources"`
}

// writeState writes the checkpoint as a stream: the label sets first, then
// each source under its own lock (its position, counters and pending
// recipients are of one instant). A label added after the label sets were
// written is restored from the series that name it.
func (d *Daemon) writeState() error {
	if err := d.stateDir(); err != nil {
		return err
	}
	d.stateMu.Lock()
	defer d.stateMu.Unlock()
	w, err := state.CreateReusing(d.cfg.StateFile, d.lastState)
	if err != nil {
		return err
	}
	d.lastState = w
	h := stateHeader{Written: time.Now(), Labels: d.labels.State()}
	for _, s := range d.sources {
		h.Sources = append(h.Sources, s.Name)
	}
	b, err := json.Marshal(h)
	if err == nil {
		err = state.WriteBlock(w.Buffer(), b)
	}
	for _, s := range d.sources {
		if err != nil {
			break
		}
		err = s.pipe.WriteCheckpoint(w.Buffer(), s.Target)
	}
	if err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// restore reads the state file into new label sets and per-source states.
// A file that cannot be used is moved aside, logged and counted, and the
// daemon starts fresh rather than crash-looping.
func (d *Daemon) restore(rs *parser.RuleSet) (*metrics.Labels, map[string]*pipeline.Restored) {
	path := d.cfg.StateFile
	r, err := state.Open(path)
	if errors.Is(err, state.ErrNoState) {
		d.logger.Info("no state file: first start", "state_file", path)
		return metrics.NewLabels(rs), nil
	}
	var (
		labels   *metrics.Labels
		restored map[string]*pipeline.Restored
		written  time.Time
	)
	if err == nil {
		labels, restored, written, err = readState(r, rs)
		r.Close()
	}
	if err != nil {
		d.logger.Error("state file unusable; starting fresh", "err", err)
		d.own.stateDiscarded()
		if aside, err := state.MoveAside(path); err == nil {
			d.logger.Warn("moved the state file aside", "to", aside)
		} else if !errors.Is(err, os.ErrNotExist) {
			d.logger.Error("cannot move the state file aside", "err", err)
		}
		return metrics.NewLabels(rs), nil
	}
	d.logger.Info("state restored", "state_file", path, "written", written)
	return labels, restored
}

func readState(r *state.Reader, rs *parser.RuleSet) (*metrics.Labels, map[string]*pipeline.Restored, time.Time, error) {
	b, err := state.ReadBlock(r.Buffer())
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("%s: %w", "state file header", err)
	}
	var h stateHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("state file header: %w", err)
	}
	labels := metrics.NewLabels(rs)
	if err := labels.Restore(h.Labels); err != nil {
		return nil, nil, time.Time{}, err
	}
	out := map[string]*pipeline.Restored{}
	for range h.Sources {
		src, err := pipeline.ReadCheckpoint(r.Buffer(), rs, labels)
		if err != nil {
			return nil, nil, time.Time{}, err
		}
		out[src.Name] = src
	}
	return labels, out, h.Written, nil
}
