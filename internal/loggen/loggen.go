// Package loggen writes realistic Postfix and Exim logs for benchmarks and
// tests. The output depends only on the line count and the seed: the same
// arguments give the same bytes on every machine and Go version that keeps
// math/rand/v2's PCG stable.
//
// Both generators run one small discrete-event simulation of an outbound relay
// (mx1, sending for example.net): messages arrive, each recipient goes to one of
// numDomains domains drawn from a Zipf distribution, and is delivered, bounced,
// or deferred one or more times with a realistic reply before it is delivered,
// bounced or expires. Retries follow the MTA's own schedule (Postfix's
// exponential backoff, Exim's retry rules and queue runs), and messages leave
// the queue with "removed" or "Completed". Around that sits the noise a real
// mail log has: smtpd sessions, rejected clients, TLS, anvil and queue-run
// lines. Every line shape is copied from real Postfix 3.7 and Exim 4.96 logs
// (shared/LOG-FORMATS.md).
//
// By line count, roughly 60% is noise, 30% delivered (status=sent, =>, ->), 7%
// deferred attempts and 3% bounces. Timestamps advance monotonically from
// Start; a million lines cover about two days of Postfix or three of Exim.
package loggen

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Start is the time of the first simulated event (UTC; the Postfix log has no
// zone, the Exim log is written as local time).
var Start = time.Date(2026, time.November, 27, 6, 0, 0, 0, time.UTC)

const (
	numDomains = 5000
	hostname   = "mx1"
	ourDomain  = "example.net"
	mailstore  = "mailstore.example.net"
	mailstoreI = "198.51.100.20"
)

// Tunables of the mix. They were set by measuring the output (see the test).
const (
	meanArrival     = 2.6      // seconds between messages (Postfix)
	meanEximArrival = 1.6      // seconds between messages (Exim)
	pBounceFirst    = 0.090    // a recipient's first attempt bounces
	pDeferFirst     = 0.080    // a recipient's first attempt is deferred
	pDeferBounce    = 0.05     // a deferred recipient later bounces
	pDeferExpire    = 0.02     // a deferred recipient expires
	queueLifetime   = 8 * 3600 // Postfix maximal_queue_lifetime
	retryCutoff     = 8 * 3600 // Exim retry rule cutoff (F,2h,15m; G,8h,1h,1.5)
	meanReject      = 60.0     // seconds between rejected smtpd clients (Postfix)
	meanEximReject  = 40.0     // seconds between rejected or lost clients (Exim)
)

// Postfix writes a Postfix log (maillog_file / RFC 3164 prefix, "mx1
// postfix/smtp[pid]:") of exactly lines lines.
func Postfix(w io.Writer, lines int, seed uint64) error {
	g := newGen(w, lines, seed)
	p := &postfix{gen: g, live: map[string]bool{}}
	p.init()
	return g.run()
}

// Exim writes an Exim 4.96 mainlog ("2026-11-27 06:02:21 1xWp2L-0007Qz-2u ...")
// of exactly lines lines.
func Exim(w io.Writer, lines int, seed uint64) error {
	g := newGen(w, lines, seed)
	e := &exim{gen: g, live: map[string]bool{}}
	e.init()
	return g.run()
}

// ---- the simulation core --------------------------------------------------

type event struct {
	at  float64 // seconds since Start
	seq uint64  // ties run in scheduling order
	fn  func()
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	ev := old[len(old)-1]
	*q = old[:len(old)-1]
	return ev
}

type gen struct {
	r    *rand.Rand
	w    *bufio.Writer
	left int // lines still to write
	err  error
	now  float64
	q    queue
	seq  uint64
	buf  []byte

	doms []domain
	zipf *rand.Zipf

	stampSec int64
	stamp    []byte
	stampFmt string

	nextPID int
}

type domain struct {
	name string
	mx   string
	ip   string
	kind uint8 // software of the receiving MTA: kindPostfix, ...
}

const (
	kindPostfix = iota
	kindExchange
	kindExim
	kindOther
)

func newGen(w io.Writer, lines int, seed uint64) *gen {
	g := &gen{
		r:        rand.New(rand.NewPCG(seed, 0x6c6f6767656e)), // "loggen"
		w:        bufio.NewWriterSize(w, 1<<16),
		left:     lines,
		stampSec: -1,
		nextPID:  1000 + int(seed%20000),
	}
	g.makeDomains()
	// s=1.07 puts about 9% of recipients on the busiest domain and still
	// reaches nearly every one of the 5,000 in a million lines.
	g.zipf = rand.NewZipf(g.r, 1.07, 2, numDomains-1)
	return g
}

func (g *gen) run() error {
	for g.left > 0 && g.err == nil && len(g.q) > 0 {
		ev := heap.Pop(&g.q).(event)
		g.now = ev.at
		ev.fn()
	}
	if g.err != nil {
		return g.err
	}
	return g.w.Flush()
}

func (g *gen) at(t float64, fn func()) {
	g.seq++
	heap.Push(&g.q, event{at: t, seq: g.seq, fn: fn})
}

func (g *gen) after(d float64, fn func()) { g.at(g.now+d, fn) }

// exp returns an exponentially distributed duration with the given mean.
func (g *gen) exp(mean float64) float64 { return g.r.ExpFloat64() * mean }

func (g *gen) uniform(lo, hi float64) float64 { return lo + g.r.Float64()*(hi-lo) }

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// weighted returns an index into weights with probability weight/sum.
func (g *gen) weighted(weights []int) int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	n := g.r.IntN(sum)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func (g *gen) pid() int {
	g.nextPID += 1 + g.r.IntN(40)
	if g.nextPID > 4000000 {
		g.nextPID = 1000
	}
	return g.nextPID
}

// stampNow returns the formatted timestamp of the current event's second.
func (g *gen) stampNow() []byte {
	sec := int64(g.now)
	if sec != g.stampSec {
		g.stampSec = sec
		g.stamp = Start.Add(time.Duration(sec)*time.Second).AppendFormat(g.stamp[:0], g.stampFmt)
	}
	return g.stamp
}

// emit writes one line: the timestamp, then prefix, then the formatted text.
func (g *gen) emit(prefix []byte, format string, a ...any) {
	if g.left <= 0 {
		return
	}
	b := append(g.buf[:0], g.stampNow()...)
	b = append(b, prefix...)
	if len(a) == 0 {
		b = append(b, format...)
	} else {
		b = fmt.Appendf(b, format, a...)
	}
	b = append(b, '\n')
	if _, err := g.w.Write(b); err != nil {
		g.err = err
		g.left = 0
	}
	g.left--
	g.buf = b
}

// ---- names ------------------------------------------------------------------

var syllables = []string{
	"ab", "ac", "al", "an", "ar", "ba", "be", "bi", "bo", "ca", "ce", "co", "da", "de",
	"di", "do", "el", "en", "er", "fa", "fi", "fo", "ga", "ge", "go", "ha", "he", "ho",
	"in", "ka", "ki", "ko", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "na",
	"ne", "ni", "no", "or", "pa", "pe", "pi", "po", "ra", "re", "ri", "ro", "sa", "se",
	"si", "so", "ta", "te", "ti", "to", "tu", "va", "ve", "vi", "wa", "we", "za", "zo",
}

var words = []string{
	"mail", "post", "net", "web", "cloud", "data", "tech", "shop", "media", "group",
	"bank", "travel", "news", "health", "school", "city", "online", "link", "soft", "box",
}

var tlds = []string{
	"com", "com", "com", "com", "net", "net", "org", "de", "fr", "nl", "co.uk", "it", "es",
	"se", "ch", "io", "example", "test",
}

var firstNames = []string{
	"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan", "judy",
	"kate", "liam", "mia", "nick", "oscar", "pat", "quinn", "rita", "sam", "tina",
	"uma", "victor", "wendy", "xavier", "yara", "zoe", "anna", "ben", "chloe", "dan",
	"emma", "felix", "hugo", "ines", "jonas", "lena", "marco", "nora", "paul", "sara",
}

var lastNames = []string{
	"smith", "jones", "brown", "miller", "davis", "garcia", "martin", "bernard", "dubois",
	"muller", "schmidt", "rossi", "russo", "jansen", "devries", "nilsson", "larsen", "novak",
}

var roleNames = []string{"info", "sales", "support", "contact", "billing", "admin", "office", "hr", "jobs", "press"}

func (g *gen) makeDomains() {
	seen := map[string]bool{}
	g.doms = make([]domain, 0, numDomains)
	for len(g.doms) < numDomains {
		var sb strings.Builder
		n := 2 + g.r.IntN(3)
		for i := 0; i < n; i++ {
			sb.WriteString(g.pick(syllables))
		}
		if g.r.IntN(3) == 0 {
			if g.r.IntN(2) == 0 {
				sb.WriteString("-")
			}
			sb.WriteString(g.pick(words))
		}
		sb.WriteString(".")
		sb.WriteString(g.pick(tlds))
		name := sb.String()
		if seen[name] || name == ourDomain {
			continue
		}
		seen[name] = true
		d := domain{name: name}
		switch k := g.weighted([]int{50, 20, 15, 15}); k {
		case kindExchange:
			d.kind = kindExchange
			d.mx = strings.ReplaceAll(name, ".", "-") + ".mail.protection.example.com"
		default:
			d.kind = uint8(k)
			d.mx = g.pick([]string{"mx", "mx1", "mail", "smtp", "mx01"}) + "." + name
		}
		d.ip = g.docIP()
		g.doms = append(g.doms, d)
	}
}

// docIP returns an address from the documentation ranges (RFC 5737).
func (g *gen) docIP() string {
	nets := [...]string{"192.0.2.", "198.51.100.", "203.0.113."}
	return nets[g.r.IntN(3)] + strconv.Itoa(1+g.r.IntN(254))
}

func (g *gen) domain() *domain { return &g.doms[g.zipf.Uint64()] }

func (g *gen) localPart() string {
	switch g.r.IntN(10) {
	case 0, 1, 2:
		return g.pick(firstNames)
	case 3, 4, 5:
		return g.pick(firstNames) + "." + g.pick(lastNames)
	case 6:
		return g.pick(firstNames)[:1] + g.pick(lastNames)
	case 7:
		return g.pick(firstNames) + strconv.Itoa(1+g.r.IntN(99))
	default:
		return g.pick(roleNames)
	}
}

var senders = []string{
	"noreply@example.net", "newsletter@news.example.net", "billing@example.net",
	"alerts@example.net", "orders@shop.example.org", "support@example.net",
}

func (g *gen) sender() string {
	if g.r.IntN(3) == 0 {
		return g.pick(firstNames) + "." + g.pick(lastNames) + "@" + ourDomain
	}
	return g.pick(senders)
}

const hexUpper = "0123456789ABCDEF"

func (g *gen) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexUpper[g.r.IntN(16)]
	}
	return string(b)
}

