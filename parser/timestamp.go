package parser

import "time"

// Supported timestamp forms (at the start of a log line):
//
//	RFC 3164 / journalctl -o short:   Nov 27 06:02:21   Nov 07 06:02:21   Nov  7 06:02:21   Nov 7 06:02:21
//	journalctl -o short-precise:      Nov 27 06:07:39.603599
//	RFC 3339 / journalctl short-iso:  2026-11-27T06:07:39.603940+00:00   2026-11-27T06:07:39+0000   2026-11-27T06:07:39Z
//	RFC 5424 (rsyslog):               <22>1 2026-11-27T06:07:39.603940+00:00
//	Exim mainlog:                     2026-11-27 06:02:21   2026-11-27 06:02:21.123   2026-11-27 06:02:21 +0100
//
// Decisions:
//   - A timestamp must be followed by the end of b or by a space, tab, CR or LF;
//     "Nov 27 06:02:21x" is rejected rather than read as a shorter stamp.
//   - Fractions have 1 to 9 digits in every form; a '.' without digits or with
//     more than 9 digits makes the stamp invalid.
//   - Second 60 (a leap second) is accepted and clamped to 59, keeping the
//     fraction, because Go's time package has no leap seconds.
//   - The RFC 3339 ('T') form requires a zone: Z, ±hh:mm or ±hhmm; 't' and 'z'
//     are accepted too (RFC 3339 §5.6). Offsets may be 00:00 to 23:59.
//   - Exim: a space followed by '+' or '-' after the time must be a valid zone
//     (±hhmm or ±hh:mm) or the stamp is rejected; Exim never starts the text
//     after the stamp with a sign. A following " [1234]" pid is not consumed.
//   - RFC 5424: PRI 0-191 in 1-3 digits, VERSION 1-3 digits without a leading
//     zero, then an RFC 3339 stamp; the NILVALUE "-" timestamp is rejected.
//   - Every returned time is in Loc, including those that carried their own
//     offset (the instant is exact; building a FixedZone would allocate).
//   - Year inference ties (two candidate years exactly equally far from the
//     reference) go to the earlier year, as log lines are usually older than
//     the reference.

const (
	secPerDay = 86400
	// yearSpan: candidate years run from the reference year - 2*yearSpan to
	// the reference year + yearSpan, so the past always includes a leap year
	// (the longest gap between them is 8 years, as from 2096 to 2104).
	yearSpan = 4
	// yearSlack bounds the difference between the approximate instants used
	// to rank candidate years (UTC noon of the date, UTC noon of the reference
	// day) and the exact ones: ±12h for the time of day, ±16h for any UTC
	// offset, ±24h for time.Date normalising a skipped day (Pacific/Apia
	// 2011-12-30), ±12h for the reference time of day.
	yearSlack = 3 * secPerDay
	// maxAhead: a year-less date more than this far after the reference day
	// is not a candidate, so Dec 29 read on Nov 28 is last December, not
	// next month. Two days leave room for zones and the time of day.
	maxAhead = 2 * secPerDay
	// minYear is the earliest year a time stamp with a year may have.
	minYear = 1970
)

// yearEntry caches the year decision for one (month, day).
type yearEntry struct {
	gen uint32 // valid when equal to TimeParser.gen
	// exact is set when the two best candidate years are too close to call
	// from the approximation; then year and alt are compared with time.Date
	// on every call.
	exact bool
	year  int // best candidate
	alt   int // second candidate, used when exact
}

// TimeParser reads the timestamps that mail logs start with. Zone-less times are in Loc.
// Year-less (RFC 3164) times get the year that puts them closest to the reference time.
// It is not safe for concurrent use (it caches); it never allocates on the hot path.
//
// The zero value parses in time.Local with the reference set to the time of the
// first Parse; use NewTimeParser.
type TimeParser struct {
	loc *time.Location

	ref     time.Time
	refDay  int64 // floor(ref.Unix() / 86400), the UTC day of ref
	refYear int   // ref.UTC().Year()
	gen     uint32
	years   [12 * 31]yearEntry // index (month-1)*31 + day-1

	// One-day cache of Loc's offset. dayKey packs (year, month, day); 0 (month 0)
	// never matches. If dayFast, the offset is constant well around that day and
	// a wall time w seconds after midnight is the instant dayBase+w; otherwise
	// the time is built with time.Date.
	dayKey  int64
	dayFast bool
	dayBase int64

	// The last stamp read, with the two bytes after it (all that any form
	// looks at past its end), and its time: lines come in bursts within a
	// second, and a line that starts with the same bytes has the same time.
	last    [lastMax]byte
	lastLen int // 0: none
	lastN   int
	lastT   time.Time
}

