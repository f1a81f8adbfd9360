// Package pipeline is one log source's way through bouncewatch: lines go to
// the parser, events to the tracker, and both to the source's metrics. A
// Source owns all of that state and the one lock over it, together with the
// position after the last line counted, so that a checkpoint, taken under
// the lock, is one instant: the counters, the pending recipients and the
// place in the logs they correspond to. The daemon and the report use the
// same Source.
//
// It is a package of its own because both `run` and `report` drive it, and
// neither should own the other's concerns (HTTP, checkpoint files, text
// output).
package pipeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/jsonw"
	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/state"
	"github.com/bouncewatch/bouncewatch/status"
	"github.com/bouncewatch/bouncewatch/tailer"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// Observer sees what the pipeline does, for the report: every line, every
// event and every outcome. Calls come under the source's lock.
type Observer interface {
	// Line sees every line, its result, the rule that matched (nil for
	// none) and, when Matched, its event. A too-long line is nil, TooLong.
	Line(line []byte, res parser.Result, rule *parser.Rule, ev *parser.Event)
	Event(ev *parser.Event, g tracker.Group)
	Resolved(r *tracker.Resolution)
}

// Options configure a Source.
type Options struct {
	Name   string
	Rules  *parser.RuleSet
	Labels *metrics.Labels
	Logger *slog.Logger
	// Now is the reference time for year-less time stamps of a followed
	// log; default time.Now. A report sets the reference per file instead.
	Now func() time.Time
	// Observer, when set, sees every line, event and outcome.
	Observer Observer
}

// Source is one log source's pipeline. Its methods are safe for concurrent
// use; the tailer calls Lines from one goroutine, scrapes and checkpoints
// come from others.
//
// Two locks, always taken in this order: mu guards everything, and is held
// by a checkpoint for as long as it writes the pending recipients out;
// metricsMu guards the counters, and is what a scrape takes to copy them.
// Counting a batch of lines holds both; a checkpoint lets go of metricsMu
// once it has the counters, so a scrape never waits for the recipients to
// be written.
type Source struct {
	mu        sync.Mutex
	metricsMu sync.Mutex
	name      string
	logger    *slog.Logger
	parser    *parser.Parser
	tracker   *tracker.Tracker
	metrics   *metrics.Source
	recorder  *status.Recorder
	obs       Observer
	now       func() time.Time
	pos       tailer.Position
	ev        parser.Event
	join      joiner
	seq       uint64 // lines seen, to order the split lines being joined
	// checkpoint is the last checkpoint's metadata block, whose memory the
	// next one reuses.
	checkpoint []byte

	maxLine  atomic.Int64
	lastLine atomic.Int64 // wall time of the last line, unix nanoseconds
}

// New returns the pipeline of one source, empty.
func New(opts Options) *Source {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rs := opts.Rules
	s := &Source{
		name: opts.Name, logger: opts.Logger.With("source", opts.Name), obs: opts.Observer, now: opts.Now,
		parser:   parser.NewParser(rs, opts.Name),
		tracker:  tracker.New(rs.Limits.TrackerTTL, rs.Limits.TrackerMaxEntries),
		metrics:  metrics.NewSource(opts.Name, opts.Labels, rs),
		recorder: status.NewRecorder(),
	}
	s.maxLine.Store(int64(rs.Limits.MaxLineBytes))
	s.join.max = rs.Limits.MaxLineBytes
	return s
}

// Name returns the source's name (its source label).
func (s *Source) Name() string { return s.name }

// Register adds the source's metrics to a collector, which reads them under
// the source's lock.
func (s *Source) Register(set *metrics.Set) { set.Add(s.metrics, &s.metricsMu) }

// lock takes both locks.
func (s *Source) lock() {
	s.mu.Lock()
	s.metricsMu.Lock()
}

func (s *Source) unlock() {
	s.metricsMu.Unlock()
	s.mu.Unlock()
}

// SetRules applies a (re)loaded rule set: the parser, the tracker's limits,
// the time zone of the hour label and the line limit, which the tailer asks
// for before every read.
func (s *Source) SetRules(rs *parser.RuleSet) {
	s.lock()
	defer s.unlock()
	s.parser.SetRules(rs)
	s.tracker.SetLimits(rs.Limits.TrackerTTL, rs.Limits.TrackerMaxEntries)
	s.metrics.SetRules(rs)
	s.maxLine.Store(int64(rs.Limits.MaxLineBytes))
	s.join.max = rs.Limits.MaxLineBytes
}

// MaxLineBytes implements tailer.Handler.
func (s *Source) MaxLineBytes() int { return int(s.maxLine.Load()) }

// Lines implements tailer.Handler: it counts a batch of lines and moves the
// position past them, at once for a scrape or a checkpoint.
func (s *Source) Lines(lines []tailer.Line, pos *tailer.Position) {
	s.lock()
	defer s.unlock()
	if len(lines) > 0 {
		s.parser.SetReference(s.now())
		for i := range lines {
			s.line(lines[i].Data, lines[i].N, lines[i].TooLong)
		}
		s.lastLine.Store(time.Now().UnixNano())
	}
	pos.CopyTo(&s.pos)
}

