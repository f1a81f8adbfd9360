package parser

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestReasonBranchesAsWhole: a reason's text pattern, matched alternative
// by alternative behind their literals, matches exactly the texts the
// whole pattern matches, on every line of testdata and every table reply.
func TestReasonBranchesAsWhole(t *testing.T) {
	data, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	rs, err := Parse("rules.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	var texts [][]byte
	seen := map[string]bool{}
	filepath.WalkDir("../testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".gz") {
			return nil
		}
		b, _ := os.ReadFile(path)
		for l := range bytes.Lines(b) {
			if strings.HasSuffix(path, ".tsv") {
				if f := bytes.Split(l, []byte("\t")); len(f) == 4 {
					l = f[2]
				}
			}
			if text := NormaliseReply(nil, l); !seen[string(text)] {
				seen[string(text)] = true
				texts = append(texts, text)
			}
		}
		return nil
	})
	var matched atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d texts, %d matches", len(texts), matched.Load())
		if matched.Load() < 100 {
			t.Errorf("only %d matches: the test sees too little", matched.Load())
		}
	})
	// A reason each, in parallel: the whole patterns are what is slow (Go's
	// regexp on long alternations), and the compiled rules are shared.
	for i, rc := range cfg.Reasons {
		if rc.Text == "" {
			continue
		}
		rr := rs.Reasons[i]
		t.Run(rr.Name, func(t *testing.T) {
			t.Parallel()
			whole := regexp.MustCompile(rc.Text)
			var k classifier
			for _, text := range texts {
				w := whole.Match(text)
				k.grams.of(text)
				if got := k.anyBranch(rr, text); got != w {
					t.Fatalf("reason %s on %q: alternatives say %v, the whole pattern %v", rr.Name, text, got, w)
				}
				if w {
					matched.Add(1)
				}
			}
		})
	}
}

// BenchmarkClassifyNew is the cost of a reply never seen before (a cache
// miss): every reason's patterns, in order.
func BenchmarkClassifyNew(b *testing.B) {
	rs, err := Load("../rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, text string }{
		{"gmail-deferral", "host gmail-smtp-in.l.google.com[142.250.102.26] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. z127si1234567wmc.132 - gsmtp (in reply to end of DATA command))"},
		{"nothing-matches", "host mx.example.org[192.0.2.1] said: 550 go away, we do not like the look of you today, come back with flowers (in reply to RCPT TO command))"},
		{"not-accepting", "host mx.example.org[192.0.2.1] said: 451 4.3.2 <bob@example.org>: Recipient address rejected: System not accepting network messages (in reply to RCPT TO command))"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var k classifier
			norm := NormaliseReply(nil, []byte(c.text))
			code := Code(4<<20 | 7<<10 | 28)
			for b.Loop() {
				k.classify(rs, code, norm)
			}
		})
	}
}

// TestIndexDefer: indexDefer is bytes.Index for "defer (", on Exim's texts
// and on texts made of its pieces.
func TestIndexDefer(t *testing.T) {
	pieces := []string{"defer (", "defer", " (", "(", "d", "R=dnslookup ", "er (", "x", "defer  ("}
	rng := rand.New(rand.NewPCG(5, 6))
	texts := []string{"", "defer (", "R=dnslookup T=remote_smtp defer (-44) H=mx [192.0.2.1]: 451 4.3.2 x"}
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		if got, want := indexDefer([]byte(text)), strings.Index(text, "defer ("); got != want {
			t.Fatalf("%q: indexDefer = %d, want %d", text, got, want)
		}
	}
}
