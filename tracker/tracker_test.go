package tracker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/bouncewatch/bouncewatch/parser"
)

// recorder is a Sink that keeps everything it is told, with a group per
// distinct domain, and the pending gauges as the metrics keep them.
type recorder struct {
	groups  map[string]Group
	names   []string
	events  []string
	res     []Resolution
	byCode  map[parser.Code]int
	byGroup map[Group]int
	oldest  map[Group]time.Time
}

func newRecorder() *recorder {
	return &recorder{groups: map[string]Group{}, byCode: map[parser.Code]int{}, byGroup: map[Group]int{}, oldest: map[Group]time.Time{}}
}

func (r *recorder) Group(domain []byte) Group {
	if g, ok := r.groups[string(domain)]; ok {
		return g
	}
	g := Group(len(r.names))
	r.groups[string(domain)] = g
	r.names = append(r.names, string(domain))
	return g
}

func (r *recorder) name(g Group) string {
	if g == NoGroup {
		return "-"
	}
	return r.names[g]
}

func (r *recorder) Event(ev *parser.Event, g Group) {
	s := fmt.Sprintf("%s %s %s", ev.Status, ev.Code, r.name(g))
	if ev.Reason != parser.ReasonUndefined {
		s += " " + ev.Reason.String()
	}
	r.events = append(r.events, s)
}

func (r *recorder) Resolved(res *Resolution) { r.res = append(r.res, *res) }

func (r *recorder) Pending(c parser.Code, g Group, delta int, oldest time.Time) {
	r.byCode[c] += delta
	r.byGroup[g] += delta
	r.oldest[g] = oldest
}

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func code(s string) parser.Code {
	c, ok := parser.ParseCode(s)
	if !ok {
		panic(s)
	}
	return c
}

// ev builds an event: at seconds after t0, status, queue id, recipient, code.
func ev(at int, st parser.Status, qid, rcpt, c string) *parser.Event {
	e := &parser.Event{Time: t0.Add(time.Duration(at) * time.Second), Source: "s", Status: st, QueueID: []byte(qid)}
	if rcpt != "" {
		e.Recipient = []byte(rcpt)
		e.Domain = []byte(strings.ToLower(rcpt[strings.IndexByte(rcpt, '@')+1:]))
	}
	if c != "" {
		e.Code = code(c)
	}
	if st == D {
		e.Reason = reasonOf[c] // as the parser would name the reply
	}
	return e
}

// reasonOf gives the test deferrals a reason by code.
var reasonOf = map[string]parser.Reason{"4.3.2": mustReason("not_accepting"), "4.4.1": mustReason("network"), "4.7.1": mustReason("blocked")}

func mustReason(name string) parser.Reason {
	r, ok := parser.ReasonNamed(name)
	if !ok {
		panic(name)
	}
	return r
}

const (
	D = parser.StatusDeferred
	S = parser.StatusSent
	B = parser.StatusBounced
	E = parser.StatusExpired
	R = parser.StatusRemoved
)

