// Package daemon is `bouncewatch run`: it follows the configured sources,
// each through its pipeline (tailer -> parser -> tracker -> metrics), writes
// the checkpoint, reloads the rules, and serves /metrics, /-/healthy,
// /-/ready, /-/reload and the landing page.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/pipeline"
	"github.com/bouncewatch/bouncewatch/state"
	"github.com/bouncewatch/bouncewatch/tailer"
)

// Kind is the kind of a source.
type Kind string

// The kinds of sources.
const (
	File    Kind = "file"
	Journal Kind = "journal"
	Stdin   Kind = "stdin"
)

// SourceConfig is one configured source.
type SourceConfig struct {
	Name   string // the source label
	Kind   Kind
	Target string // the path, or the unit
}

// Config is what the run command's flags say.
type Config struct {
	RulesFile       string // "" means the rules built into the binary
	Sources         []SourceConfig
	Journalctl      string // the journalctl command
	FromBeginning   bool   // on a first start, read files from their start
	StateFile       string
	StateInterval   time.Duration
	Poll            time.Duration
	RotateWait      time.Duration
	Inotify         bool
	TelemetryPath   string
	EnableLifecycle bool // POST /-/reload
	Web             *web.FlagConfig
	Stdin           io.Reader
	Logger          *slog.Logger
}

// staleAfter is how long a source may give no line before a warning is
// logged (the shipped BouncewatchLogStale alert waits as long).
const staleAfter = time.Hour

// Daemon is a configured bouncewatch run.
type Daemon struct {
	cfg     Config
	logger  *slog.Logger
	labels  *metrics.Labels
	set     *metrics.Set
	own     *ownMetrics
	reg     *prometheus.Registry // the families beside the set's: the daemon's own, Go's, the process's
	sources []*source
	start   time.Time

	reloadMu sync.Mutex
	rules    atomic.Pointer[parser.RuleSet]
	reloaded atomic.Pointer[reloadResult]

	scrape scrapeScratch
	// stateMu serialises checkpoints; lastState is the last one's writer,
	// whose buffer the next one takes.
	stateMu   sync.Mutex
	lastState *state.Writer
}

// source is one configured source: its pipeline and what feeds it.
type source struct {
	SourceConfig
	pipe     *pipeline.Source
	tail     tailer.Source
	lastWarn time.Time // of the no-lines warning
}

// New loads the rules, restores the state file and prepares every source.
// It follows nothing until Run.
func New(cfg Config) (*Daemon, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Sources) == 0 {
		return nil, errors.New("no log source: give --source.file=NAME=PATH (e.g. --source.file=postfix=/var/log/mail.log) or --source.journal=NAME=UNIT")
	}
	if cfg.StateInterval <= 0 {
		return nil, errors.New("--state.interval must be positive")
	}
	if cfg.TelemetryPath == "" {
		cfg.TelemetryPath = "/metrics"
	}
	for _, sc := range cfg.Sources {
		if sc.Kind == Journal {
			if err := tailer.CheckJournal(cfg.Journalctl); err != nil {
				return nil, err
			}
			break
		}
	}
	rs, err := bouncewatch.LoadRules(cfg.RulesFile)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, logger: cfg.Logger, own: newOwnMetrics(), start: time.Now()}
	d.rules.Store(rs)
	d.reloaded.Store(&reloadResult{OK: true, File: rs.File})
	labels, restored := d.restore(rs)
	d.labels, d.set = labels, metrics.NewSet(labels)
	for _, sc := range cfg.Sources {
		s := &source{SourceConfig: sc}
		s.pipe = pipeline.New(pipeline.Options{Name: sc.Name, Rules: rs, Labels: labels, Logger: d.logger})
		var resume *tailer.Position
		if r := restored[sc.Name]; r != nil {
			s.pipe.Install(r)
			if r.Target == sc.Target {
				resume = &r.Position
			} else {
				d.logger.Warn("the source's path or unit changed since the state was written: its counters go on, the new one is read afresh", "source", sc.Name, "was", r.Target, "now", sc.Target)
			}
		}
		s.tail = d.newTail(sc, rs, resume)
		s.pipe.Register(d.set)
		d.sources = append(d.sources, s)
	}
	d.reg = prometheus.NewRegistry()
	d.reg.MustRegister(d.own, versioncollector.NewCollector("bouncewatch"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return d, nil
}

func (d *Daemon) newTail(sc SourceConfig, rs *parser.RuleSet, resume *tailer.Position) tailer.Source {
	log := d.logger.With("source", sc.Name)
	switch sc.Kind {
	case Journal:
		jo := tailer.JournalOptions{Unit: sc.Target, FromBeginning: d.cfg.FromBeginning, Command: d.cfg.Journalctl, Logger: log}
		if resume != nil {
			jo.Cursor = resume.Cursor
		}
		return tailer.NewJournal(jo)
	case Stdin:
		return tailer.NewStdin(d.cfg.Stdin)
	}
	return tailer.NewFile(tailer.FileOptions{
		Path: sc.Target, Poll: d.cfg.Poll, RotateWait: d.cfg.RotateWait, FromBeginning: d.cfg.FromBeginning,
		Inotify: d.cfg.Inotify, Resume: resume, Logger: log, FirstTime: firstTime(rs.Location),
	})
}

// firstTime reads the log time of a file's first line, to order rotated
// files found unread.
func firstTime(loc *time.Location) func([]byte, time.Time) (time.Time, bool) {
	return func(line []byte, mtime time.Time) (time.Time, bool) {
		tp := parser.NewTimeParser(loc)
		tp.SetReference(mtime)
		t, _, ok := tp.Parse(line)
		return t, ok
	}
}

// Main runs the daemon as `bouncewatch run` does: the web server on
// cfg.Web, SIGHUP for reloads, until ctx is done (SIGTERM).
func Main(ctx context.Context, cfg Config) error {
	d, err := New(cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serverErr := make(chan error, 1)
	go func() { serverErr <- web.ListenAndServe(srv, cfg.Web, d.logger) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				if err := d.Reload(); err != nil {
					d.logger.Error("reload failed; keeping the old rules", "err", err)
				}
			case err := <-serverErr:
				serverErr <- err
				cancel()
				return
			}
		}
	}()
	d.Run(runCtx)
	shutdown, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	srv.Shutdown(shutdown)
	select {
	case err := <-serverErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("web server: %w", err)
		}
	default:
	}
	return nil
}

