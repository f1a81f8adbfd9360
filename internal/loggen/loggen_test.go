package loggen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

type genFunc func(io.Writer, int, uint64) error

var generators = []struct {
	name string
	gen  genFunc
}{
	{"postfix", Postfix},
	{"exim", Exim},
}

func generate(t *testing.T, gen genFunc, lines int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gen(&buf, lines, seed); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSameSeedSameBytes(t *testing.T) {
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) {
			a := generate(t, g.gen, 20000, 7)
			b := generate(t, g.gen, 20000, 7)
			if !bytes.Equal(a, b) {
				t.Fatal("two runs with seed 7 differ")
			}
			if n := bytes.Count(a, []byte("\n")); n != 20000 {
				t.Errorf("want 20000 lines, got %d", n)
			}
			if c := generate(t, g.gen, 20000, 8); bytes.Equal(a, c) {
				t.Error("seeds 7 and 8 give the same log")
			}
			// A shorter log is a prefix of a longer one with the same seed.
			short := generate(t, g.gen, 1000, 7)
			if !bytes.HasPrefix(a, short) {
				t.Error("the 1000-line log is not the start of the 20000-line log")
			}
		})
	}
}

func TestZeroLines(t *testing.T) {
	for _, g := range generators {
		if out := generate(t, g.gen, 0, 1); len(out) != 0 {
			t.Errorf("%s: want no output for 0 lines, got %d bytes", g.name, len(out))
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > 1<<17 {
		return 0, fmt.Errorf("disk full")
	}
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	for _, g := range generators {
		if err := g.gen(&failWriter{}, 100000, 1); err == nil || err.Error() != "disk full" {
			t.Errorf("%s: want the writer's error, got %v", g.name, err)
		}
	}
}

func TestEximID(t *testing.T) {
	// The lab's 1xWp2L-0007Qz-2u: 2026-11-27 06:02:21 UTC, pid 28581, 180/2000 s.
	if got, want := eximID(141+180.5/2000, 28581), "1xWp2L-0007Qz-2u"; got != want {
		t.Errorf("want %s, got %s", want, got)
	}
}

// kind is what a line is, for the mix.
type kind int

const (
	noise kind = iota
	sent
	deferred
	bounced
	numKinds
)

var kindNames = [...]string{"noise", "sent", "deferred", "bounced"}

// lineInfo is what the test reads from one line.
type lineInfo struct {
	kind    kind
	expired bool   // Postfix qmgr expiry or Exim retry timeout
	key     string // queue id + recipient of a delivery line
	domain  string
	code    string // dsn= or the enhanced code of an Exim reply
}

var (
	// The prefixes of every line; prefix() cuts lines to what they need.
	postfixLine = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d mx1 postfix/(smtpd|smtp|cleanup|qmgr|pickup|anvil|bounce)\[\d+\]: (?:[0-9A-F]{10}: )?`)
	postfixQID  = regexp.MustCompile(`^[0-9A-F]{10}$`)
	eximLine    = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2} (?:<=|=>|->|==|\*\*|H=|Completed)|Start queue run|End queue run|H=\(|SMTP |no host name|TLS error)`)
	eximCode    = regexp.MustCompile(`: [45]\d\d[ -]([45]\.\d{1,3}\.\d{1,3}) `)
)

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return ""
}

// prefix is the start of a line, enough for postfixLine and eximLine.
func prefix(line string) string { return line[:min(len(line), 72)] }

func domainOf(addr string) string { return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:]) }

func readPostfix(t *testing.T, line string) lineInfo {
	if !postfixLine.MatchString(prefix(line)) {
		t.Fatalf("bad Postfix line: %q", line)
	}
	var li lineInfo
	switch {
	case strings.Contains(line, ", status=sent ("):
		li.kind = sent
	case strings.Contains(line, ", status=deferred ("):
		li.kind = deferred
	case strings.Contains(line, ", status=bounced ("):
		li.kind = bounced
	case strings.HasSuffix(line, ", status=expired, returned to sender"):
		li.expired = true
		return li
	default:
		return li
	}
	qid := between(line, "]: ", ": to=<")
	rcpt := between(line, " to=<", ">")
	if !postfixQID.MatchString(qid) || rcpt == "" {
		t.Fatalf("delivery line without queue id or to=: %q", line)
	}
	li.key, li.domain, li.code = qid+" "+rcpt, domainOf(rcpt), between(line, ", dsn=", ",")
	return li
}

func readExim(t *testing.T, line string) lineInfo {
	if !eximLine.MatchString(prefix(line)) {
		t.Fatalf("bad Exim line: %q", line)
	}
	f := strings.Fields(line)
	var li lineInfo
	if len(f) < 5 {
		return li
	}
	switch f[3] {
	case "=>", "->":
		li.kind = sent
	case "==":
		if strings.Contains(line, "retry time not reached") {
			return li
		}
		li.kind = deferred
	case "**":
		if strings.HasSuffix(line, ": retry timeout exceeded") {
			li.expired = true
			return li
		}
		li.kind = bounced
	default:
		return li
	}
	li.key, li.domain = f[2]+" "+f[4], domainOf(f[4])
	if m := eximCode.FindStringSubmatch(line); m != nil {
		li.code = m[1]
	} else if strings.Contains(line, "defer (111): Connection refused") || strings.Contains(line, "defer (110): Connection timed out") {
		li.code = "4.4.1"
	} else if li.kind != sent {
		li.code = "x.0.0" // a reply without an enhanced code
	}
	return li
}

