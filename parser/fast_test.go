package parser

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/fastregexp"
)

// TestFastMatcherOnRealLogs: on every line of the real logs in testdata
// (and of the project's shared corpus, when it is checked out beside the
// repository), every shipped rule's fast matcher finds what regexp finds,
// and a line without a rule's literal has no match.
func TestFastMatcherOnRealLogs(t *testing.T) {
	rs, err := Load("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, root := range []string{"../testdata", "../../shared/corpus"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".gz") {
				files = append(files, path)
			}
			return nil
		})
	}
	var m fastregexp.Matcher
	lines := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(data) {
			line = bytes.TrimSuffix(line, []byte("\n"))
			lines++
			for _, r := range rs.Rules {
				if r.re == nil {
					continue
				}
				if r.fast == nil {
					t.Fatalf("rule %s runs on regexp: %s", r.Name, r.slow)
				}
				want := r.re.FindSubmatchIndex(line)
				got, ok := m.FindSubmatchIndex(r.fast, line, nil)
				if !ok || !slices.Equal(got, want) {
					t.Fatalf("%s: rule %s on %q:\n got %v (ok %v)\nwant %v", f, r.Name, line, got, ok, want)
				}
				if want != nil && !bytes.Contains(line, []byte(r.contains)) {
					t.Fatalf("%s: rule %s matches %q without its literal %q", f, r.Name, line, r.contains)
				}
				if want != nil && len(r.also) > 0 && !slices.ContainsFunc(r.also, func(l fastregexp.Literal) bool { return l.In(line) }) {
					t.Fatalf("%s: rule %s matches %q without any of its literals %v", f, r.Name, line, r.also)
				}
			}
		}
	}
	t.Logf("%d files, %d lines, %d rules", len(files), lines, len(rs.Rules))
	if lines < 10000 {
		t.Errorf("only %d lines: the corpus is missing", lines)
	}
}

// TestPrefilters: the literals each shipped rule is searched by before its
// regexp runs, as derived from the regexp where rules.yaml gives none.
func TestPrefilters(t *testing.T) {
	rs, err := Load("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rs.Rules {
		var also []string
		for _, l := range r.also {
			also = append(also, l.Text())
		}
		got[r.Name] = fmt.Sprintf("%q | %q", r.contains, strings.Join(also, " or "))
	}
	for name, want := range map[string]string{
		"postfix-delivery":   `", status=" | ""`,
		"exim-queued-only":   `" defer (" | "SMTP delivery explicitly queued or domain matches queue_smtp_domains, or -odqs set"`,
		"exim-retry-timeout": `" ** " | "retry timeout exceeded or ' have been failing for a long time"`,
		"exim-delivered":     `" => " | ""`,
	} {
		if got[name] != want {
			t.Errorf("rule %s: searched for %q, want %q", name, got[name], want)
		}
	}
	// A rule without contains is searched for a literal its regexp requires.
	rs, err = Parse("r.yaml", []byte("rules:\n  - name: r\n    match: ' (?P<queue_id>[A-F0-9]{10}): to=<(?P<recipient>[^>]*)>, status=(?P<status>sent)'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c := rs.Rules[0].contains; c != ">, status=" {
		t.Errorf("derived literal %q, want %q", c, ">, status=")
	}
}
