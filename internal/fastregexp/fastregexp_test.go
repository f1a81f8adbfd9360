package fastregexp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// agree checks that the program finds exactly what regexp finds in b.
func agree(t testing.TB, re *regexp.Regexp, p *Prog, b []byte) {
	t.Helper()
	expr := re.String()
	want := re.FindSubmatchIndex(b)
	var m Matcher
	got, ok := m.FindSubmatchIndex(p, b, nil)
	if !ok {
		return // gave up: the caller asks regexp, which is what want is
	}
	if !slices.Equal(got, want) {
		t.Fatalf("regexp %q on %q:\n got %v\nwant %v", expr, b, got, want)
	}
}

func TestShippedShapes(t *testing.T) {
	for _, c := range []struct {
		expr string
		in   []string
	}{
		{` (?P<queue_id>[0-9A-Za-z]{5,}): to=<(?P<recipient>[^>]*)>,(?: orig_to=<[^>]*>,)? relay=(?P<relay>[^,]*),(?: [a-z_]+=[^,]*,)*? dsn=(?P<code>[245]\.\d{1,3}\.\d{1,3}), status=(?P<status>sent|deferred|bounced) \(`, []string{
			"Nov 28 15:48:47 mx1 postfix/smtp[42948]: 8C2BEA703B: to=<lena@popa.com>, relay=popa-com.mail.protection.example.com[203.0.113.37]:25, delay=1333, delays=1333/0.01/0.04/0.18, dsn=4.0.0, status=deferred (host said: 451 busy)",
			"Nov 27 06:53:01 mx1 postfix/smtp[2548]: 71DD352A8E: to=<pat75@digefoshop.ch>, orig_to=<p@x>, relay=mx1.digefoshop.ch[203.0.113.83]:25, conn_use=12, delay=0.91, delays=0.46/0.02/0.38/0.03, dsn=2.0.0, status=sent (250 OK id=1xWppO-0001Yo-2D)",
			"Nov 27 06:53:01 mx1 postfix/smtp[2548]: 71DD352A8E: to=<pät@dïgé.ch>, relay=none, delay=0.91, dsn=5.1.1, status=bounced (x)",
			"Nov 27 06:53:01 mx1 postfix/smtp[2548]: 71DD352A8E: to=<pat75@digefoshop.ch>, relay=none, delay=0.91, dsn=5.1.1, status=expired (x)",
			"postfix/smtp[2548]: 71DD: to=<x>, relay=none, dsn=5.1.1, status=sent (",
		}},
		{` (?P<queue_id>[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{11}-[0-9A-Za-z]{4}|[0-9A-Za-z]{6}-[0-9A-Za-z]{2})) == (?:[^\s@<]+ <(?P<recipient>[^>]*)>|(?P<recipient>[^\s<:]+))(?: <[^>]*>)? .*defer \(-?\d+\): [Rr]etry time not (?:yet )?reached`, []string{
			"2026-11-27 11:16:00 1xWqvM-000Slu-9a == carol26@cetearonline.fr routing defer (-52): retry time not reached",
			"2026-11-27 11:16:00 1xWqvM-000Slu-9a == carol26@cetearonline.fr <c@x> routing defer (-52): Retry time not yet reached",
			"2026-11-27 11:16:00 1xWqvM-000Slu-9a == \"a b\"@x R=d defer (-52): retry time not reached",
			"2026-11-27 11:16:00 1xWqvM-000Slu-9a == a@é defer (12): retry time not reached defer (1): retry time not reached",
		}},
		{` == \S+ .*defer \((?:0|-1)\): (?:SMTP delivery explicitly queued|domain matches queue_smtp_domains, or -odqs set)`, []string{
			"2026-11-27 11:16:00 1xWqvM-000Slu-9a == a@b R=x T=y defer (0): SMTP delivery explicitly queued",
			"2026-11-27 11:16:00 1xWqvM-000Slu-9a == a@b R=x T=y defer (-1): domain matches queue_smtp_domains, or -odqs set",
			"2026-11-27 11:16:00 1xWqvM-000Slu-9a == a@b R=x T=y defer (-44): SMTP error from remote mail server after RCPT TO:<a@b>: 451 4.3.2 busy",
		}},
		{` (?P<queue_id>[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{11}-[0-9A-Za-z]{4}|[0-9A-Za-z]{6}-[0-9A-Za-z]{2})) Completed$`, []string{
			"2026-11-29 19:08:47 1xXkGT-00Do4i-El Completed",
			"2026-11-29 19:08:47 1xXkGT-00Do4i-El Completed ",
			"2026-11-29 19:08:47 1xXkGT-00Do4i-Elx Completed",
		}},
		{`: (?P<text>.*)$`, []string{"a: b: c", "a: é\xff", "a:\n: b\n"}},
		{`(?m)^(?P<a>\w+):\s*(.*?)$`, []string{"x: y\nz:w", "", "é: x"}},
	} {
		p, err := Compile(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		re := regexp.MustCompile(c.expr)
		for _, in := range c.in {
			agree(t, re, p, []byte(in))
		}
	}
}

func TestRequired(t *testing.T) {
	for expr, want := range map[string][][]string{
		` (?P<queue_id>[0-9A-Za-z]{5,}): to=<(?P<recipient>[^>]*)>,(?: orig_to=<[^>]*>,)? relay=`: {{" "}, {": to=<"}, {">,"}, {" relay="}},
		` == \S+ .*defer \((?:0|-1)\): (?:SMTP queued|domain (?:x|y) matches)`:                    {{" == "}, {" "}, {"defer ("}, {"0", "-1"}, {"): "}, {"SMTP queued", " matches"}},
		`(?:ab)+c?(?:de){2,3}(?:f)*|x`:  {{"ab", "x"}},
		`(?:ab)+c?(?:de){2,3}(?:f)*|x*`: nil,
		`(?i:abc)(x)`:                   {{"x"}},
	} {
		if got := Required(expr); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("Required(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestRefuses(t *testing.T) {
	for _, expr := range []string{
		`(?i)kelvin`, `(?i)é`, `\bword\b`, `(a*)*`, `[^a]{2}x`, `.?x`, `[à-ü]+`, `\pL+`, `\x{FFFD}`,
		`[^>]*?`,             // lazy wide run that may end the match inside a character
		`[^a]*[^b]*c`,        // a wide run followed by one
		`(?:ab|cd|ef){1000}`, // too big
	} {
		_, err := Compile(expr)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Compile(%q) = %v, want ErrUnsupported", expr, err)
		}
	}
}

// TestRandomAgainstRegexp compares thousands of generated regexps with
// regexp on generated inputs, including invalid UTF-8 and newlines.
func TestRandomAgainstRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n, compiled := 150000, 0
	if testing.Short() {
		n = 2000
	}
	for range n {
		expr := genRegexp(r, 4)
		if r.IntN(3) == 0 {
			// The shape of most rules: a literal, a run, what follows.
			runs := []string{"[a-c]{2,}", "[^,]+", "[ab1]{1,3}", `\S+`, "[^>]*"}
			expr = []string{" ", ", ", "a"}[r.IntN(3)] + "(" + runs[r.IntN(len(runs))] + ")" + genRegexp(r, 3)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			continue
		}
		p, err := Compile(expr)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Compile(%q): %v", expr, err)
			}
			continue
		}
		compiled++
		checkStart(t, p)
		req := Required(expr)
		for range 20 {
			in := genInput(r)
			agree(t, re, p, in)
			if m := re.FindIndex(in); m != nil {
				for _, set := range req {
					if !slices.ContainsFunc(set, func(lit string) bool { return strings.Contains(string(in[m[0]:m[1]]), lit) }) {
						t.Fatalf("%q matches %q in %q without any of the required %q", expr, in[m[0]:m[1]], in, set)
					}
				}
			}
		}
	}
	t.Logf("%d of %d generated regexps compiled", compiled, n)
	if compiled < n/4 {
		t.Errorf("only %d of %d generated regexps compiled; the test covers too little", compiled, n)
	}
}