// TestMix checks that the logs look like the brief: the share of each kind of
// line, the deferral and bounce codes, the domain distribution, retries that
// end in delivery, expiries, and timestamps that never go back.
func TestMix(t *testing.T) {
	const lines = 200000
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(g.gen(pw, lines, 1)) }()
			defer pr.Close()
			read, layout := readPostfix, time.Stamp
			if g.name == "exim" {
				read, layout = readExim, time.DateTime
			}
			var (
				count    [numKinds]int
				expired  int
				codes    = map[kind]map[string]int{deferred: {}, bounced: {}}
				domains  = map[string]int{}
				pending  = map[string]bool{}
				retried  int // deliveries after a deferral
				first    time.Time
				last     time.Time
				rcptEvts int
			)
			sc := bufio.NewScanner(pr)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				line := sc.Text()
				ts, err := time.Parse(layout, line[:len(layout)])
				if err != nil {
					t.Fatalf("bad timestamp: %q", line)
				}
				if first.IsZero() {
					first, last = ts, ts
				}
				if ts.Before(last) {
					t.Fatalf("time goes back at %q", line)
				}
				last = ts
				li := read(t, line)
				count[li.kind]++
				if li.expired {
					expired++
				}
				if li.kind == noise {
					continue
				}
				rcptEvts++
				domains[li.domain]++
				if li.kind != sent {
					codes[li.kind][li.code]++
				}
				switch li.kind {
				case deferred:
					pending[li.key] = true
				case sent:
					if pending[li.key] {
						retried++
					}
					delete(pending, li.key)
				case bounced:
					delete(pending, li.key)
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}

			want := [numKinds]float64{noise: 60, sent: 30, deferred: 7, bounced: 3}
			tol := [numKinds]float64{noise: 3, sent: 3, deferred: 1.5, bounced: 1}
			for k := range numKinds {
				got := 100 * float64(count[k]) / lines
				t.Logf("%-8s %5.1f%%", kindNames[k], got)
				if got < want[k]-tol[k] || got > want[k]+tol[k] {
					t.Errorf("%s lines: want %.0f±%.1f%%, got %.1f%%", kindNames[k], want[k], tol[k], got)
				}
			}

			// Deferrals: mostly 4.3.2, and every other code of the brief.
			dc := codes[deferred]
			t.Logf("deferral codes %v, bounce codes %v", dc, codes[bounced])
			for _, c := range []string{"4.7.0", "4.2.0", "4.4.1", "x.0.0", "4.0.0"} {
				if g.name == "exim" && c == "4.0.0" || g.name == "postfix" && c == "x.0.0" {
					continue
				}
				if dc[c] == 0 {
					t.Errorf("no deferral with code %s", c)
				}
				if dc[c] >= dc["4.3.2"] {
					t.Errorf("code %s (%d) is as common as 4.3.2 (%d)", c, dc[c], dc["4.3.2"])
				}
			}
			if 2*dc["4.3.2"] < count[deferred] {
				t.Errorf("4.3.2 is %d of %d deferrals, want most", dc["4.3.2"], count[deferred])
			}
			for _, c := range []string{"5.1.1", "5.7.1"} {
				if codes[bounced][c] == 0 {
					t.Errorf("no bounce with code %s", c)
				}
			}
			if codes[bounced]["5.0.0"]+codes[bounced]["x.0.0"] == 0 {
				t.Error("no bounce without an enhanced code")
			}

			if retried < count[deferred]/5 {
				t.Errorf("only %d deliveries after a deferral, for %d deferrals", retried, count[deferred])
			}
			if expired == 0 {
				t.Error("nothing expired")
			}
			t.Logf("%d deliveries after a deferral, %d expiries, %d recipients still deferred at the end", retried, expired, len(pending))

			// About 5,000 domains with a Zipf-like skew: the busiest takes a
			// few percent, half of the traffic goes to a few dozen, and
			// thousands get some.
			n := make([]int, 0, len(domains))
			for _, c := range domains {
				n = append(n, c)
			}
			sort.Sort(sort.Reverse(sort.IntSlice(n)))
			top, half, cum := float64(n[0])/float64(rcptEvts), 0, 0
			for i, c := range n {
				if cum += c; 2*cum >= rcptEvts {
					half = i + 1
					break
				}
			}
			t.Logf("%d domains; the busiest has %.1f%% of recipient events; half go to %d domains", len(domains), 100*top, half)
			if len(domains) < 2500 || len(domains) > numDomains+1 {
				t.Errorf("want between 3000 and %d domains, got %d", numDomains+1, len(domains))
			}
			if top < 0.03 || top > 0.2 {
				t.Errorf("busiest domain has %.1f%% of recipient events, want 3-20%%", 100*top)
			}
			if half > 200 {
				t.Errorf("half the recipient events go to %d domains; want a skewed distribution", half)
			}

			if span := last.Sub(first); span < 8*time.Hour || span > 24*time.Hour {
				t.Errorf("%d lines span %v; want about half a day", lines, span)
			}
		})
	}
}
