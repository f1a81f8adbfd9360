package tailer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// JournalOptions configure a journald source.
type JournalOptions struct {
	Unit          string
	Cursor        string // resume after this entry (the cursor of the last one counted)
	FromBeginning bool   // without Cursor: every entry the journal still has, not only new ones
	Command       string // journalctl by default
	Logger        *slog.Logger
	Clock         Clock // default RealClock
}

// Journal follows a systemd unit's journal through journalctl. Entries are
// handed out as syslog lines (RFC 3339 time with microseconds, host,
// identifier[pid]: message), so that the same rules apply, with the cursor
// to resume after each.
//
// It reads the backlog first, with a journalctl that exits at the end of it,
// and only then follows: so it knows when it has caught up, and a restart is
// ready only once it has counted what the previous run had.
type Journal struct {
	JournalOptions
	h      Handler
	status status
	pos    Position
	lines  []Line
	line   []byte
}

// NewJournal returns a journal source.
func NewJournal(opts JournalOptions) *Journal {
	if opts.Command == "" {
		opts.Command = "journalctl"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	j := &Journal{JournalOptions: opts}
	j.status.s = Status{Kind: "journal", Target: opts.Unit}
	return j
}

// entry holds the journal fields a mail log line needs.
type entry struct {
	Message    json.RawMessage `json:"MESSAGE"`
	Cursor     string          `json:"__CURSOR"`
	Realtime   string          `json:"__REALTIME_TIMESTAMP"`
	Source     string          `json:"_SOURCE_REALTIME_TIMESTAMP"`
	Identifier string          `json:"SYSLOG_IDENTIFIER"`
	SyslogPID  string          `json:"SYSLOG_PID"`
	PID        string          `json:"_PID"`
	Hostname   string          `json:"_HOSTNAME"`
}

// ErrNoJournalctl says the journal cannot be read on this machine.
var ErrNoJournalctl = errors.New("journalctl not found: --source.journal needs systemd's journalctl in PATH")

// CheckJournal reports whether the journalctl command can be found.
func CheckJournal(command string) error {
	if command == "" {
		command = "journalctl"
	}
	if _, err := exec.LookPath(command); err != nil {
		return fmt.Errorf("%w (%v)", ErrNoJournalctl, err)
	}
	return nil
}

// Status implements Source.
func (j *Journal) Status() Status { return j.status.get() }

// Run implements Source: the backlog, then `journalctl --follow` after the
// last cursor handed out, started again after a pause if it exits.
func (j *Journal) Run(ctx context.Context, h Handler) error {
	j.h = h
	if err := CheckJournal(j.Command); err != nil {
		j.setProblem(err.Error())
		j.caughtUp()
		return err
	}
	cursor := j.Cursor
	// The backlog: everything after the cursor, or (first start) all of it
	// with --source.from-beginning, else nothing but the cursor to go on from.
	args := []string{"--no-pager", "--output=json", "--unit=" + j.Unit}
	switch {
	case cursor != "":
		args = append(args, "--after-cursor="+cursor)
	case j.FromBeginning:
	default:
		args = append(args, "--lines=1")
	}
	n, err := j.runOnce(ctx, args, &cursor, cursor == "" && !j.FromBeginning)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		j.Logger.Warn("reading the journal's backlog failed", "unit", j.Unit, "err", err)
	}
	if n == 0 && cursor == "" {
		j.Logger.Warn("the journal has no entry for this unit (yet): check the unit name, e.g. journalctl --unit=UNIT or systemctl list-units", "unit", j.Unit)
	}
	j.caughtUp()
	for {
		args := []string{"--follow", "--no-pager", "--output=json", "--unit=" + j.Unit}
		if cursor != "" {
			args = append(args, "--after-cursor="+cursor)
		} else {
			args = append(args, "--lines=0")
		}
		_, err := j.runOnce(ctx, args, &cursor, false)
		if ctx.Err() != nil {
			return nil
		}
		j.Logger.Warn("journalctl exited; starting it again", "unit", j.Unit, "err", err)
		if !j.Clock.Sleep(ctx, time.Second, nil) {
			return nil
		}
	}
}

