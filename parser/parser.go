package parser

import (
	"bytes"
	"math/bits"
	"slices"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/fastregexp"
)

// Result says what became of one line.
type Result uint8

// Line results, as counted in bouncewatch_log_lines_total{result}.
const (
	Unmatched Result = iota // no rule matched
	Matched                 // a delivery event
	Skipped                 // matched a skip rule, or a delivery rule without a usable recipient
	TooLong                 // over max_line_bytes
	BadTime                 // matched, but the timestamp could not be read
	// Incomplete is a part of a line that Exim split for syslog ([1/3] ...)
	// whose other parts never came.
	Incomplete
	NumResults
)

var resultNames = [...]string{"unmatched", "matched", "skipped", "too_long", "bad_time", "incomplete"}

// String returns the label value.
func (r Result) String() string { return resultNames[r] }

// Results lists every result, in label order.
var Results = []Result{Matched, Skipped, Unmatched, TooLong, BadTime, Incomplete}

// Parser applies a RuleSet to lines of one source. It is not safe for
// concurrent use: it keeps scratch space so that parsing a line allocates
// nothing beyond what the regexp engine needs for a match.
type Parser struct {
	rules   *RuleSet
	source  string
	times   *TimeParser
	ref     time.Time
	domain  []byte
	match   fastregexp.Matcher
	caps    []int
	reasons classifier
	// keys holds, for the line being parsed, where each of the first 64
	// literal keys first occurs (-1: nowhere), once Parse has looked.
	keys [64]int
}

// NewParser returns a parser for the lines of the named source.
func NewParser(rs *RuleSet, source string) *Parser {
	p := &Parser{rules: rs, source: source, times: NewTimeParser(rs.Location)}
	p.times.SetReference(time.Now())
	return p
}

// Rules returns the rule set in use.
func (p *Parser) Rules() *RuleSet { return p.rules }

// SetRules swaps the rule set (a reload); the time zone may change with it.
func (p *Parser) SetRules(rs *RuleSet) {
	if rs.Location != p.rules.Location {
		t := NewTimeParser(rs.Location)
		t.SetReference(p.ref)
		p.times = t
	}
	p.rules = rs
}

// SetReference sets the time that year-less timestamps are read relative to:
// now for a live log, the file's modification time for an old one.
func (p *Parser) SetReference(ref time.Time) {
	p.ref = ref
	p.times.SetReference(ref)
}

// searchEach makes Parse search for each literal on its own, as it does on
// machines without the vector code: tests set it to check that path.
var searchEach = false

