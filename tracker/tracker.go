// Package tracker follows every deferred recipient of one log source until it
// is delivered, bounced or expires, and reports each such outcome with the time
// since the first deferral and the number of deferrals. It keeps no more than
// tracker_max_entries recipients and forgets those with no news for
// tracker_ttl, reporting them as abandoned, so memory stays bounded whatever
// the log says.
//
// A pending recipient costs about 110 bytes and no Go pointer: recipients and
// messages live in fixed-size records in chunked slabs, found through hash
// tables of indexes, and queue ids and addresses are kept as 64-bit hashes
// (the tracker only needs to recognise them again). Finding a recipient is
// O(1) whatever the size of its message, and the garbage collector has
// nothing to scan however many recipients are pending.
package tracker

import (
	"math/rand/v2"
	"time"

	"github.com/cespare/xxhash/v2"

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

// Abandon says why a recipient was abandoned.
type Abandon uint8

// Abandon reasons.
const (
	NotAbandoned   Abandon = iota
	AbandonRemoved         // the message left the queue with the recipient still pending
	AbandonTTL             // no news for tracker_ttl
	AbandonCap             // the table was full; the oldest entries go first
)

// Group is the set a pending recipient is counted in for the per-domain
// gauges. The sink chooses it (the metrics use the domain's label index); the
// tracker keeps each group's pending recipients in order of first deferral,
// so that the oldest is always at hand.
type Group uint32

// NoGroup is the group of an event without a recipient domain.
const NoGroup = ^Group(0)

// Resolution is one deferred recipient reaching an outcome.
type Resolution struct {
	FirstCode   parser.Code   // the first temporary code, which caused the retries
	FirstReason parser.Reason // and its reason
	Outcome     Outcome
	Abandon     Abandon // why, for Abandoned
	Group       Group
	First       time.Time // log time of the first deferral
	Time        time.Time // log time of the outcome
	Attempts    int       // deferrals before the outcome
}

// Duration is the time from the first deferral to the outcome.
func (r *Resolution) Duration() time.Duration { return r.Time.Sub(r.First) }

// Sink receives what the tracker makes of the events.
type Sink interface {
	// Group returns the group of a recipient domain.
	Group(domain []byte) Group
	// Event counts one delivery event, including one expired event per
	// pending recipient of a Postfix message that expired; g is the group
	// of its domain.
	Event(ev *parser.Event, g Group)
	// Resolved counts one outcome. r is valid during the call only.
	Resolved(r *Resolution)
	// Pending reports delta (+1 or -1) recipients with first code c in
	// group g, and the log time of g's oldest pending deferral after the
	// change (zero when none is left).
	Pending(c parser.Code, g Group, delta int, oldest time.Time)
}

// Tracker holds the pending recipients of one source. It is not safe for
// concurrent use.
type Tracker struct {
	ttl  time.Duration
	max  int
	now  int64  // newest log time seen, unix nanoseconds
	seed uint64 // bucket hashing; random, so that crafted ids cannot flood one chain

	rcpts    slab[rcpt]
	msgs     slab[message]
	rfree    uint32 // free lists, through rcpt.mnext and message.newer
	mfree    uint32
	rbuckets []uint32
	mbuckets []uint32
	nr, nm   int
	oldest   uint32 // message least recently heard of; the list runs to newest
	newest   uint32
	groups   []groupList
	res      Resolution // handed to Sink.Resolved, so that reporting allocates nothing
	codes    codeMemory
}

// rcpt is one deferred recipient. Index 0 of every slab means "none".
type rcpt struct {
	key          uint64 // hash of the address
	first        int64  // unix nanoseconds of the first deferral
	msg          uint32
	mnext, mprev uint32 // the recipients of one message
	gnext, gprev uint32 // the recipients of one group, oldest first
	hnext        uint32 // hash chain
	group        Group
	code         parser.Code
	attempts     uint32
	reason       parser.Reason // of the first deferral, as code
}

// message is one queue file or spool entry with recipients still pending.
type message struct {
	key          uint64 // hash of the queue id
	last         int64  // unix nanoseconds of the latest news
	head         uint32 // first recipient
	n            uint32 // recipients pending
	older, newer uint32 // the message list, by latest news
	hnext        uint32
}

type groupList struct{ head, tail uint32 }

// New returns an empty tracker. ttl and max come from rules.yaml's limits.
func New(ttl time.Duration, maxEntries int) *Tracker {
	t := &Tracker{seed: rand.Uint64()}
	t.SetLimits(ttl, maxEntries)
	t.reset()
	return t
}

func (t *Tracker) reset() {
	t.codes = codeMemory{}
	t.rcpts, t.msgs = slab[rcpt]{}, slab[message]{}
	t.rcpts.alloc() // index 0: none
	t.msgs.alloc()
	t.rfree, t.mfree, t.nr, t.nm, t.oldest, t.newest = 0, 0, 0, 0, 0, 0
	t.rbuckets, t.mbuckets = make([]uint32, 64), make([]uint32, 64)
	t.groups = nil
}

// Len returns the number of pending recipients.
func (t *Tracker) Len() int { return t.nr }

// SetLimits changes ttl and the cap (a rules reload); a smaller cap takes
// effect at the next new entry.
func (t *Tracker) SetLimits(ttl time.Duration, maxEntries int) {
	t.ttl, t.max = ttl, max(maxEntries, 1)
}

// Each calls yield for every pending recipient, oldest message first.
func (t *Tracker) Each(yield func(g Group, firstCode parser.Code, first time.Time)) {
	for mi := t.oldest; mi != 0; mi = t.msgs.at(mi).newer {
		for ri := t.msgs.at(mi).head; ri != 0; ri = t.rcpts.at(ri).mnext {
			r := t.rcpts.at(ri)
			yield(r.group, r.code, time.Unix(0, r.first))
		}
	}
}

// Observe applies one event and tells sink what follows from it.
func (t *Tracker) Observe(ev *parser.Event, sink Sink) {
	if ns := ev.Time.UnixNano(); ns > t.now {
		t.now = ns
		t.expire(sink)
	}
	g := NoGroup
	if len(ev.Domain) > 0 {
		g = sink.Group(ev.Domain)
	}
	switch ev.Status {
	case parser.StatusDeferred:
		if len(ev.Domain) > 0 {
			k := xxhash.Sum64(ev.Domain)
			if !ev.InheritCode {
				t.codes.put(k, codeReason{ev.Code, ev.Reason})
			} else if c, ok := t.codes.get(k); ok {
				ev.Code, ev.Reason = c.code, c.reason
			}
		}
		sink.Event(ev, g)
		t.deferred(ev, g, sink)
	case parser.StatusSent:
		sink.Event(ev, g)
		t.resolve(ev, Delivered, sink)
	case parser.StatusBounced:
		sink.Event(ev, g)
		t.resolve(ev, Bounced, sink)
	case parser.StatusExpired:
		if len(ev.Recipient) > 0 {
			sink.Event(ev, g)
			t.resolve(ev, Expired, sink)
		} else {
			t.expireMessage(ev, sink)
		}
	case parser.StatusRemoved:
		if mi := t.findMsg(xxhash.Sum64(ev.QueueID)); mi != 0 {
			t.dropMsg(mi, Abandoned, AbandonRemoved, ev.Time.UnixNano(), sink)
		}
	}
	t.maybeCompact()
}

func (t *Tracker) deferred(ev *parser.Event, g Group, sink Sink) {
	mk, rk := xxhash.Sum64(ev.QueueID), xxhash.Sum64(ev.Recipient)
	at := ev.Time.UnixNano()
	mi := t.findMsg(mk)
	if mi != 0 {
		if ri := t.findRcpt(mi, rk); ri != 0 {
			r := t.rcpts.at(ri)
			if r.attempts < ^uint32(0) {
				r.attempts++
			}
			t.touch(mi, at)
			return
		}
	}
	for t.nr >= t.max && t.oldest != 0 {
		victim := t.oldest
		t.dropMsg(victim, Abandoned, AbandonCap, at, sink)
		if victim == mi {
			mi = 0 // the message itself was the oldest
		}
	}
	if mi == 0 {
		mi = t.newMsg(mk)
	}
	t.addRcpt(mi, rk, g, at, codeReason{ev.Code, ev.Reason}, 1, sink)
	t.touch(mi, at)
}

func (t *Tracker) resolve(ev *parser.Event, o Outcome, sink Sink) {
	mi := t.findMsg(xxhash.Sum64(ev.QueueID))
	if mi == 0 {
		return
	}
	ri := t.findRcpt(mi, xxhash.Sum64(ev.Recipient))
	if ri == 0 {
		return
	}
	t.report(ri, o, NotAbandoned, ev.Time.UnixNano(), sink)
	t.removeRcpt(ri, sink)
	if t.msgs.at(mi).n == 0 {
		t.removeMsg(mi)
	}
}

// expireMessage handles Postfix's one qmgr line per expired message: every
// recipient still pending expired, and each is counted as an expired event.
func (t *Tracker) expireMessage(ev *parser.Event, sink Sink) {
	mi := t.findMsg(xxhash.Sum64(ev.QueueID))
	if mi == 0 {
		sink.Event(ev, NoGroup) // an expiry of recipients we never saw deferred
		return
	}
	for ri := t.msgs.at(mi).head; ri != 0; ri = t.rcpts.at(ri).mnext {
		sink.Event(ev, t.rcpts.at(ri).group)
	}
	t.dropMsg(mi, Expired, NotAbandoned, ev.Time.UnixNano(), sink)
}

func (t *Tracker) report(ri uint32, o Outcome, why Abandon, at int64, sink Sink) {
	r := t.rcpts.at(ri)
	at = max(at, r.first)
	t.res = Resolution{
		FirstCode: r.code, FirstReason: r.reason, Outcome: o, Abandon: why, Group: r.group,
		First: time.Unix(0, r.first), Time: time.Unix(0, at), Attempts: int(r.attempts),
	}
	sink.Resolved(&t.res)
}

// dropMsg ends every pending recipient of a message with outcome o.
func (t *Tracker) dropMsg(mi uint32, o Outcome, why Abandon, at int64, sink Sink) {
	for ri := t.msgs.at(mi).head; ri != 0; {
		next := t.rcpts.at(ri).mnext
		t.report(ri, o, why, at, sink)
		t.removeRcpt(ri, sink)
		ri = next
	}
	t.removeMsg(mi)
}

// expire abandons messages with no news for the TTL. The list is ordered by
// latest news, so this looks at the oldest ones only.
func (t *Tracker) expire(sink Sink) {
	if t.ttl <= 0 {
		return
	}
	limit := t.now - int64(t.ttl)
	for t.oldest != 0 && t.msgs.at(t.oldest).last < limit {
		mi := t.oldest
		t.dropMsg(mi, Abandoned, AbandonTTL, t.msgs.at(mi).last+int64(t.ttl), sink)
	}
}

// ---- the latest code per domain ----

// codeMemoryGen is how many domains one generation of the code memory holds:
// the memory keeps between one and two generations, the most recent.
const codeMemoryGen = 4096

// codeMemory is the code of the latest deferral that carried one, per
// domain: what a deferral without an attempt (Exim's "retry time not
// reached") takes. Two generations of maps bound it whatever the domains.
type codeMemory struct {
	cur, old map[uint64]codeReason
}

// codeReason is a deferral's code and the reason of its reply.
type codeReason struct {
	code   parser.Code
	reason parser.Reason
}

func (m *codeMemory) put(k uint64, c codeReason) {
	if m.cur == nil {
		m.cur = make(map[uint64]codeReason)
	}
	if _, ok := m.cur[k]; !ok && len(m.cur) >= codeMemoryGen {
		m.old, m.cur = m.cur, make(map[uint64]codeReason, codeMemoryGen)
	}
	m.cur[k] = c
}

func (m *codeMemory) get(k uint64) (codeReason, bool) {
	if c, ok := m.cur[k]; ok {
		return c, true
	}
	c, ok := m.old[k]
	if ok {
		m.put(k, c) // still in use: keep it
	}
	return c, ok
}

// ---- messages ----

func (t *Tracker) mbucket(key uint64) *uint32 {
	return &t.mbuckets[mix(key^t.seed)&uint64(len(t.mbuckets)-1)]
}

func (t *Tracker) findMsg(key uint64) uint32 {
	for mi := *t.mbucket(key); mi != 0; {
		m := t.msgs.at(mi)
		if m.key == key {
			return mi
		}
		mi = m.hnext
	}
	return 0
}

func (t *Tracker) newMsg(key uint64) uint32 {
	mi := t.mfree
	if mi != 0 {
		t.mfree = t.msgs.at(mi).newer
	} else {
		mi = t.msgs.alloc()
	}
	if t.nm >= len(t.mbuckets) {
		t.mbuckets = t.rehash(t.mbuckets, func(b []uint32) {
			t.eachMsg(func(i uint32, m *message) {
				h := &b[mix(m.key^t.seed)&uint64(len(b)-1)]
				m.hnext, *h = *h, i
			})
		})
	}
	b := t.mbucket(key)
	*t.msgs.at(mi) = message{key: key, hnext: *b}
	*b = mi
	t.nm++
	t.pushNewest(mi)
	return mi
}

func (t *Tracker) removeMsg(mi uint32) {
	m := t.msgs.at(mi)
	for p := t.mbucket(m.key); *p != 0; p = &t.msgs.at(*p).hnext {
		if *p == mi {
			*p = m.hnext
			break
		}
	}
	t.unlink(mi)
	*m = message{newer: t.mfree}
	t.mfree = mi
	t.nm--
}

func (t *Tracker) touch(mi uint32, at int64) {
	m := t.msgs.at(mi)
	m.last = max(m.last, at)
	if t.newest != mi {
		t.unlink(mi)
		t.pushNewest(mi)
	}
}

func (t *Tracker) pushNewest(mi uint32) {
	m := t.msgs.at(mi)
	m.older, m.newer = t.newest, 0
	if t.newest != 0 {
		t.msgs.at(t.newest).newer = mi
	} else {
		t.oldest = mi
	}
	t.newest = mi
}

func (t *Tracker) unlink(mi uint32) {
	m := t.msgs.at(mi)
	if m.older != 0 {
		t.msgs.at(m.older).newer = m.newer
	} else if t.oldest == mi {
		t.oldest = m.newer
	}
	if m.newer != 0 {
		t.msgs.at(m.newer).older = m.older
	} else if t.newest == mi {
		t.newest = m.older
	}
	m.older, m.newer = 0, 0
}

// eachMsg visits every live message, in list order.
func (t *Tracker) eachMsg(f func(i uint32, m *message)) {
	for mi := t.oldest; mi != 0; {
		m := t.msgs.at(mi)
		next := m.newer
		f(mi, m)
		mi = next
	}
}

// ---- recipients ----

func (t *Tracker) rbucketOf(mi uint32, key uint64, b []uint32) *uint32 {
	return &b[mix(key^t.seed^uint64(mi)*0x9e3779b97f4a7c15)&uint64(len(b)-1)]
}

func (t *Tracker) findRcpt(mi uint32, key uint64) uint32 {
	for ri := *t.rbucketOf(mi, key, t.rbuckets); ri != 0; {
		r := t.rcpts.at(ri)
		if r.key == key && r.msg == mi {
			return ri
		}
		ri = r.hnext
	}
	return 0
}

func (t *Tracker) addRcpt(mi uint32, key uint64, g Group, first int64, cr codeReason, attempts uint32, sink Sink) {
	ri := t.rfree
	if ri != 0 {
		t.rfree = t.rcpts.at(ri).mnext
	} else {
		ri = t.rcpts.alloc()
	}
	if t.nr >= len(t.rbuckets) {
		t.rbuckets = t.rehash(t.rbuckets, func(b []uint32) {
			t.eachMsg(func(mi uint32, m *message) {
				for i := m.head; i != 0; i = t.rcpts.at(i).mnext {
					r := t.rcpts.at(i)
					h := t.rbucketOf(mi, r.key, b)
					r.hnext, *h = *h, i
				}
			})
		})
	}
	m := t.msgs.at(mi)
	b := t.rbucketOf(mi, key, t.rbuckets)
	*t.rcpts.at(ri) = rcpt{key: key, first: first, msg: mi, mnext: m.head, hnext: *b, group: g, code: cr.code, reason: cr.reason, attempts: attempts}
	*b = ri
	if m.head != 0 {
		t.rcpts.at(m.head).mprev = ri
	}
	m.head = ri
	m.n++
	t.nr++
	t.groupAdd(ri)
	sink.Pending(cr.code, g, 1, t.groupOldest(g))
}

func (t *Tracker) removeRcpt(ri uint32, sink Sink) {
	r := t.rcpts.at(ri)
	mi := r.msg
	for p := t.rbucketOf(mi, r.key, t.rbuckets); *p != 0; p = &t.rcpts.at(*p).hnext {
		if *p == ri {
			*p = r.hnext
			break
		}
	}
	m := t.msgs.at(mi)
	if r.mprev != 0 {
		t.rcpts.at(r.mprev).mnext = r.mnext
	} else {
		m.head = r.mnext
	}
	if r.mnext != 0 {
		t.rcpts.at(r.mnext).mprev = r.mprev
	}
	m.n--
	t.groupRemove(ri)
	code, g := r.code, r.group
	*r = rcpt{mnext: t.rfree}
	t.rfree = ri
	t.nr--
	sink.Pending(code, g, -1, t.groupOldest(g))
}

// ---- groups: each a list of its recipients by first deferral ----

// maxGroupWalk bounds how far back an insertion looks for its place: log
// times are nearly ordered, and a hostile order must not cost O(n).
const maxGroupWalk = 32

func (t *Tracker) groupAdd(ri uint32) {
	r := t.rcpts.at(ri)
	if r.group == NoGroup {
		return
	}
	for int(r.group) >= len(t.groups) {
		t.groups = append(t.groups, groupList{})
	}
	gl := &t.groups[r.group]
	after := gl.tail // insert after this one (0: at the head)
	for n := 0; after != 0 && n < maxGroupWalk && t.rcpts.at(after).first > r.first; n++ {
		after = t.rcpts.at(after).gprev
	}
	r.gprev = after
	if after == 0 {
		r.gnext = gl.head
		gl.head = ri
	} else {
		a := t.rcpts.at(after)
		r.gnext = a.gnext
		a.gnext = ri
	}
	if r.gnext != 0 {
		t.rcpts.at(r.gnext).gprev = ri
	} else {
		gl.tail = ri
	}
}

func (t *Tracker) groupRemove(ri uint32) {
	r := t.rcpts.at(ri)
	if r.group == NoGroup {
		return
	}
	gl := &t.groups[r.group]
	if r.gprev != 0 {
		t.rcpts.at(r.gprev).gnext = r.gnext
	} else {
		gl.head = r.gnext
	}
	if r.gnext != 0 {
		t.rcpts.at(r.gnext).gprev = r.gprev
	} else {
		gl.tail = r.gprev
	}
}

func (t *Tracker) groupOldest(g Group) time.Time {
	if g == NoGroup || int(g) >= len(t.groups) || t.groups[g].head == 0 {
		return time.Time{}
	}
	return time.Unix(0, t.rcpts.at(t.groups[g].head).first)
}

// ---- storage ----

// rehash returns a table twice the size of old, filled by fill.
func (t *Tracker) rehash(old []uint32, fill func([]uint32)) []uint32 {
	b := make([]uint32, 2*len(old))
	fill(b)
	return b
}

// maybeCompact gives memory back after a peak: when the slabs hold four
// times more records than are live, the live ones are copied into new slabs.
// It renumbers everything, so it runs only between events.
func (t *Tracker) maybeCompact() {
	sparse := func(live, capacity int) bool { return capacity >= 4*chunkSize && live*4 <= capacity }
	if !sparse(t.nr, t.rcpts.cap()) && !sparse(t.nm, t.msgs.cap()) {
		return
	}
	old := *t
	t.reset()
	t.now, t.codes = old.now, old.codes
	var discard discardSink
	old.eachMsg(func(_ uint32, om *message) {
		mi := t.newMsg(om.key)
		t.msgs.at(mi).last = om.last
		// Recipients are added at the head: add them in reverse to keep
		// their order.
		var tail uint32
		for ri := om.head; ri != 0; ri = old.rcpts.at(ri).mnext {
			tail = ri
		}
		for ri := tail; ri != 0; ri = old.rcpts.at(ri).mprev {
			r := old.rcpts.at(ri)
			t.addRcpt(mi, r.key, r.group, r.first, codeReason{r.code, r.reason}, r.attempts, discard)
		}
	})
}

// discardSink takes the notifications of a rebuild, which changes nothing
// that anyone counts.
type discardSink struct{}

func (discardSink) Group([]byte) Group                         { return NoGroup }
func (discardSink) Event(*parser.Event, Group)                 {}
func (discardSink) Resolved(*Resolution)                       {}
func (discardSink) Pending(parser.Code, Group, int, time.Time) {}

const (
	chunkShift = 12
	chunkSize  = 1 << chunkShift
)

// slab is an array of records that grows by fixed chunks, so that growing
// never copies it and never needs twice its size.
type slab[T any] struct {
	chunks [][]T
	n      uint32
}

func (s *slab[T]) at(i uint32) *T { return &s.chunks[i>>chunkShift][i&(chunkSize-1)] }

func (s *slab[T]) alloc() uint32 {
	if int(s.n) == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, make([]T, chunkSize))
	}
	s.n++
	return s.n - 1
}

func (s *slab[T]) cap() int { return len(s.chunks) * chunkSize }

// mix is splitmix64's finaliser: every input bit moves every output bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
