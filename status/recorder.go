// Package status is what a person sees of bouncewatch: which domains are
// deferring our mail now, since when, with which code and reply, what was
// resolved recently, and how each source and the rules are doing. The daemon
// serves it at / (HTML) and /api/v1/status (JSON); `report --format=html`
// writes the same page for finished logs.
//
// It is a package of its own because both the daemon and the report build
// the page, from the same per-source Recorder that the pipeline feeds.
package status

import (
	"time"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// Window is how far back "deferrals lately" counts, as the shipped
// BouncewatchRepeated432 alert does.
const Window = 15 * time.Minute

// Threshold is the shipped alert's threshold: deferrals with 4.3.2 of one
// domain within Window.
const Threshold = 5

// maxReply is how much of a reply text is kept: enough to read the cause.
const maxReply = 200

// maxOutcomeRows bounds the outcomes kept per (domain, outcome, first
// code): far more than labels times outcomes times usual codes.
const maxOutcomeRows = 10000

// Recorder keeps, for one source, what the page shows that the metrics do
// not: per domain label, the latest deferral's code and reply, the first
// code of the current episode, and deferrals per minute of log time; and the
// latest outcomes. Its size is bounded by the domain labels. It is fed by
// the pipeline under the lock that guards the source's metrics, and read
// under the same lock.
type Recorder struct {
	domains  map[tracker.Group]*domain
	outcomes map[OutcomeKey]*Outcomes
	newest   int64
}

// OutcomeKey is what outcomes are counted by.
type OutcomeKey struct {
	Group       tracker.Group
	Outcome     tracker.Outcome
	FirstCode   parser.Code
	FirstReason parser.Reason
}

// Outcomes counts the recipients of one domain that reached one outcome
// after deferrals that began with one code.
type Outcomes struct {
	N          uint64
	Seconds    float64 // from first deferral to outcome, all of them
	MaxSeconds float64
	Attempts   uint64
	Last       time.Time // log time of the latest
}

type domain struct {
	pending   int
	firstCode parser.Code // of the first deferral since the domain had none pending
	firstEver parser.Code // of its first deferral at all
	total     uint64      // deferrals
	lastCode  parser.Code
	lastWhy   parser.Reason // the reason of the latest deferral
	lastTime  int64
	// reply is the start of the latest reply as logged; it is cleaned for
	// the page only when the page asks (see cleanReply).
	reply    [maxReply]byte
	replyLen int
	replyAll bool                              // reply holds all of it
	minutes  [int(Window / time.Minute)]uint32 // deferrals per minute of log time
	minute   int64                             // unix minute of minutes[minute%len]
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{domains: map[tracker.Group]*domain{}, outcomes: map[OutcomeKey]*Outcomes{}}
}

func (r *Recorder) domain(g tracker.Group) *domain {
	d := r.domains[g]
	if d == nil {
		d = &domain{}
		r.domains[g] = d
	}
	return d
}

// Event notes a delivery event; only deferrals matter here.
func (r *Recorder) Event(ev *parser.Event, g tracker.Group) {
	ns := ev.Time.UnixNano()
	r.newest = max(r.newest, ns)
	if ev.Status != parser.StatusDeferred || g == tracker.NoGroup {
		return
	}
	d := r.domain(g)
	if d.total == 0 {
		d.firstEver = ev.Code
	}
	d.total++
	if ns >= d.lastTime {
		d.lastTime, d.lastCode, d.lastWhy = ns, ev.Code, ev.Reason
		if !ev.InheritCode { // "retry time not reached" says nothing new
			text := parser.ReplyText(ev.Text)
			d.replyLen = copy(d.reply[:], text)
			d.replyAll = d.replyLen == len(text)
		}
	}
	minute := ev.Time.Unix() / 60
	if minute > d.minute {
		for m := max(d.minute+1, minute-int64(len(d.minutes))+1); m <= minute; m++ {
			d.minutes[m%int64(len(d.minutes))] = 0
		}
		d.minute = minute
	}
	if minute > d.minute-int64(len(d.minutes)) {
		d.minutes[minute%int64(len(d.minutes))]++
	}
}

// Pending notes a change of a domain's pending recipients.
func (r *Recorder) Pending(c parser.Code, g tracker.Group, delta int) {
	if g == tracker.NoGroup {
		return
	}
	d := r.domain(g)
	if d.pending == 0 && delta > 0 {
		d.firstCode = c
	}
	d.pending += delta
}

// Resolved notes an outcome.
func (r *Recorder) Resolved(res *tracker.Resolution) {
	k := OutcomeKey{res.Group, res.Outcome, res.FirstCode, res.FirstReason}
	o := r.outcomes[k]
	if o == nil {
		if len(r.outcomes) >= maxOutcomeRows {
			return
		}
		o = &Outcomes{}
		r.outcomes[k] = o
	}
	secs := res.Duration().Seconds()
	o.N++
	o.Seconds += secs
	o.MaxSeconds = max(o.MaxSeconds, secs)
	o.Attempts += uint64(res.Attempts)
	if res.Time.After(o.Last) {
		o.Last = res.Time
	}
}

// DomainNow is what the recorder knows of one domain label.
type DomainNow struct {
	Group     tracker.Group
	FirstCode parser.Code // of the first deferral since it had none pending; 0 when none is
	FirstEver parser.Code // of its first deferral at all
	LastCode  parser.Code
	LastWhy   parser.Reason
	Last      time.Time
	Reply     string
	Lately    int    // deferrals in the Window before the reference time
	Total     uint64 // deferrals
}

// Domains returns every domain with a deferral, counting "lately" back from
// ref (now for a live log, the newest log time for finished files).
func (r *Recorder) Domains(ref time.Time) []DomainNow {
	refMinute := ref.Unix() / 60
	out := make([]DomainNow, 0, len(r.domains))
	for g, d := range r.domains {
		if d.lastTime == 0 {
			continue
		}
		n := 0
		for m := refMinute - int64(len(d.minutes)) + 1; m <= refMinute; m++ {
			if m <= d.minute && m > d.minute-int64(len(d.minutes)) {
				n += int(d.minutes[m%int64(len(d.minutes))])
			}
		}
		first := d.firstCode
		if d.pending == 0 {
			first = 0
		}
		out = append(out, DomainNow{Group: g, FirstCode: first, FirstEver: d.firstEver, LastCode: d.lastCode, LastWhy: d.lastWhy, Last: time.Unix(0, d.lastTime),
			Reply: cleanReply(d.reply[:d.replyLen], d.replyAll), Lately: n, Total: d.total})
	}
	return out
}

// Outcomes returns the outcomes counted so far.
func (r *Recorder) Outcomes() map[OutcomeKey]Outcomes {
	out := make(map[OutcomeKey]Outcomes, len(r.outcomes))
	for k, o := range r.outcomes {
		out[k] = *o
	}
	return out
}

// Newest returns the log time of the newest event.
func (r *Recorder) Newest() time.Time {
	if r.newest == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.newest)
}

