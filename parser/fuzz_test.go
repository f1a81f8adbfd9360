package parser_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/parser"
)

// fuzzReference is the time year-less seed lines are read relative to.
var fuzzReference = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// seedLines picks about 30 varied real lines from the lab and public logs:
// per file, the first line of each (rule, result, status) that the default
// rules give, up to maxPerFile, one of them a line no rule matches.
func seedLines(tb testing.TB, rs *parser.RuleSet) []string {
	tb.Helper()
	files := []string{
		"../testdata/lab/postfix.log",
		"../testdata/lab/exim-mainlog",
		"../testdata/lab/syslog-rfc3339.log",
	}
	public, err := filepath.Glob("../testdata/public/*")
	if err != nil {
		tb.Fatal(err)
	}
	files = append(files, public...)
	p := parser.NewParser(rs, "seed")
	p.SetReference(fuzzReference)
	var lines []string
	added := map[string]bool{} // two public samples share lines
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		const maxPerFile = 6
		seen := map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && len(seen) < maxPerFile {
			var ev parser.Event
			res, rule := p.Parse(sc.Bytes(), &ev)
			key := res.String() + " " + ruleName(rule) + " " + ev.Status.String()
			if seen[key] || added[sc.Text()] {
				continue
			}
			seen[key] = true
			added[sc.Text()] = true
			lines = append(lines, sc.Text())
		}
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return lines
}

// hostileLines are written to break things: bytes that are not text, numbers
// that overflow, codes outside RFC 3463, brackets that do not close.
var hostileLines = []string{
	"",
	"\r",
	"\x00",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@\xff\xfe.example>, relay=none, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (connect to x: Connection refused)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@exa\x00mple.com>, relay=none, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (x\x00y)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@b\xc3\xbccher.example>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@EXAMPLE.COM.>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@" + strings.Repeat("a", 64) + ".example>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@" + strings.Repeat("abcdefgh.", 30) + "example>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@-bad-.example>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=9.9.9, status=deferred (999 9.9.9 nope)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=4.999.999, status=deferred (451 4.1234.5 x)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=" + strings.Repeat("9", 400) + ", delays=0/0/0/1, dsn=5.1.1, status=bounced (550 " + strings.Repeat("5", 400) + ".1.1 x)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=4.0.0, status=deferred (452-4.2.2 mailbox full 452 4.2.2 x)",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<<<bob@example.com>, relay=[[[, delay=1, delays=0/0/0/1, dsn=4.0.0, status=deferred ((((",
	"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>>>, relay=]]], delay=1, delays=0/0/0/1, dsn=4.0.0, status=deferred ())))",
	"Feb 30 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 99:99:99 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"Nov 27 06:02:21 tx postfix/qmgr[1]: 6BD60BE58E: from=<>, status=force-expired, returned to sender",
	"Nov 27 06:02:21 tx postfix/qmgr[1]: 6BD60BE58E: removed\r",
	"9999-99-99 99:99:99 1xWpE4-0005dn-1w == bob@example.com R=x T=y defer (-1): Connection refused",
	"2026-11-27 06:02:21 1xWpE4-0005dn-1w ** bob@example.com <bob@\xff>: retry timeout exceeded",
	"2026-11-27 06:02:21 1xWpE4-0005dn-1w ** [bob@example.com: SMTP error from remote mail server after RCPT TO:<bob@example.com>: 550 5.1.1",
	"2026-11-27 06:02:21 1xWpE4-0005dn-1w == bob@example.com R=x T=y defer (-44): SMTP error from remote mail server after RCPT TO:<bob@example.com: host x [1.2.3.4]: 451-4.7.1 a\x00b",
	"2026-11-27 06:02:21 1xWpE4-0005dn-1w => sender <sender@\xe2\x98\x83.example> R=local T=local_delivery C=\"250 2.0.0 ok",
	"2026-11-27 06:02:21 10HmaX-000000005vi-0000 -> b@test.ex R=x T=y C=\"\"\"",
	"2026-11-27T06:02:21.99999999999+00:00 vm postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
	"<999>1 2026-11-27T06:02:21Z vm postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
}

