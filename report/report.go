// Package report makes one pass over finished log files through the same
// parser, tracker and metrics the daemon uses, and summarises it for a person
// (text), a program (JSON) or Prometheus tooling (the exposition format). It is
// a package of its own because it keeps what the daemon does not: per code,
// percentiles of the time to resolution to within 0.4% (the daemon's
// histogram has a dozen buckets), and what a person reads in a summary.
package report

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/pipeline"
	"github.com/bouncewatch/bouncewatch/tailer"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// Options configures a pass.
type Options struct {
	Rules  *parser.RuleSet
	Source string    // the source label, "report" by default
	Stdin  io.Reader // read for the file name "-"
	// Progress, when set, gets a progress line about once a second.
	Progress io.Writer
	// Now is the reference time for year-less timestamps read from stdin.
	Now func() time.Time
	// Reference, when set, is the reference time for year-less timestamps of
	// every input instead of each file's modification time (for tests).
	Reference time.Time
	// OnLine, when set, sees every line that was not too long with its
	// result and, for a delivery result, its event (as the tracker left it:
	// with the code and reason a deferral without a code inherits).
	OnLine func(file string, lineNo int, line []byte, res parser.Result, ev *parser.Event)
}

// Summary is what a pass found.
type Summary struct {
	Rules    *parser.RuleSet
	Source   string
	Files    []string
	Metrics  *metrics.Set
	Lines    [parser.NumResults]uint64 // by parser.Result
	Bytes    uint64
	RuleHits map[string]uint64
	First    time.Time
	Last     time.Time
	Codes    map[parser.Code]*CodeStats
	Reasons  map[parser.Reason]*ReasonStats // of failures, and of the first deferral of retries
	// Domains are by domain label: past the cap of rules.yaml, "other".
	Domains map[string]*DomainStats
	Hours   [24][parser.StatusExpired + 1]uint64
	Pending []Pending
	// Order says how the files were ordered when that was not as given.
	Order   string
	labels  *metrics.Labels
	byGroup []*DomainStats
	pipe    *pipeline.Source
	onLine  func(file string, lineNo int, line []byte, res parser.Result, ev *parser.Event)
	file    string
	lineNo  int
}

// Tally is what a code and a reason of failure both count: their events,
// and how the retries they began (as the first deferral's code or reason)
// ended, and when.
type Tally struct {
	Events      [parser.StatusExpired + 1]uint64 // by status
	Outcomes    [tracker.NumOutcomes]uint64
	Resolutions Durations // times to any outcome
	Delivered   Durations // times to delivery
}

func (t *Tally) resolved(r *tracker.Resolution) {
	t.Outcomes[r.Outcome]++
	t.Resolutions.Add(r.Duration())
	if r.Outcome == tracker.Delivered {
		t.Delivered.Add(r.Duration())
	}
}

// CodeStats is everything seen of one enhanced status code.
type CodeStats struct {
	Tally
	Reasons map[parser.Reason]uint64 // failures by reason
}

// ReasonStats is everything seen of one reason of failure.
type ReasonStats struct {
	Tally
	Domains map[string]bool // with a failure for this reason
}

// DomainStats is everything seen of one recipient domain.
type DomainStats struct {
	Events  [parser.StatusExpired + 1]uint64
	Codes   map[parser.Code]uint64   // non-success codes
	Reasons map[parser.Reason]uint64 // of failures
}

// Pending is a recipient still waiting for a retry when the input ended.
type Pending struct {
	Domain string // its domain label ("other" past the cap)
	Code   parser.Code
	First  time.Time
}

// Line implements pipeline.Observer.
func (s *Summary) Line(line []byte, res parser.Result, rule *parser.Rule, ev *parser.Event) {
	s.lineNo++
	if ev != nil {
		if s.First.IsZero() || ev.Time.Before(s.First) {
			s.First = ev.Time
		}
		if ev.Time.After(s.Last) {
			s.Last = ev.Time
		}
	}
	if rule != nil {
		s.RuleHits[rule.Name]++
	}
	if s.onLine != nil && res != parser.TooLong {
		s.onLine(s.file, s.lineNo, line, res, ev)
	}
}

