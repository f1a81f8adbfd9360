package parser

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the host's zoneinfo
)

func loadLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func utc(y int, m time.Month, d, hh, mm, ss, ns int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, ns, time.UTC)
}

// oracleYearless is the definition of year inference: among the years from
// the reference year -8 to +4 in which the date exists and which do not put
// the date more than two calendar days after the reference's (UTC) date, the
// one where time.Date's result is closest to ref; ties go to the earlier year.
func oracleYearless(ref time.Time, loc *time.Location, m time.Month, d, hh, mm, ss, ns int) time.Time {
	r := ref.UTC()
	ry := r.Year()
	refDay := time.Date(ry, r.Month(), r.Day(), 12, 0, 0, 0, time.UTC)
	var best time.Time
	var bestD time.Duration
	found := false
	for y := ry - 8; y <= ry+4; y++ {
		noon := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
		if noon.Day() != d {
			continue // no such date in y (Feb 29)
		}
		if noon.Sub(refDay) > 48*time.Hour {
			continue // too far after the reference
		}
		t := time.Date(y, m, d, hh, mm, ss, ns, loc)
		if dd := t.Sub(ref).Abs(); !found || dd < bestD {
			best, bestD, found = t, dd, true
		}
	}
	return best
}

type validCase struct {
	name string
	in   string
	want time.Time
	n    int
}

// validCases are parsed in Europe/Berlin with the reference 2026-11-27 12:00 Berlin.
var validCases = []validCase{
	// RFC 3164 / maillog_file / journalctl -o short. Berlin is UTC+1 in November.
	{"RFC3164", "Nov 27 06:02:21 mail postfix/smtp[4242]: 4XyZ: to=<a@example.com>", utc(2026, 11, 27, 5, 2, 21, 0), 15},
	{"RFC3164ZeroPadded", "Nov 07 06:02:21 mail postfix/qmgr[1]: x", utc(2026, 11, 7, 5, 2, 21, 0), 15},
	{"RFC3164SpacePadded", "Nov  7 06:02:21 mail postfix/qmgr[1]: x", utc(2026, 11, 7, 5, 2, 21, 0), 15},
	{"RFC3164SingleSpace", "Nov 7 06:02:21 mail postfix/qmgr[1]: x", utc(2026, 11, 7, 5, 2, 21, 0), 14},
	{"RFC3164EndOfInput", "Nov 27 06:02:21", utc(2026, 11, 27, 5, 2, 21, 0), 15},
	{"RFC3164Precise", "Nov 27 06:07:39.603599 mail postfix/smtpd[7]: x", utc(2026, 11, 27, 5, 7, 39, 603599000), 22},
	{"RFC3164Summer", "Jul 15 12:00:00 mail x", utc(2026, 7, 15, 10, 0, 0, 0), 15}, // CEST, UTC+2
	{"RFC3164LeapSecond", "Nov 27 23:59:60 mail x", utc(2026, 11, 27, 22, 59, 59, 0), 15},
	{"RFC3164Tab", "Nov 28 00:00:00\tmail", utc(2026, 11, 27, 23, 0, 0, 0), 15},
	// RFC 3339 (rsyslog, journalctl -o short-iso).
	{"RFC3339", "2026-11-27T06:07:39.603940+00:00 vm postfix/smtpd[1]: x", utc(2026, 11, 27, 6, 7, 39, 603940000), 32},
	{"RFC3339NoColon", "2026-11-27T06:07:39+0000 vm postfix/smtpd[1]: x", utc(2026, 11, 27, 6, 7, 39, 0), 24},
	{"RFC3339Z", "2026-11-27T06:07:39Z vm postfix/smtpd[1]: x", utc(2026, 11, 27, 6, 7, 39, 0), 20},
	{"RFC3339Frac1", "2026-11-27T06:07:39.1+01:00 vm", utc(2026, 11, 27, 5, 7, 39, 100000000), 27},
	{"RFC3339Frac9", "2026-11-27T06:07:39.123456789-05:30 vm", utc(2026, 11, 27, 11, 37, 39, 123456789), 35},
	{"RFC3339Lower", "2026-11-27t06:07:39z vm", utc(2026, 11, 27, 6, 7, 39, 0), 20},
	{"RFC3339LeapSecond", "2026-12-31T23:59:60Z", utc(2026, 12, 31, 23, 59, 59, 0), 20},
	{"RFC3339LeapDay", "2028-02-29T00:00:00Z x", utc(2028, 2, 29, 0, 0, 0, 0), 20},
	{"RFC3339Max", "9999-12-31T23:59:59.999999999Z", utc(9999, 12, 31, 23, 59, 59, 999999999), 30},
	{"RFC3339NearEpoch", "1970-01-02T00:00:00+00:00", utc(1970, 1, 2, 0, 0, 0, 0), 25},
	// RFC 5424 rsyslog output.
	{"RFC5424", "<22>1 2026-11-27T06:07:39.603940+00:00 vm postfix-tx - - - x", utc(2026, 11, 27, 6, 7, 39, 603940000), 38},
	{"RFC5424Pri0", "<0>1 2026-11-27T06:07:39Z vm", utc(2026, 11, 27, 6, 7, 39, 0), 25},
	{"RFC5424Pri191", "<191>1 2026-11-27T06:07:39+0100 vm", utc(2026, 11, 27, 5, 7, 39, 0), 31},
	// Exim mainlog.
	{"Exim", "2026-11-27 06:02:21 [1234] 1tGxyz-000ABC-12 <= a@example.com", utc(2026, 11, 27, 5, 2, 21, 0), 19},
	{"EximNoPid", "2026-11-27 06:02:21 1tGxyz-000ABC-12 <= a@example.com", utc(2026, 11, 27, 5, 2, 21, 0), 19},
	{"EximEndOfInput", "2026-11-27 06:02:21", utc(2026, 11, 27, 5, 2, 21, 0), 19},
	{"EximMillis", "2026-11-27 06:02:21.123 1tGxyz-000ABC-12 <= a@example.com", utc(2026, 11, 27, 5, 2, 21, 123000000), 23},
	{"EximZone", "2026-11-27 06:02:21 +0100 [1234] 1tGxyz-000ABC-12 <= a@example.com", utc(2026, 11, 27, 5, 2, 21, 0), 25},
	{"EximMillisZone", "2026-11-27 06:02:21.123 -0500 1tGxyz-000ABC-12 Completed", utc(2026, 11, 27, 11, 2, 21, 123000000), 29},
	{"EximZoneColon", "2026-11-27 06:02:21 +01:00 x", utc(2026, 11, 27, 5, 2, 21, 0), 26},
	{"EximSummer", "2026-07-01 12:00:00 [1] x", utc(2026, 7, 1, 10, 0, 0, 0), 19},
	{"EximLeapDay", "2028-02-29 12:00:00 x", utc(2028, 2, 29, 11, 0, 0, 0), 19},
	{"EximCRLF", "2026-11-27 06:02:21\r\n", utc(2026, 11, 27, 5, 2, 21, 0), 19},
}