// Feed counts one line of a finished file (the report), with the reference
// time for year-less time stamps set by SetReference.
func (s *Source) Feed(line []byte, n int, tooLong bool) {
	s.lock()
	defer s.unlock()
	s.line(line, n, tooLong)
}

// FeedLines counts lines of a finished file (the report) under one lock.
func (s *Source) FeedLines(lines []tailer.Line) {
	s.lock()
	defer s.unlock()
	for i := range lines {
		s.line(lines[i].Data, lines[i].N, lines[i].TooLong)
	}
}

// SetReference sets the time year-less time stamps are read relative to: the
// modification time of a finished file.
func (s *Source) SetReference(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parser.SetReference(t)
}

// line runs one line through the pipeline; the lock is held.
func (s *Source) line(line []byte, n int, tooLong bool) {
	if !tooLong {
		j, whole, orphans := s.join.add(line, s.seq)
		s.seq++
		for range orphans {
			s.metrics.Line(0, parser.Incomplete, time.Time{})
		}
		switch j {
		case part:
			s.metrics.Part(n)
			return
		case joined:
			line = whole
		case joinedLong:
			tooLong = true
		}
	}
	res := parser.TooLong
	var rule *parser.Rule
	if !tooLong {
		res, rule = s.parser.Parse(line, &s.ev)
	}
	var t time.Time
	if res == parser.Matched {
		t = s.ev.Time
		s.tracker.Observe(&s.ev, sink{s})
	}
	s.metrics.Line(n, res, t)
	if s.obs != nil {
		if tooLong {
			line = nil
		}
		var ev *parser.Event
		if res == parser.Matched {
			ev = &s.ev
		}
		s.obs.Line(line, res, rule, ev)
	}
}

// Rotated implements tailer.Handler.
func (s *Source) Rotated(kind string) {
	s.logger.Info("log rotated", "kind", kind)
	s.lock()
	defer s.unlock()
	if kind == "truncate" {
		s.metrics.Rotation(metrics.RotationTruncate)
	} else {
		s.metrics.Rotation(metrics.RotationRename)
	}
}

// Lost implements tailer.Handler.
func (s *Source) Lost(path string, bytes int64) {
	s.lock()
	defer s.unlock()
	s.metrics.Lost(bytes)
}

// LastLine returns the wall time the last line was read (zero before one).
func (s *Source) LastLine() time.Time {
	if ns := s.lastLine.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Position returns a copy of the position after the last line counted.
func (s *Source) Position() tailer.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p tailer.Position
	s.pos.CopyTo(&p)
	return p
}

// Counts returns the source's line and file counters.
func (s *Source) Counts() metrics.Counts {
	s.lock()
	defer s.unlock()
	return s.metrics.Counts()
}