func TestOutcomes(t *testing.T) {
	type want struct {
		domain   string
		outcome  Outcome
		abandon  Abandon
		code     string
		secs     int
		attempts int
	}
	tests := []struct {
		name    string
		ttl     time.Duration
		max     int
		events  []*parser.Event
		want    []want
		pending int
		nEvents int
	}{
		{
			name: "deferred three times then delivered",
			events: []*parser.Event{
				ev(0, D, "A1", "bob@retry.example", "4.3.2"),
				ev(10, D, "A1", "bob@retry.example", "4.3.2"),
				ev(20, D, "A1", "bob@retry.example", "4.4.1"),
				ev(40, S, "A1", "bob@retry.example", "2.0.0"),
				ev(40, R, "A1", "", ""),
			},
			want:    []want{{"retry.example", Delivered, NotAbandoned, "4.3.2", 40, 3}},
			nEvents: 4,
		},
		{
			name: "deferred then bounced",
			events: []*parser.Event{
				ev(0, D, "A1", "x@b.example", "4.0.0"),
				ev(30, B, "A1", "x@b.example", "5.1.1"),
			},
			want:    []want{{"b.example", Bounced, NotAbandoned, "4.0.0", 30, 1}},
			nEvents: 2,
		},
		{
			name: "postfix message expiry ends every pending recipient of the message",
			events: []*parser.Event{
				ev(0, D, "A1", "a@e.example", "4.3.2"),
				ev(0, D, "A1", "b@f.example", "4.3.2"),
				ev(0, S, "A1", "c@ok.example", "2.0.0"),
				ev(0, D, "B2", "z@other.example", "4.3.2"),
				ev(60, D, "A1", "a@e.example", "4.3.2"),
				ev(60, E, "A1", "", "4.4.7"),
				ev(60, R, "A1", "", ""),
			},
			want: []want{
				{"f.example", Expired, NotAbandoned, "4.3.2", 60, 1},
				{"e.example", Expired, NotAbandoned, "4.3.2", 60, 2},
			},
			pending: 1,
			nEvents: 7, // 5 delivery lines + 2 expired recipients
		},
		{
			name: "exim expiry is per recipient",
			events: []*parser.Event{
				ev(0, D, "1xWp2L-0007RB-2x", "carol@expire.example", "4.3.2"),
				ev(60, D, "1xWp2L-0007RB-2x", "carol@expire.example", "4.3.2"),
				ev(60, E, "1xWp2L-0007RB-2x", "carol@expire.example", "4.4.7"),
				ev(60, R, "1xWp2L-0007RB-2x", "", ""),
			},
			want:    []want{{"expire.example", Expired, NotAbandoned, "4.3.2", 60, 2}},
			nEvents: 3,
		},
		{
			name: "removed with a recipient pending abandons it; the queue id is then re-used",
			events: []*parser.Event{
				ev(0, D, "A1", "a@x.example", "4.3.2"),
				ev(5, R, "A1", "", ""),
				ev(100, D, "A1", "a@x.example", "4.2.0"),
				ev(130, S, "A1", "a@x.example", "2.0.0"),
			},
			want: []want{
				{"x.example", Abandoned, AbandonRemoved, "4.3.2", 5, 1},
				{"x.example", Delivered, NotAbandoned, "4.2.0", 30, 1},
			},
			nEvents: 3,
		},
		{
			name: "no news for the ttl",
			ttl:  time.Hour,
			events: []*parser.Event{
				ev(0, D, "A1", "a@x.example", "4.3.2"),
				ev(1800, D, "B1", "b@x.example", "4.3.2"),
				ev(3601, S, "C1", "c@x.example", "2.0.0"),
			},
			want:    []want{{"x.example", Abandoned, AbandonTTL, "4.3.2", 3600, 1}},
			pending: 1,
			nEvents: 3,
		},
		{
			name: "table full: the oldest goes first",
			max:  2,
			events: []*parser.Event{
				ev(0, D, "A1", "a@x.example", "4.3.2"),
				ev(1, D, "B1", "b@y.example", "4.3.2"),
				ev(2, D, "A1", "a@x.example", "4.3.2"), // A1 is now the newest
				ev(3, D, "C1", "c@z.example", "4.7.0"),
			},
			want:    []want{{"y.example", Abandoned, AbandonCap, "4.3.2", 2, 1}},
			pending: 2,
			nEvents: 4,
		},
		{
			name: "table full with one big message: it is abandoned to make room for itself",
			max:  2,
			events: []*parser.Event{
				ev(0, D, "A1", "a@x.example", "4.3.2"),
				ev(1, D, "A1", "b@x.example", "4.3.2"),
				ev(2, D, "A1", "c@x.example", "4.3.2"),
			},
			want:    []want{{"x.example", Abandoned, AbandonCap, "4.3.2", 1, 1}, {"x.example", Abandoned, AbandonCap, "4.3.2", 2, 1}},
			pending: 1,
			nEvents: 3,
		},
		{
			name: "delivery without an earlier deferral is an event, not an outcome",
			events: []*parser.Event{
				ev(0, S, "A1", "a@x.example", "2.0.0"),
				ev(0, B, "A2", "b@x.example", "5.1.1"),
				ev(0, E, "A3", "", "4.4.7"),
			},
			nEvents: 3,
		},
		{
			name: "the same address in two messages is two recipients",
			events: []*parser.Event{
				ev(0, D, "A1", "a@x.example", "4.3.2"),
				ev(1, D, "A2", "a@x.example", "4.4.1"),
				ev(9, S, "A2", "a@x.example", "2.0.0"),
			},
			want:    []want{{"x.example", Delivered, NotAbandoned, "4.4.1", 8, 1}},
			pending: 1,
			nEvents: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ttl, maxEntries := tt.ttl, tt.max
			if ttl == 0 {
				ttl = 120 * time.Hour
			}
			if maxEntries == 0 {
				maxEntries = 1000
			}
			tr := New(ttl, maxEntries)
			rec := newRecorder()
			for _, e := range tt.events {
				tr.Observe(e, rec)
			}
			var got []want
			for _, g := range rec.res {
				got = append(got, want{rec.name(g.Group), g.Outcome, g.Abandon, g.FirstCode.String(), int(g.Duration().Seconds()), g.Attempts})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("outcomes:\nwant %+v\ngot  %+v", tt.want, got)
			}
			if tr.Len() != tt.pending {
				t.Errorf("want %d pending, got %d", tt.pending, tr.Len())
			}
			if len(rec.events) != tt.nEvents {
				t.Errorf("want %d events, got %d: %q", tt.nEvents, len(rec.events), rec.events)
			}
			total := 0
			for _, n := range rec.byCode {
				total += n
			}
			if total != tr.Len() {
				t.Errorf("pending notifications add up to %d, the tracker holds %d", total, tr.Len())
			}
		})
	}
}