func newBerlinParser(tb testing.TB) (*TimeParser, *time.Location) {
	tb.Helper()
	berlin := loadLoc(tb, "Europe/Berlin")
	p := NewTimeParser(berlin)
	p.SetReference(time.Date(2026, 11, 27, 12, 0, 0, 0, berlin))
	return p, berlin
}

func TestTimeParserFormats(t *testing.T) {
	p, berlin := newBerlinParser(t)
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			got, n, ok := p.Parse([]byte(tc.in))
			if !ok {
				t.Fatalf("Parse(%q): want ok, got not ok", tc.in)
			}
			if !got.Equal(tc.want) || n != tc.n {
				t.Errorf("Parse(%q): want %v, %d; got %v, %d", tc.in, tc.want, tc.n, got, n)
			}
			if got.Location() != berlin {
				t.Errorf("Parse(%q): want location %v, got %v", tc.in, berlin, got.Location())
			}
		})
	}
}

func TestTimeParserYearInference(t *testing.T) {
	berlin := loadLoc(t, "Europe/Berlin")
	tests := []struct {
		name string
		loc  *time.Location
		ref  time.Time
		in   string
		want time.Time
	}{
		{"DecToJanOldLine", time.UTC, utc(2027, 1, 1, 0, 0, 5, 0), "Dec 31 23:59:59", utc(2026, 12, 31, 23, 59, 59, 0)},
		{"DecToJanNewLine", time.UTC, utc(2026, 12, 31, 23, 59, 0, 0), "Jan 1 00:00:01", utc(2027, 1, 1, 0, 0, 1, 0)},
		{"DecToJanNewLinePadded", time.UTC, utc(2026, 12, 31, 23, 59, 0, 0), "Jan  1 00:00:01", utc(2027, 1, 1, 0, 0, 1, 0)},
		{"DecToJanBerlin", berlin, time.Date(2027, 1, 1, 0, 0, 5, 0, berlin), "Dec 31 23:59:59", time.Date(2026, 12, 31, 23, 59, 59, 0, berlin)},
		{"JanAfterDecBerlin", berlin, time.Date(2026, 12, 31, 23, 59, 0, 0, berlin), "Jan 01 00:00:01", time.Date(2027, 1, 1, 0, 0, 1, 0, berlin)},
		{"JanToDecOldFile", time.UTC, utc(2027, 1, 3, 10, 0, 0, 0), "Dec 28 10:00:00", utc(2026, 12, 28, 10, 0, 0, 0)},
		{"JanToDecSameYear", time.UTC, utc(2027, 1, 3, 10, 0, 0, 0), "Jan  2 10:00:00", utc(2027, 1, 2, 10, 0, 0, 0)},
		{"DecToJanClockSkew", time.UTC, utc(2026, 12, 30, 0, 0, 0, 0), "Jan  1 00:00:00", utc(2027, 1, 1, 0, 0, 0, 0)},
		{"NeverMoreThanTwoDaysAhead", time.UTC, utc(2026, 11, 28, 0, 0, 0, 0), "Dec 29 02:54:12", utc(2025, 12, 29, 2, 54, 12, 0)},
		// 2024-02-29 12:00 and 2028-02-29 12:00 are both 730.5 days from
		// 2026-03-01 00:00 UTC: the tie goes to the earlier year.
		{"Feb29TieEarlier", time.UTC, utc(2026, 3, 1, 0, 0, 0, 0), "Feb 29 12:00:00", utc(2024, 2, 29, 12, 0, 0, 0)},
		{"Feb29Past", time.UTC, utc(2026, 2, 28, 0, 0, 0, 0), "Feb 29 12:00:00", utc(2024, 2, 29, 12, 0, 0, 0)},
		{"Feb29NotFromTheFuture", time.UTC, utc(2026, 3, 1, 12, 0, 0, 0), "Feb 29 12:00:00", utc(2024, 2, 29, 12, 0, 0, 0)},
		{"Feb29SameYear", time.UTC, utc(2028, 2, 28, 0, 0, 0, 0), "Feb 29 12:00:00", utc(2028, 2, 29, 12, 0, 0, 0)},
		{"Feb29Berlin", berlin, time.Date(2026, 3, 1, 0, 0, 0, 0, berlin), "Feb 29 12:00:00", time.Date(2024, 2, 29, 12, 0, 0, 0, berlin)},
		{"Feb29Before2100", time.UTC, utc(2099, 6, 1, 0, 0, 0, 0), "Feb 29 00:00:00", utc(2096, 2, 29, 0, 0, 0, 0)},
		{"Feb29After2100", time.UTC, utc(2101, 1, 1, 0, 0, 0, 0), "Feb 29 00:00:00", utc(2096, 2, 29, 0, 0, 0, 0)},
		{"Feb28", berlin, time.Date(2026, 3, 1, 0, 0, 0, 0, berlin), "Feb 28 12:00:00", time.Date(2026, 2, 28, 12, 0, 0, 0, berlin)},
		// Half a year ahead is never chosen: a line is not newer than its file.
		{"HalfYearAhead", time.UTC, utc(2026, 6, 15, 12, 0, 0, 0), "Dec 14 23:59:59", utc(2025, 12, 14, 23, 59, 59, 0)},
		{"HalfYearBehind", time.UTC, utc(2026, 6, 15, 12, 0, 0, 0), "Dec 15 00:00:01", utc(2025, 12, 15, 0, 0, 1, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewTimeParser(tc.loc)
			p.SetReference(tc.ref)
			got, n, ok := p.Parse([]byte(tc.in))
			if !ok || !got.Equal(tc.want) || n != len(tc.in) {
				t.Errorf("ref %v, Parse(%q): want %v, %d, true; got %v, %d, %v", tc.ref, tc.in, tc.want, len(tc.in), got, n, ok)
			}
		})
	}
}