// cleanReply makes a reply fit for the page: valid UTF-8 without control
// characters (it comes from the network), at most maxReply bytes, cut at a
// character boundary, the closing parenthesis of Postfix's "(...)" dropped.
// raw is the start of the reply as logged, all of it when whole.
func cleanReply(raw []byte, whole bool) string {
	if n := len(raw); whole && n > 0 && raw[n-1] == ')' {
		raw = raw[:n-1]
	}
	if !whole {
		// The cut may have split the last character: leave it out rather
		// than show it as broken.
		for k := 1; k <= utf8.UTFMax && k <= len(raw); k++ {
			if utf8.RuneStart(raw[len(raw)-k]) {
				if !utf8.FullRune(raw[len(raw)-k:]) {
					raw = raw[:len(raw)-k]
				}
				break
			}
		}
	}
	var dst [maxReply]byte
	n := 0
	for len(raw) > 0 {
		if c := raw[0]; c >= 0x20 && c < 0x7f { // printable ASCII, most of it
			if n == len(dst) {
				break
			}
			dst[n] = c
			n++
			raw = raw[1:]
			continue
		}
		r, size := utf8.DecodeRune(raw)
		raw = raw[size:]
		if r == utf8.RuneError && size <= 1 || r < 0x20 || r == 0x7f {
			r = '\ufffd'
		}
		if n+utf8.RuneLen(r) > len(dst) {
			break
		}
		n += utf8.EncodeRune(dst[n:], r)
	}
	return string(dst[:n])
}