func TestExpiredEventsCarryTheGroup(t *testing.T) {
	tr := New(time.Hour, 10)
	rec := newRecorder()
	tr.Observe(ev(0, D, "A1", "a@e.example", "4.3.2"), rec)
	tr.Observe(ev(9, E, "A1", "", "4.4.7"), rec)
	want := []string{"deferred 4.3.2 e.example not_accepting", "expired 4.4.7 e.example"}
	if fmt.Sprint(rec.events) != fmt.Sprint(want) {
		t.Errorf("want %q, got %q", want, rec.events)
	}
}

func TestEachListsEveryRecipient(t *testing.T) {
	tr := New(time.Hour, 10)
	rec := newRecorder()
	tr.Observe(ev(0, D, "A1", "a@Mixed.example", "4.3.2"), rec)
	tr.Observe(ev(5, D, "B1", "b@y.example", "4.4.1"), rec)
	var got []string
	tr.Each(func(g Group, c parser.Code, first time.Time) {
		got = append(got, fmt.Sprintf("%s %s %s", rec.name(g), c, first.Sub(t0)))
	})
	want := []string{"mixed.example 4.3.2 0s", "y.example 4.4.1 5s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("want %q, got %q", want, got)
	}
}

// model is the tracker's semantics written the slow, obvious way.
type model struct {
	ttl     time.Duration
	max     int
	pending map[[2]string]*modelRcpt
	order   []string // queue ids, least recently heard of first
	last    map[string]time.Time
	now     time.Time
	out     []string
}

type modelRcpt struct {
	domain   string
	first    time.Time
	code     parser.Code
	reason   parser.Reason
	attempts int
	seq      int // order of arrival within the message
}

func (m *model) touch(qid string, at time.Time) {
	m.order = slices.DeleteFunc(m.order, func(q string) bool { return q == qid })
	m.order = append(m.order, qid)
	if at.After(m.last[qid]) {
		m.last[qid] = at
	}
}

func (m *model) rcpts(qid string) [][2]string {
	var keys [][2]string
	for k := range m.pending {
		if k[0] == qid {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return m.pending[b].seq - m.pending[a].seq })
	return keys
}

func (m *model) end(k [2]string, o Outcome, at time.Time) {
	p := m.pending[k]
	if at.Before(p.first) {
		at = p.first
	}
	m.out = append(m.out, fmt.Sprintf("%s %s %s %s %v %d", p.domain, p.code, p.reason, o, at.Sub(p.first), p.attempts))
	delete(m.pending, k)
}

func (m *model) drop(qid string, o Outcome, at time.Time) {
	for _, k := range m.rcpts(qid) {
		m.end(k, o, at)
	}
	m.order = slices.DeleteFunc(m.order, func(q string) bool { return q == qid })
	delete(m.last, qid)
}

func (m *model) observe(e *parser.Event, seq int) {
	if e.Time.After(m.now) {
		m.now = e.Time
		for len(m.order) > 0 && m.last[m.order[0]].Before(m.now.Add(-m.ttl)) {
			q := m.order[0]
			m.drop(q, Abandoned, m.last[q].Add(m.ttl))
		}
	}
	qid, k := string(e.QueueID), [2]string{string(e.QueueID), string(e.Recipient)}
	switch e.Status {
	case D:
		if p := m.pending[k]; p != nil {
			p.attempts++
			m.touch(qid, e.Time)
			return
		}
		for len(m.pending) >= m.max && len(m.order) > 0 {
			m.drop(m.order[0], Abandoned, e.Time)
		}
		m.pending[k] = &modelRcpt{domain: string(e.Domain), first: e.Time, code: e.Code, reason: e.Reason, attempts: 1, seq: seq}
		m.touch(qid, e.Time)
	case S, B:
		if m.pending[k] != nil {
			m.end(k, map[parser.Status]Outcome{S: Delivered, B: Bounced}[e.Status], e.Time)
			if len(m.rcpts(qid)) == 0 {
				m.drop(qid, Abandoned, e.Time)
			}
		}
	case R:
		if _, ok := m.last[qid]; ok {
			m.drop(qid, Abandoned, e.Time)
		}
	}
}

