package pipeline

import (
	"bytes"
	"strconv"
)

// Exim writes a syslog entry longer than about 870 characters (or with a
// newline in it) as several, each with "[n/m] " ("[n\m] " for a split at a
// newline) after the tag: "... exim[1234]: [1/3] 2026-11-27 06:02:21 ...".
// joiner puts them back together per process, so that a long ** or == line
// (a long reply text) is one line for the parser.
type joiner struct {
	parts map[string]*split // by the tag with its pid ("exim[1234")
	max   int               // longest whole line kept; longer ones are too long
}

// split is a line whose first parts have come.
type split struct {
	Line    []byte `json:"line"`     // syslog header of the first part, then the text so far
	Next    int    `json:"next"`     // the part expected next
	Of      int    `json:"of"`       // how many parts there are
	TooLong bool   `json:"too_long"` // longer than the limit: its text is not kept
	NL      bool   `json:"nl"`       // the last part ended where the line had a newline
	Order   uint64 `json:"order"`    // when it began, to let the oldest go first
}

// maxSplits bounds the lines being put together at once (one per Exim
// process writing one now).
const maxSplits = 64

// joinResult says what became of a physical line.
type joinResult uint8

const (
	notSplit   joinResult = iota // not a part: parse it as it is
	part                         // a part, kept until the line is whole
	joined                       // the last part: the whole line is returned
	joinedLong                   // the last part of a line that was too long
)

// add takes a physical line. For the last part of a split line it returns
// the whole line (valid until the next call); orphans counts parts whose
// line can never be whole (a part missing, or the oldest let go).
func (j *joiner) add(line []byte, seq uint64) (res joinResult, line2 []byte, orphans int) {
	i := splitAt(line[:min(len(line), 160)]) // the syslog header is at the start
	if i < 0 {
		return notSplit, nil, 0
	}
	n, of, sep, rest, ok := splitMark(line[i+4:])
	if !ok {
		return notSplit, nil, 0
	}
	tag := line[bytes.LastIndexByte(line[:i], ' ')+1 : i]
	sp := j.parts[string(tag)]
	if n == 1 {
		if sp != nil {
			orphans++ // a new line began before the last was whole
		} else {
			if j.parts == nil {
				j.parts = map[string]*split{}
			}
			if len(j.parts) >= maxSplits {
				orphans += j.dropOldest()
			}
			sp = &split{}
			j.parts[string(tag)] = sp
		}
		*sp = split{Line: append(append(sp.Line[:0], line[:i+3]...), rest...), Next: 2, Of: of, Order: seq, NL: sep == '\\'}
	} else {
		if sp == nil || n != sp.Next || of != sp.Of {
			if sp != nil {
				orphans++
				delete(j.parts, string(tag))
			}
			return part, nil, orphans + 1
		}
		sp.Next++
		if !sp.TooLong {
			if sp.NL {
				sp.Line = append(sp.Line, ' ') // where the newline was
			}
			sp.Line = append(sp.Line, rest...)
		}
		sp.NL = sep == '\\'
	}
	if len(sp.Line) > j.max {
		sp.TooLong, sp.Line = true, sp.Line[:0]
	}
	if sp.Next <= sp.Of {
		return part, nil, orphans
	}
	delete(j.parts, string(tag))
	if sp.TooLong {
		return joinedLong, nil, orphans
	}
	return joined, sp.Line, orphans
}

// splitAt returns where the syslog tag's "]: " is in head when a split
// mark "[" follows it, or -1. Every line comes here, so it looks at the
// first "]" only: nothing in a syslog header before the tag ("exim[1234]: ")
// has one, and a line whose first "]" is elsewhere (Exim's own log file,
// "H=mx.example [192.0.2.1] ...") is not a syslog part.
func splitAt(head []byte) int {
	i := bytes.IndexByte(head, ']')
	if i < 0 || len(head)-i < 4 || head[i+1] != ':' || head[i+2] != ' ' || head[i+3] != '[' {
		return -1
	}
	return i
}

// splitMark reads "n/m] " or "n\m] " at the start of b.
func splitMark(b []byte) (n, of int, sep byte, rest []byte, ok bool) {
	end := bytes.IndexByte(b, ']')
	if end < 3 || end > 12 || len(b) < end+2 || b[end+1] != ' ' {
		return 0, 0, 0, nil, false
	}
	k := bytes.IndexAny(b[:end], `/\`)
	if k < 1 {
		return 0, 0, 0, nil, false
	}
	n, err1 := strconv.Atoi(string(b[:k]))
	of, err2 := strconv.Atoi(string(b[k+1 : end]))
	if err1 != nil || err2 != nil || n < 1 || of < 2 || n > of {
		return 0, 0, 0, nil, false
	}
	return n, of, b[k], b[end+2:], true
}

// dropOldest lets go of the line that began first; it returns 1, the
// orphaned line.
func (j *joiner) dropOldest() int {
	var oldest string
	for k, sp := range j.parts {
		if oldest == "" || sp.Order < j.parts[oldest].Order {
			oldest = k
		}
	}
	delete(j.parts, oldest)
	return 1
}