var statuses = map[string]bool{"sent": true, "deferred": true, "bounced": true, "expired": true, "removed": true}

func FuzzParse(f *testing.F) {
	rs := defaultRules(f)
	for _, l := range seedLines(f, rs) {
		f.Add(l)
	}
	for _, l := range hostileLines {
		f.Add(l)
	}
	p := parser.NewParser(rs, "fuzz")
	p.SetReference(fuzzReference)
	f.Fuzz(func(t *testing.T, line string) {
		var ev parser.Event
		res, rule := p.Parse([]byte(line), &ev)
		switch res {
		case parser.Unmatched, parser.TooLong:
			if rule != nil {
				t.Errorf("want no rule for %s, got %s", res, rule.Name)
			}
			return
		case parser.Skipped, parser.BadTime:
			if rule == nil {
				t.Errorf("want the rule for %s, got nil", res)
			}
			return
		case parser.Matched:
		default:
			t.Fatalf("want a known result, got %d", res)
		}
		defer func() {
			if t.Failed() {
				t.Logf("line %q gave %s", line, describeEvent(&ev))
			}
		}()
		checkEvent(t, rule, &ev)
		if len(ev.QueueID) == 0 {
			t.Error("want a queue id, got none")
		}
		if ev.Time.Location() != time.UTC {
			t.Errorf("want the time in the rules' zone (UTC), got %s", ev.Time.Location())
		}
		for name, b := range map[string][]byte{"queue id": ev.QueueID, "recipient": ev.Recipient, "relay": ev.Relay, "text": ev.Text} {
			if len(b) > 0 && !strings.Contains(line, string(b)) {
				t.Errorf("want the %s %q to come from the line", name, b)
			}
		}

		// Parsing is a function of the line (and the reference): the same
		// line gives the same event again.
		first := describeEvent(&ev)
		var again parser.Event
		if res2, _ := p.Parse([]byte(line), &again); res2 != res || describeEvent(&again) != first {
			t.Errorf("second parse: want %s %s, got %s %s", res, first, res2, describeEvent(&again))
		}
	})
}

func describeEvent(ev *parser.Event) string {
	return strings.Join([]string{
		ev.Time.UTC().Format(time.RFC3339Nano), ev.Source, ev.Rule, string(ev.QueueID), string(ev.Recipient),
		string(ev.Domain), string(ev.Relay), ev.Status.String(), ev.Code.String(), strconv.Itoa(int(ev.Reply)), string(ev.Text),
	}, "|")
}

// checkEvent asserts what every consumer of a matched event relies on,
// whatever the rules: bounded label values (status, code, domain) and a time
// from the line.
func checkEvent(t *testing.T, rule *parser.Rule, ev *parser.Event) {
	t.Helper()
	if rule == nil || ev.Rule != rule.Name || ev.Source != "fuzz" {
		t.Errorf("want rule %v and source fuzz, got %q %q", rule, ev.Rule, ev.Source)
	}
	status := ev.Status.String()
	if !statuses[status] {
		t.Errorf("want a known status, got %q (%d)", status, ev.Status)
	}
	if ev.Code == 0 {
		if ev.Status != parser.StatusRemoved {
			t.Errorf("want a code for status %s, got none", status)
		}
	} else {
		s := ev.Code.String()
		c, ok := parser.ParseCode(s)
		if !ok || c != ev.Code {
			t.Errorf("want code %q to round-trip, got %v %v", s, c, ok)
		}
		if cl := ev.Code.Class(); cl != 2 && cl != 4 && cl != 5 {
			t.Errorf("want class 2, 4 or 5, got %s", s)
		}
		if ev.Code.Subject() > 999 || ev.Code.Detail() > 999 {
			t.Errorf("want subject and detail up to 999, got %s", s)
		}
	}
	if ev.Reply != 0 && (ev.Reply < 200 || ev.Reply > 599 || ev.Reply/100 == 3) {
		t.Errorf("want reply 0 or 2xx/4xx/5xx, got %d", ev.Reply)
	}
	switch {
	case len(ev.Recipient) == 0:
		if len(ev.Domain) != 0 {
			t.Errorf("want no domain without a recipient, got %q", ev.Domain)
		}
	case string(ev.Domain) != "invalid" && !validDomainLabel(ev.Domain):
		t.Errorf("want a lower-case ASCII host name or invalid as the domain of %q, got %q", ev.Recipient, ev.Domain)
	}
	if ev.Time.IsZero() {
		t.Error("want a time, got zero")
	}
}

