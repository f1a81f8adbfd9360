package tracker

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/parser"
)

type recorder struct {
	events []string
	res    []Resolution
}

func (r *recorder) Event(ev *parser.Event) {
	r.events = append(r.events, fmt.Sprintf("%s %s %s %s", ev.Status, ev.Code, ev.Recipient, ev.Domain))
}
func (r *recorder) Resolved(res *Resolution) { r.res = append(r.res, *res) }

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
		e.Domain = []byte(rcpt[strings.IndexByte(rcpt, '@')+1:])
	}
	if c != "" {
		e.Code = code(c)
	}
	return e
}

func TestOutcomes(t *testing.T) {
	const (
		D = parser.StatusDeferred
		S = parser.StatusSent
		B = parser.StatusBounced
		E = parser.StatusExpired
		R = parser.StatusRemoved
	)
	type want struct {
		rcpt     string
		outcome  Outcome
		reason   Reason
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
			want:    []want{{"bob@retry.example", Delivered, ReasonNone, "4.3.2", 40, 3}},
			nEvents: 4,
		},
		{
			name: "deferred then bounced",
			events: []*parser.Event{
				ev(0, D, "A1", "x@b.example", "4.0.0"),
				ev(30, B, "A1", "x@b.example", "5.1.1"),
			},
			want:    []want{{"x@b.example", Bounced, ReasonNone, "4.0.0", 30, 1}},
			nEvents: 2,
		},
		{
			name: "postfix message expiry ends every pending recipient of the message",
			events: []*parser.Event{
				ev(0, D, "A1", "a@e.example", "4.3.2"),
				ev(0, D, "A1", "b@e.example", "4.3.2"),
				ev(0, S, "A1", "c@ok.example", "2.0.0"),
				ev(0, D, "B2", "z@other.example", "4.3.2"),
				ev(60, D, "A1", "a@e.example", "4.3.2"),
				ev(60, E, "A1", "", "4.4.7"),
				ev(60, R, "A1", "", ""),
			},
			want: []want{
				{"a@e.example", Expired, ReasonNone, "4.3.2", 60, 2},
				{"b@e.example", Expired, ReasonNone, "4.3.2", 60, 1},
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
			want:    []want{{"carol@expire.example", Expired, ReasonNone, "4.3.2", 60, 2}},
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
				{"a@x.example", Abandoned, ReasonRemoved, "4.3.2", 5, 1},
				{"a@x.example", Delivered, ReasonNone, "4.2.0", 30, 1},
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
			want:    []want{{"a@x.example", Abandoned, ReasonTTL, "4.3.2", 3600, 1}},
			pending: 1,
			nEvents: 3,
		},
		{
			name: "table full: the oldest goes first",
			max:  2,
			events: []*parser.Event{
				ev(0, D, "A1", "a@x.example", "4.3.2"),
				ev(1, D, "B1", "b@x.example", "4.3.2"),
				ev(2, D, "A1", "a@x.example", "4.3.2"), // A1 is now the newest
				ev(3, D, "C1", "c@x.example", "4.7.0"),
			},
			want:    []want{{"b@x.example", Abandoned, ReasonCap, "4.3.2", 2, 1}},
			pending: 2,
			nEvents: 4,
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ttl, max := tt.ttl, tt.max
			if ttl == 0 {
				ttl = 120 * time.Hour
			}
			if max == 0 {
				max = 1000
			}
			tr := New("s", ttl, max)
			rec := &recorder{}
			for _, e := range tt.events {
				tr.Observe(e, rec)
			}
			if len(rec.res) != len(tt.want) {
				t.Fatalf("want %d outcomes, got %d: %+v", len(tt.want), len(rec.res), rec.res)
			}
			for i, w := range tt.want {
				g := rec.res[i]
				got := want{g.Recipient, g.Outcome, g.Reason, g.FirstCode.String(), int(g.Duration().Seconds()), g.Attempts}
				if got != w {
					t.Errorf("outcome %d: want %+v, got %+v", i, w, got)
				}
			}
			if tr.Len() != tt.pending {
				t.Errorf("want %d pending, got %d", tt.pending, tr.Len())
			}
			if len(rec.events) != tt.nEvents {
				t.Errorf("want %d events, got %d: %q", tt.nEvents, len(rec.events), rec.events)
			}
		})
	}
}