// TestTimeParserYearOracle compares year inference with oracleYearless for
// every date of the year, several times of day, references all through three
// years (including ones that move within the same day, which keeps the
// cache), and zones with odd offsets and transitions.
func TestTimeParserYearOracle(t *testing.T) {
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati", "Pacific/Pago_Pago"}
	clocks := [][4]int{{0, 0, 0, 0}, {2, 30, 0, 0}, {12, 34, 56, 789000000}, {23, 59, 59, 999999999}}
	start := utc(2026, 1, 1, 0, 0, 0, 0)
	if testing.Short() {
		zones = zones[:3]
	}
	for _, zone := range zones {
		t.Run(zone, func(t *testing.T) {
			t.Parallel() // a parser each: the oracle is what takes the time
			loc := loadLoc(t, zone)
			p := NewTimeParser(loc)
			buf := make([]byte, 0, 32)
			fails := 0
			// Step 7 days 5 hours so the reference's time of day varies.
			for ref := start; ref.Year() < 2029; ref = ref.Add(7*24*time.Hour + 5*time.Hour) {
				day := ref.Truncate(24 * time.Hour)
				for _, r := range []time.Time{day.Add(time.Second), ref, day.Add(24*time.Hour - time.Nanosecond)} {
					p.SetReference(r)
					for d := utc(2028, 1, 1, 0, 0, 0, 0); d.Year() == 2028; d = d.AddDate(0, 0, 1) {
						for _, c := range clocks {
							buf = fmt.Appendf(buf[:0], "%s %2d %02d:%02d:%02d.%09d", d.Month().String()[:3], d.Day(), c[0], c[1], c[2], c[3])
							got, n, ok := p.Parse(buf)
							want := oracleYearless(r, loc, d.Month(), d.Day(), c[0], c[1], c[2], c[3])
							if !ok || n != len(buf) || !got.Equal(want) {
								t.Errorf("ref %v, Parse(%q): want %v, %d, true; got %v, %d, %v", r, buf, want, len(buf), got, n, ok)
								if fails++; fails > 10 {
									t.FailNow()
								}
							}
						}
					}
				}
			}
		})
	}
}

