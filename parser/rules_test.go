package parser_test

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/parser"
)

// loadErrors pairs every fixture in testdata/rules except good.yaml with the
// exact error Load must return: the file, the line of the offending key or
// rule, the rule's name where there is one, and the cause.
var loadErrors = []struct {
	file string
	want string
}{
	// Empty files.
	{"empty.yaml", `testdata/rules/empty.yaml: empty rules file: it needs at least a rules: list`},
	{"comments-only.yaml", `testdata/rules/comments-only.yaml: empty rules file: it needs at least a rules: list`},
	{"document-separator-only.yaml", `testdata/rules/document-separator-only.yaml: empty rules file: it needs at least a rules: list`},

	// YAML itself.
	{"bad-yaml-syntax.yaml", `testdata/rules/bad-yaml-syntax.yaml:4: found unexpected end of stream`},
	{"bad-tab-indent.yaml", `testdata/rules/bad-tab-indent.yaml:4: found a tab character that violates indentation`},
	{"bad-multiple-documents.yaml", `testdata/rules/bad-multiple-documents.yaml:6: a second YAML document: a rules file holds exactly one`},
	{"bad-top-level-list.yaml", `testdata/rules/bad-top-level-list.yaml:1: want a mapping of timezone, limits, domains, rules, reasons at the top level, got a list`},

	// Strict keys and types.
	{"bad-unknown-toplevel-key.yaml", `testdata/rules/bad-unknown-toplevel-key.yaml:2: unknown key "rule" (known: timezone, limits, domains, rules, reasons)`},
	{"bad-unknown-key.yaml", `testdata/rules/bad-unknown-key.yaml:4: limits: unknown key "max_lines" (known: max_domains, max_codes, max_line_bytes, tracker_ttl, tracker_max_entries)`},
	{"bad-unknown-rule-key.yaml", `testdata/rules/bad-unknown-rule-key.yaml:7: rule "postfix-delivery": unknown key "regexp" (known: name, contains, match, skip, status, code, inherit_code)`},
	{"bad-duplicate-key.yaml", `testdata/rules/bad-duplicate-key.yaml:6: rule "postfix-removed": duplicate key "status" (first at line 5)`},
	{"bad-skip-type.yaml", "testdata/rules/bad-skip-type.yaml:5: rule \"postfix-suspended\": skip: cannot unmarshal !!str `sometimes` into bool"},
	{"bad-rules-not-list.yaml", `testdata/rules/bad-rules-not-list.yaml:3: rules: want a list of rules, got a mapping`},

	// Top-level settings.
	{"bad-timezone.yaml", `testdata/rules/bad-timezone.yaml:2: timezone "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons`},
	{"bad-negative-limit.yaml", `testdata/rules/bad-negative-limit.yaml:4: limits.max_codes must not be negative`},
	{"bad-negative-ttl.yaml", `testdata/rules/bad-negative-ttl.yaml:3: limits.tracker_ttl must not be negative`},
	{"bad-ttl.yaml", `testdata/rules/bad-ttl.yaml:3: limits.tracker_ttl: unknown unit " days" in duration "5 days"`},
	{"bad-small-line-limit.yaml", `testdata/rules/bad-small-line-limit.yaml:3: limits.max_line_bytes must be at least 256`},
	{"bad-always-domain.yaml", `testdata/rules/bad-always-domain.yaml:5: domains.always[1]: "mail server.example" is not a valid domain name`},
	{"bad-no-rules.yaml", `testdata/rules/bad-no-rules.yaml:1: no rules: the rules: list is missing or empty`},
	{"bad-empty-rules.yaml", `testdata/rules/bad-empty-rules.yaml:2: no rules: the rules: list is missing or empty`},

	// Reasons.
	{"bad-reason-no-name.yaml", `testdata/rules/bad-reason-no-name.yaml:9: reason #2: name is missing`},
	{"bad-reason-name.yaml", `testdata/rules/bad-reason-name.yaml:7: reason "Rate-Limited": a name is lower-case letters, digits and _, starting with a letter (it is a label value)`},
	{"bad-reason-builtin.yaml", `testdata/rules/bad-reason-builtin.yaml:7: reason "undefined": "undefined" is built in: the reason of a failure no pattern matches, and of a 2xx result`},
	{"bad-reason-no-pattern.yaml", `testdata/rules/bad-reason-no-pattern.yaml:7: reason "blocked": needs text or code (or both)`},
	{"bad-reason-regexp.yaml", "testdata/rules/bad-reason-regexp.yaml:8: reason \"blocked\": compile text: error parsing regexp: missing closing ): `listed (at|in`"},
	{"bad-reason-code-regexp.yaml", "testdata/rules/bad-reason-code-regexp.yaml:9: reason \"blocked\": compile code: error parsing regexp: missing closing ): `5\\.7\\.(1`"},
	{"bad-reason-upper.yaml", `testdata/rules/bad-reason-upper.yaml:8: reason "blocked": 'S' can never match: the text is matched in lower case`},
	{"bad-reason-duplicate.yaml", `testdata/rules/bad-reason-duplicate.yaml:9: reason "blocked": duplicate name (first at line 7)`},
	{"bad-reason-unknown-key.yaml", `testdata/rules/bad-reason-unknown-key.yaml:8: reason "blocked": unknown key "pattern" (known: name, description, text, code)`},

	// Rules.
	{"bad-no-name.yaml", `testdata/rules/bad-no-name.yaml:6: rule #2: name is missing`},
	{"bad-duplicate-name.yaml", `testdata/rules/bad-duplicate-name.yaml:10: rule "postfix-removed": duplicate name (first at line 3)`},
	{"bad-regexp.yaml", "testdata/rules/bad-regexp.yaml:7: rule \"x\": compile match: error parsing regexp: missing closing ): ` (?P<queue_id>[0-9A-F]{5,}): to=<(?P<recipient>[^>]*>, status=(?P<status>\\w+)`"},
	{"bad-regexp-backref.yaml", "testdata/rules/bad-regexp-backref.yaml:4: rule \"backref\": compile match: error parsing regexp: invalid escape sequence: `\\1`"},
	{"bad-group-name.yaml", `testdata/rules/bad-group-name.yaml:5: rule "postfix-delivery": unknown group name "qid" (known: time, queue_id, recipient, domain, relay, status, code, reply, text)`},
	{"bad-code.yaml", `testdata/rules/bad-code.yaml:6: rule "exim-connect-defer": invalid code "4.4.1000": want an RFC 3463 code such as 4.4.1 (class 2, 4 or 5)`},
	{"bad-code-class.yaml", `testdata/rules/bad-code-class.yaml:6: rule "exim-connect-defer": invalid code "3.4.1": want an RFC 3463 code such as 4.4.1 (class 2, 4 or 5)`},
	{"bad-code-type.yaml", `testdata/rules/bad-code-type.yaml:6: rule "exim-connect-defer": invalid code "441": want an RFC 3463 code such as 4.4.1 (class 2, 4 or 5)`},
	{"bad-status.yaml", `testdata/rules/bad-status.yaml:5: rule "exim-connect-defer": unknown status "delayed" (one of sent, deferred, bounced, expired, removed)`},
	{"bad-status-flag.yaml", `testdata/rules/bad-status-flag.yaml:5: rule "exim-deferred": unknown status "==" (one of sent, deferred, bounced, expired, removed)`},
	{"bad-skip-with-status.yaml", `testdata/rules/bad-skip-with-status.yaml:5: rule "postfix-suspended": a skip rule takes no status or code`},
	{"bad-skip-with-code.yaml", `testdata/rules/bad-skip-with-code.yaml:6: rule "postfix-suspended": a skip rule takes no status or code`},
	{"bad-inherit-code.yaml", `testdata/rules/bad-inherit-code.yaml:6: rule "exim-retry-not-reached": inherit_code is for deferrals (status: deferred) without a code: of their own`},
	{"bad-no-match-no-contains.yaml", `testdata/rules/bad-no-match-no-contains.yaml:3: rule "nothing": needs match or contains (or both)`},
	{"bad-no-match.yaml", `testdata/rules/bad-no-match.yaml:3: rule "postfix-removed": a rule that is not skip needs match`},
	{"bad-no-status.yaml", `testdata/rules/bad-no-status.yaml:3: rule "postfix-delivery": no status: capture (?P<status>...) or set status:`},
	{"bad-no-queue-id.yaml", `testdata/rules/bad-no-queue-id.yaml:5: rule "postfix-delivery": needs a (?P<queue_id>...) group: retries are followed by queue id`},
	{"bad-no-recipient.yaml", `testdata/rules/bad-no-recipient.yaml:5: rule "postfix-delivery": a deferred rule needs a (?P<recipient>...) group`},
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range loadErrors {
		t.Run(tt.file, func(t *testing.T) {
			path := "testdata/rules/" + tt.file
			rs, err := parser.Load(path)
			if err == nil {
				t.Fatalf("want error\n\t%s\ngot a rule set: %v", tt.want, rs)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("want error\n\t%s\ngot\n\t%s", tt.want, got)
			}
			if rs != nil {
				t.Errorf("want no rule set with an error, got %v", rs)
			}
		})
	}
}