func (j *Journal) caughtUp() {
	j.status.update(func(s *Status) { s.CaughtUp = true })
}

func (j *Journal) setProblem(p string) {
	j.status.update(func(s *Status) { s.Problem = p })
}

// runOnce runs journalctl with args and hands out what it writes; with
// cursorOnly it only takes the cursor of the entries (the end of the
// journal, to follow from). It returns the number of entries read.
func (j *Journal) runOnce(ctx context.Context, args []string, cursor *string, cursorOnly bool) (int, error) {
	cmd := exec.CommandContext(ctx, j.Command, args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		j.setProblem(err.Error())
		return 0, fmt.Errorf("start %s: %w", j.Command, err)
	}
	j.setProblem("")
	n := j.read(out, cursor, cursorOnly)
	err = cmd.Wait()
	if err != nil && ctx.Err() == nil {
		j.setProblem(fmt.Sprintf("journalctl: %v: %s", err, strings.TrimSpace(stderr.String())))
		err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return n, err
}

// read hands out the entries journalctl writes, one Lines call per entry,
// and keeps the cursor of the last one.
func (j *Journal) read(r io.Reader, cursor *string, cursorOnly bool) int {
	maxLine := j.h.MaxLineBytes()
	sc := bufio.NewScanner(r)
	// An entry is JSON around the message: allow for its escaping.
	sc.Buffer(make([]byte, 64<<10), 8*maxLine+(64<<10))
	n := 0
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			j.Logger.Warn("journalctl wrote something that is not JSON; skipped", "err", err)
			continue
		}
		n++
		*cursor = e.Cursor
		if cursorOnly {
			continue
		}
		j.pos.Cursor = e.Cursor
		j.lines = j.lines[:0]
		if msg, ok := message(e.Message); ok {
			j.line = syslogLine(j.line[:0], &e, msg)
			if maxLine = j.h.MaxLineBytes(); len(j.line) > maxLine {
				j.lines = append(j.lines, Line{N: len(j.line) + 1, TooLong: true})
			} else {
				j.lines = append(j.lines, Line{Data: j.line, N: len(j.line) + 1})
			}
			j.status.update(func(s *Status) { s.LastRead = j.Clock.Now() })
		}
		j.h.Lines(j.lines, &j.pos)
	}
	if err := sc.Err(); err != nil {
		j.Logger.Warn("reading journalctl", "err", err)
	}
	return n
}

// message decodes MESSAGE, which journald gives as a string or, when it is
// not valid UTF-8, as an array of byte values.
func message(raw json.RawMessage) ([]byte, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s), true
	}
	var b []byte
	var ints []int
	if err := json.Unmarshal(raw, &ints); err != nil {
		return nil, false
	}
	for _, v := range ints {
		b = append(b, byte(v))
	}
	return b, true
}

// syslogLine renders an entry as rsyslog's RFC 3339 format would. The time
// is when the program logged the message, as journalctl shows it, else when
// journald received it.
func syslogLine(b []byte, e *entry, msg []byte) []byte {
	ts := e.Source
	if ts == "" {
		ts = e.Realtime
	}
	if us, err := strconv.ParseInt(ts, 10, 64); err == nil {
		b = time.UnixMicro(us).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	} else {
		b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	}
	host := e.Hostname
	if host == "" {
		host = "localhost"
	}
	b = append(append(append(b, ' '), host...), ' ')
	ident := e.Identifier
	if ident == "" {
		ident = "journal"
	}
	b = append(b, ident...)
	pid := e.SyslogPID
	if pid == "" {
		pid = e.PID
	}
	if pid != "" {
		b = append(append(append(b, '['), pid...), ']')
	}
	b = append(b, ": "...)
	return append(b, msg...)
}

// tailBuffer keeps the last 4 KiB written to it: journalctl's error output.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