// EachPending calls yield for every recipient still pending, oldest message
// first, under the lock.
func (s *Source) EachPending(yield func(g tracker.Group, firstCode parser.Code, first time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tracker.Each(yield)
}

// sink hands what the tracker reports to the metrics, the status recorder
// and the observer, if there is one.
type sink struct{ s *Source }

func (k sink) Group(domain []byte) tracker.Group { return k.s.metrics.Group(domain) }

func (k sink) Event(ev *parser.Event, g tracker.Group) {
	k.s.metrics.Event(ev, g)
	k.s.recorder.Event(ev, g)
	if k.s.obs != nil {
		k.s.obs.Event(ev, g)
	}
}

func (k sink) Resolved(r *tracker.Resolution) {
	k.s.metrics.Resolved(r)
	k.s.recorder.Resolved(r)
	if k.s.obs != nil {
		k.s.obs.Resolved(r)
	}
}

func (k sink) Pending(c parser.Code, g tracker.Group, delta int, oldest time.Time) {
	k.s.metrics.Pending(c, g, delta, oldest)
	k.s.recorder.Pending(c, g, delta)
}

// StatusData returns what the status page shows of the source, counting
// "lately" back from ref.
func (s *Source) StatusData(ref time.Time) status.SourceData {
	s.metricsMu.Lock()
	defer s.metricsMu.Unlock()
	v := s.metrics.View()
	notes := map[tracker.Group]status.DomainNow{}
	for _, d := range s.recorder.Domains(ref) {
		notes[d.Group] = d
	}
	sd := status.SourceData{Name: s.name, Outcomes: s.recorder.Outcomes(), Hours: v.Hours, Delivered: v.Delivered,
		Buckets: metrics.ResolutionBuckets, Names: s.metrics.Labels().DomainName, Reasons: map[parser.Reason]string{}}
	for _, r := range s.parser.Rules().Reasons {
		sd.Reasons[r.Reason] = r.Description
	}
	for _, p := range v.Pending {
		d := status.DomainData{DomainNow: notes[p.Group], Pending: p.N, Oldest: p.Oldest}
		d.Group = p.Group
		delete(notes, p.Group)
		sd.Domains = append(sd.Domains, d)
	}
	for _, n := range notes { // deferred lately, nothing pending (never pending: a first code only)
		sd.Domains = append(sd.Domains, status.DomainData{DomainNow: n})
	}
	return sd
}

// Newest returns the log time of the newest event.
func (s *Source) Newest() time.Time {
	s.metricsMu.Lock()
	defer s.metricsMu.Unlock()
	return s.recorder.Newest()
}

// checkpointMeta is the part of a source's checkpoint that is not the
// tracker: small, written as JSON.
type checkpointMeta struct {
	Name     string              `json:"name"`
	Target   string              `json:"target"` // the path or unit configured: a change means a fresh start
	Position tailer.Position     `json:"position"`
	Metrics  metrics.SourceState `json:"metrics"`
	Splits   map[string]*split   `json:"splits,omitempty"` // lines Exim split for syslog, not yet whole
	Seq      uint64              `json:"seq,omitempty"`
}

// appendJSON appends m as json.Marshal would write it. The counters, which
// are most of it, are written without reflection (metrics.SourceState's
// AppendJSON); the rest is small.
func (m *checkpointMeta) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"name":`...)
	b = jsonw.String(b, m.Name)
	b = append(b, `,"target":`...)
	b = jsonw.String(b, m.Target)
	pos, err := json.Marshal(m.Position)
	if err != nil {
		return b, err
	}
	b = append(b, `,"position":`...)
	b = append(b, pos...)
	b = append(b, `,"metrics":`...)
	if b, err = m.Metrics.AppendJSON(b); err != nil {
		return b, err
	}
	if len(m.Splits) > 0 {
		splits, err := json.Marshal(m.Splits)
		if err != nil {
			return b, err
		}
		b = append(b, `,"splits":`...)
		b = append(b, splits...)
	}
	if m.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, m.Seq, 10)
	}
	return append(b, '}'), nil
}

// WriteCheckpoint writes the source's state to w: the position, the counters
// and the pending recipients, all under the lock, so that they are of one
// instant. target is what the source follows (its path or unit).
func (s *Source) WriteCheckpoint(w *bufio.Writer, target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metricsMu.Lock()
	meta := checkpointMeta{Name: s.name, Target: target, Position: s.pos, Metrics: s.metrics.State(), Splits: s.join.parts, Seq: s.seq}
	s.metricsMu.Unlock()
	b, err := meta.appendJSON(s.checkpoint[:0])
	if err != nil {
		return err
	}
	s.checkpoint = b
	if err := state.WriteBlock(w, b); err != nil {
		return err
	}
	return s.tracker.Encode(w, func(g tracker.Group) string { return s.metrics.Labels().DomainName(g) })
}

// Restored is a source's state read from a checkpoint, not yet installed.
type Restored struct {
	Name     string
	Target   string
	Position tailer.Position
	metrics  *metrics.Source
	tracker  *tracker.Tracker
	splits   map[string]*split
	seq      uint64
}

// ReadCheckpoint reads what WriteCheckpoint wrote into new objects; Install
// puts them in place. rs and labels are the current rules and label sets.
func ReadCheckpoint(r *bufio.Reader, rs *parser.RuleSet, labels *metrics.Labels) (*Restored, error) {
	b, err := state.ReadBlock(r)
	if err != nil {
		return nil, err
	}
	var meta checkpointMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("source checkpoint: %w", err)
	}
	m := metrics.NewSource(meta.Name, labels, rs)
	if err := m.Restore(meta.Metrics); err != nil {
		return nil, err
	}
	t := tracker.New(rs.Limits.TrackerTTL, rs.Limits.TrackerMaxEntries)
	if err := t.Decode(r, m.RestoreGroup, m); err != nil {
		return nil, fmt.Errorf("source %q: %w", meta.Name, err)
	}
	return &Restored{Name: meta.Name, Target: meta.Target, Position: meta.Position, metrics: m, tracker: t, splits: meta.Splits, seq: meta.Seq}, nil
}

// Install replaces the source's counters and pending recipients with a
// restored state. The position is the caller's to hand to the tailer.
// It must be called before the source is registered or fed.
func (s *Source) Install(r *Restored) {
	s.lock()
	defer s.unlock()
	s.metrics, s.tracker = r.metrics, r.tracker
	s.join.parts, s.seq = r.splits, r.seq
	// The status recorder is not checkpointed; it learns the pending
	// recipients again, oldest message first.
	s.recorder = status.NewRecorder()
	s.tracker.Each(func(g tracker.Group, c parser.Code, _ time.Time) { s.recorder.Pending(c, g, 1) })
	r.Position.CopyTo(&s.pos)
}