// TestAgainstModel runs random event streams (few ids, so that recipients
// meet again) through the tracker and the model, with a restart through
// Encode and Decode in the middle, and compares every outcome and gauge.
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		maxEntries := 5 + rng.IntN(40)
		tr := New(10*time.Minute, maxEntries)
		rec := newRecorder()
		m := &model{ttl: 10 * time.Minute, max: maxEntries, pending: map[[2]string]*modelRcpt{}, last: map[string]time.Time{}}
		at := 0
		n := 300 + rng.IntN(300)
		for i := range n {
			at += rng.IntN(20) - 2 // mostly forward, sometimes a little back
			qid := fmt.Sprintf("Q%d", rng.IntN(15))
			rcpt := fmt.Sprintf("u%d@d%d.example", rng.IntN(6), rng.IntN(4))
			st := []parser.Status{D, D, D, S, B, R}[rng.IntN(6)]
			c := []string{"4.3.2", "4.4.1", "4.7.1"}[rng.IntN(3)]
			if st == R {
				rcpt = ""
			}
			e := ev(at, st, qid, rcpt, c)
			tr.Observe(e, rec)
			m.observe(e, i)
			if i == n/2 {
				tr = roundTrip(t, tr, rec)
			}
		}
		var got []string
		for _, r := range rec.res {
			got = append(got, fmt.Sprintf("%s %s %s %s %v %d", rec.name(r.Group), r.FirstCode, r.FirstReason, r.Outcome, r.Duration(), r.Attempts))
		}
		if fmt.Sprint(got) != fmt.Sprint(m.out) {
			t.Fatalf("seed %d: outcomes differ:\nmodel   %q\ntracker %q", seed, m.out, got)
		}
		if tr.Len() != len(m.pending) {
			t.Fatalf("seed %d: model has %d pending, tracker %d", seed, len(m.pending), tr.Len())
		}
		// The gauges kept from the notifications equal the model's pending set.
		wantGroup, wantOldest := map[string]int{}, map[string]time.Time{}
		for _, p := range m.pending {
			wantGroup[p.domain]++
			if o, ok := wantOldest[p.domain]; !ok || p.first.Before(o) {
				wantOldest[p.domain] = p.first
			}
		}
		for g, n := range rec.byGroup {
			name := rec.name(g)
			if n != wantGroup[name] {
				t.Fatalf("seed %d: group %s: gauge %d, model %d", seed, name, n, wantGroup[name])
			}
			if n > 0 && !rec.oldest[g].Equal(wantOldest[name]) {
				t.Fatalf("seed %d: group %s: oldest %v, model %v", seed, name, rec.oldest[g].Sub(t0), wantOldest[name].Sub(t0))
			}
		}
	}
}

// roundTrip encodes tr and decodes it into a new tracker, as a restart does.
// The recorder's pending gauges are reset: Decode reports them again.
func roundTrip(t *testing.T, tr *Tracker, rec *recorder) *Tracker {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := tr.Encode(w, rec.name); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	clear(rec.byCode)
	clear(rec.byGroup)
	clear(rec.oldest)
	back := New(tr.ttl, tr.max)
	if err := back.Decode(bufio.NewReader(&buf), func(name string) Group { return rec.Group([]byte(name)) }, rec); err != nil {
		t.Fatal(err)
	}
	if back.Len() != tr.Len() {
		t.Fatalf("decoded %d recipients, encoded %d", back.Len(), tr.Len())
	}
	return back
}