// lastMax bounds the stamps the last-stamp cache keeps: the longest form,
// RFC 5424 with nanoseconds and an offset, with the two bytes after it.
const lastMax = 48

// NewTimeParser returns a parser that puts zone-less times in loc (time.Local
// if loc is nil), with the reference time set to now.
func NewTimeParser(loc *time.Location) *TimeParser {
	if loc == nil {
		loc = time.Local
	}
	p := &TimeParser{loc: loc}
	p.SetReference(time.Now())
	return p
}

// SetReference sets the time year inference is relative to: now when following a live log,
// a file's modification time when reading an old file.
//
// It is cheap; the per-(month, day) year cache is only invalidated when the
// reference moves to another (UTC) day.
func (p *TimeParser) SetReference(ref time.Time) {
	p.ref = ref
	p.lastLen = 0 // a year-less stamp may read differently now
	day := floorDiv(ref.Unix(), secPerDay)
	if day != p.refDay || p.gen == 0 {
		p.refDay = day
		p.refYear = ref.UTC().Year()
		p.gen++
		if p.gen == 0 { // wrapped: old entries could look valid again
			clear(p.years[:])
			p.gen = 1
		}
	}
}

// Parse reads a timestamp at the start of b. It returns the time and the number of bytes
// consumed (not including the following space); ok is false if b does not start with a supported timestamp.
func (p *TimeParser) Parse(b []byte) (t time.Time, n int, ok bool) {
	if p.gen == 0 || p.loc == nil {
		p.lazyInit()
	}
	if k := p.lastLen; k > 0 && len(b) >= k && string(b[:k]) == string(p.last[:k]) {
		return p.lastT, p.lastN, true
	}
	t, n, ok = p.parse(b)
	if ok && n+2 <= min(len(b), lastMax) {
		p.lastLen = copy(p.last[:], b[:n+2])
		p.lastN, p.lastT = n, t
	}
	return t, n, ok
}

func (p *TimeParser) parse(b []byte) (time.Time, int, bool) {
	if len(b) == 0 {
		return time.Time{}, 0, false
	}
	switch c := b[0]; {
	case c >= '0' && c <= '9':
		return p.parseDateFirst(b, 0, false)
	case c == '<':
		return p.parse5424(b)
	default:
		return p.parse3164(b)
	}
}

func (p *TimeParser) lazyInit() {
	if p.loc == nil {
		p.loc = time.Local
	}
	if p.gen == 0 {
		p.SetReference(time.Now())
	}
}