// Event implements pipeline.Observer.
func (s *Summary) Event(ev *parser.Event, g tracker.Group) {
	c := s.code(ev.Code)
	c.Events[ev.Status]++
	failed := ev.Status == parser.StatusDeferred || ev.Status == parser.StatusBounced || ev.Status == parser.StatusExpired
	var rs *ReasonStats
	if failed {
		if c.Reasons == nil {
			c.Reasons = map[parser.Reason]uint64{}
		}
		c.Reasons[ev.Reason]++
		rs = s.reason(ev.Reason)
		rs.Events[ev.Status]++
	}
	s.Hours[ev.Time.In(s.Rules.Location).Hour()][ev.Status]++
	if g == tracker.NoGroup {
		return
	}
	// By label, as the metrics count them: past max_domains the rest are
	// "other", so a log of a million domains does not make a million entries.
	for int(g) >= len(s.byGroup) {
		s.byGroup = append(s.byGroup, nil)
	}
	d := s.byGroup[g]
	if d == nil {
		name := s.labels.DomainName(g)
		if d = s.Domains[name]; d == nil {
			d = &DomainStats{Codes: map[parser.Code]uint64{}, Reasons: map[parser.Reason]uint64{}}
			s.Domains[name] = d
		}
		s.byGroup[g] = d
	}
	d.Events[ev.Status]++
	if ev.Code.Class() != 2 {
		d.Codes[ev.Code]++
	}
	if failed {
		d.Reasons[ev.Reason]++
		if rs.Domains == nil {
			rs.Domains = map[string]bool{}
		}
		rs.Domains[s.labels.DomainName(g)] = true
	}
}

func (s *Summary) reason(r parser.Reason) *ReasonStats {
	rs := s.Reasons[r]
	if rs == nil {
		rs = &ReasonStats{}
		s.Reasons[r] = rs
	}
	return rs
}

// Resolved implements pipeline.Observer.
func (s *Summary) Resolved(r *tracker.Resolution) {
	s.code(r.FirstCode).resolved(r)
	s.reason(r.FirstReason).resolved(r)
}

func (s *Summary) code(c parser.Code) *CodeStats {
	cs := s.Codes[c]
	if cs == nil {
		cs = &CodeStats{}
		s.Codes[c] = cs
	}
	return cs
}