func TestDecodeRefusesDamage(t *testing.T) {
	tr := New(time.Hour, 100)
	rec := newRecorder()
	for i := range 20 {
		tr.Observe(ev(i, D, fmt.Sprintf("Q%d", i%7), fmt.Sprintf("u%d@d.example", i), "4.3.2"), rec)
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := tr.Encode(w, rec.name); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	good := buf.Bytes()
	for cut := 0; cut < len(good); cut++ {
		err := New(time.Hour, 100).Decode(bufio.NewReader(bytes.NewReader(good[:cut])), func(string) Group { return 0 }, newRecorder())
		if err == nil {
			t.Fatalf("a state cut at byte %d of %d was accepted", cut, len(good))
		}
	}
	bad := append([]byte{9}, good[1:]...)
	if err := New(time.Hour, 100).Decode(bufio.NewReader(bytes.NewReader(bad)), func(string) Group { return 0 }, newRecorder()); err == nil {
		t.Error("an unknown encoding version was accepted")
	}
}

// TestCompaction: after a peak, memory is given back and everything still
// pending is still found.
func TestCompaction(t *testing.T) {
	tr := New(120*time.Hour, 1<<20)
	rec := newRecorder()
	const n = 40000
	for i := range n {
		tr.Observe(ev(i, D, fmt.Sprintf("Q%d", i), "a@x.example", "4.3.2"), rec)
	}
	peak := tr.rcpts.cap()
	for i := range n - 100 {
		tr.Observe(ev(n+i, S, fmt.Sprintf("Q%d", i), "a@x.example", "2.0.0"), rec)
	}
	if tr.rcpts.cap() > 4*chunkSize {
		t.Errorf("slab capacity %d after draining from %d to 100 recipients", tr.rcpts.cap(), peak)
	}
	for i := n - 100; i < n; i++ {
		tr.Observe(ev(2*n, S, fmt.Sprintf("Q%d", i), "a@x.example", "2.0.0"), rec)
	}
	if tr.Len() != 0 || len(rec.res) != n {
		t.Errorf("want every recipient delivered: %d pending, %d outcomes", tr.Len(), len(rec.res))
	}
}

type nopSink struct{}

func (nopSink) Group([]byte) Group                         { return 0 }
func (nopSink) Event(*parser.Event, Group)                 {}
func (nopSink) Resolved(*Resolution)                       {}
func (nopSink) Pending(parser.Code, Group, int, time.Time) {}

// TestObserveDoesNotAllocate: a deferral, a retry and a delivery of a known
// recipient allocate nothing once the tables have room.
func TestObserveDoesNotAllocate(t *testing.T) {
	tr := New(time.Hour, 1000)
	d1, d2, s := ev(0, D, "A1", "a@x.example", "4.3.2"), ev(1, D, "A1", "a@x.example", "4.3.2"), ev(2, S, "A1", "a@x.example", "2.0.0")
	tr.Observe(d1, nopSink{})
	tr.Observe(s, nopSink{})
	if n := testing.AllocsPerRun(1000, func() {
		tr.Observe(d1, nopSink{})
		tr.Observe(d2, nopSink{})
		tr.Observe(s, nopSink{})
	}); n != 0 {
		t.Errorf("%v allocations per deferral, retry and delivery", n)
	}
}

// BenchmarkMemoryPerRecipient reports the heap bytes one pending recipient
// costs, one recipient per message (the worst case: every recipient brings
// a message record).
func BenchmarkMemoryPerRecipient(b *testing.B) {
	const n = 200000
	events := make([]*parser.Event, n)
	for j := range events {
		events[j] = ev(j, D, fmt.Sprintf("%010X", 0x6BD60BE58E+j), fmt.Sprintf("user%d@domain%d.example", j, j), "4.3.2")
	}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tr := New(120*time.Hour, 2*n)
		for _, e := range events {
			tr.Observe(e, nopSink{})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/recipient")
		runtime.KeepAlive(tr)
	}
}

// BenchmarkOneMessage defers, retries and delivers the recipients of one
// message with many of them, and of as many one-recipient messages: the cost
// per recipient must be the same (no scan of the message's recipients).
func BenchmarkOneMessage(b *testing.B) {
	for _, msgs := range []int{1, 100000} {
		b.Run(fmt.Sprintf("messages=%d", msgs), func(b *testing.B) {
			const n = 100000
			var events []*parser.Event
			for _, st := range []parser.Status{D, D, S} {
				for j := range n {
					events = append(events, ev(j, st, fmt.Sprintf("Q%d", j%msgs), fmt.Sprintf("user%d@list.example", j), "4.3.2"))
				}
			}
			b.ResetTimer()
			for b.Loop() {
				tr := New(120*time.Hour, 2*n)
				for _, e := range events {
					tr.Observe(e, nopSink{})
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
		})
	}
}

// TestInheritCode: a deferral without an attempt (and without a code) takes
// the code of the latest deferral that had one for its domain, also after a
// restart; a domain never deferred with a code keeps 4.0.0; the memory is
// bounded.
func TestInheritCode(t *testing.T) {
	tr := New(time.Hour, 1000)
	rec := newRecorder()
	notTried := func(at int, qid, rcpt string) *parser.Event {
		e := ev(at, D, qid, rcpt, "4.0.0")
		e.InheritCode = true
		return e
	}
	tr.Observe(ev(0, D, "A1", "a@down.example", "4.4.1"), rec)
	tr.Observe(ev(1, D, "A1", "a@down.example", "4.3.2"), rec)
	tr.Observe(notTried(2, "B1", "b@down.example"), rec)  // first line of b: takes 4.3.2
	tr.Observe(notTried(3, "C1", "c@never.example"), rec) // no code known: 4.0.0
	tr = roundTrip(t, tr, rec)
	tr.Observe(notTried(4, "D1", "d@down.example"), rec) // after a restart too
	tr.Observe(ev(5, D, "E1", "e@down.example", "4.7.0"), rec)
	tr.Observe(notTried(6, "F1", "f@down.example"), rec) // the latest one
	want := []string{"deferred 4.4.1 down.example network", "deferred 4.3.2 down.example not_accepting", "deferred 4.3.2 down.example not_accepting", "deferred 4.0.0 never.example",
		"deferred 4.3.2 down.example not_accepting", "deferred 4.7.0 down.example", "deferred 4.7.0 down.example"}
	if fmt.Sprint(rec.events) != fmt.Sprint(want) {
		t.Errorf("want %q\ngot  %q", want, rec.events)
	}
	var firsts []string
	tr.Each(func(g Group, c parser.Code, _ time.Time) { firsts = append(firsts, rec.name(g)+" "+c.String()) })
	if !slices.Contains(firsts, "down.example 4.3.2") || !slices.Contains(firsts, "never.example 4.0.0") {
		t.Errorf("first codes of the pending recipients: %q", firsts)
	}
	for i := range 3 * codeMemoryGen {
		tr.Observe(ev(10+i, D, fmt.Sprint("X", i), fmt.Sprintf("x@d%d.example", i), "4.3.2"), rec)
	}
	if n := len(tr.codes.cur) + len(tr.codes.old); n > 2*codeMemoryGen {
		t.Errorf("the code memory holds %d domains", n)
	}
}

// TestDecodeVersion1: a checkpoint written before reasons existed is read,
// its recipients with the reason undefined.
func TestDecodeVersion1(t *testing.T) {
	var b []byte
	b = append(b, 1)                          // version 1
	b = binary.AppendVarint(b, t0.UnixNano()) // now
	b = binary.AppendUvarint(b, 1)            // one group name
	b = binary.AppendUvarint(b, uint64(len("down.example")))
	b = append(b, "down.example"...)
	b = binary.AppendUvarint(b, 1) // one message
	b = binary.LittleEndian.AppendUint64(b, xxhash.Sum64String("Q1"))
	b = binary.AppendVarint(b, t0.UnixNano()) // latest news
	b = binary.AppendUvarint(b, 1)            // one recipient
	b = binary.LittleEndian.AppendUint64(b, xxhash.Sum64String("u@down.example"))
	b = binary.AppendVarint(b, 60e9)                   // first deferral a minute before
	b = binary.AppendUvarint(b, uint64(code("4.3.2"))) // code
	b = binary.AppendUvarint(b, 2)                     // attempts
	b = binary.AppendUvarint(b, 1)                     // group down.example
	b = binary.AppendUvarint(b, 0)                     // no code memory
	rec := newRecorder()
	tr := New(time.Hour, 100)
	if err := tr.Decode(bufio.NewReader(bytes.NewReader(b)), func(name string) Group { return rec.Group([]byte(name)) }, rec); err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 1 || rec.byCode[code("4.3.2")] != 1 {
		t.Fatalf("%d pending, gauges %v", tr.Len(), rec.byCode)
	}
	tr.Observe(ev(10, S, "Q1", "u@down.example", "2.0.0"), rec)
	if len(rec.res) != 1 {
		t.Fatalf("%d outcomes", len(rec.res))
	}
	r := rec.res[0]
	if r.FirstCode != code("4.3.2") || r.FirstReason != parser.ReasonUndefined || r.Attempts != 2 || r.Duration() != 70*time.Second {
		t.Errorf("outcome %+v", r)
	}
}