func (g *gen) size() int {
	return int(math.Exp(g.r.NormFloat64()*1.1+8.6)) + 600
}

// ---- recipients and their fate -----------------------------------------------

const (
	outSent = iota
	outBounced
	outExpired
)

// Deferral reasons, with the share of deferred recipients each gets.
const (
	d432 = iota // 451 4.3.2 System not accepting network messages
	d470        // 421 4.7.0 try again later
	d420        // 450 4.2.0 greylisted
	d441        // connection refused (no reply)
	d400        // 451 with no enhanced code
)

var deferWeights = []int{55, 12, 10, 13, 10}

// Bounce reasons.
const (
	b511 = iota // 550 5.1.1 user unknown
	b571        // 554 5.7.1 relay access denied / blocked
	b500        // 550 with no enhanced code
)

var bounceWeights = []int{60, 25, 15}

type rcpt struct {
	addr    string
	dom     *domain
	defers  int   // deferred attempts still to come
	final   uint8 // what happens after them
	dreason int
	breason int
	done    bool
}

// newRcpt draws a recipient and its whole story.
func (g *gen) newRcpt(dom *domain) *rcpt {
	if dom == nil {
		dom = g.domain()
	}
	r := &rcpt{addr: g.localPart() + "@" + dom.name, dom: dom, final: outSent}
	if g.r.IntN(50) == 0 { // as typed into an address book
		r.addr = strings.ToUpper(r.addr[:1]) + r.addr[1:strings.IndexByte(r.addr, '@')+1] + strings.ToUpper(dom.name[:1]) + dom.name[1:]
	}
	r.breason = g.weighted(bounceWeights)
	u := g.r.Float64()
	switch {
	case u < pBounceFirst:
		r.final = outBounced
	case u < pBounceFirst+pDeferFirst:
		r.dreason = g.weighted(deferWeights)
		v := g.r.Float64()
		switch {
		case v < pDeferExpire:
			// Deferred until the queue lifetime or retry cutoff runs out.
			r.final = outExpired
			r.defers = math.MaxInt32
		case v < pDeferExpire+pDeferBounce:
			r.final = outBounced
			r.defers = 1 + g.r.IntN(4)
		default:
			r.defers = []int{1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 8}[g.r.IntN(14)]
		}
	}
	return r
}