// checkStart checks what the anchored path takes for granted: a program
// with a run to check before it starts has its prefix at instruction 0,
// with the whole match's start folded into it.
func checkStart(t *testing.T, p *Prog) {
	t.Helper()
	if p.quick >= 0 && (p.insts[0].op != opLit || !slices.Contains(p.insts[0].saves, 0)) {
		t.Fatalf("%s: a run checked first, and instruction 0 is not the prefix with the match's start", p)
	}
}

// TestAnchoredAgainstRegexp covers the rules' own shape, which the
// matcher takes a short cut for (see Prog.anchor): a literal, a run of
// fixed or bounded length (with groups around it or not), then the
// literal every match is found by. The program starts after the run.
func TestAnchoredAgainstRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	prefixes := []string{" ", ", ", "a ", "x"}
	runs := []string{"[0-9a-z]{3}", "[0-9a-z]{2,}", "[a-c]{1,3}", "[^ ,>-]+", "[0-9]{2}"}
	anchors := []string{"-", " => ", ">", ","}
	wraps := []string{"%s", "(%s)", "(?P<q>%s)", "((%s))", "(?:(%s))", "(?P<q>%s-(?:[a-z]{2}|[0-9]))"}
	compiled, anchored := 0, 0
	for range 3000 {
		run := fmt.Sprintf(wraps[r.IntN(len(wraps))], runs[r.IntN(len(runs))])
		expr := prefixes[r.IntN(len(prefixes))] + run + anchors[r.IntN(len(anchors))] + genRegexp(r, 2)
		if r.IntN(8) == 0 {
			expr = "(" + expr + ")" // no anchor: a group before the prefix
		}
		re := regexp.MustCompile(expr)
		p, err := Compile(expr)
		if err != nil {
			continue
		}
		compiled++
		if p.anchor != nil {
			anchored++
		}
		checkStart(t, p)
		for range 20 {
			in := []byte("x" + strings.Repeat(" ", r.IntN(2)))
			for range r.IntN(12) {
				in = append(in, []string{"a", "b", "1", "22", "abc", "x-1", " ", " => ", ">", ",", "-", "é", "a1b2c3"}[r.IntN(13)]...)
			}
			agree(t, re, p, in)
		}
	}
	t.Logf("%d of %d compiled regexps took the anchored path", anchored, compiled)
	if anchored < compiled/2 {
		t.Errorf("only %d of %d compiled regexps took the anchored path", anchored, compiled)
	}
}