// Run follows every source until ctx is done, checkpointing as it goes,
// then writes a last checkpoint.
func (d *Daemon) Run(ctx context.Context) {
	followCtx, stopFollowing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range d.sources {
		run := func() {
			if err := s.tail.Run(followCtx, s.pipe); err != nil {
				d.logger.Error("following stopped", "source", s.Name, "err", err)
			}
		}
		if s.Kind == Stdin {
			// A read from standard input cannot be interrupted; it has no
			// position to save, so the stop does not wait for it.
			go run()
			continue
		}
		wg.Go(run)
	}
	caughtUp := make(chan struct{})
	go d.announceReady(followCtx, caughtUp)
	tick := time.NewTicker(d.cfg.StateInterval)
	defer tick.Stop()
	stale := time.NewTicker(time.Minute)
	defer stale.Stop()
	var lastStart time.Time
	var lastCost time.Duration
loop:
	for {
		select {
		case <-ctx.Done():
			d.logger.Info("stopping: writing the state file")
			break loop
		case <-caughtUp:
			// A first checkpoint as soon as the start is read: a daemon
			// killed before its first interval must not start over from
			// an older state, or as a first start, from the end of the log.
			caughtUp = nil
			lastStart = time.Now()
			d.Checkpoint()
			lastCost = time.Since(lastStart)
		case <-tick.C:
			// A checkpoint costs time in proportion to the pending recipients:
			// never spend more than a tenth of the time writing them.
			if time.Since(lastStart) >= 10*lastCost {
				lastStart = time.Now()
				d.Checkpoint()
				lastCost = time.Since(lastStart)
			}
		case now := <-stale.C:
			d.warnStale(now)
		}
	}
	stopFollowing()
	wg.Wait()
	d.Checkpoint()
}

// announceReady logs once every source has caught up, and says so on done.
func (d *Daemon) announceReady(ctx context.Context, done chan<- struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if d.caughtUp() {
			d.logger.Info("caught up: every source is read to its end; /metrics is served", "after", time.Since(d.start).Round(time.Millisecond))
			select {
			case done <- struct{}{}:
			case <-ctx.Done():
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// caughtUp says every source has read what it held at the start: before
// that, a scrape could see counters below what the previous process
// (killed after its last checkpoint) served, as if they had gone down.
func (d *Daemon) caughtUp() bool {
	for _, s := range d.sources {
		if !s.tail.Status().CaughtUp {
			return false
		}
	}
	return true
}

// warnStale logs a source that has given no line for staleAfter.
func (d *Daemon) warnStale(now time.Time) {
	for _, s := range d.sources {
		last := s.pipe.LastLine()
		if last.IsZero() {
			last = d.start
		}
		if now.Sub(last) >= staleAfter && now.Sub(s.lastWarn) >= staleAfter {
			s.lastWarn = now
			st := s.tail.Status()
			d.logger.Warn("no line from this source for a long time: check that the MTA logs there", "source", s.Name,
				string(s.Kind), s.Target, "since", now.Sub(last).Round(time.Minute), "problem", st.Problem)
		}
	}
}

// Checkpoint writes the state file; a failure is logged and counted, and
// following goes on.
func (d *Daemon) Checkpoint() {
	start := time.Now()
	if err := d.writeState(); err != nil {
		d.logger.Error("cannot write the state file", "state_file", d.cfg.StateFile, "err", err)
		d.own.checkpointFailed()
		return
	}
	d.own.checkpointed(time.Now())
	d.logger.Debug("checkpoint written", "took", time.Since(start))
}

// reloadResult is the outcome of the last reload, for the status.
type reloadResult struct {
	OK   bool
	File string
	At   time.Time
	Err  string
}

// Reload loads the rules file again and applies it to every source; a bad
// file keeps the old rules.
func (d *Daemon) Reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	rs, err := bouncewatch.LoadRules(d.cfg.RulesFile)
	if err != nil {
		d.own.setReload(false)
		d.reloaded.Store(&reloadResult{OK: false, File: d.rules.Load().File, At: time.Now(), Err: err.Error()})
		return err
	}
	d.labels.SetRules(rs)
	for _, s := range d.sources {
		s.pipe.SetRules(rs)
	}
	d.rules.Store(rs)
	d.own.setReload(true)
	d.reloaded.Store(&reloadResult{OK: true, File: rs.File, At: time.Now()})
	d.logger.Info("rules reloaded", "rules", rs.String())
	return nil
}

// stateDir makes sure the state file's directory exists.
func (d *Daemon) stateDir() error {
	return os.MkdirAll(filepath.Dir(d.cfg.StateFile), 0o750)
}