// rcptCount draws the number of recipients of a message: Postfix relays for
// applications that send to lists, the Exim host mostly for people.
func (g *gen) rcptCount(lists bool) int {
	if !lists {
		switch u := g.r.IntN(100); {
		case u < 55:
			return 1
		case u < 80:
			return 2
		case u < 90:
			return 3
		default:
			return 4 + g.r.IntN(4)
		}
	}
	switch u := g.r.IntN(100); {
	case u < 35:
		return 1
	case u < 55:
		return 2
	case u < 67:
		return 3
	case u < 87:
		return 4 + g.r.IntN(4)
	default:
		return 8 + g.r.IntN(18)
	}
}

// rcpts draws the recipients of a message; some messages go to several people
// at one domain.
func (g *gen) rcpts(lists bool) []*rcpt {
	n := g.rcptCount(lists)
	rs := make([]*rcpt, 0, n)
	var shared *domain
	if n > 1 && g.r.IntN(3) == 0 {
		shared = g.domain()
	}
	seen := map[string]bool{}
	for len(rs) < n {
		r := g.newRcpt(shared)
		if seen[r.addr] {
			continue
		}
		seen[r.addr] = true
		rs = append(rs, r)
	}
	return rs
}

// ---- Postfix ------------------------------------------------------------------

type postfix struct {
	*gen
	live     map[string]bool // queue ids in use
	qmgrPID  int
	pickPID  int
	anvilPID int
	bncPID   int
	cleanup  []int
	smtpd    []int
	smtp     []int
	conns    int // smtpd connections since the last anvil report
	pfx      map[string][]byte
}

type pmsg struct {
	qid     string
	sender  string
	size    int
	arrived float64
	rcpts   []*rcpt
	tries   int
}

func (p *postfix) init() {
	p.stampFmt = time.Stamp
	p.qmgrPID, p.pickPID, p.anvilPID, p.bncPID = p.pid(), p.pid(), p.pid(), p.pid()
	p.cleanup = []int{p.pid(), p.pid(), p.pid()}
	for i := 0; i < 8; i++ {
		p.smtpd = append(p.smtpd, p.pid())
	}
	for i := 0; i < 20; i++ {
		p.smtp = append(p.smtp, p.pid())
	}
	p.pfx = map[string][]byte{}
	p.at(0, p.arrive)
	p.at(p.exp(meanReject), p.reject)
	p.at(600, p.anvil)
}