// TestLoadErrorsCoverFixtures keeps the table and testdata/rules in step: a
// fixture without an expected error would never be checked.
func TestLoadErrorsCoverFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/rules/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, tt := range loadErrors {
		want = append(want, tt.file)
	}
	want = append(want, "good.yaml")
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("want fixtures\n\t%v\ngot\n\t%v", want, got)
	}
}

// TestLoadErrorWraps checks that causes are wrapped, not flattened into text.
func TestLoadErrorWraps(t *testing.T) {
	_, err := parser.Load("testdata/rules/bad-regexp.yaml")
	var se *syntax.Error
	if !errors.As(err, &se) {
		t.Fatalf("want a *syntax.Error in the chain, got %T: %v", err, err)
	}
	if want := syntax.ErrMissingParen; se.Code != want {
		t.Errorf("want %q, got %q", want, se.Code)
	}

	_, err = parser.Load("testdata/rules/does-not-exist.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("want fs.ErrNotExist, got %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "testdata/rules/does-not-exist.yaml") {
		t.Errorf("want the error to name the file, got %v", err)
	}
}

func TestLoadGood(t *testing.T) {
	rs, err := parser.Load("testdata/rules/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := "testdata/rules/good.yaml"; rs.File != want {
		t.Errorf("File: want %q, got %q", want, rs.File)
	}
	if want := "testdata/rules/good.yaml (3 rules)"; rs.String() != want {
		t.Errorf("String: want %q, got %q", want, rs.String())
	}
	if want := "Europe/Berlin"; rs.Location.String() != want {
		t.Errorf("Location: want %s, got %s", want, rs.Location)
	}
	wantLimits := parser.Limits{
		MaxDomains:        50,
		MaxCodes:          20,
		MaxLineBytes:      4096,
		TrackerTTL:        36 * time.Hour,
		TrackerMaxEntries: 1000,
	}
	if rs.Limits != wantLimits {
		t.Errorf("Limits: want %+v, got %+v", wantLimits, rs.Limits)
	}
	// Gmail.COM, outlook.com. and bücher.example as written.
	wantAlways := []string{"gmail.com", "outlook.com", "xn--bcher-kva.example"}
	if !slices.Equal(wantAlways, rs.AlwaysDomains) {
		t.Errorf("AlwaysDomains: want %q, got %q", wantAlways, rs.AlwaysDomains)
	}

	wantRules := []struct {
		name string
		line int
		skip bool
	}{
		{"postfix-suspended", 12, true},
		{"postfix-delivery", 15, false},
		{"exim-connect-defer", 18, false},
	}
	if len(rs.Rules) != len(wantRules) {
		t.Fatalf("want %d rules, got %d", len(wantRules), len(rs.Rules))
	}
	for i, w := range wantRules {
		r := rs.Rules[i]
		if r.Name != w.name || r.Line != w.line || r.Skip() != w.skip {
			t.Errorf("rule %d: want %s line %d skip %v, got %s line %d skip %v", i, w.name, w.line, w.skip, r.Name, r.Line, r.Skip())
		}
	}
}