// TestGuardedSplits: a choice skipped for the literal it meets at a fixed
// distance (Prog.setGuards) is skipped only when it could not match: at
// the end of a line, with the literal a byte early or late, and for every
// kind of step before it.
func TestGuardedSplits(t *testing.T) {
	for _, expr := range []string{
		` (?P<q>[0-9a-z]{6}-(?:[0-9a-z]{11}-[0-9a-z]{4}|[0-9a-z]{6}-[0-9a-z]{2})) =>`,
		`a(?: <[^>]*>)?`,
		`x(?:[ab][a-z.]=|[ab]{2})`,
		`(?:(y)\d{2}:|\d)+z`,
		`(?:é{2}|e)`,
		`q(?:(?:[0-9]{2}(r))|(s))*`,
		`k(?:[a-z]+-|[a-z0-9]+)(?:[a-z]{2}=|[0-9]{2}-)`, // no guard at a run of any length
	} {
		p, err := Compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		guarded := false
		for _, in := range p.insts {
			guarded = guarded || in.guard != nil
		}
		if !guarded {
			t.Errorf("%s: no split has a guard; the test covers nothing", expr)
		}
		re := regexp.MustCompile(expr)
		for _, in := range []string{
			" 1xWp04-0000GB-00 =>", " 1xWp04-0000000000GB-0000 =>", " 1xWp04-0000000000G-0000 =>", " 1xWp04-00000000000GB-000 =>", " 1xWp04-0000000000G",
			"a <b>", "a <b", "a <", "a", "a  <b>", "a R=x",
			"xa.=", "xab", "xa.", "xa", "x", "xaa=",
			"y12:y34:z", "y12:5z", "y1:z", "3z", "y12", "y12:",
			"éé", "é", "e", "ée",
			"q12r12s", "q1", "q12", "q123r", "qs12r",
			"kab-cd=", "ka-12-", "k1ab=", "kabc-abc=", "k12-", "kab12-",
		} {
			agree(t, re, p, []byte(in))
			for i := range in {
				agree(t, re, p, []byte(in[:i]))
			}
		}
	}
}

