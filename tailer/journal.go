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
	"time"
)

// JournalOptions configure a journald source.
type JournalOptions struct {
	Unit          string
	Cursor        string // resume after this entry (the cursor of the last one counted)
	FromBeginning bool   // without Cursor: every entry the journal still has, not only new ones
	MaxLineBytes  int
	Command       string // journalctl by default
	Logger        *slog.Logger
	CaughtUp      func() // called once journalctl runs
}

// JournalHandler receives the entries of a journald source as syslog lines
// (RFC 3339 time with microseconds, host, identifier[pid]: message), so that
// the same rules apply, with the cursor to resume after each.
type JournalHandler interface {
	Line(line []byte, n int, tooLong bool, pos Position)
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

// Journal runs `journalctl --follow --output=json --unit=UNIT` until ctx is
// done, resuming after the last cursor handed out; if journalctl exits, it is
// started again after a pause.
func Journal(ctx context.Context, opts JournalOptions, h JournalHandler) error {
	if opts.Command == "" {
		opts.Command = "journalctl"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckJournal(opts.Command); err != nil {
		return err
	}
	cursor := opts.Cursor
	first := true
	for {
		args := []string{"--follow", "--output=json", "--no-pager", "--unit=" + opts.Unit}
		switch {
		case cursor != "":
			args = append(args, "--after-cursor="+cursor)
		case opts.FromBeginning:
			args = append(args, "--lines=all")
		default:
			args = append(args, "--lines=0")
		}
		cmd := exec.CommandContext(ctx, opts.Command, args...)
		var stderr tailBuffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("start %s: %w", opts.Command, err)
		}
		if first && opts.CaughtUp != nil {
			opts.CaughtUp()
		}
		first = false
		cursor = readJournal(out, opts, h, cursor)
		err = cmd.Wait()
		if ctx.Err() != nil {
			return nil
		}
		opts.Logger.Warn("journalctl exited; starting it again", "unit", opts.Unit, "err", err, "stderr", stderr.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// readJournal hands out the entries journalctl writes and returns the cursor
// of the last one.
func readJournal(r io.Reader, opts JournalOptions, h JournalHandler, cursor string) string {
	sc := bufio.NewScanner(r)
	// An entry is JSON around the message: allow for its escaping.
	sc.Buffer(make([]byte, 64<<10), 8*opts.MaxLineBytes+(64<<10))
	var line []byte
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			opts.Logger.Warn("journalctl wrote something that is not JSON; skipped", "err", err)
			continue
		}
		cursor = e.Cursor
		pos := Position{Path: "journal:" + opts.Unit, Cursor: e.Cursor}
		msg, ok := message(e.Message)
		if !ok {
			continue
		}
		line = syslogLine(line[:0], &e, msg)
		if len(line) > opts.MaxLineBytes {
			h.Line(nil, len(line)+1, true, pos)
			continue
		}
		h.Line(line, len(line)+1, false, pos)
	}
	if err := sc.Err(); err != nil {
		opts.Logger.Warn("reading journalctl", "err", err)
	}
	return cursor
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
