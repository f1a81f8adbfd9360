// Package tracker follows every deferred recipient of one log source until it
// is delivered, bounced or expires, and reports each such outcome with the time
// since the first deferral and the number of deferrals. It keeps no more than
// tracker_max_entries recipients and forgets those with no news for
// tracker_ttl, reporting them as abandoned, so memory stays bounded whatever
// the log says.
package tracker

import (
	"time"

	"github.com/bouncewatch/bouncewatch/parser"
)

// Outcome is how a deferred recipient's story ended.
type Outcome uint8

// Outcomes, as in the outcome label.
const (
	Delivered Outcome = iota
	Bounced
	Expired
	Abandoned
	NumOutcomes
)

var outcomeNames = [...]string{"delivered", "bounced", "expired", "abandoned"}

// String returns the label value.
func (o Outcome) String() string { return outcomeNames[o] }

// Reason says why a recipient was abandoned.
type Reason uint8

// Abandon reasons.
const (
	ReasonNone    Reason = iota
	ReasonRemoved        // the message left the queue with the recipient still pending
	ReasonTTL            // no news for tracker_ttl
	ReasonCap            // the table was full; the oldest entries go first
)

// Resolution is one deferred recipient reaching an outcome.
type Resolution struct {
	Source    string
	Recipient string
	Domain    string
	FirstCode parser.Code // the first temporary code, which caused the retries
	Outcome   Outcome
	Reason    Reason
	First     time.Time // log time of the first deferral
	Time      time.Time // log time of the outcome
	Attempts  int       // deferrals before the outcome
}

// Duration is the time from the first deferral to the outcome.
func (r *Resolution) Duration() time.Duration { return r.Time.Sub(r.First) }

// Sink receives what the tracker makes of the events: every delivery event to
// count (including one expired event per recipient of a Postfix message that
// expired) and every outcome.
type Sink interface {
	Event(ev *parser.Event)
	Resolved(r *Resolution)
}

// Tracker holds the pending recipients of one source. It is not safe for
// concurrent use.
type Tracker struct {
	source  string
	ttl     time.Duration
	max     int
	msgs    map[string]*message
	oldest  *message // least recently heard of; the list runs to newest
	newest  *message
	entries int
	now     time.Time // newest log time seen
}

// message is one queue file or spool entry with recipients still pending.
type message struct {
	id         string
	prev, next *message
	last       int64 // unix nanoseconds of the latest news
	rcpts      []pending
}

// pending is one deferred recipient. domain usually shares rcpt's bytes.
type pending struct {
	rcpt     string
	domain   string
	first    int64 // unix nanoseconds of the first deferral
	code     parser.Code
	attempts uint32
}

// New returns an empty tracker. ttl and max come from rules.yaml's limits.
func New(source string, ttl time.Duration, max int) *Tracker {
	if max < 1 {
		max = 1
	}
	return &Tracker{source: source, ttl: ttl, max: max, msgs: make(map[string]*message)}
}

// Source returns the name of the source the tracker follows.
func (t *Tracker) Source() string { return t.source }

// Len returns the number of pending recipients.
func (t *Tracker) Len() int { return t.entries }

// SetLimits changes ttl and the cap (a rules reload); a smaller cap takes
// effect at the next new entry.
func (t *Tracker) SetLimits(ttl time.Duration, max int) {
	if max < 1 {
		max = 1
	}
	t.ttl, t.max = ttl, max
}

// Pending calls yield for every pending recipient, oldest message first.
func (t *Tracker) Pending(yield func(domain string, code parser.Code, first time.Time)) {
	for m := t.oldest; m != nil; m = m.next {
		for i := range m.rcpts {
			p := &m.rcpts[i]
			yield(p.domain, p.code, time.Unix(0, p.first))
		}
	}
}

// Observe applies one event and tells sink what follows from it.
func (t *Tracker) Observe(ev *parser.Event, sink Sink) {
	if ev.Time.After(t.now) {
		t.now = ev.Time
		t.expire(sink)
	}
	switch ev.Status {
	case parser.StatusDeferred:
		sink.Event(ev)
		t.deferred(ev, sink)
	case parser.StatusSent:
		sink.Event(ev)
		t.resolve(ev, Delivered, sink)
	case parser.StatusBounced:
		sink.Event(ev)
		t.resolve(ev, Bounced, sink)
	case parser.StatusExpired:
		if len(ev.Recipient) > 0 {
			sink.Event(ev)
			t.resolve(ev, Expired, sink)
			return
		}
		t.expireMessage(ev, sink)
	case parser.StatusRemoved:
		if m := t.msgs[string(ev.QueueID)]; m != nil {
			t.drop(m, Abandoned, ReasonRemoved, ev.Time, sink)
		}
	}
}

// Flush abandons everything still pending older than the TTL relative to now,
// for a daemon whose log has gone quiet.
func (t *Tracker) Flush(now time.Time, sink Sink) {
	if now.After(t.now) {
		t.now = now
	}
	t.expire(sink)
}