var (
	atoms = []string{"a", "b", "ab", " ", ">", "é", ",", `\.`, "[ab]", "[^a]", `\S`, `\s`, `\d`, ".", "[a-c]", "[^>]", "[^,]", `[^\s<]`, "(?s:.)", "$", "^", "(?m:^)", "(?m:$)", "[0-9A-Za-z]", "(?i:ab)", "[Rr]"}
	reps  = []string{"*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{2,}", "{0,2}?"}
)

func genRegexp(r *rand.Rand, depth int) string {
	if depth == 0 || r.IntN(3) == 0 {
		return atoms[r.IntN(len(atoms))]
	}
	switch r.IntN(5) {
	case 0:
		return genRegexp(r, depth-1) + "|" + genRegexp(r, depth-1)
	case 1:
		return "(" + genRegexp(r, depth-1) + ")" + reps[r.IntN(len(reps))]
	case 2:
		return "(?:" + genRegexp(r, depth-1) + ")"
	case 3:
		return atoms[r.IntN(len(atoms))] + reps[r.IntN(len(reps))] + genRegexp(r, depth-1)
	}
	return genRegexp(r, depth-1) + genRegexp(r, depth-1) + genRegexp(r, depth-1)
}

func genInput(r *rand.Rand) []byte {
	parts := []string{"a", "b", " ", ">", ",", "é", "\xff", "\xc3", "\n", "1", "x", "<", "ab", "."}
	var sb strings.Builder
	for range r.IntN(30) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return []byte(sb.String())
}

// FuzzAgainstRegexp: whatever Compile accepts matches as regexp does.
func FuzzAgainstRegexp(f *testing.F) {
	f.Add(` (?P<q>[0-9A-Z]{5,}): to=<(?P<r>[^>]*)>`, "x 12345: to=<a@b>")
	f.Add(`a*?b|[^a]+$`, "aab\xffé")
	f.Add(`(?m)^x(.*)$`, "y\nxé\n")
	f.Fuzz(func(t *testing.T, expr, in string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		p, err := Compile(expr)
		if err != nil {
			return
		}
		agree(t, re, p, []byte(in))
	})
}

// BenchmarkShipped times the matchers on a Postfix delivery line.
func BenchmarkShipped(b *testing.B) {
	line := []byte("Nov 28 15:48:47 mx1 postfix/smtp[42948]: 8C2BEA703B: to=<lena@popa.com>, relay=popa-com.mail.protection.example.com[203.0.113.37]:25, delay=1333, delays=1333/0.01/0.04/0.18, dsn=4.0.0, status=deferred (host popa-com.mail.protection.example.com[203.0.113.37] said: 451 Mailbox busy, try again later (in reply to RCPT TO command))")
	expr := ` (?P<queue_id>[0-9A-Za-z]{5,}): to=<(?P<recipient>[^>]*)>,(?: orig_to=<[^>]*>,)? relay=(?P<relay>[^,]*),(?: [a-z_]+=[^,]*,)*? dsn=(?P<code>[245]\.\d{1,3}\.\d{1,3}), status=(?P<status>sent|deferred|bounced) \(`
	re := regexp.MustCompile(expr)
	p, err := Compile(expr)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("regexp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			re.FindSubmatchIndex(line)
		}
	})
	b.Run("fastregexp", func(b *testing.B) {
		b.ReportAllocs()
		var m Matcher
		var dst []int
		for b.Loop() {
			dst, _ = m.FindSubmatchIndex(p, line, dst)
		}
	})
}

// TestGivesUp: a regexp that backtracks exponentially on a hostile line
// gives up within its budget (the caller then asks regexp, which takes
// linear time) instead of running for ever.
func TestGivesUp(t *testing.T) {
	p, err := Compile(`x(?:aa|a)*b`)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("x" + strings.Repeat("a", 60))
	var m Matcher
	if _, ok := m.FindSubmatchIndex(p, line, nil); ok {
		t.Fatal("2^60 ways to fail, and it did not give up")
	}
	// The budget is per call: a line it can do still works after.
	if got, ok := m.FindSubmatchIndex(p, []byte("xaab"), nil); !ok || !slices.Equal(got, []int{0, 4}) {
		t.Errorf("got %v %v", got, ok)
	}
}