func TestTimeParserYearCache(t *testing.T) {
	p := NewTimeParser(time.UTC)
	p.SetReference(utc(2026, 6, 15, 12, 0, 0, 0))
	gen := p.gen
	p.SetReference(utc(2026, 6, 15, 23, 59, 59, 0))
	if p.gen != gen {
		t.Errorf("SetReference on the same day: want generation %d, got %d", gen, p.gen)
	}
	for _, tc := range []struct {
		in    string
		m, d  int
		exact bool
	}{
		{"Dec 15 00:00:00", 12, 15, false},
		{"Jun 10 00:00:00", 6, 10, false},
		{"Jan  1 00:00:00", 1, 1, false},
	} {
		if _, _, ok := p.Parse([]byte(tc.in)); !ok {
			t.Fatalf("Parse(%q): want ok", tc.in)
		}
		if e := p.years[(tc.m-1)*31+tc.d-1]; e.gen != p.gen || e.exact != tc.exact {
			t.Errorf("after Parse(%q): want cached entry with exact=%v, got %+v", tc.in, tc.exact, e)
		}
	}
	// Moving the reference a year on must change the decision.
	in := []byte("Jun 10 00:00:00")
	got, _, _ := p.Parse(in)
	if want := utc(2026, 6, 10, 0, 0, 0, 0); !got.Equal(want) {
		t.Errorf("Parse(%q): want %v, got %v", in, want, got)
	}
	p.SetReference(utc(2027, 6, 15, 12, 0, 0, 0))
	if p.gen == gen {
		t.Errorf("SetReference on another day: want a new generation, got %d", p.gen)
	}
	got, _, _ = p.Parse(in)
	if want := utc(2027, 6, 10, 0, 0, 0, 0); !got.Equal(want) {
		t.Errorf("after SetReference(2027-06-15), Parse(%q): want %v, got %v", in, want, got)
	}
}

func TestTimeParserDST(t *testing.T) {
	ny := loadLoc(t, "America/New_York")
	p := NewTimeParser(ny)
	p.SetReference(time.Date(2026, 11, 15, 0, 0, 0, 0, ny))

	// Independent expectations on both sides of the transitions.
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-03-07 12:00:00", utc(2026, 3, 7, 17, 0, 0, 0)},
		{"2026-03-08 01:59:59", utc(2026, 3, 8, 6, 59, 59, 0)},
		{"2026-03-08 03:00:00", utc(2026, 3, 8, 7, 0, 0, 0)},
		{"2026-03-09 12:00:00", utc(2026, 3, 9, 16, 0, 0, 0)},
		{"Mar  8 01:59:59", utc(2026, 3, 8, 6, 59, 59, 0)},
		{"Mar  8 03:00:00", utc(2026, 3, 8, 7, 0, 0, 0)},
		{"2026-10-31 12:00:00", utc(2026, 10, 31, 16, 0, 0, 0)},
		{"2026-11-01 00:59:59", utc(2026, 11, 1, 4, 59, 59, 0)},
		{"2026-11-01 02:00:00", utc(2026, 11, 1, 7, 0, 0, 0)},
		{"2026-11-02 12:00:00", utc(2026, 11, 2, 17, 0, 0, 0)},
		{"Nov  1 00:59:59", utc(2026, 11, 1, 4, 59, 59, 0)},
		{"Nov  1 02:00:00", utc(2026, 11, 1, 7, 0, 0, 0)},
	} {
		got, _, ok := p.Parse([]byte(tc.in))
		if !ok || !got.Equal(tc.want) {
			t.Errorf("Parse(%q): want %v, got %v (ok %v)", tc.in, tc.want, got, ok)
		}
	}

	// Every minute (at :00 and :30) of the transition days and their
	// neighbours, including the skipped and repeated hours, must equal
	// time.Date, in both the Exim and the RFC 3164 form.
	days := []struct {
		m time.Month
		d int
	}{{3, 7}, {3, 8}, {3, 9}, {10, 31}, {11, 1}, {11, 2}}
	for _, day := range days {
		t.Run(fmt.Sprintf("%v-%d", day.m, day.d), func(t *testing.T) {
			for minute := 0; minute < 24*60; minute++ {
				for _, ss := range []int{0, 30} {
					hh, mm := minute/60, minute%60
					want := time.Date(2026, day.m, day.d, hh, mm, ss, 0, ny)
					for _, in := range []string{
						fmt.Sprintf("2026-%02d-%02d %02d:%02d:%02d [1]", int(day.m), day.d, hh, mm, ss),
						fmt.Sprintf("%s %2d %02d:%02d:%02d host", day.m.String()[:3], day.d, hh, mm, ss),
					} {
						got, _, ok := p.Parse([]byte(in))
						if !ok || !got.Equal(want) {
							t.Fatalf("Parse(%q): want %v, got %v (ok %v)", in, want, got, ok)
						}
					}
				}
			}
		})
	}
}

