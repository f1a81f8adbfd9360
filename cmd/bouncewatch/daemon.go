package main

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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/state"
	"github.com/bouncewatch/bouncewatch/tailer"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// daemonConfig is what the run command's flags say.
type daemonConfig struct {
	configFile    string
	files         []string // NAME=PATH
	journals      []string // NAME=UNIT
	journalctl    string
	fromBeginning bool
	stateFile     string
	stateInterval time.Duration
	poll          time.Duration
	inotify       bool
	rotateWait    time.Duration
	web           *web.FlagConfig
	telemetryPath string
	stdin         io.Reader
}

// daemon follows the sources and serves the metrics.
type daemon struct {
	cfg      daemonConfig
	logger   *slog.Logger
	set      *metrics.Set
	sources  []*source
	ready    atomic.Bool
	caughtUp atomic.Int32 // sources read to their end since the start
	reload   sync.Mutex
}

// source is one followed log: its parser and tracker, and the position after
// the last line counted, which only changes together with the counters.
type source struct {
	d       *daemon
	name    string
	path    string
	parser  *parser.Parser
	tracker *tracker.Tracker
	pos     tailer.Position // valid when hasPos
	hasPos  bool
	resume  *tailer.Position
	ev      parser.Event
}

// Line counts one line: parser, tracker and counters move together under the
// metric set's lock, with the position, so a checkpoint is one instant.
func (s *source) Line(line []byte, n int, tooLong bool, pos tailer.Position) {
	s.d.set.Update(func(b metrics.Batch) {
		res := parser.TooLong
		if !tooLong {
			s.parser.SetReference(time.Now())
			res, _ = s.parser.Parse(line, &s.ev)
		}
		var t time.Time
		if res == parser.Matched {
			t = s.ev.Time
			s.tracker.Observe(&s.ev, b)
		}
		b.Line(s.name, n, res, t)
		if s.path != "-" {
			s.pos, s.hasPos = pos, true
		}
	})
}

// Rotated counts a rotation.
func (s *source) Rotated(kind string) {
	s.d.logger.Info("log rotated", "source", s.name, "kind", kind)
	s.d.set.Rotation(s.name, kind)
}

// journalPrefix marks a journald source's path: "journal:UNIT".
const journalPrefix = "journal:"

// parseSources reads --source.file=NAME=PATH and --source.journal=NAME=UNIT
// into (name, path) pairs; a journal's path is "journal:UNIT".
func parseSources(files, journals []string) ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	for _, f := range []struct {
		flag, example, prefix string
		specs                 []string
	}{
		{"--source.file", "postfix=/var/log/mail.log", "", files},
		{"--source.journal", "postfix=postfix@-.service", journalPrefix, journals},
	} {
		for _, spec := range f.specs {
			name, path, ok := strings.Cut(spec, "=")
			if !ok || name == "" || path == "" {
				return nil, fmt.Errorf("%s=%q: want NAME=%s, e.g. %s=%s", f.flag, spec, map[string]string{"": "PATH", journalPrefix: "UNIT"}[f.prefix], f.flag, f.example)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s: the source name %q is used twice", f.flag, name)
			}
			seen[name] = true
			out = append(out, [2]string{name, f.prefix + path})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no log source: give --source.file=NAME=PATH (e.g. --source.file=postfix=/var/log/mail.log) or --source.journal=NAME=UNIT")
	}
	return out, nil
}