// Parse reads one line (without its newline) into ev. ev is filled only when
// the result is Matched; rule is the rule that matched (nil for Unmatched).
func (p *Parser) Parse(line []byte, ev *Event) (Result, *Rule) {
	if len(line) > p.rules.Limits.MaxLineBytes {
		return TooLong, nil
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	// Whether each literal is in the line is kept in bit masks (the first
	// 64 literals; beyond, each rule looks again): found in one pass over
	// the line for all of them, or, on machines without the vector code,
	// when a rule first needs it, with where each key byte first occurs.
	plan := p.rules.plan
	var seen, in, known uint64
	// todo has a bit for each of the first 64 steps of the plan that may
	// take the line (the steps beyond are all tried): with the literals
	// known, only the rules with one the line holds, or with none.
	todo := ^uint64(0)
	if !searchEach {
		if found, ok := p.rules.set.In(line); ok {
			seen, in = p.rules.inSet, found
			todo = p.rules.noLit
			for b := found; b != 0; b &= b - 1 {
				todo |= p.rules.stepsOf[bits.TrailingZeros64(b)]
			}
		}
	}
	for i := 0; i < len(plan); i++ {
		if i < 64 {
			if t := todo >> i; t != 0 {
				i += bits.TrailingZeros64(t)
			} else {
				i = 64
			}
			if i >= len(plan) {
				break
			}
		}
		st := &plan[i]
		if st.lit != nil {
			var ok bool
			if seen&st.bit != 0 {
				ok = in&st.bit != 0
			} else {
				var first int
				if known&st.kbit != 0 {
					first = p.keys[st.key&63]
				} else {
					first = bytes.IndexByte(line, st.keyByte)
					if st.kbit != 0 {
						p.keys[st.key&63] = first
						known |= st.kbit
					}
				}
				ok = st.lit.InFrom(line, first)
				seen |= st.bit
				if ok {
					in |= st.bit
				}
			}
			if !ok {
				continue
			}
		}
		r := st.rule
		if len(r.also) > 0 && !slices.ContainsFunc(r.also, func(l fastregexp.Literal) bool { return l.In(line) }) {
			continue
		}
		var m []int
		if r.re != nil {
			if m = p.find(r, line); m == nil {
				continue
			}
		}
		if r.skip {
			return Skipped, r
		}
		return p.fill(line, r, m, ev), r
	}
	return Unmatched, nil
}

// find matches the rule's regexp, with the fast matcher when it takes it.
func (p *Parser) find(r *Rule, line []byte) []int {
	if r.fast != nil {
		if m, ok := p.match.FindSubmatchIndex(r.fast, line, p.caps); ok {
			if m != nil {
				p.caps = m
			}
			return m
		}
	}
	return r.re.FindSubmatchIndex(line)
}

// group returns the first non-empty capture of field f.
func group(line []byte, r *Rule, m []int, f int) []byte {
	for _, i := range r.groups[f] {
		if s, e := m[2*i], m[2*i+1]; s >= 0 && e > s {
			return line[s:e]
		}
	}
	return nil
}

func (p *Parser) fill(line []byte, r *Rule, m []int, ev *Event) Result {
	*ev = Event{Source: p.source, Rule: r.Name, Status: r.status, Code: r.code}
	if b := group(line, r, m, fieldStatus); b != nil {
		if s := parseStatus(b); s != StatusNone {
			ev.Status = s
		}
	}
	if ev.Status == StatusNone {
		return Skipped
	}
	ev.QueueID = group(line, r, m, fieldQueueID)
	ev.Recipient = group(line, r, m, fieldRecipient)
	ev.Relay = group(line, r, m, fieldRelay)
	if len(r.groups[fieldText]) > 0 {
		ev.Text = group(line, r, m, fieldText)
	} else {
		// Without a text group the text is what follows the match: a rule
		// can stop matching where the reply starts, which is much cheaper
		// than capturing it with .* to the end of the line.
		ev.Text = line[m[1]:]
	}
	switch ev.Status {
	case StatusSent, StatusDeferred, StatusBounced:
		if len(ev.Recipient) == 0 || len(ev.QueueID) == 0 {
			return Skipped
		}
	}
	if len(ev.Recipient) > 0 {
		if d := group(line, r, m, fieldDomain); d != nil {
			ev.Domain = normaliseDomain(d, &p.domain)
		} else {
			ev.Domain = domainOf(ev.Recipient, &p.domain)
		}
	}
	ev.Reply = parseReply(group(line, r, m, fieldReply))
	if b := group(line, r, m, fieldCode); b != nil {
		if c, n := scanCode(b); n == len(b) {
			ev.Code = c
		}
	}
	if ev.Code == 0 || ev.Reply == 0 {
		if c, reply := codeFromText(ev.Text); c != 0 {
			if ev.Code == 0 {
				ev.Code = c
			}
			if ev.Reply == 0 {
				ev.Reply = reply
			}
		}
	}
	if ev.Code == 0 && ev.Reply != 0 {
		ev.Code, _ = NewCode(int(ev.Reply/100), 0, 0)
	}
	if ev.Code == 0 {
		ev.Code = defaultCode[ev.Status]
		ev.InheritCode = r.inherit
	}
	switch {
	case ev.Code.Class() == 2:
		ev.Reason = ReasonDelivered
	case ev.Status == StatusRemoved:
		ev.Reason = ReasonUndefined
	default:
		ev.Reason = p.reasons.reason(p.rules, ev.Code, ev.Text)
	}
	var (
		t  time.Time
		ok bool
	)
	if b := group(line, r, m, fieldTime); b != nil {
		t, _, ok = p.times.Parse(b)
	} else {
		t, _, ok = p.times.Parse(line)
	}
	if !ok {
		return BadTime
	}
	ev.Time = t
	return Matched
}

// defaultCode is the code of a line that carries none, by status. Expiry is
// RFC 3463's 4.4.7 "Delivery time expired"; removal is not a delivery result.
var defaultCode = [StatusRemoved + 1]Code{
	StatusSent:     2 << 20, // 2.0.0
	StatusDeferred: 4 << 20, // 4.0.0
	StatusBounced:  5 << 20, // 5.0.0
	StatusExpired:  4<<20 | 4<<10 | 7,
}