// validDomainLabel is an independent check of a domain label value: valid
// UTF-8, ASCII only, at most 253 bytes, dot-separated labels of 1 to 63
// lower-case letters, digits, '-' and '_', not starting or ending with '-'.
func validDomainLabel(d []byte) bool {
	if len(d) == 0 || len(d) > 253 || !utf8.Valid(d) {
		return false
	}
	for _, label := range strings.Split(string(d), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func FuzzLoad(f *testing.F) {
	f.Add(bouncewatch.DefaultRules)
	files, err := filepath.Glob("testdata/rules/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// YAML that the fixtures do not have: anchors, merges, several
	// documents, odd scalars.
	for _, s := range []string{
		"rules:\n  - &a\n    <<: *a\n    name: x\n",
		"rules:\n  - &r {name: a, match: ' (?P<queue_id>\\w+) (?P<recipient>\\S+)', status: sent}\n  - <<: [*r, *r]\n    name: b\n",
		"rules: &l [*l]\n",
		"limits: &l {max_domains: *l}\nrules: []\n",
		"timezone: Local\n---\nrules: []\n...\n---\n",
		"rules:\n  - {name: x, contains: y, skip: true}\ndomains: {always: [\"b\\xfccher.example\", xn--bcher-kva.example.]}\n",
		"\ufeffrules:\n\t- name: x\n",
	} {
		f.Add([]byte(s))
	}
	lines := []string{
		"Nov 27 06:02:21 tx postfix/smtp[1]: 6BD60BE58E: to=<bob@example.com>, relay=none, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (connect to x: Connection refused)",
		"2026-11-27 06:14:28 1xWpE4-0005dn-1w == bob@down.example R=dnslookup T=remote_smtp defer (111): Connection refused",
		"Nov 27 06:02:21 tx postfix/qmgr[1]: 6BD60BE58E: removed",
	}
	const name = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parser.Parse(name, data)
		if err != nil {
			if rs != nil {
				t.Errorf("want no rule set with an error, got %v", rs)
			}
			// Every line of the text names the file (yaml may report
			// several type errors at once).
			for _, l := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(l, name+":") {
					t.Errorf("want the error to start with %q, got %q", name+":", l)
				}
			}
			return
		}
		if len(rs.Rules) == 0 {
			t.Fatal("want rules, got none")
		}
		if rs.Location == nil {
			t.Error("want a location, got nil")
		}
		l := rs.Limits
		if l.MaxDomains <= 0 || l.MaxCodes <= 0 || l.MaxLineBytes < 256 || l.TrackerTTL <= 0 || l.TrackerMaxEntries <= 0 {
			t.Errorf("want positive limits, got %+v", l)
		}
		for _, d := range rs.AlwaysDomains {
			if !validDomainLabel([]byte(d)) {
				t.Errorf("want always domains to be valid host names, got %q", d)
			}
		}
		names := map[string]bool{}
		for _, r := range rs.Rules {
			if r.Name == "" || names[r.Name] {
				t.Errorf("want unique non-empty rule names, got %q twice or empty", r.Name)
			}
			names[r.Name] = true
		}
		// A rule set that loads can be used.
		p := parser.NewParser(rs, "fuzz")
		p.SetReference(fuzzReference)
		for _, line := range lines {
			var ev parser.Event
			if res, rule := p.Parse([]byte(line), &ev); res == parser.Matched {
				checkEvent(t, rule, &ev)
			}
		}
	})
}