// TestLoadGoodParses runs good.yaml's rules, so that every key is seen to
// take effect: contains, skip, the time, domain and reply groups, constant
// status and code, and the zone for zone-less times.
func TestLoadGoodParses(t *testing.T) {
	rs, err := parser.Load("testdata/rules/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := parser.NewParser(rs, "test")
	p.SetReference(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		name   string
		line   string
		result parser.Result
		rule   string
		qid    string
		rcpt   string
		domain string
		status string
		code   string
		reply  uint16
		time   string
	}{
		{"skip", `Nov 27 06:14:38 tx postfix/error[21652]: 6D0F4BE5D4: to=<jim@down.example>, relay=none, delay=10, delays=10/0.01/0/0.01, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12529: Connection refused)`,
			parser.Skipped, "postfix-suspended", "", "", "", "", "", 0, ""},
		{"captured code and status, zone-less time in Berlin", `Nov 27 06:02:21 tx postfix/smtp[28404]: 6BD60BE58E: to=<bob@retry.example>, relay=mx.retry.example[192.0.2.1]:25, delay=0.08, delays=0.02/0.01/0.03/0.01, dsn=4.3.2, status=deferred (host mx.retry.example[192.0.2.1] said: 451 4.3.2 Try again later (in reply to RCPT TO command))`,
			parser.Matched, "postfix-delivery", "6BD60BE58E", "bob@retry.example", "retry.example", "deferred", "4.3.2", 451, "2026-11-27T05:02:21Z"},
		{"constant status and code, time and domain groups", `2026-11-27 06:14:28 1xWpE4-0005dn-1w == bob@Down.Example R=dnslookup T=remote_smtp defer (111): Connection refused`,
			parser.Matched, "exim-connect-defer", "1xWpE4-0005dn-1w", "bob@Down.Example", "down.example", "deferred", "4.4.1", 0, "2026-11-27T05:14:28Z"},
		{"reply group", `2026-07-01 12:00:00 1xWpE4-0005dn-1w == bob@down.example R=dnslookup T=remote_smtp defer (111): Connection refused 421`,
			parser.Matched, "exim-connect-defer", "1xWpE4-0005dn-1w", "bob@down.example", "down.example", "deferred", "4.4.1", 421, "2026-07-01T10:00:00Z"},
		{"contains without a match", `Nov 27 06:02:21 tx postfix/qmgr[28363]: 6BD60BE58E: removed`,
			parser.Unmatched, "", "", "", "", "", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev parser.Event
			res, rule := p.Parse([]byte(tt.line), &ev)
			if res != tt.result {
				t.Fatalf("want %s, got %s", tt.result, res)
			}
			if got := ruleName(rule); got != tt.rule {
				t.Errorf("rule: want %q, got %q", tt.rule, got)
			}
			if res != parser.Matched {
				return
			}
			got := fmt.Sprintf("%s %s %s %s %s %d %s", ev.QueueID, ev.Recipient, ev.Domain, ev.Status, ev.Code, ev.Reply, ev.Time.UTC().Format(time.RFC3339))
			want := fmt.Sprintf("%s %s %s %s %s %d %s", tt.qid, tt.rcpt, tt.domain, tt.status, tt.code, tt.reply, tt.time)
			if got != want {
				t.Errorf("want\n\t%s\ngot\n\t%s", want, got)
			}
		})
	}
}