// proc picks a process of a pool; now and then one has reached max_use and a
// new one takes its place.
func (p *postfix) proc(pool []int) int {
	i := p.r.IntN(len(pool))
	if p.r.IntN(150) == 0 {
		pool[i] = p.pid()
	}
	return pool[i]
}

func (p *postfix) log(prog string, pid int, format string, a ...any) {
	b := p.pfx[prog]
	if b == nil {
		b = []byte(" " + hostname + " postfix/" + prog + "[")
		p.pfx[prog] = b
	}
	pre := strconv.AppendInt(append([]byte(nil), b...), int64(pid), 10)
	pre = append(pre, "]: "...)
	p.emit(pre, format, a...)
}

func (p *postfix) newQID() string {
	for {
		id := p.hex(10)
		if !p.live[id] {
			p.live[id] = true
			return id
		}
	}
}

var clients = []string{
	"web1.example.net[198.51.100.11]", "web2.example.net[198.51.100.12]",
	"app.example.net[198.51.100.15]", "crm.example.net[198.51.100.16]",
	"localhost[127.0.0.1]",
}

func (p *postfix) arrive() {
	p.after(p.exp(meanArrival), p.arrive)
	m := &pmsg{qid: p.newQID(), sender: p.sender(), size: p.size(), arrived: p.now, rcpts: p.rcpts(true)}
	if p.r.IntN(3) == 0 {
		p.log("pickup", p.pickPID, "%s: uid=%d from=<%s>", m.qid, 33+p.r.IntN(3)*967, m.sender)
		p.log("cleanup", p.proc(p.cleanup), "%s: message-id=<%s>", m.qid, p.messageID())
		p.qmgrActive(m)
	} else {
		pid := p.proc(p.smtpd)
		client := p.pick(clients)
		p.conns++
		p.log("smtpd", pid, "connect from %s", client)
		if p.r.IntN(4) == 0 {
			p.log("smtpd", pid, "Anonymous TLS connection established from %s: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256", client)
		}
		if p.r.IntN(5) == 0 {
			p.log("smtpd", pid, "%s: client=%s, sasl_method=PLAIN, sasl_username=%s", m.qid, client, m.sender)
		} else {
			p.log("smtpd", pid, "%s: client=%s", m.qid, client)
		}
		p.log("cleanup", p.proc(p.cleanup), "%s: message-id=<%s>", m.qid, p.messageID())
		p.qmgrActive(m)
		n := len(m.rcpts)
		p.log("smtpd", pid, "disconnect from %s ehlo=1 mail=1 rcpt=%d data=1 quit=1 commands=%d", client, n, n+4)
	}
	p.after(p.uniform(0.02, 1.5), func() { p.attempt(m) })
}

func (p *postfix) messageID() string {
	t := Start.Add(time.Duration(p.now * float64(time.Second)))
	if p.r.IntN(2) == 0 {
		return fmt.Sprintf("%s.%d@%s", t.Format("20060102150405"), p.r.IntN(100000), p.pick([]string{"web1.example.net", "app.example.net", "example.net"}))
	}
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x@example.net", p.r.Uint32(), p.r.IntN(1<<16), p.r.IntN(1<<16), p.r.IntN(1<<16), p.r.Uint64()&(1<<48-1))
}

func (p *postfix) qmgrActive(m *pmsg) {
	p.log("qmgr", p.qmgrPID, "%s: from=<%s>, size=%d, nrcpt=%d (queue active)", m.qid, m.sender, m.size, len(m.rcpts))
}

// fmtDelay formats a delay as Postfix does: two significant digits below ten
// seconds, whole seconds above.
func fmtDelay(d float64) string {
	switch {
	case d < 0.005:
		return "0"
	case d < 0.1:
		return strconv.FormatFloat(d, 'f', 2, 64)
	case d < 10:
		return strconv.FormatFloat(d, 'g', 2, 64)
	default:
		return strconv.Itoa(int(d))
	}
}