func (t *Tracker) deferred(ev *parser.Event, sink Sink) {
	m := t.msgs[string(ev.QueueID)]
	if m != nil {
		for i := range m.rcpts {
			if m.rcpts[i].rcpt == string(ev.Recipient) {
				m.rcpts[i].attempts++
				t.touch(m, ev.Time)
				return
			}
		}
	}
	for t.entries >= t.max && t.oldest != nil {
		t.drop(t.oldest, Abandoned, ReasonCap, ev.Time, sink)
		if m != nil && t.msgs[m.id] != m {
			m = nil // the message itself was the oldest
		}
	}
	if m == nil {
		m = &message{id: string(ev.QueueID), rcpts: make([]pending, 0, 1)}
		t.msgs[m.id] = m
		t.pushNewest(m)
	}
	rcpt := string(ev.Recipient)
	m.rcpts = append(m.rcpts, pending{
		rcpt:     rcpt,
		domain:   shareSuffix(rcpt, ev.Domain),
		first:    ev.Time.UnixNano(),
		code:     ev.Code,
		attempts: 1,
	})
	t.entries++
	t.touch(m, ev.Time)
}

// shareSuffix returns domain as a string, reusing rcpt's memory when rcpt ends
// with it (the usual case: the domain is already lower case).
func shareSuffix(rcpt string, domain []byte) string {
	if n := len(rcpt) - len(domain); n > 0 && rcpt[n-1] == '@' && rcpt[n:] == string(domain) {
		return rcpt[n:]
	}
	return string(domain)
}

func (t *Tracker) resolve(ev *parser.Event, o Outcome, sink Sink) {
	m := t.msgs[string(ev.QueueID)]
	if m == nil {
		return
	}
	for i := range m.rcpts {
		if m.rcpts[i].rcpt == string(ev.Recipient) {
			t.report(&m.rcpts[i], o, ReasonNone, ev.Time, sink)
			t.removeAt(m, i)
			return
		}
	}
}

// expireMessage handles Postfix's one qmgr line per expired message: every
// recipient still pending expired, and each is counted as an expired event.
func (t *Tracker) expireMessage(ev *parser.Event, sink Sink) {
	m := t.msgs[string(ev.QueueID)]
	if m == nil {
		sink.Event(ev) // an expiry of recipients we never saw deferred
		return
	}
	for i := range m.rcpts {
		p := &m.rcpts[i]
		e := *ev
		e.Recipient = []byte(p.rcpt)
		e.Domain = []byte(p.domain)
		sink.Event(&e)
	}
	t.drop(m, Expired, ReasonNone, ev.Time, sink)
}

func (t *Tracker) report(p *pending, o Outcome, why Reason, at time.Time, sink Sink) {
	first := time.Unix(0, p.first)
	if at.Before(first) {
		at = first
	}
	sink.Resolved(&Resolution{
		Source: t.source, Recipient: p.rcpt, Domain: p.domain, FirstCode: p.code,
		Outcome: o, Reason: why, First: first, Time: at, Attempts: int(p.attempts),
	})
}

// drop ends every pending recipient of m with outcome o.
func (t *Tracker) drop(m *message, o Outcome, why Reason, at time.Time, sink Sink) {
	for i := range m.rcpts {
		t.report(&m.rcpts[i], o, why, at, sink)
	}
	t.entries -= len(m.rcpts)
	m.rcpts = nil
	t.unlink(m)
	delete(t.msgs, m.id)
}

func (t *Tracker) removeAt(m *message, i int) {
	last := len(m.rcpts) - 1
	m.rcpts[i] = m.rcpts[last]
	m.rcpts[last] = pending{}
	m.rcpts = m.rcpts[:last]
	t.entries--
	if last == 0 {
		t.unlink(m)
		delete(t.msgs, m.id)
	}
}

// expire abandons messages with no news for the TTL. The list is ordered by
// latest news, so this looks at the oldest ones only.
func (t *Tracker) expire(sink Sink) {
	if t.ttl <= 0 {
		return
	}
	limit := t.now.Add(-t.ttl).UnixNano()
	for t.oldest != nil && t.oldest.last < limit {
		m := t.oldest
		t.drop(m, Abandoned, ReasonTTL, time.Unix(0, m.last).Add(t.ttl), sink)
	}
}

func (t *Tracker) touch(m *message, at time.Time) {
	if ns := at.UnixNano(); ns > m.last {
		m.last = ns
	}
	if t.newest == m {
		return
	}
	t.unlink(m)
	t.pushNewest(m)
}

func (t *Tracker) pushNewest(m *message) {
	m.prev, m.next = t.newest, nil
	if t.newest != nil {
		t.newest.next = m
	} else {
		t.oldest = m
	}
	t.newest = m
}

func (t *Tracker) unlink(m *message) {
	if m.prev != nil {
		m.prev.next = m.next
	} else if t.oldest == m {
		t.oldest = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else if t.newest == m {
		t.newest = m.prev
	}
	m.prev, m.next = nil, nil
}
