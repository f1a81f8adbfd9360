package parser

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/fastregexp"
)

func TestLiteral(t *testing.T) {
	tests := []struct {
		lit, line string
	}{
		{" == ", "2026-11-27 06:02:21 1xWp2L-0007Qz-2u == bob@retry.example R=x"},
		{" == ", "a === b == c"},
		{" == ", "a ==b"},
		{" ** ", " ** "},
		{" ** ", "x **"},
		{", status=", "to=<a@b>, relay=none, dsn=4.4.1, status=deferred"},
		{", status=", "status=deferred"},
		{"): Connection ", "defer (111): Connection refused"},
		{"): Connection ", "defer (111): Connection"},
		{"etry time not ", "== a routing defer (-52): retry time not reached"},
		{"", "anything"},
		{"x", ""},
		{"abc", "ab"},
		{"\xff\x00", "a\xff\x00b"},
	}
	for _, tt := range tests {
		l := newLiteral(tt.lit)
		want := bytes.Contains([]byte(tt.line), []byte(tt.lit))
		if got := l.in([]byte(tt.line)); got != want {
			t.Errorf("%q in %q: want %v, got %v", tt.lit, tt.line, want, got)
		}
	}
}

func FuzzLiteral(f *testing.F) {
	f.Add(" == ", "a == b")
	f.Add(", status=", "x, status=sent")
	f.Fuzz(func(t *testing.T, lit, line string) {
		l := newLiteral(lit)
		if got, want := l.in([]byte(line)), bytes.Contains([]byte(line), []byte(lit)); got != want {
			t.Errorf("%q in %q: want %v, got %v", lit, line, want, got)
		}
	})
}

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
			}
		}
	}
	t.Logf("%d files, %d lines, %d rules", len(files), lines, len(rs.Rules))
	if lines < 10000 {
		t.Errorf("only %d lines: the corpus is missing", lines)
	}
}