// attempt is one delivery round for every pending recipient of m.
func (p *postfix) attempt(m *pmsg) {
	m.tries++
	delay := p.now - m.arrived
	expire, bounced := false, false
	var last *domain
	var pid, conn int
	for _, r := range m.rcpts {
		if r.done {
			continue
		}
		a := delay - p.uniform(0, 0.05)
		if a < 0 {
			a = 0
		}
		b, c, d := p.uniform(0, 0.02), p.uniform(0, 0.4), p.uniform(0, 0.3)
		delays := fmtDelay(a) + "/" + fmtDelay(b) + "/" + fmtDelay(c) + "/" + fmtDelay(d)
		dl := fmtDelay(delay + b + c + d)
		if r.dom != last || pid == 0 {
			pid, conn = p.proc(p.smtp), 0
			last = r.dom
		}
		conn++
		cu := ""
		if conn > 1 {
			cu = "conn_use=" + strconv.Itoa(conn) + ", "
		}
		relay := r.dom.mx + "[" + r.dom.ip + "]:25"
		host := r.dom.mx + "[" + r.dom.ip + "]"
		if r.defers > 0 {
			r.defers--
			if r.dreason == d441 {
				msg := "Connection refused"
				if r.dom.kind == kindOther {
					msg = "Connection timed out"
				}
				p.log("smtp", pid, "connect to %s:25: %s", host, msg)
				p.log("smtp", pid, "%s: to=<%s>, relay=none, delay=%s, delays=%s, dsn=4.4.1, status=deferred (connect to %s:25: %s)", m.qid, r.addr, dl, delays, host, msg)
			} else {
				if conn == 1 && p.r.IntN(4) == 0 {
					p.tls(pid, relay)
				}
				dsn, text := p.deferText(r, host)
				p.log("smtp", pid, "%s: to=<%s>, relay=%s, %sdelay=%s, delays=%s, dsn=%s, status=deferred (%s)", m.qid, r.addr, relay, cu, dl, delays, dsn, text)
			}
			if r.final == outExpired && delay >= queueLifetime {
				expire = true
			}
			continue
		}
		if conn == 1 && p.r.IntN(4) == 0 {
			p.tls(pid, relay)
		}
		r.done = true
		if r.final == outBounced {
			bounced = true
			dsn, text := p.bounceText(r, host)
			p.log("smtp", pid, "%s: to=<%s>, relay=%s, %sdelay=%s, delays=%s, dsn=%s, status=bounced (%s)", m.qid, r.addr, relay, cu, dl, delays, dsn, text)
			continue
		}
		dsn, text := p.sentText(r)
		p.log("smtp", pid, "%s: to=<%s>, relay=%s, %sdelay=%s, delays=%s, dsn=%s, status=sent (%s)", m.qid, r.addr, relay, cu, dl, delays, dsn, text)
	}
	if bounced {
		p.ndr(m)
	}
	pending := false
	for _, r := range m.rcpts {
		if !r.done {
			pending = true
		}
	}
	switch {
	case pending && expire:
		p.log("qmgr", p.qmgrPID, "%s: from=<%s>, status=expired, returned to sender", m.qid, m.sender)
		for _, r := range m.rcpts {
			r.done = true
		}
		p.ndr(m)
		p.removed(m)
	case pending:
		// minimal_backoff_time 300s doubling to maximal_backoff_time 4000s,
		// picked up by the next deferred-queue scan (queue_run_delay 300s).
		backoff := math.Min(300*math.Pow(2, float64(m.tries-1)), 4000) + p.uniform(0, 300)
		p.after(backoff, func() {
			p.qmgrActive(m)
			p.after(p.uniform(0.01, 0.8), func() { p.attempt(m) })
		})
	default:
		p.removed(m)
	}
}

func (p *postfix) removed(m *pmsg) {
	p.log("qmgr", p.qmgrPID, "%s: removed", m.qid)
	delete(p.live, m.qid)
}

func (p *postfix) tls(pid int, relay string) {
	trust := p.pick([]string{"Trusted", "Untrusted", "Verified", "Anonymous"})
	p.log("smtp", pid, "%s TLS connection established to %s: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256", trust, relay)
}

// ndr queues and delivers the notification to the (local) sender.
func (p *postfix) ndr(m *pmsg) {
	if m.sender == "" {
		return
	}
	id := p.newQID()
	p.log("cleanup", p.proc(p.cleanup), "%s: message-id=<%s.%s@mx1.%s>", id, Start.Add(time.Duration(p.now)*time.Second).Format("20060102150405"), id, ourDomain)
	p.log("bounce", p.bncPID, "%s: sender non-delivery notification: %s", m.qid, id)
	n := &pmsg{qid: id, size: 2000 + p.r.IntN(3000), arrived: p.now}
	p.log("qmgr", p.qmgrPID, "%s: from=<>, size=%d, nrcpt=1 (queue active)", id, n.size)
	sender := m.sender
	p.after(p.uniform(0.01, 0.3), func() {
		pid := p.proc(p.smtp)
		d := p.now - n.arrived
		p.log("smtp", pid, "%s: to=<%s>, relay=%s[%s]:25, delay=%s, delays=%s/0/0/%s, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %s)",
			id, sender, mailstore, mailstoreI, fmtDelay(d+0.01), fmtDelay(d), fmtDelay(0.01), p.hex(10))
		p.removed(n)
	})
}

func (p *postfix) deferText(r *rcpt, host string) (dsn, text string) {
	switch r.dreason {
	case d470:
		if p.r.IntN(2) == 0 {
			return "4.7.0", "host " + host + " refused to talk to me: 421 4.7.0 " + r.dom.mx + " Error: too many connections from 198.51.100.25"
		}
		return "4.7.0", "host " + host + " said: 421 4.7.0 Try again later, closing connection. (in reply to MAIL FROM command)"
	case d420:
		return "4.2.0", "host " + host + " said: 450 4.2.0 <" + r.addr + ">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/" + r.dom.name + ".html (in reply to RCPT TO command)"
	case d400:
		if r.dom.kind == kindExim {
			return "4.0.0", "host " + host + " said: 451 Temporary local problem - please try later (in reply to RCPT TO command)"
		}
		return "4.0.0", "host " + host + " said: 451 Mailbox busy, try again later (in reply to RCPT TO command)"
	default:
		return "4.3.2", "host " + host + " said: 451 4.3.2 <" + r.addr + ">: Recipient address rejected: System not accepting network messages (in reply to RCPT TO command)"
	}
}