// parse3164 reads "Mmm dd hh:mm:ss[.frac]" with dd zero-padded, space-padded
// or a single digit after a single space.
func (p *TimeParser) parse3164(b []byte) (time.Time, int, bool) {
	// Shortest form: "Nov 7 06:02:21".
	if len(b) < 14 || b[3] != ' ' {
		return time.Time{}, 0, false
	}
	m := monthIndex(b[0], b[1], b[2])
	if m == 0 {
		return time.Time{}, 0, false
	}
	var d, i int
	c4, c5 := b[4]-'0', b[5]-'0'
	switch {
	case b[4] == ' ' && c5 <= 9: // "Nov  7"
		d, i = int(c5), 6
	case c4 <= 9 && c5 <= 9: // "Nov 07", "Nov 27"
		d, i = int(c4)*10+int(c5), 6
	case c4 <= 9 && b[5] == ' ': // "Nov 7"
		d, i = int(c4), 5
	default:
		return time.Time{}, 0, false
	}
	if b[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	if len(b) < i+8 {
		return time.Time{}, 0, false
	}
	hh, mm, ss, ok := parseClock(b, i)
	if !ok {
		return time.Time{}, 0, false
	}
	ns, i, ok := parseFrac(b, i+8)
	if !ok || !atEnd(b, i) || d < 1 || d > maxDay[m] {
		return time.Time{}, 0, false
	}
	return p.yearless(m, d, hh, mm, ss, ns), i, true
}

// parse5424 reads "<PRI>VERSION " followed by an RFC 3339 stamp.
func (p *TimeParser) parse5424(b []byte) (time.Time, int, bool) {
	i, pri := 1, 0
	for i < len(b) && i <= 3 && b[i]-'0' <= 9 {
		pri = pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i >= len(b) || b[i] != '>' || pri > 191 {
		return time.Time{}, 0, false
	}
	i++
	v := i
	for i < len(b) && i-v < 3 && b[i]-'0' <= 9 {
		i++
	}
	if i == v || b[v] == '0' || i >= len(b) || b[i] != ' ' {
		return time.Time{}, 0, false
	}
	return p.parseDateFirst(b, i+1, true)
}

// parseDateFirst reads "YYYY-MM-DD" at b[s:] followed by either the RFC 3339
// rest "Thh:mm:ss[.frac]zone" or, unless rfc3339Only, the Exim rest
// " hh:mm:ss[.frac][ ±hhmm]".
func (p *TimeParser) parseDateFirst(b []byte, s int, rfc3339Only bool) (time.Time, int, bool) {
	if len(b) < s+19 {
		return time.Time{}, 0, false
	}
	y1, ok1 := digit2(b, s)
	y2, ok2 := digit2(b, s+2)
	m, ok3 := digit2(b, s+5)
	d, ok4 := digit2(b, s+8)
	if !ok1 || !ok2 || !ok3 || !ok4 || b[s+4] != '-' || b[s+7] != '-' {
		return time.Time{}, 0, false
	}
	y := y1*100 + y2
	if y < minYear {
		return time.Time{}, 0, false // no mail log predates the epoch: garbage, not a time
	}
	sep := b[s+10]
	isT := sep == 'T' || sep == 't'
	if !isT && (rfc3339Only || sep != ' ') {
		return time.Time{}, 0, false
	}
	hh, mm, ss, ok := parseClock(b, s+11)
	if !ok {
		return time.Time{}, 0, false
	}
	ns, i, ok := parseFrac(b, s+19)
	if !ok {
		return time.Time{}, 0, false
	}
	off, zoned := 0, false
	if isT {
		if i >= len(b) {
			return time.Time{}, 0, false
		}
		switch b[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			if off, i, ok = parseOffset(b, i); !ok {
				return time.Time{}, 0, false
			}
		default:
			return time.Time{}, 0, false
		}
		zoned = true
	} else if i+1 < len(b) && b[i] == ' ' && (b[i+1] == '+' || b[i+1] == '-') {
		if off, i, ok = parseOffset(b, i+1); !ok {
			return time.Time{}, 0, false
		}
		zoned = true
	}
	if !atEnd(b, i) || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return time.Time{}, 0, false
	}
	if zoned {
		sec := daysFromCivil(y, m, d)*secPerDay + int64(hh*3600+mm*60+ss-off)
		return time.Unix(sec, int64(ns)).In(p.loc), i, true
	}
	return p.local(y, m, d, hh, mm, ss, ns), i, true
}

// yearless returns the wall time m/d hh:mm:ss.ns in Loc in the candidate year
// closest to the reference, among those not more than about a day after it.
func (p *TimeParser) yearless(m, d, hh, mm, ss, ns int) time.Time {
	e := &p.years[(m-1)*31+d-1]
	if e.gen != p.gen {
		p.fillYear(e, m, d)
	}
	if !e.exact {
		return p.local(e.year, m, d, hh, mm, ss, ns)
	}
	t1 := time.Date(e.year, time.Month(m), d, hh, mm, ss, ns, p.loc)
	t2 := time.Date(e.alt, time.Month(m), d, hh, mm, ss, ns, p.loc)
	d1, d2 := t1.Sub(p.ref).Abs(), t2.Sub(p.ref).Abs()
	if d2 < d1 || d2 == d1 && e.alt < e.year {
		return t2
	}
	return t1
}

// fillYear ranks the candidate years for m/d using UTC noon of the date
// against UTC noon of the reference day. If the best one beats the second by
// more than the approximation error for any time of day and any reference
// within the reference day, the decision is final; otherwise the two are
// compared exactly per call (only dates about half a year from the reference).
// A third candidate is at least 365 days farther than one of the two best and
// can never win.
func (p *TimeParser) fillYear(e *yearEntry, m, d int) {
	ar := p.refDay*secPerDay + secPerDay/2
	best, alt := 0, 0
	var bestA, altA int64
	haveBest, haveAlt := false, false
	for y := p.refYear - 2*yearSpan; y <= p.refYear+yearSpan; y++ {
		if d > daysIn(y, m) {
			continue
		}
		a := daysFromCivil(y, m, d)*secPerDay + secPerDay/2 - ar
		if a > maxAhead {
			continue // a log line is not written long after its file was last changed
		}
		if a < 0 {
			a = -a
		}
		switch {
		case !haveBest || a < bestA:
			alt, altA, haveAlt = best, bestA, haveBest
			best, bestA, haveBest = y, a, true
		case !haveAlt || a < altA:
			alt, altA, haveAlt = y, a, true
		}
	}
	e.gen = p.gen
	e.year = best
	e.alt = alt
	e.exact = haveAlt && bestA+2*yearSlack >= altA
}

// local returns the wall time y-m-d hh:mm:ss.ns in Loc, equal to time.Date's result.
func (p *TimeParser) local(y, m, d, hh, mm, ss, ns int) time.Time {
	key := int64(y)<<9 | int64(m)<<5 | int64(d)
	if key != p.dayKey {
		p.fillDay(y, m, d, key)
	}
	if p.dayFast {
		return time.Unix(p.dayBase+int64(hh*3600+mm*60+ss), int64(ns)).In(p.loc)
	}
	return time.Date(y, time.Month(m), d, hh, mm, ss, ns, p.loc)
}

// fillDay caches Loc's offset for y-m-d. The fast path is used only when the
// zone period containing local midnight covers the day before through the day
// after: then every wall time w of the day (w < 86400, and |offset| < 1 day)
// makes time.Date look up that same period, so time.Date returns exactly
// midnight's instant + w. Days near a transition (DST, zone change, or a
// transition at midnight where 00:00 itself does not exist) use time.Date.
func (p *TimeParser) fillDay(y, m, d int, key int64) {
	p.dayKey = key
	p.dayFast = false
	t0 := time.Date(y, time.Month(m), d, 0, 0, 0, 0, p.loc)
	_, off := t0.Zone()
	u := t0.Unix()
	base := daysFromCivil(y, m, d)*secPerDay - int64(off)
	if u != base {
		return // midnight was normalised (skipped) or the offset is odd
	}
	start, end := t0.ZoneBounds()
	if !start.IsZero() && start.Unix() > u-secPerDay {
		return
	}
	if !end.IsZero() && end.Unix() < u+2*secPerDay {
		return
	}
	p.dayFast, p.dayBase = true, base
}

// digit2 reads two decimal digits at b[i:i+2]; the caller checks bounds.
func digit2(b []byte, i int) (int, bool) {
	c0, c1 := b[i]-'0', b[i+1]-'0'
	if c0 > 9 || c1 > 9 {
		return 0, false
	}
	return int(c0)*10 + int(c1), true
}

// parseClock reads "hh:mm:ss" at b[i:i+8]; the caller checks bounds. Second
// 60 is clamped to 59.
func parseClock(b []byte, i int) (hh, mm, ss int, ok bool) {
	hh, ok1 := digit2(b, i)
	mm, ok2 := digit2(b, i+3)
	ss, ok3 := digit2(b, i+6)
	if !ok1 || !ok2 || !ok3 || b[i+2] != ':' || b[i+5] != ':' || hh > 23 || mm > 59 || ss > 60 {
		return 0, 0, 0, false
	}
	if ss == 60 {
		ss = 59
	}
	return hh, mm, ss, true
}

var pow10 = [10]int{1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1}

// parseFrac reads an optional ".d" to ".ddddddddd" at b[i:] and returns the
// nanoseconds and the index after it.
func parseFrac(b []byte, i int) (ns, j int, ok bool) {
	if i >= len(b) || b[i] != '.' {
		return 0, i, true
	}
	i++
	s := i
	for i < len(b) && i-s < 10 {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		ns = ns*10 + int(c)
		i++
	}
	nd := i - s
	if nd == 0 || nd > 9 {
		return 0, 0, false
	}
	return ns * pow10[nd], i, true
}

// parseOffset reads "±hh:mm" or "±hhmm" at b[i:] and returns the offset east
// of UTC in seconds and the index after it.
func parseOffset(b []byte, i int) (off, j int, ok bool) {
	if i+3 > len(b) {
		return 0, 0, false
	}
	hh, ok := digit2(b, i+1)
	j = i + 3
	if j < len(b) && b[j] == ':' {
		j++
	}
	if !ok || j+2 > len(b) {
		return 0, 0, false
	}
	mm, ok := digit2(b, j)
	if !ok || hh > 23 || mm > 59 {
		return 0, 0, false
	}
	off = hh*3600 + mm*60
	if b[i] == '-' {
		off = -off
	}
	return off, j + 2, true
}

func atEnd(b []byte, i int) bool {
	if i >= len(b) {
		return true
	}
	c := b[i]
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func monthIndex(a, b, c byte) int {
	switch uint32(a)<<16 | uint32(b)<<8 | uint32(c) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9
	case 'O'<<16 | 'c'<<8 | 't':
		return 10
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

// maxDay is the largest day of each month in any year.
var maxDay = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(y, m int) int {
	if m == 2 && !isLeap(y) {
		return 28
	}
	return maxDay[m]
}

func isLeap(y int) bool {
	return y%4 == 0 && (y%100 != 0 || y%400 == 0)
}

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	mp := int64(m) - 3
	if m <= 2 {
		yy--
		mp = int64(m) + 9
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