// TestTimeParserDayCache checks the fast path (midnight + seconds) against
// time.Date for every day of 2010-2028 in zones with DST, half-hour DST,
// transitions at midnight and a skipped day, visiting days in random order so
// the one-day cache is replaced all the time.
func TestTimeParserDayCache(t *testing.T) {
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia",
		"America/Santiago", "America/Havana", "America/Sao_Paulo", "Africa/Casablanca", "Asia/Tehran", "Asia/Kolkata"}
	clocks := [][3]int{{0, 0, 0}, {0, 30, 0}, {1, 0, 0}, {1, 59, 59}, {2, 30, 0}, {3, 0, 0}, {12, 0, 0}, {23, 30, 0}, {23, 59, 59}}
	var dates []time.Time
	for d := utc(2010, 1, 1, 0, 0, 0, 0); d.Year() <= 2028; d = d.AddDate(0, 0, 1) {
		dates = append(dates, d)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(dates), func(i, j int) { dates[i], dates[j] = dates[j], dates[i] })
	for _, zone := range zones {
		t.Run(zone, func(t *testing.T) {
			loc := loadLoc(t, zone)
			p := NewTimeParser(loc)
			buf := make([]byte, 0, 32)
			fast := 0
			for _, d := range dates {
				for _, c := range clocks {
					buf = fmt.Appendf(buf[:0], "%04d-%02d-%02d %02d:%02d:%02d", d.Year(), int(d.Month()), d.Day(), c[0], c[1], c[2])
					want := time.Date(d.Year(), d.Month(), d.Day(), c[0], c[1], c[2], 0, loc)
					got, _, ok := p.Parse(buf)
					if !ok || !got.Equal(want) {
						t.Fatalf("Parse(%q): want %v, got %v (ok %v, fast path %v)", buf, want, got, ok, p.dayFast)
					}
				}
				if p.dayFast {
					fast++
				}
			}
			// The fast path must actually be taken on ordinary days.
			if fast < len(dates)*9/10 {
				t.Errorf("fast path: want at least %d of %d days, got %d", len(dates)*9/10, len(dates), fast)
			}
		})
	}

	// White-box: transition days are not cached as fast.
	for _, tc := range []struct {
		zone, in string
		fast     bool
	}{
		{"America/New_York", "2026-03-08 12:00:00", false},
		{"America/New_York", "2026-11-01 12:00:00", false},
		{"America/New_York", "2026-06-01 12:00:00", true},
		{"Europe/Berlin", "2026-03-29 12:00:00", false},
		{"Europe/Berlin", "2026-11-27 12:00:00", true},
	} {
		p := NewTimeParser(loadLoc(t, tc.zone))
		if _, _, ok := p.Parse([]byte(tc.in)); !ok || p.dayFast != tc.fast {
			t.Errorf("%s Parse(%q): want ok and fast path %v, got ok %v, fast path %v", tc.zone, tc.in, tc.fast, ok, p.dayFast)
		}
	}
}

