package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tailer"
)

// eximSyslog splits a log line as Exim's write_syslog does (src/log.c): at
// embedded newlines and every 870 characters, each part "[i/n] " or, when it
// ends at a newline with more to come, "[i\n] ", then prefixes each with a
// syslog header as rsyslog writes it.
func eximSyslog(header, s string) []string {
	const max = 870
	var parts []string
	var marks []byte
	for rest := s; len(rest) > 0; {
		plen := len(rest)
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			plen = nl
		}
		plen = min(plen, max)
		p := rest[:plen]
		rest = rest[plen:]
		mark := byte('/')
		if strings.HasPrefix(rest, "\n") {
			rest = rest[1:]
			if len(rest) > 0 {
				mark = '\\'
			}
		}
		parts, marks = append(parts, p), append(marks, mark)
	}
	if len(parts) == 1 {
		return []string{header + parts[0]}
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = fmt.Sprintf("%s[%d%c%d] %s", header, i+1, marks[i], len(parts), p)
	}
	return out
}

func lines(ls ...string) []tailer.Line {
	var out []tailer.Line
	for _, l := range ls {
		out = append(out, tailer.Line{Data: []byte(l), N: len(l) + 1})
	}
	return out
}

// TestJoinEximSyslog: a long ** line (a long reply text) that Exim split
// for syslog is one event; so are splits at newlines and splits of two
// processes interleaved; a part whose line never becomes whole is counted
// as incomplete, not lost; the bytes of every part are counted.
func TestJoinEximSyslog(t *testing.T) {
	const hdr1, hdr2 = "Nov 27 06:02:21 vm exim[28573]: ", "Nov 27 06:02:22 vm exim[28574]: "
	reply := "550 5.7.1 " + strings.Repeat("Message rejected by policy, see https://postmaster.example/why ", 30)
	bounce := "2026-11-27 06:02:21 1xWp2L-0007Qm-2o ** carol@long.example R=dnslookup T=remote_smtp: SMTP error from remote mail server after RCPT TO:<carol@long.example>: " + reply
	multi := "2026-11-27 06:02:22 1xWp2M-0007SC-07 ** dave@multi.example R=dnslookup T=remote_smtp: SMTP error from remote mail server after RCPT TO:<dave@multi.example>: 550-5.1.1 first line\n550-5.1.1 second line\n550 5.1.1 " + strings.Repeat("x", 900)
	a, b := eximSyslog(hdr1, bounce), eximSyslog(hdr2, multi)
	if len(a) != 3 || len(b) != 4 || !strings.Contains(b[0], "[1\\4] ") || !strings.Contains(b[2], "[3/4] ") {
		t.Fatalf("the split is not what Exim does: %d parts %.40q..., %d parts", len(a), a[0], len(b))
	}
	s, set := newSource(t)
	var all []string
	all = append(all, a[0], b[0], a[1], b[1], b[2], a[2], b[3]) // two processes at once
	all = append(all, eximSyslog(hdr1, bounce)[1])              // a part without its first
	all = append(all, eximSyslog(hdr2, multi)[:2]...)           // a line that never ends...
	all = append(all, eximSyslog(hdr2, multi)[0])               // ...because another begins
	s.Lines(lines(all...), &tailer.Position{})
	out := exposition(t, set)
	for _, want := range []string{
		`label:{name:"code" value:"5.7.1"} label:{name:"domain" value:"long.example"} label:{name:"source" value:"lab"} label:{name:"status" value:"bounced"} counter:{value:1`,
		`label:{name:"code" value:"5.1.1"} label:{name:"domain" value:"multi.example"} label:{name:"source" value:"lab"} label:{name:"status" value:"bounced"} counter:{value:1`,
		`label:{name:"result" value:"incomplete"} label:{name:"source" value:"lab"} counter:{value:2`, // the orphan part, and the line never ended
		`label:{name:"result" value:"matched"} label:{name:"source" value:"lab"} counter:{value:2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("want %s in\n%s", want, out)
		}
	}
	var size int
	for _, l := range all {
		size += len(l) + 1
	}
	if c := s.Counts(); c.Bytes != uint64(size) {
		t.Errorf("bytes: want %d, got %d", size, c.Bytes)
	}
	if len(s.join.parts) != 1 {
		t.Errorf("want the last line begun kept for its next part, got %d", len(s.join.parts))
	}
}

// TestJoinBounded: parts of lines of many processes, none whole, keep no
// more than maxSplits lines.
func TestJoinBounded(t *testing.T) {
	s, _ := newSource(t)
	for pid := range 1000 {
		l := fmt.Sprintf("Nov 27 06:02:21 vm exim[%d]: [1/2] 2026-11-27 06:02:21 x", pid)
		s.Lines(lines(l), &tailer.Position{})
	}
	if n := len(s.join.parts); n > maxSplits {
		t.Errorf("%d split lines kept", n)
	}
	if c := s.Counts(); c.Lines[parser.Incomplete] != 1000-maxSplits {
		t.Errorf("want %d incomplete lines, got %v", 1000-maxSplits, c.Lines)
	}
}

func TestSplitAt(t *testing.T) {
	for _, c := range []struct {
		line string
		want int // index of the tag's "]", or -1
	}{
		{"Nov 27 06:02:21 vm exim[1234]: [1/3] 2026-11-27 06:02:21 1xWp04-0000GB-00 ** a@b.example", 28},
		{"2026-11-27T06:02:21.123456+00:00 vm exim[7]: [2\\2] rest", 42},
		{"Nov 27 06:02:21 vm exim[1234]: 2026-11-27 06:02:21 1xWp04-0000GB-00 Completed", -1},
		{"Nov 27 06:00:00 mx1 postfix/smtp[1374]: 5A2286C4AA: to=<a@b.example>", -1},
		// Exim's own log: the first "]" is an address's, so a "]: [" after
		// it is the line's text, not a syslog tag.
		{"2026-11-27 06:00:00 H=mx.b.example [192.0.2.1] said: x]: [1/2] y", -1},
		{"2026-11-27 06:00:00 1xWp04-0000GB-00 <= a@b.example", -1},
		{"vm exim[1]: ", -1},
		{"", -1},
	} {
		if got := splitAt([]byte(c.line)); got != c.want {
			t.Errorf("splitAt(%q) = %d, want %d", c.line, got, c.want)
		}
	}
}