// Run reads the files in the order given, as one stream, so that a deferral in
// mail.log.1 and its delivery in mail.log are correlated.
func Run(ctx context.Context, opts Options, files []string) (*Summary, error) {
	if opts.Source == "" {
		opts.Source = "report"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rs := opts.Rules
	s := &Summary{
		Rules: rs, Source: opts.Source, Files: files,
		RuleHits: map[string]uint64{},
		Codes:    map[parser.Code]*CodeStats{},
		Reasons:  map[parser.Reason]*ReasonStats{},
		Domains:  map[string]*DomainStats{},
		labels:   metrics.NewLabels(rs),
		onLine:   opts.OnLine,
	}
	s.Metrics = metrics.NewSet(s.labels)
	p := pipeline.New(pipeline.Options{Name: opts.Source, Rules: rs, Labels: s.labels, Observer: s})
	p.Register(s.Metrics)
	s.pipe = p
	// Every file is there before anything is read: a wrong name gives an
	// error, not half a report.
	for _, name := range files {
		if name == "-" {
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		if st.IsDir() {
			return nil, fmt.Errorf("%s: is a directory", name)
		}
	}
	s.Files, s.Order = byLogTime(files, opts)
	prog := newProgress(opts.Progress)
	runErr := s.read(ctx, opts, p, prog)
	prog.done()
	c := p.Counts()
	s.Lines, s.Bytes = c.Lines, c.Bytes
	p.EachPending(func(g tracker.Group, code parser.Code, first time.Time) {
		s.Pending = append(s.Pending, Pending{s.labels.DomainName(g), code, first})
	})
	sort.SliceStable(s.Pending, func(i, j int) bool { return s.Pending[i].First.Before(s.Pending[j].First) })
	return s, runErr
}

// piece is what the reader hands the parser, in order: the start of a file,
// a batch of its lines, its end.
type piece struct {
	file  int
	start bool          // a file was opened; ref is its reference time
	batch *tailer.Batch // lines
	end   bool          // the file was read and closed, or could not be
	ref   time.Time
	// With end: the file could not be opened, or reading it stopped early,
	// or closing it failed.
	openErr, readErr, closeErr error
}

// inFlight is how many batches go round between the reader and the parser:
// enough that neither waits for the other.
const inFlight = 4

// read runs the files through the pipeline: one goroutine opens, reads and
// decompresses them into batches of lines, the calling one parses them, so a
// replay uses two cores. Batches come back to the reader through free, so
// memory stays at inFlight batches whatever the size of the files.
func (s *Summary) read(ctx context.Context, opts Options, p *pipeline.Source, prog *progress) error {
	limit := s.Rules.Limits.MaxLineBytes
	pieces := make(chan piece, inFlight)
	free := make(chan *tailer.Batch, inFlight)
	for range inFlight {
		free <- new(tailer.Batch)
	}
	done := make(chan struct{})
	defer close(done) // the reader stops at its next hand-over
	go readFiles(s.Files, opts, limit, pieces, free, done)
	for pc := range pieces {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := s.Files[pc.file]
		switch {
		case pc.start:
			ref := pc.ref
			if !opts.Reference.IsZero() {
				ref = opts.Reference
			}
			p.SetReference(ref)
			s.file, s.lineNo = name, 0
		case pc.batch != nil:
			p.FeedLines(pc.batch.Lines)
			prog.tick(len(pc.batch.Lines))
			free <- pc.batch
		case pc.openErr != nil:
			return pc.openErr
		case pc.readErr != nil:
			return fmt.Errorf("%s: after line %d: %w", name, s.lineNo, explain(pc.readErr))
		case pc.closeErr != nil:
			return fmt.Errorf("%s: %w", name, pc.closeErr)
		}
	}
	return nil
}

// readFiles is the reader's goroutine.
func readFiles(files []string, opts Options, limit int, pieces chan<- piece, free chan *tailer.Batch, done <-chan struct{}) {
	defer close(pieces)
	send := func(pc piece) bool {
		select {
		case pieces <- pc:
			return true
		case <-done:
			return false
		}
	}
	errStopped := errors.New("stopped")
	for i, name := range files {
		r, ref, closeFn, err := open(name, opts)
		if err != nil {
			send(piece{file: i, end: true, openErr: err})
			return
		}
		if !send(piece{file: i, start: true, ref: ref}) {
			closeFn()
			return
		}
		err = tailer.ReadBatches(r, limit, func() *tailer.Batch {
			select {
			case b := <-free:
				return b
			case <-done:
				return new(tailer.Batch) // the parser is gone; put will say so
			}
		}, func(b *tailer.Batch) error {
			if !send(piece{file: i, batch: b}) {
				return errStopped
			}
			return nil
		})
		if errors.Is(err, errStopped) {
			closeFn()
			return
		}
		end := piece{file: i, end: true, readErr: err}
		if cerr := closeFn(); err == nil {
			end.closeErr = cerr
		}
		if !send(end) || end.readErr != nil || end.closeErr != nil {
			return
		}
	}
}

// NothingRecognised says the input had lines but not one a rule knew: not a
// Postfix or Exim mail log, or one in a shape the rules miss.
func (s *Summary) NothingRecognised() bool {
	var total uint64
	for _, n := range s.Lines {
		total += n
	}
	return total > 0 && s.Lines[parser.Matched]+s.Lines[parser.Skipped] == 0
}

// byLogTime orders files by the log time of their first line, so that
// `report mail.log*` (which the shell lists newest last, but mail.log.1
// after mail.log) follows a deferral to its delivery. Files whose first time
// cannot be read keep their place among the others; standard input stays
// where it is given. The note says what was done, when anything was.
func byLogTime(files []string, opts Options) ([]string, string) {
	type keyed struct {
		name  string
		first time.Time
	}
	ks := make([]keyed, len(files))
	for i, f := range files {
		ks[i] = keyed{name: f}
		if f != "-" {
			ks[i].first = firstTime(f, opts)
		}
		if ks[i].first.IsZero() {
			return files, "" // not every file has a time to order by
		}
	}
	sorted := slices.Clone(ks)
	slices.SortStableFunc(sorted, func(a, b keyed) int { return a.first.Compare(b.first) })
	out := make([]string, len(sorted))
	changed := false
	for i, k := range sorted {
		out[i] = k.name
		changed = changed || k.name != files[i]
	}
	if !changed {
		return files, ""
	}
	return out, "read in the order of their first log times: " + strings.Join(out, ", ")
}

// firstTime reads the log time of the first line of a file that has one,
// among its first lines.
func firstTime(name string, opts Options) time.Time {
	r, ref, closeFn, err := open(name, opts)
	if err != nil {
		return time.Time{}
	}
	defer closeFn()
	if !opts.Reference.IsZero() {
		ref = opts.Reference
	}
	tp := parser.NewTimeParser(opts.Rules.Location)
	tp.SetReference(ref)
	var first time.Time
	errStop := errors.New("stop")
	n := 0
	tailer.ReadLines(r, opts.Rules.Limits.MaxLineBytes, true, func(line []byte, _ int, tooLong bool) error {
		if n++; n > 100 {
			return errStop
		}
		if t, _, ok := tp.Parse(line); ok && !tooLong {
			first = t
			return errStop
		}
		return nil
	})
	return first
}

func explain(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) {
		return fmt.Errorf("%w (the compressed file is truncated or damaged; lines before this point were counted)", err)
	}
	return err
}

// open returns a reader for a file name ("-" is stdin; a .gz name or gzip
// magic is decompressed) and the reference time for year-less timestamps.
func open(name string, opts Options) (io.Reader, time.Time, func() error, error) {
	var (
		f   io.Reader
		ref = opts.Now()
		cl  = func() error { return nil }
	)
	if name == "-" {
		if opts.Stdin == nil {
			return nil, ref, nil, errors.New("-: no standard input")
		}
		f = opts.Stdin
	} else {
		file, err := os.Open(name)
		if err != nil {
			return nil, ref, nil, err
		}
		if st, err := file.Stat(); err == nil {
			if st.IsDir() {
				file.Close()
				return nil, ref, nil, fmt.Errorf("%s: is a directory", name)
			}
			ref = st.ModTime()
		}
		f, cl = file, file.Close
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if strings.HasSuffix(name, ".gz") || (len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			cl()
			return nil, ref, nil, fmt.Errorf("%s: %w", name, err)
		}
		zr.Multistream(true)
		return zr, ref, cl, nil
	}
	return br, ref, cl, nil
}

// progress writes a line on a terminal about once a second.
type progress struct {
	w    io.Writer
	last time.Time
	n    uint64
	t0   time.Time
}

func newProgress(w io.Writer) *progress { return &progress{w: w, t0: time.Now()} }

func (p *progress) tick(lines int) {
	if p.w == nil {
		return
	}
	p.n += uint64(lines)
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%d lines, %.0f lines/s ", p.n, float64(p.n)/now.Sub(p.t0).Seconds())
}

func (p *progress) done() {
	if p.w != nil && !p.last.IsZero() {
		fmt.Fprintln(p.w)
	}
}