var invalidInputs = []string{
	"0000-01-01T00:00:00+00:00", // before 1970: garbage, not a time
	"1969-12-31 23:59:59",
	"",
	"N",
	"Nov",
	"Nov 27",
	"Foo 27 06:02:21",
	"nov 27 06:02:21",
	"NOV 27 06:02:21",
	"Nov 32 06:02:21",
	"Nov 00 06:02:21",
	"Nov  0 06:02:21",
	"Feb 30 06:02:21",
	"Apr 31 06:02:21",
	"Nov 27 24:00:00",
	"Nov 27 06:60:00",
	"Nov 27 06:02:61",
	"Nov 27 6:02:21 x",
	"Nov 27 06:02:21x",
	"Nov 27 06:02:21.",
	"Nov 27 06:02:21. x",
	"Nov 27 06:02:21.1234567890",
	"Nov   7 06:02:21",
	"Nov 27  06:02:21",
	"Nov-27 06:02:21",
	"Nov 2a 06:02:21",
	"Nov 27 06-02-21",
	"Nov\x0027 06:02:21",
	"Nov 27 06:02:21\x00",
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	"\xff\xfe\xfd 27 06:02:21",
	"Nov 27 06:02:2\xff",
	"Ñov 27 06:02:21",
	"2026-13-01 00:00:00",
	"2026-00-01 00:00:00",
	"2026-11-00 00:00:00",
	"2026-11-31 00:00:00",
	"2026-02-29 12:00:00",
	"2100-02-29 12:00:00",
	"2026-11-27T25:00:00Z",
	"2026-11-27T24:00:00Z",
	"2026-11-27T06:60:00Z",
	"2026-11-27T06:07:61Z",
	"2026-11-27T06:07:39",
	"2026-11-27T06:07:39 vm",
	"2026-11-27T06:07:39+01",
	"2026-11-27T06:07:39+1:00",
	"2026-11-27T06:07:39+24:00",
	"2026-11-27T06:07:39+01:60",
	"2026-11-27T06:07:39+01:00x",
	"2026-11-27T06:07:39Zx",
	"2026-11-27T06:07:39.Z",
	"2026-11-27T06:07:39.1234567890Z",
	"2026-11-27T06:07:39UTC",
	"26-11-27 06:02:21",
	"2026/11/27 06:02:21",
	"2026-11-27_06:02:21",
	"2026-11-27  06:02:21",
	"2026-11-27 06:02",
	"2026-11-27 06:02:21x",
	"2026-11-27 06:02:21:00",
	"2026-11-27 06:02:21 +01",
	"2026-11-27 06:02:21 +01000",
	"2026-11-27 06:02:21 -05x00",
	"2026-11-27 06:02:21 +2500",
	"2026-11-27 06:02:21 +",
	"2026-1a-27 06:02:21",
	"20261127T060739Z",
	"<22>1 - vm postfix",
	"<192>1 2026-11-27T06:07:39Z vm",
	"<22>0 2026-11-27T06:07:39Z vm",
	"<22>01 2026-11-27T06:07:39Z vm",
	"<22>1234 2026-11-27T06:07:39Z vm",
	"<22> 2026-11-27T06:07:39Z vm",
	"<22>1  2026-11-27T06:07:39Z vm",
	"<22>1 2026-11-27 06:02:21 vm",
	"<22>1 2026-11-27T06:07:39 vm",
	"<22>Nov 27 06:02:21 vm",
	"<>1 2026-11-27T06:07:39Z vm",
	"<1234>1 2026-11-27T06:07:39Z vm",
	"<22",
	"<22>",
	"<22>1",
	"<22>1 ",
	"<",
	" Nov 27 06:02:21",
	" 2026-11-27 06:02:21",
}

func TestTimeParserInvalid(t *testing.T) {
	p, _ := newBerlinParser(t)
	for _, in := range invalidInputs {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, n, ok := p.Parse([]byte(in))
			if ok || n != 0 || !got.IsZero() {
				t.Errorf("Parse(%q): want zero time, 0, false; got %v, %d, %v", in, got, n, ok)
			}
		})
	}
}

// TestTimeParserTruncated parses every proper prefix of every valid stamp.
// A prefix is only valid when it is itself a complete stamp: for RFC 3164
// and Exim, cut right after the seconds, inside the fraction after at least
// one digit, or (Exim) right after the space before the zone, which then is
// a zone-less stamp followed by a space. Zoned forms have no valid prefix.
func TestTimeParserTruncated(t *testing.T) {
	p, _ := newBerlinParser(t)
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			stamp := tc.in[:tc.n]
			clockEnd, fracEnd := -1, -1
			switch {
			case stamp[0] >= 'A' && stamp[0] <= 'Z':
				clockEnd = strings.LastIndexByte(stamp, ':') + 3
			case stamp[0] >= '0' && stamp[0] <= '9' && stamp[10] == ' ':
				clockEnd = 19
			}
			if clockEnd >= 0 {
				fracEnd = clockEnd
				if fracEnd < len(stamp) && stamp[fracEnd] == '.' {
					fracEnd++
					for fracEnd < len(stamp) && stamp[fracEnd] >= '0' && stamp[fracEnd] <= '9' {
						fracEnd++
					}
				}
			}
			for i := 0; i < len(stamp); i++ {
				prefix := stamp[:i]
				wantOK, wantN := false, 0
				switch {
				case clockEnd < 0:
				case i == clockEnd || i >= clockEnd+2 && i <= fracEnd:
					wantOK, wantN = true, i
				case i == fracEnd+1:
					wantOK, wantN = true, fracEnd
				}
				_, n, ok := p.Parse([]byte(prefix))
				if ok != wantOK || n != wantN {
					t.Errorf("Parse(%q): want n=%d ok=%v; got n=%d ok=%v", prefix, wantN, wantOK, n, ok)
				}
			}
		})
	}
}

func TestTimeParserZeroValue(t *testing.T) {
	var p TimeParser
	p.SetReference(utc(1970, 1, 1, 12, 0, 0, 0)) // day 0 must not match the zero cache
	got, _, ok := p.Parse([]byte("Jan  1 12:00:00"))
	if want := time.Date(1970, 1, 1, 12, 0, 0, 0, time.Local); !ok || !got.Equal(want) {
		t.Errorf("zero TimeParser, Parse: want %v, got %v (ok %v)", want, got, ok)
	}
	if p2 := NewTimeParser(nil); p2.loc != time.Local {
		t.Errorf("NewTimeParser(nil): want time.Local, got %v", p2.loc)
	}
}