func TestExpiredEventsCarryRecipientAndDomain(t *testing.T) {
	tr := New("s", time.Hour, 10)
	rec := &recorder{}
	tr.Observe(ev(0, parser.StatusDeferred, "A1", "a@e.example", "4.3.2"), rec)
	tr.Observe(ev(9, parser.StatusExpired, "A1", "", "4.4.7"), rec)
	want := []string{"deferred 4.3.2 a@e.example e.example", "expired 4.4.7 a@e.example e.example"}
	if fmt.Sprint(rec.events) != fmt.Sprint(want) {
		t.Errorf("want %q, got %q", want, rec.events)
	}
}

func TestPendingListsEveryRecipient(t *testing.T) {
	tr := New("s", time.Hour, 10)
	rec := &recorder{}
	tr.Observe(ev(0, parser.StatusDeferred, "A1", "a@Mixed.example", "4.3.2"), rec)
	tr.Observe(ev(5, parser.StatusDeferred, "B1", "b@y.example", "4.4.1"), rec)
	var got []string
	tr.Pending(func(domain string, c parser.Code, first time.Time) {
		got = append(got, fmt.Sprintf("%s %s %s", domain, c, first.Sub(t0)))
	})
	want := []string{"Mixed.example 4.3.2 0s", "y.example 4.4.1 5s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("want %q, got %q", want, got)
	}
}

type nopSink struct{}

func (nopSink) Event(*parser.Event)  {}
func (nopSink) Resolved(*Resolution) {}

// BenchmarkMemoryPerRecipient reports the heap bytes one pending recipient
// costs, with realistic ids and addresses, one recipient per message.
func BenchmarkMemoryPerRecipient(b *testing.B) {
	const n = 200000
	for i := 0; i < b.N; i++ {
		events := make([]*parser.Event, n)
		for j := range events {
			events[j] = ev(j, parser.StatusDeferred, fmt.Sprintf("%010X", 0x6BD60BE58E+j), fmt.Sprintf("user%d@domain%d.example", j, j%5000), "4.3.2")
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tr := New("s", 120*time.Hour, 2*n)
		for _, e := range events {
			tr.Observe(e, nopSink{})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/recipient")
		runtime.KeepAlive(tr)
		runtime.KeepAlive(events)
	}
}

// TestExportImport: a tracker restored from its exported state goes on as if
// it had never stopped.
func TestExportImport(t *testing.T) {
	events := []*parser.Event{
		ev(0, parser.StatusDeferred, "A1", "a@x.example", "4.3.2"),
		ev(1, parser.StatusDeferred, "A1", "b@X.example", "4.3.2"),
		ev(2, parser.StatusDeferred, "B1", "c@y.example", "4.4.1"),
		ev(3, parser.StatusDeferred, "A1", "a@x.example", "4.3.2"),
	}
	later := []*parser.Event{
		ev(10, parser.StatusSent, "A1", "a@x.example", "2.0.0"),
		ev(11, parser.StatusDeferred, "C1", "d@z.example", "4.3.2"),
		ev(12, parser.StatusExpired, "A1", "", "4.4.7"),
	}
	straight, restarted := New("s", time.Hour, 3), New("s", time.Hour, 3)
	rec1, rec2 := &recorder{}, &recorder{}
	for _, e := range events {
		straight.Observe(e, rec1)
		restarted.Observe(e, rec2)
	}
	restored := New("s", time.Hour, 3)
	if err := restored.Import(restarted.Export()); err != nil {
		t.Fatal(err)
	}
	for _, e := range later {
		straight.Observe(e, rec1)
		restored.Observe(e, rec2)
	}
	if fmt.Sprint(rec1.res) != fmt.Sprint(rec2.res) || fmt.Sprint(rec1.events) != fmt.Sprint(rec2.events) {
		t.Errorf("restored tracker differs:\nstraight %v\nrestored %v", rec1.res, rec2.res)
	}
	if fmt.Sprint(straight.Export()) != fmt.Sprint(restored.Export()) {
		t.Errorf("state differs:\n%v\n%v", straight.Export(), restored.Export())
	}
	bad := State{Messages: []MessageState{{ID: "A", Recipients: []RecipientState{{Recipient: "a@b", Code: "9.9"}}}}}
	if err := New("s", time.Hour, 3).Import(bad); err == nil {
		t.Error("want an error for a bad code")
	}
}