func ruleName(r *parser.Rule) string {
	if r == nil {
		return ""
	}
	return r.Name
}

// TestParseDefaults checks what a minimal file gets: every limit at its
// default, the local zone, no always-kept domains.
func TestParseDefaults(t *testing.T) {
	rs, err := parser.Parse("minimal.yaml", []byte(`rules:
  - name: postfix-removed
    match: ' (?P<queue_id>[0-9A-F]{5,}): removed$'
    status: removed
`))
	if err != nil {
		t.Fatal(err)
	}
	want := defaultLimits
	if rs.Limits != want {
		t.Errorf("Limits: want %+v, got %+v", want, rs.Limits)
	}
	if rs.Location != time.Local {
		t.Errorf("Location: want Local, got %s", rs.Location)
	}
	if len(rs.AlwaysDomains) != 0 {
		t.Errorf("AlwaysDomains: want none, got %q", rs.AlwaysDomains)
	}
	if len(rs.Rules) != 1 || rs.Rules[0].Name != "postfix-removed" || rs.Rules[0].Line != 2 {
		t.Errorf("want rule postfix-removed at line 2, got %v", rs.Rules)
	}
}

// TestParseYAMLFeatures covers YAML that the fixtures do not: anchors and
// merge keys, which a long rules file may use to share a regexp, and the
// name Parse is given, which every error starts with.
func TestParseYAMLFeatures(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		rules []string // when the file is good
		err   string   // when it is not
	}{
		{"merge key", `rules:
  - &removed
    name: postfix-removed
    match: ' (?P<queue_id>[0-9A-F]{5,}): removed$'
    status: removed
  - <<: *removed
    name: postfix-removed-long
    match: ' (?P<queue_id>[0-9A-Za-z]{12,}): removed$'
`, []string{"postfix-removed", "postfix-removed-long"}, ""},
		{"alias of a whole rule", `rules:
  - &removed
    name: postfix-removed
    match: ' (?P<queue_id>[0-9A-F]{5,}): removed$'
    status: removed
  - *removed
`, nil, `custom.yaml:6: rule "postfix-removed": duplicate name (first at line 2)`},
		{"unknown key brought in by a merge", `rules:
  - &base
    name: postfix-removed
    match: ' (?P<queue_id>[0-9A-F]{5,}): removed$'
    status: removed
    regexp: x
  - <<: *base
    name: other
`, nil, `custom.yaml:6: rule "postfix-removed": unknown key "regexp" (known: name, contains, match, skip, status, code, inherit_code)`},
		{"merge cycle", `rules:
  - &a
    <<: *a
    name: x
`, nil, `custom.yaml:3: rule "x": anchor "a" merges into itself`},
		{"rule that is not a mapping", `rules:
  - postfix-removed
`, nil, `custom.yaml:2: rule #1: want a mapping, got a single value`},
		{"limits that are not a mapping", `limits: 500
rules: []
`, nil, `custom.yaml:1: limits: want a mapping, got a single value`},
		{"limit of the wrong type", `limits:
  max_domains: lots
rules: []
`, nil, "custom.yaml:2: limits.max_domains: cannot unmarshal !!str `lots` into int"},
		{"always entry that is a list", `domains:
  always:
    - [gmail.com]
rules: []
`, nil, `custom.yaml:3: domains.always[0]: want a single value, got a list`},
		{"always entry that is the fold value", `domains:
  always: [invalid]
rules: []
`, nil, `custom.yaml:2: domains.always[0]: "invalid" is not a valid domain name`},
		{"timezone that is a list", `timezone: [UTC]
rules: []
`, nil, `custom.yaml:1: timezone: want a single value, got a list`},
		{"complex key", `? [a, b]
: c
rules: []
`, nil, `custom.yaml:1: a key must be a plain name, got a list`},
		{"null sections are defaults", `timezone:
limits:
domains:
rules:
  - name: postfix-removed
    match: ' (?P<queue_id>[0-9A-F]{5,}): removed$'
    status: removed
`, []string{"postfix-removed"}, ""},
		{"empty second document", `rules:
  - name: postfix-removed
    match: ' (?P<queue_id>[0-9A-F]{5,}): removed$'
    status: removed
---
`, []string{"postfix-removed"}, ""},
		{"syntax error in a second document", `rules:
  - name: postfix-removed
    match: ' (?P<queue_id>[0-9A-F]{5,}): removed$'
    status: removed
---
rules: [
`, nil, `custom.yaml:6: did not find expected node content`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := parser.Parse("custom.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil {
					t.Fatalf("want error\n\t%s\ngot a rule set: %v", tt.err, rs)
				}
				if got := err.Error(); got != tt.err {
					t.Errorf("want error\n\t%s\ngot\n\t%s", tt.err, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("want rules %v, got %v", tt.rules, err)
			}
			var got []string
			for _, r := range rs.Rules {
				got = append(got, r.Name)
			}
			if !slices.Equal(tt.rules, got) {
				t.Errorf("want rules %v, got %v", tt.rules, got)
			}
		})
	}
}