func (p *postfix) bounceText(r *rcpt, host string) (dsn, text string) {
	switch r.breason {
	case b571:
		if p.r.IntN(2) == 0 {
			return "5.7.1", "host " + host + " said: 554 5.7.1 <" + r.addr + ">: Relay access denied (in reply to RCPT TO command)"
		}
		return "5.7.1", "host " + host + " said: 554 5.7.1 Service unavailable; Client host [198.51.100.25] blocked using zen.spamhaus.org (in reply to RCPT TO command)"
	case b500:
		return "5.0.0", "host " + host + " said: 550 No such user here (in reply to RCPT TO command)"
	default:
		return "5.1.1", "host " + host + " said: 550 5.1.1 <" + r.addr + ">: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"
	}
}

func (g *gen) sentText(r *rcpt) (dsn, text string) {
	switch r.dom.kind {
	case kindExchange:
		return "2.6.0", fmt.Sprintf("250 2.6.0 <%08x@example.net> [InternalId=%d, Hostname=%s] %d bytes in %.3f, %.3f KB/sec Queued mail for delivery",
			g.r.Uint32(), g.r.Uint64()%100000000000, strings.ToUpper(r.dom.name[:2])+"P"+strconv.Itoa(100+g.r.IntN(900))+"MB"+strconv.Itoa(1000+g.r.IntN(9000))+".example.com",
			2000+g.r.IntN(60000), g.uniform(0.01, 0.5), g.uniform(50, 900))
	case kindExim:
		return "2.0.0", "250 OK id=" + eximID(g.now+g.uniform(0, 1), 1000+g.r.IntN(60000))
	case kindOther:
		return "2.0.0", fmt.Sprintf("250 2.0.0 OK  %d %s.%d - gsmtp", Start.Unix()+int64(g.now), strings.ToLower(g.hex(12)), g.r.IntN(1000))
	default:
		return "2.0.0", "250 2.0.0 Ok: queued as " + g.hex(10)
	}
}

var rejectTexts = []string{
	"554 5.7.1 <%[1]s>: Relay access denied",
	"450 4.7.1 Client host rejected: cannot find your reverse hostname, [%[2]s]",
	"554 5.7.1 Service unavailable; Client host [%[2]s] blocked using zen.spamhaus.org",
	"550 5.1.1 <%[1]s>: Recipient address rejected: User unknown in local recipient table",
}

// reject is an outside client that gets turned away.
func (p *postfix) reject() {
	p.after(p.exp(meanReject), p.reject)
	pid := p.proc(p.smtpd)
	ip := p.docIP()
	client := "unknown[" + ip + "]"
	p.conns++
	p.log("smtpd", pid, "connect from %s", client)
	if p.r.IntN(4) == 0 {
		p.log("smtpd", pid, "lost connection after %s from %s", p.pick([]string{"EHLO", "AUTH", "CONNECT", "STARTTLS"}), client)
		p.log("smtpd", pid, "disconnect from %s ehlo=1 auth=0/1 commands=1/2", client)
		return
	}
	rcpt := p.localPart() + "@" + p.domain().name
	kind := p.r.IntN(len(rejectTexts))
	if kind == 3 {
		rcpt = p.localPart() + "@" + ourDomain
	}
	text := fmt.Sprintf(rejectTexts[kind], rcpt, ip)
	helo := p.pick([]string{"User", "localhost", "[" + ip + "]", "ylmf-pc", "win-" + strings.ToLower(p.hex(6))})
	p.log("smtpd", pid, "NOQUEUE: reject: RCPT from %s: %s; from=<%s> to=<%s> proto=ESMTP helo=<%s>", client, text, p.localPart()+"@"+p.domain().name, rcpt, helo)
	p.log("smtpd", pid, "disconnect from %s ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4", client)
}

func (p *postfix) anvil() {
	p.after(600, p.anvil)
	if p.conns == 0 {
		return
	}
	when := Start.Add(time.Duration(p.now-p.uniform(0, 600)) * time.Second).Format(time.Stamp)
	ip := p.docIP()
	p.log("anvil", p.anvilPID, "statistics: max connection rate %d/60s for (smtp:%s) at %s", 1+p.r.IntN(6), ip, when)
	p.log("anvil", p.anvilPID, "statistics: max connection count %d for (smtp:%s) at %s", 1+p.r.IntN(3), ip, when)
	p.log("anvil", p.anvilPID, "statistics: max cache size %d at %s", 1+p.r.IntN(12), when)
	p.conns = 0
}

// ---- Exim ---------------------------------------------------------------------

type exim struct {
	*gen
	live  map[string]bool
	queue []*emsg // messages with deferred recipients, in arrival order
}

