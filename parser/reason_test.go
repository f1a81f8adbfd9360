package parser_test

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/parser"
)

// TestReasonsOfRealReplies: every reply of testdata/reasons/replies.tsv
// (real replies from the corpus and receivers' published ones, with the
// reason a postmaster gives each) gets that reason from the shipped rules.
func TestReasonsOfRealReplies(t *testing.T) {
	rs := defaultRules(t)
	data, err := os.ReadFile("../testdata/reasons/replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	rows, wrong := 0, 0
	byReason := map[string][2]int{} // reason -> rows, right
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if i == 0 {
			continue // header
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("replies.tsv:%d: %d fields, want 4", i+1, len(f))
		}
		want, codeText, reply := f[0], f[1], strings.ReplaceAll(f[2], `\n`, "\n")
		var code parser.Code
		if codeText != "-" {
			c, ok := parser.ParseCode(codeText)
			if !ok {
				t.Fatalf("replies.tsv:%d: bad code %q", i+1, codeText)
			}
			code = c
		}
		rows++
		got := rs.ReasonOf(code, []byte(reply)).String()
		n := byReason[want]
		n[0]++
		if got == want {
			n[1]++
		} else {
			wrong++
			t.Errorf("replies.tsv:%d: %s %q: got %s, want %s", i+1, codeText, reply, got, want)
		}
		byReason[want] = n
	}
	if rows < 150 {
		t.Errorf("only %d replies; the table needs at least 150", rows)
	}
	var names []string
	for r := range byReason {
		names = append(names, r)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, r := range names {
		fmt.Fprintf(&b, "  %-14s %3d of %3d\n", r, byReason[r][1], byReason[r][0])
	}
	t.Logf("%d replies, %d with the expected reason:\n%s", rows, rows-wrong, b.String())
}

// TestNormaliseReply: what the reasons' text patterns see: the cause, not
// where it came from.
func TestNormaliseReply(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"host mx.example[192.0.2.1] said: 451 4.3.2 <Bob@Example.COM>: Recipient address rejected: System not accepting network messages (in reply to RCPT TO command))",
			"451 4.3.2 <>: recipient address rejected: system not accepting network messages"},
		{"delivery temporarily suspended: host mx.example[192.0.2.1] refused to talk to me: 421 4.7.0 Try again later",
			"421 4.7.0 try again later"},
		{" R=dnslookup T=remote_smtp defer (-44) H=mx.example [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<a@b>: 452 4.3.2 Connection rate limit exceeded",
			"452 4.3.2 connection rate limit exceeded"},
		{" R=dnslookup T=remote_smtp H=mx [192.0.2.1]: SMTP error from remote mail server after end of data: 550 5.7.1 Spam",
			"550 5.7.1 spam"},
		{" R=dnslookup T=remote_smtp: SMTP error from remote mail server after RCPT TO:<a@b>: host mx.example [192.0.2.1]: 550-Verification failed",
			"550-verification failed"},
		{": retry timeout exceeded", "retry timeout exceeded"},
		{"a\tb\x00c <unclosed", "a b c <unclosed"},
	} {
		if got := string(parser.NormaliseReply(nil, []byte(c.in))); got != c.want {
			t.Errorf("NormaliseReply(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	long := bytes.Repeat([]byte("x"), 5000)
	if n := len(parser.NormaliseReply(nil, long)); n > 1024 {
		t.Errorf("a 5000-byte reply gives %d bytes to match", n)
	}
}