// TestDefaultRulesLoad checks the shipped rules.yaml, as embedded in the
// binary and as a file.
func TestDefaultRulesLoad(t *testing.T) {
	rs, err := parser.Parse("rules.yaml", bouncewatch.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := parser.Load("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(fromFile.Rules) != len(rs.Rules) {
		t.Errorf("want ../rules.yaml to be the embedded rules, got %d rules and %d", len(fromFile.Rules), len(rs.Rules))
	}
	if rs.Location != time.Local {
		t.Errorf("Location: want Local, got %s", rs.Location)
	}
	// The shipped file spells out the defaults, as DESIGN.md documents them.
	want := defaultLimits
	if rs.Limits != want {
		t.Errorf("Limits: want %+v, got %+v", want, rs.Limits)
	}
	if len(rs.Rules) == 0 {
		t.Fatal("want rules, got none")
	}
	index := map[string]int{}
	for i, r := range rs.Rules {
		if r.Name == "" || r.Line <= 0 {
			t.Errorf("rule %d: want a name and a line, got %q at line %d", i, r.Name, r.Line)
		}
		index[r.Name] = i
	}
	// The first match wins, so a skip rule must come before the delivery
	// rule that would also match its lines.
	for _, order := range [][2]string{
		{"exim-retry-not-reached", "exim-deferred"},
		{"exim-queued-only", "exim-deferred"},
		{"exim-connect-defer", "exim-deferred"},
		{"exim-retry-timeout", "exim-bounced"},
	} {
		a, okA := index[order[0]]
		b, okB := index[order[1]]
		if !okA || !okB || a >= b {
			t.Errorf("want rule %s before %s, got positions %d (%v) and %d (%v)", order[0], order[1], a, okA, b, okB)
		}
	}
	for _, name := range []string{"postfix-verify", "exim-queued-only", "exim-bypassed"} {
		if r, ok := index[name]; !ok || !rs.Rules[r].Skip() {
			t.Errorf("want %s to be a skip rule", name)
		}
	}
}

func ExampleLoad() {
	rs, err := parser.Load("testdata/rules/good.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rs)
	fmt.Println("timezone:", rs.Location)
	fmt.Println("max_line_bytes:", rs.Limits.MaxLineBytes)
	fmt.Println("tracker_ttl:", rs.Limits.TrackerTTL)
	fmt.Println("always:", rs.AlwaysDomains)
	for _, r := range rs.Rules {
		fmt.Printf("line %d: %s skip=%v\n", r.Line, r.Name, r.Skip())
	}

	// Errors name the file, the line and the rule.
	_, err = parser.Load("testdata/rules/bad-status.yaml")
	fmt.Println(err)
	// Output:
	// testdata/rules/good.yaml (3 rules)
	// timezone: Europe/Berlin
	// max_line_bytes: 4096
	// tracker_ttl: 36h0m0s
	// always: [gmail.com outlook.com xn--bcher-kva.example]
	// line 12: postfix-suspended skip=true
	// line 15: postfix-delivery skip=false
	// line 18: exim-connect-defer skip=false
	// testdata/rules/bad-status.yaml:5: rule "exim-connect-defer": unknown status "delayed" (one of sent, deferred, bounced, expired, removed)
}

func ExampleParser_Parse() {
	rs, err := parser.Parse("rules.yaml", []byte(`
timezone: UTC
rules:
  - name: postfix-delivery
    contains: ", status="
    match: ' (?P<queue_id>[0-9A-Za-z]{5,}): to=<(?P<recipient>[^>]*)>,(?: orig_to=<[^>]*>,)? relay=(?P<relay>[^,]*),.* dsn=(?P<code>[245]\.\d{1,3}\.\d{1,3}), status=(?P<status>sent|deferred|bounced) \((?P<text>.*)\)$'
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := parser.NewParser(rs, "mail.log")
	// Syslog lines carry no year: it is the one that puts the line closest
	// to the reference (now when following a live log).
	p.SetReference(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))

	var ev parser.Event
	line := `Nov 27 06:02:21 tx postfix/smtp[28404]: 6BD60BE58E: to=<bob@Retry.Example>, relay=mx.retry.example[192.0.2.1]:25, delay=0.08, delays=0.02/0.01/0.03/0.01, dsn=4.3.2, status=deferred (host mx.retry.example[192.0.2.1] said: 451 4.3.2 System not accepting network messages (in reply to RCPT TO command))`
	res, rule := p.Parse([]byte(line), &ev)
	fmt.Println(res, rule.Name)
	fmt.Println("time:", ev.Time)
	fmt.Println("queue id:", string(ev.QueueID))
	fmt.Println("recipient:", string(ev.Recipient))
	fmt.Println("domain:", string(ev.Domain))
	fmt.Println("relay:", string(ev.Relay))
	fmt.Println("status:", ev.Status)
	fmt.Println("code:", ev.Code, "reply:", ev.Reply)

	res, _ = p.Parse([]byte(`Nov 27 06:02:21 tx postfix/qmgr[28363]: 6BD60BE58E: from=<sender@example.org>, size=303, nrcpt=1 (queue active)`), &ev)
	fmt.Println(res)
	// Output:
	// matched postfix-delivery
	// time: 2026-11-27 06:02:21 +0000 UTC
	// queue id: 6BD60BE58E
	// recipient: bob@Retry.Example
	// domain: retry.example
	// relay: mx.retry.example[192.0.2.1]:25
	// status: deferred
	// code: 4.3.2 reply: 451
	// unmatched
}

// defaultLimits are the limits DESIGN.md documents.
var defaultLimits = parser.Limits{
	MaxDomains:        parser.DefaultMaxDomains,
	MaxCodes:          parser.DefaultMaxCodes,
	MaxLineBytes:      parser.DefaultMaxLineBytes,
	TrackerTTL:        parser.DefaultTrackerTTL,
	TrackerMaxEntries: parser.DefaultTrackerMaxEntries,
}
