package parser

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// firstMatch is what Parse must find, without its shortcuts: the first rule
// whose literal is in the line and whose regexp matches it.
func firstMatch(rs *RuleSet, line []byte) *Rule {
	for _, r := range rs.Rules {
		if r.contains != "" && !bytes.Contains(line, []byte(r.contains)) {
			continue
		}
		if r.re != nil && r.re.FindSubmatchIndex(line) == nil {
			continue
		}
		return r
	}
	return nil
}

// checkFirstMatch checks Parse both ways it finds the literals: all in one
// pass (where the machine has the vector code), and each on its own.
func checkFirstMatch(t *testing.T, rs *RuleSet, lines [][]byte) {
	t.Helper()
	defer func() { searchEach = false }()
	for _, each := range []bool{false, true} {
		searchEach = each
		p := NewParser(rs, "test")
		var ev Event
		for _, line := range lines {
			_, got := p.Parse(line, &ev)
			if want := firstMatch(rs, line); got != want {
				t.Fatalf("searching for each literal on its own: %v; %q: Parse took rule %v, the first that matches is %v", each, line, name(got), name(want))
			}
		}
	}
}

func name(r *Rule) string {
	if r == nil {
		return "none"
	}
	return r.Name
}

// TestParseTakesTheFirstMatch: the literals Parse looks for once per line
// and keeps change nothing: on every line of the real logs, Parse takes the
// first rule whose literal and regexp match.
func TestParseTakesTheFirstMatch(t *testing.T) {
	rs, err := Load("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, root := range []string{"../testdata", "../../shared/corpus"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, ".gz") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for line := range bytes.Lines(data) {
				if line = bytes.TrimRight(line, "\r\n"); len(line) <= rs.Limits.MaxLineBytes {
					lines = append(lines, line)
				}
			}
			return nil
		})
	}
	if len(lines) < 10000 {
		t.Fatalf("only %d lines: the test data is missing", len(lines))
	}
	checkFirstMatch(t, rs, lines)
}

// TestParseTakesTheFirstMatchOfManyLiterals: with more literals and key
// bytes than Parse keeps in its masks (70 rules, each with its own), and
// lines that hold several of them, some in the form a rule matches and some
// not, and rules whose literal is not in their regexp, Parse still takes
// the first rule that matches.
func TestParseTakesTheFirstMatchOfManyLiterals(t *testing.T) {
	var keys []byte
	for c := byte('!'); c <= '~' && len(keys) < 70; c++ {
		if !strings.ContainsRune(`'"\#`, rune(c)) {
			keys = append(keys, c)
		}
	}
	var y strings.Builder
	y.WriteString("rules:\n")
	// Rule i's literal is its byte twice and a space: searched by that
	// byte, its own key.
	tok := func(i int) string { return strings.Repeat(string(keys[i]), 2) + " " }
	for i := range keys {
		fmt.Fprintf(&y, "  - name: r%d\n    contains: '%s'\n    match: ' (?P<queue_id>[0-9A-F]{5,}): %s to=<(?P<recipient>[^>]*)>, status=(?P<status>sent|deferred)'\n",
			i, strings.ReplaceAll(tok(i), "'", "''"), strings.ReplaceAll(regexp.QuoteMeta(tok(i)), "'", "''"))
	}
	// Then rules that share the first literals, with a regexp that does
	// not hold them: only the literal keeps these off a line.
	for i := range 10 {
		fmt.Fprintf(&y, "  - name: again%d\n    contains: '%s'\n    match: ' (?P<queue_id>[0-9A-F]{5,}): to=<(?P<recipient>[^>]*)>, status=(?P<status>bounced)'\n",
			i, strings.ReplaceAll(tok(i), "'", "''"))
	}
	rs, err := Parse("many.yaml", []byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.literals) <= 64 || len(rs.keys) <= 64 {
		t.Fatalf("want more than 64 literals and keys, got %d and %d", len(rs.literals), len(rs.keys))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var lines [][]byte
	for range 20000 {
		var b strings.Builder
		b.WriteString("Nov 27 06:00:00 mx1 postfix/smtp[1374]:")
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(keys))
			switch rng.IntN(3) {
			case 0:
				fmt.Fprintf(&b, " 5A2286C4AA: to=<b%d@example.com>, status=bounced", i)
			case 1:
				fmt.Fprintf(&b, " 5A2286C4AA: %s to=<a%d@example.com>, status=sent", tok(i), i)
			default:
				fmt.Fprintf(&b, " %s", tok(i)) // the literal, and no match
			}
		}
		lines = append(lines, []byte(b.String()))
	}
	checkFirstMatch(t, rs, lines)
}