type emsg struct {
	id      string
	sender  string
	size    int
	arrived float64
	rcpts   []*rcpt
	first   float64 // first deferral
	tries   int     // failed attempts
	next    float64 // retry time
	hostKey bool    // the retry record is the host's (connection failures)
	queued  bool
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// eximID builds a 4.96 message id from a time (seconds since Start) and pid:
// base62 seconds, pid, and the sub-second in 1/2000 s.
func eximID(t float64, pid int) string {
	sec := Start.Unix() + int64(t)
	frac := int64((t - math.Floor(t)) * 2000)
	b := make([]byte, 0, 16)
	b = appendBase62(b, sec, 6)
	b = append(b, '-')
	b = appendBase62(b, int64(pid), 6)
	b = append(b, '-')
	b = appendBase62(b, frac, 2)
	return string(b)
}

func appendBase62(b []byte, v int64, n int) []byte {
	var tmp [11]byte
	for i := n - 1; i >= 0; i-- {
		tmp[i] = base62[v%62]
		v /= 62
	}
	return append(b, tmp[:n]...)
}

func (e *exim) init() {
	e.stampFmt = time.DateTime
	e.at(0, e.arrive)
	e.at(e.exp(meanEximReject), e.reject)
	e.at(60, e.queueRun)
}

func (e *exim) log(id, format string, a ...any) {
	pre := make([]byte, 0, 20)
	pre = append(pre, ' ')
	if id != "" {
		pre = append(pre, id...)
		pre = append(pre, ' ')
	}
	e.emit(pre, format, a...)
}

func (e *exim) newID() string {
	for {
		id := eximID(e.now, e.pid())
		if !e.live[id] {
			e.live[id] = true
			return id
		}
	}
}

func (e *exim) arrive() {
	e.after(e.exp(meanEximArrival), e.arrive)
	m := &emsg{id: e.newID(), sender: e.sender(), size: e.size(), arrived: e.now, rcpts: e.rcpts(false)}
	msgid := strings.TrimSuffix(strings.TrimPrefix(e.messageID(), "<"), ">")
	// log_selector = +smtp_connection, as on most busy hosts.
	switch e.r.IntN(3) {
	case 0:
		e.log(m.id, "<= %s U=www-data P=local S=%d id=%s", m.sender, m.size, msgid)
	case 1:
		port := 40000 + e.r.IntN(25000)
		e.log("", "SMTP connection from (web1.example.net) [198.51.100.11]:%d I=[198.51.100.25]:587 (TCP/IP connection count = %d)", port, 1+e.r.IntN(4))
		e.log(m.id, "<= %s H=(web1.example.net) [198.51.100.11] P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:%s S=%d id=%s", m.sender, m.sender, m.size, msgid)
		e.log("", "SMTP connection from (web1.example.net) [198.51.100.11]:%d I=[198.51.100.25]:587 closed by QUIT", port)
	default:
		port := 40000 + e.r.IntN(25000)
		e.log("", "SMTP connection from app.example.net [198.51.100.15]:%d I=[198.51.100.25]:25 (TCP/IP connection count = %d)", port, 1+e.r.IntN(4))
		e.log(m.id, "<= %s H=app.example.net [198.51.100.15] P=esmtp S=%d id=%s", m.sender, m.size, msgid)
		e.log("", "SMTP connection from app.example.net [198.51.100.15]:%d I=[198.51.100.25]:25 closed by QUIT", port)
	}
	e.after(e.uniform(0.05, 2), func() { e.attempt(m) })
}

func (e *exim) messageID() string {
	t := Start.Add(time.Duration(e.now * float64(time.Second)))
	return fmt.Sprintf("%s.%d@%s", t.Format("20060102150405"), e.r.IntN(100000), e.pick([]string{"web1.example.net", "app.example.net", "example.net"}))
}

func (e *exim) tlsFields(d *domain) string {
	if d.kind == kindOther && e.r.IntN(2) == 0 {
		return ""
	}
	return " X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes"
}

func (e *exim) attempt(m *emsg) {
	failed, bounced, hostKey := false, false, false
	var last *domain
	for _, r := range m.rcpts {
		if r.done {
			continue
		}
		host := r.dom.mx + " [" + r.dom.ip + "]"
		if r.defers > 0 {
			r.defers--
			failed = true
			if r.dreason == d441 || r.dreason == d470 {
				hostKey = true
			}
			if r.dreason == d441 {
				msg, errno := "Connection refused", 111
				if r.dom.kind == kindOther {
					msg, errno = "Connection timed out", 110
				}
				e.log(m.id, "H=%s %s", host, msg)
				e.log(m.id, "== %s R=dnslookup T=remote_smtp defer (%d): %s", r.addr, errno, msg)
			} else {
				e.log(m.id, "== %s R=dnslookup T=remote_smtp defer (%d) H=%s: SMTP error from remote mail server after %s", r.addr, e.deferErrno(r), host, e.deferText(r, m))
			}
			if r.final == outExpired && m.tries > 0 && e.now-m.first >= retryCutoff {
				r.done = true
				e.log(m.id, "** %s: retry timeout exceeded", r.addr)
				bounced = true
			}
			last = nil
			continue
		}
		r.done = true
		if r.final == outBounced {
			bounced = true
			e.log(m.id, "** %s R=dnslookup T=remote_smtp H=%s: SMTP error from remote mail server after RCPT TO:<%s>: %s", r.addr, host, r.addr, e.bounceText(r))
			last = nil
			continue
		}
		flag := "=>"
		if r.dom == last {
			flag = "->"
		}
		last = r.dom
		_, text := e.sentText(r)
		k := ""
		if r.dom.kind == kindPostfix {
			k = " K"
		}
		e.log(m.id, "%s %s R=dnslookup T=remote_smtp H=%s%s%s C=\"%s\"", flag, r.addr, host, e.tlsFields(r.dom), k, text)
	}
	if bounced {
		e.ndr(m)
	}
	pending := false
	for _, r := range m.rcpts {
		if !r.done {
			pending = true
		}
	}
	if !pending {
		e.log(m.id, "Completed")
		delete(e.live, m.id)
		m.queued = false
		return
	}
	if failed {
		if m.tries == 0 {
			m.first = e.now
		}
		m.tries++
		m.hostKey = hostKey
		// retry rule: F,2h,15m; G,8h,1h,1.5
		interval := 900.0
		if e.now-m.first >= 7200 {
			interval = 3600 * math.Pow(1.5, float64(m.tries-8))
			if interval < 3600 {
				interval = 3600
			}
		}
		m.next = e.now + interval
	}
	if !m.queued {
		m.queued = true
		e.queue = append(e.queue, m)
	}
}

// queueRun is the daemon's -q15m queue runner.
func (e *exim) queueRun() {
	e.after(900, e.queueRun)
	pid := e.pid()
	e.log("", "Start queue run: pid=%d", pid)
	q := e.queue[:0]
	for _, m := range e.queue {
		if !m.queued {
			continue
		}
		if e.now >= m.next {
			e.attempt(m)
		} else {
			for _, r := range m.rcpts {
				if r.done {
					continue
				}
				if m.hostKey {
					e.log(m.id, "== %s R=dnslookup T=remote_smtp defer (-54): retry time not reached for any host for '%s'", r.addr, r.dom.name)
				} else {
					e.log(m.id, "== %s routing defer (-52): retry time not reached", r.addr)
				}
			}
		}
		if m.queued {
			q = append(q, m)
		}
	}
	for i := len(q); i < len(e.queue); i++ {
		e.queue[i] = nil
	}
	e.queue = q
	e.log("", "End queue run: pid=%d", pid)
}

func (e *exim) deferErrno(r *rcpt) int {
	if r.dreason == d470 {
		return -45
	}
	return -44
}

func (e *exim) deferText(r *rcpt, m *emsg) string {
	rcptTo := "RCPT TO:<" + r.addr + ">"
	if e.r.IntN(5) == 0 {
		rcptTo = "pipelined " + rcptTo
	}
	switch r.dreason {
	case d470:
		return "MAIL FROM:<" + m.sender + "> SIZE=" + strconv.Itoa(m.size) + ": 421 4.7.0 Try again later, closing connection."
	case d420:
		return rcptTo + ": 450 4.2.0 <" + r.addr + ">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/" + r.dom.name + ".html"
	case d400:
		if r.dom.kind == kindExim {
			return rcptTo + ": 451 Temporary local problem - please try later"
		}
		return rcptTo + ": 451 Mailbox busy, try again later"
	default:
		return rcptTo + ": 451 4.3.2 <" + r.addr + ">: Recipient address rejected: System not accepting network messages"
	}
}

func (e *exim) bounceText(r *rcpt) string {
	switch r.breason {
	case b571:
		return "554 5.7.1 <" + r.addr + ">: Relay access denied"
	case b500:
		return "550 No such user here"
	default:
		return "550 5.1.1 <" + r.addr + ">: Recipient address rejected: User unknown in virtual mailbox table"
	}
}

// ndr is the bounce message Exim sends the sender.
func (e *exim) ndr(m *emsg) {
	id := e.newID()
	e.log(id, "<= <> R=%s U=Debian-exim P=local S=%d", m.id, 1800+e.r.IntN(1500))
	sender := m.sender
	e.after(e.uniform(0.01, 0.5), func() {
		e.log(id, "=> %s R=dnslookup T=remote_smtp H=%s [%s] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes K C=\"250 2.0.0 Ok: %d bytes queued as %s\"", sender, mailstore, mailstoreI, 2000+e.r.IntN(3000), e.hex(10))
		e.log(id, "Completed")
		delete(e.live, id)
	})
}

// reject is an outside client that is refused or goes away.
func (e *exim) reject() {
	e.after(e.exp(meanEximReject), e.reject)
	ip := e.docIP()
	helo := e.pick([]string{"User", "localhost", "[" + ip + "]", "ylmf-pc", "win-" + strings.ToLower(e.hex(6))})
	switch e.r.IntN(8) {
	case 0, 1, 2:
		e.log("", "H=(%s) [%s] F=<%s@%s> rejected RCPT <%s@%s>: relay not permitted", helo, ip, e.localPart(), e.domain().name, e.localPart(), e.domain().name)
	case 3:
		e.log("", "H=(%s) [%s] F=<%s@%s> rejected RCPT <%s@%s>: Unknown user", helo, ip, e.localPart(), e.domain().name, e.localPart(), ourDomain)
	case 4:
		e.log("", "no host name found for IP address %s", ip)
	case 5:
		e.log("", "SMTP connection from (%s) [%s] lost D=%ds", helo, ip, e.r.IntN(30))
	case 6:
		e.log("", "TLS error on connection from (%s) [%s] (SSL_accept): error:0A000126:SSL routines::unexpected eof while reading", helo, ip)
	default:
		e.log("", "SMTP call from (%s) [%s] dropped: too many nonmail commands (last was \"RSET\")", helo, ip)
	}
}