func runDaemon(ctx context.Context, cfg daemonConfig, logger *slog.Logger) error {
	specs, err := parseSources(cfg.files, cfg.journals)
	if err != nil {
		return &exitError{2, err}
	}
	if len(cfg.journals) > 0 {
		if err := tailer.CheckJournal(cfg.journalctl); err != nil {
			return err
		}
	}
	rs, err := loadRules(cfg.configFile)
	if err != nil {
		return err
	}
	d := &daemon{cfg: cfg, logger: logger, set: metrics.New(rs)}
	d.set.SetDaemon()
	for _, sp := range specs {
		s := &source{d: d, name: sp[0], path: sp[1], parser: parser.NewParser(rs, sp[0]),
			tracker: tracker.New(sp[0], rs.Limits.TrackerTTL, rs.Limits.TrackerMaxEntries)}
		d.sources = append(d.sources, s)
		d.set.AddPendingSource(s.tracker)
	}
	d.restore()

	reg := prometheus.NewRegistry()
	reg.MustRegister(d.set, versioncollector.NewCollector("bouncewatch"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := &http.Server{Handler: d.handler(reg), ReadHeaderTimeout: 10 * time.Second}
	serverErr := make(chan error, 1)
	go func() { serverErr <- web.ListenAndServe(srv, cfg.web, logger) }()

	followCtx, stopFollowing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range d.sources {
		if s.path == "-" {
			// A read from standard input cannot be interrupted; it has no
			// position to save, so the stop does not wait for it.
			go d.follow(followCtx, s, rs.Limits.MaxLineBytes)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.follow(followCtx, s, rs.Limits.MaxLineBytes)
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(cfg.stateInterval)
	defer tick.Stop()

	var (
		runErr    error
		lastStart time.Time
		lastCost  time.Duration
	)
loop:
	for {
		select {
		case <-ctx.Done():
			logger.Info("stopping: writing the state file")
			break loop
		case <-hup:
			if err := d.reloadRules(); err != nil {
				logger.Error("reload failed; keeping the old rules", "err", err)
			}
		case <-tick.C:
			// A checkpoint costs time in proportion to the pending recipients
			// (about 0.25 s per 100,000): never spend more than a tenth of the
			// time writing them.
			if since := time.Since(lastStart); since >= 10*lastCost {
				lastStart = time.Now()
				d.checkpoint()
				lastCost = time.Since(lastStart)
			}
		case err := <-serverErr:
			runErr = fmt.Errorf("web server: %w", err)
			break loop
		}
	}
	stopFollowing()
	wg.Wait()
	d.checkpoint()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	return runErr
}

// follow runs one source until ctx is done.
func (d *daemon) follow(ctx context.Context, s *source, maxLine int) {
	log := d.logger.With("source", s.name)
	if s.path == "-" {
		d.sourceCaughtUp()
		_, err := tailer.ReadLines(d.cfg.stdin, maxLine, true, func(line []byte, n int, tooLong bool) error {
			s.Line(line, n, tooLong, tailer.Position{})
			return ctx.Err()
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error("reading standard input", "err", err)
		}
		return
	}
	if unit, ok := strings.CutPrefix(s.path, journalPrefix); ok {
		jo := tailer.JournalOptions{Unit: unit, FromBeginning: d.cfg.fromBeginning, MaxLineBytes: maxLine,
			Command: d.cfg.journalctl, Logger: log, CaughtUp: d.sourceCaughtUp}
		if s.resume != nil {
			jo.Cursor = s.resume.Cursor
		}
		if err := tailer.Journal(ctx, jo, s); err != nil {
			log.Error("following the journal stopped", "err", err)
		}
		return
	}
	opts := tailer.Options{
		Path: s.path, MaxLineBytes: maxLine, Poll: d.cfg.poll, RotateWait: d.cfg.rotateWait,
		FromBeginning: d.cfg.fromBeginning, Inotify: d.cfg.inotify, Resume: s.resume, Logger: log, CaughtUp: d.sourceCaughtUp,
	}
	if err := tailer.Follow(ctx, opts, s); err != nil {
		log.Error("following stopped", "err", err)
	}
}

// sourceCaughtUp marks a source open and read to the end of what its log
// held at the start. Once all are, the daemon is ready and serves metrics:
// before that a scrape could see counters below what the previous process
// (killed after its last checkpoint) served, as if they had gone down.
func (d *daemon) sourceCaughtUp() {
	if int(d.caughtUp.Add(1)) == len(d.sources) {
		d.ready.Store(true)
		d.logger.Info("ready: state restored and every source read to its end")
	}
}

// restore loads the state file. One that cannot be used is moved aside and
// the daemon starts fresh rather than crash-looping.
func (d *daemon) restore() {
	f, err := state.Read(d.cfg.stateFile)
	if errors.Is(err, state.ErrNoState) {
		d.logger.Info("no state file: first start", "state_file", d.cfg.stateFile)
		return
	}
	if err == nil {
		err = d.apply(f)
	}
	if err != nil {
		d.logger.Error("state file unusable; starting fresh", "err", err)
		d.set.StateDiscarded()
		if aside, err := state.MoveAside(d.cfg.stateFile); err == nil {
			d.logger.Warn("moved the state file aside", "to", aside)
		} else if !errors.Is(err, os.ErrNotExist) {
			d.logger.Error("cannot move the state file aside", "err", err)
		}
		return
	}
	d.logger.Info("state restored", "state_file", d.cfg.stateFile, "written", f.Written)
}

// apply installs a state file's content; on error nothing is changed.
func (d *daemon) apply(f *state.File) error {
	rs := d.sources[0].parser.Rules()
	trackers := make([]*tracker.Tracker, len(d.sources))
	for i, s := range d.sources {
		trackers[i] = tracker.New(s.name, rs.Limits.TrackerTTL, rs.Limits.TrackerMaxEntries)
		if st, ok := f.Sources[s.name]; ok {
			if err := trackers[i].Import(st.Tracker); err != nil {
				return fmt.Errorf("source %q: %w", s.name, err)
			}
		}
	}
	if err := d.set.Import(f.Metrics); err != nil {
		return err
	}
	for i, s := range d.sources {
		*s.tracker = *trackers[i]
		if st, ok := f.Sources[s.name]; ok && st.Position != nil && s.path != "-" {
			if st.Position.Path != s.path {
				d.logger.Warn("the source's path changed since the state was written; starting the new path afresh", "source", s.name, "was", st.Position.Path, "now", s.path)
				continue
			}
			p := *st.Position
			s.resume, s.pos, s.hasPos = &p, p, true
		}
	}
	return nil
}

// checkpoint writes the state file; a failure is logged and counted, and
// following goes on.
func (d *daemon) checkpoint() {
	f := &state.File{Written: time.Now(), Sources: map[string]state.Source{}}
	d.set.Update(func(b metrics.Batch) {
		for _, s := range d.sources {
			st := state.Source{Tracker: s.tracker.Export()}
			if s.hasPos {
				p := s.pos
				st.Position = &p
			}
			f.Sources[s.name] = st
		}
		f.Metrics = b.Export()
	})
	if err := os.MkdirAll(filepath.Dir(d.cfg.stateFile), 0o750); err != nil {
		d.logger.Error("cannot write the state file", "err", err)
		d.set.CheckpointFailed()
		return
	}
	if err := state.Write(d.cfg.stateFile, f); err != nil {
		d.logger.Error("cannot write the state file", "err", err)
		d.set.CheckpointFailed()
		return
	}
	d.set.SetCheckpoint(time.Now())
}

// reloadRules loads the rules file again; a bad one keeps the old rules.
func (d *daemon) reloadRules() error {
	d.reload.Lock()
	defer d.reload.Unlock()
	rs, err := loadRules(d.cfg.configFile)
	if err != nil {
		d.set.SetReloadSuccess(false)
		return err
	}
	d.set.Update(func(metrics.Batch) {
		for _, s := range d.sources {
			s.parser.SetRules(rs)
			s.tracker.SetLimits(rs.Limits.TrackerTTL, rs.Limits.TrackerMaxEntries)
		}
	})
	d.set.SetRules(rs)
	d.set.SetReloadSuccess(true)
	d.logger.Info("rules reloaded", "rules", rs.String())
	return nil
}

func (d *daemon) handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.HandleFunc(d.cfg.telemetryPath, func(w http.ResponseWriter, r *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "Catching up with the logs since the last checkpoint; metrics follow when done.", http.StatusServiceUnavailable)
			return
		}
		metricsHandler.ServeHTTP(w, r)
	})
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "Healthy.\n")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "Not ready: restoring state or waiting for a log file.", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "Ready.\n")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "Use POST to reload the rules.", http.StatusMethodNotAllowed)
			return
		}
		if err := d.reloadRules(); err != nil {
			d.logger.Error("reload failed; keeping the old rules", "err", err)
			http.Error(w, "Reload failed, the old rules stay: "+err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "Rules reloaded.\n")
	})
	if d.cfg.telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "bouncewatch",
			Description: "SMTP enhanced status codes from Postfix and Exim logs, followed from deferral to delivery.",
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: d.cfg.telemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err == nil {
			mux.Handle("/", landing)
		}
	}
	return mux
}