func TestTimeParserAllocs(t *testing.T) {
	p, berlin := newBerlinParser(t)
	for _, tc := range validCases {
		b := []byte(tc.in)
		if a := testing.AllocsPerRun(100, func() { p.Parse(b) }); a != 0 {
			t.Errorf("Parse(%q): want 0 allocs, got %v", tc.in, a)
		}
	}
	// Cache misses, slow paths and reference changes must not allocate either.
	inputs := [][]byte{
		[]byte("Nov 27 06:02:21 x"), []byte("May 28 12:00:00 x"), []byte("Feb 29 12:00:00 x"),
		[]byte("2026-03-29 02:30:00 x"), []byte("2026-10-25 02:30:00 x"), []byte("2026-01-01 00:00:00 x"),
		[]byte("Mar 29 02:30:00 x"), []byte("Foo 27 06:02:21"), []byte("2026-11-27T25:00:00Z"),
	}
	refs := []time.Time{time.Date(2026, 11, 27, 12, 0, 0, 0, berlin), utc(2020, 1, 1, 0, 0, 0, 0)}
	if a := testing.AllocsPerRun(100, func() {
		for _, r := range refs {
			p.SetReference(r)
			for _, in := range inputs {
				p.Parse(in)
			}
		}
	}); a != 0 {
		t.Errorf("Parse with cache misses: want 0 allocs, got %v", a)
	}
}

func FuzzTimeParser(f *testing.F) {
	for _, tc := range validCases {
		f.Add([]byte(tc.in), int64(0))
		f.Add([]byte(tc.in[:tc.n]), int64(-400*secPerDay))
	}
	for _, in := range invalidInputs {
		f.Add([]byte(in), int64(12345))
	}
	f.Add([]byte("Feb 29 12:00:00"), int64(258*secPerDay))
	f.Add([]byte("Dec 15 00:00:00"), int64(0))
	f.Add([]byte("Mar  8 02:30:00"), int64(0))
	f.Add([]byte("Nov  1 01:30:00"), int64(0))
	ny := loadLoc(f, "America/New_York")
	base := utc(2026, 6, 15, 12, 0, 0, 0)
	const span = 100 * 365 * secPerDay // references from 1926 to 2126
	f.Fuzz(func(t *testing.T, b []byte, refOff int64) {
		ref := base.Add(time.Duration(refOff%span) * time.Second)
		p := NewTimeParser(ny)
		p.SetReference(ref)
		got, n, ok := p.Parse(b)
		if n < 0 || n > len(b) {
			t.Fatalf("Parse(%q): n=%d out of range [0, %d]", b, n, len(b))
		}
		if !ok {
			if n != 0 || !got.IsZero() {
				t.Fatalf("Parse(%q): not ok but n=%d, t=%v", b, n, got)
			}
			return
		}
		if n == 0 {
			t.Fatalf("Parse(%q): ok with n=0", b)
		}
		// The cached (second) parse must agree with the first.
		if got2, n2, ok2 := p.Parse(b); !ok2 || n2 != n || !got2.Equal(got) {
			t.Fatalf("Parse(%q) twice: want %v, %d; got %v, %d, %v", b, got, n, got2, n2, ok2)
		}
		stamp := string(b[:n])
		if c := b[0]; c >= 'A' && c <= 'Z' {
			if d := got.Sub(ref).Abs(); d > 5*365*24*time.Hour {
				t.Fatalf("Parse(%q) with ref %v: %v is %v away", b, ref, got, d)
			}
			// Differential against time.Parse for the fields and the oracle for the year.
			if pt, err := time.Parse("Jan _2 15:04:05", stamp); err == nil {
				want := oracleYearless(ref, ny, pt.Month(), pt.Day(), pt.Hour(), pt.Minute(), pt.Second(), pt.Nanosecond())
				if !got.Equal(want) {
					t.Fatalf("Parse(%q) with ref %v: want %v, got %v", b, ref, want, got)
				}
			}
		} else {
			s := stamp
			if s[0] == '<' {
				s = s[strings.IndexByte(s, ' ')+1:]
			}
			for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 -07:00"} {
				if want, err := time.ParseInLocation(layout, s, ny); err == nil && !want.Equal(got) {
					t.Fatalf("Parse(%q): time.ParseInLocation(%q) gives %v, got %v", b, layout, want, got)
				}
			}
		}
		// Re-format as RFC 3339 (in UTC, and in Loc when the offset has no
		// seconds) and as Exim with a zone; re-parsing gives the same instant.
		var again []string
		if y := got.UTC().Year(); y >= 0 && y <= 9999 {
			again = append(again, got.UTC().Format(time.RFC3339Nano))
		}
		if _, off := got.Zone(); off%60 == 0 && got.Year() >= 0 && got.Year() <= 9999 {
			again = append(again, got.Format("2006-01-02T15:04:05.999999999-07:00"), got.Format("2006-01-02 15:04:05.999999999 -0700"))
		}
		for _, s := range again {
			t2, n2, ok2 := p.Parse([]byte(s))
			if !ok2 || n2 != len(s) || !t2.Equal(got) {
				t.Fatalf("Parse(%q) = %v; re-parsing %q: want %v, %d; got %v, %d, %v", b, got, s, got, len(s), t2, n2, ok2)
			}
		}
	})
}

// FuzzTimeParserLastStamp: a parser that has just read one line reads the
// next exactly as a new parser does, whether the next starts with the same
// stamp or with one that differs only after it (a fraction, a zone, a byte
// that ends no stamp).
func FuzzTimeParserLastStamp(f *testing.F) {
	for _, pair := range [][2]string{
		{"Nov 27 06:00:00 mx1 a", "Nov 27 06:00:00 mx1 b"},
		{"Nov 27 06:00:00 mx1", "Nov 27 06:00:00.5 mx1"},
		{"Nov 27 06:00:00 mx1", "Nov 27 06:00:00x mx1"},
		{"Nov 27 06:00:00 mx1", "Nov 27 06:00:00"},
		{"Nov  7 06:00:00 mx1", "Nov  7 06:00:01 mx1"},
		{"2026-11-27 06:02:21 1xWp04-0000GB-00 =>", "2026-11-27 06:02:21 +0100 1xWp04"},
		{"2026-11-27 06:02:21 1xWp04-0000GB-00 =>", "2026-11-27 06:02:21 +01"},
		{"2026-11-27 06:02:21 +0100 x", "2026-11-27 06:02:21 +01:00 x"},
		{"2026-11-27 06:02:21 +0100 x", "2026-11-27 06:02:21 +0100x"},
		{"2026-11-27T06:07:39.603940+00:00 vm", "2026-11-27T06:07:39.603940+00:00vm"},
		{"<22>1 2026-11-27T06:07:39Z vm", "<22>1 2026-11-27T06:07:39Z vm postfix"},
	} {
		f.Add([]byte(pair[0]), []byte(pair[1]), int64(0))
	}
	ny := loadLoc(f, "America/New_York")
	base := utc(2026, 6, 15, 12, 0, 0, 0)
	f.Fuzz(func(t *testing.T, a, b []byte, refOff int64) {
		ref := base.Add(time.Duration(refOff%(100*365*secPerDay)) * time.Second)
		p := NewTimeParser(ny)
		p.SetReference(ref)
		p.Parse(a)
		got, n, ok := p.Parse(b)
		fresh := NewTimeParser(ny)
		fresh.SetReference(ref)
		want, wn, wok := fresh.Parse(b)
		if ok != wok || n != wn || !got.Equal(want) {
			t.Fatalf("Parse(%q) after Parse(%q): %v, %d, %v; a new parser: %v, %d, %v", b, a, got, n, ok, want, wn, wok)
		}
	})
}

func BenchmarkTimeParser(b *testing.B) {
	cases := []struct{ name, in string }{
		{"RFC3164", "Nov 27 06:02:21 mail postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
		{"RFC3164SpacePadded", "Nov  7 06:02:21 mail postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
		{"RFC3164Precise", "Nov 27 06:07:39.603599 mail postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
		{"RFC3339", "2026-11-27T06:07:39.603940+00:00 vm postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
		{"RFC3339NoColon", "2026-11-27T06:07:39+0000 vm postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
		{"RFC3339Z", "2026-11-27T06:07:39Z vm postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
		{"RFC5424", "<22>1 2026-11-27T06:07:39.603940+00:00 vm postfix-tx - - - 4XyZ: to=<a@example.com>"},
		{"Exim", "2026-11-27 06:02:21 [1234] 1tGxyz-000ABC-12 <= a@example.com"},
		{"EximMillis", "2026-11-27 06:02:21.123 [1234] 1tGxyz-000ABC-12 <= a@example.com"},
		{"EximZone", "2026-11-27 06:02:21 +0100 [1234] 1tGxyz-000ABC-12 <= a@example.com"},
		// Slow paths: a date half a year from the reference (years compared
		// with time.Date) and a DST transition day (time.Date).
		{"RFC3164HalfYear", "May 28 12:00:00 mail postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
		{"EximDSTDay", "2026-03-29 12:00:00 [1234] 1tGxyz-000ABC-12 <= a@example.com"},
		{"Invalid", "Foo 27 06:02:21 mail postfix/smtp[4242]: 4XyZ: to=<a@example.com>"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p, _ := newBerlinParser(b)
			in := []byte(tc.in)
			b.ReportAllocs()
			for b.Loop() {
				p.Parse(in)
			}
		})
	}
}
