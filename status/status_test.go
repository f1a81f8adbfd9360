package status

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

var t0 = time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)

func code(s string) parser.Code {
	c, _ := parser.ParseCode(s)
	return c
}

func deferral(at time.Duration, c, text string) *parser.Event {
	return &parser.Event{Time: t0.Add(at), Status: parser.StatusDeferred, Code: code(c), Text: []byte(text)}
}

// TestRecorder: deferrals are counted per minute of log time for the last
// 15 minutes, the latest code and reply kept (a deferral without an attempt
// keeps the reply before it), the first code of the episode found.
func TestRecorder(t *testing.T) {
	r := NewRecorder()
	const g = tracker.Group(1)
	r.Pending(code("4.4.1"), g, 1)
	r.Event(deferral(0, "4.4.1", " R=r T=t defer (111): Connection refused"), g)
	for i := range 6 {
		r.Event(deferral(time.Duration(10+i)*time.Minute, "4.3.2", "host mx[192.0.2.1] said: 421 4.3.2 Service not available (in reply to end of DATA command))"), g)
	}
	notTried := deferral(16*time.Minute, "4.3.2", " for any host for 'd.example'")
	notTried.InheritCode = true
	r.Event(notTried, g)
	d := r.Domains(t0.Add(16 * time.Minute))
	if len(d) != 1 {
		t.Fatalf("want one domain, got %+v", d)
	}
	got := d[0]
	if got.Lately != 7 || got.Total != 8 || got.FirstCode != code("4.4.1") || got.FirstEver != code("4.4.1") || got.LastCode != code("4.3.2") {
		t.Errorf("got %+v", got)
	}
	if got.Reply != "host mx[192.0.2.1] said: 421 4.3.2 Service not available (in reply to end of DATA command)" {
		t.Errorf("reply: %q", got.Reply)
	}
	if later := r.Domains(t0.Add(40 * time.Minute)); later[0].Lately != 0 {
		t.Errorf("24 minutes later: want nothing lately, got %d", later[0].Lately)
	}
	r.Pending(code("4.4.1"), g, -1)
	if d := r.Domains(t0.Add(16 * time.Minute)); d[0].FirstCode != 0 {
		t.Errorf("nothing pending: want no first code, got %s", d[0].FirstCode)
	}
	r.Event(&parser.Event{Time: t0, Status: parser.StatusDeferred, Code: code("4.7.1"), Text: []byte(" R=dnslookup T=remote_smtp defer (-44) H=mx [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<a@b>: 450 4.7.1 Greylisted")}, 2)
	if d := r.Domains(t0); len(d) != 2 {
		t.Fatal("want two domains")
	} else {
		for _, x := range d {
			if x.Group == 2 && x.Reply != "SMTP error from remote mail server after RCPT TO:<a@b>: 450 4.7.1 Greylisted" {
				t.Errorf("exim reply: %q", x.Reply)
			}
		}
	}
}

func TestCleanReply(t *testing.T) {
	for in, want := range map[string]string{
		"ok)":                                 "ok",
		"a\x00b\x1bc\xff":                     "a\ufffdb\ufffdc\ufffd",
		strings.Repeat("é", 200):              strings.Repeat("é", 100),
		"a" + strings.Repeat("é", 100):        "a" + strings.Repeat("é", 99), // the kept start ends inside an é
		strings.Repeat("x", 300) + ")":        strings.Repeat("x", 200),
		"\xff\xff" + strings.Repeat("x", 300): "\ufffd\ufffd" + strings.Repeat("x", 194),
	} {
		// As the recorder keeps it: the first maxReply bytes.
		raw := []byte(in)
		n := min(len(raw), maxReply)
		if got := cleanReply(raw[:n], n == len(raw)); got != want {
			t.Errorf("%q: want %q, got %q", in, want, got)
		}
	}
}

// hostilePage is a page with text that came from the network at its worst.
func hostilePage() *Page {
	p := &Page{Title: "bouncewatch on <b>mx</b>", Timezone: "UTC", Live: true, Ready: true}
	r := NewRecorder()
	reply := "<script>alert('reply')</script>" + strings.Repeat("x\"'<>&", 2000)
	r.Pending(code("4.3.2"), 1, 1)
	r.Event(deferral(0, "4.3.2", reply), 1)
	r.Resolved(&tracker.Resolution{FirstCode: code("4.3.2"), Outcome: tracker.Delivered, Group: 1, First: t0, Time: t0.Add(time.Minute), Attempts: 2})
	names := func(tracker.Group) string { return `<script>alert("domain")</script>` }
	Build(p, t0.Add(time.Minute), []SourceData{{
		Name:     `<img src=x onerror=alert(1)>`,
		Domains:  []DomainData{{DomainNow: r.Domains(t0.Add(time.Minute))[0], Pending: 1, Oldest: t0}},
		Outcomes: r.Outcomes(), Names: names,
	}})
	p.Sources = []SourceState{{Name: "<src>", Target: "/var/log/<x>", Problem: "<script>alert('problem')</script>", Lines: map[string]uint64{}}}
	p.NotReady = []string{"<script>alert('ready')</script>"}
	return p
}

// TestHTMLEscapesEverything: no text from the network becomes markup, and a
// reply of 12,000 characters is cut.
func TestHTMLEscapesEverything(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, hostilePage(), "<i>sub</i>"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script", "<img", "<b>", "<i>", "<src>", "onerror=alert(1)>"} {
		if strings.Contains(out, bad) {
			t.Errorf("the page holds %q as markup", bad)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#34;domain&#34;)&lt;/script&gt;") {
		t.Error("the hostile domain is not shown, escaped")
	}
	if strings.Count(out, "x&#34;&#39;&lt;&gt;&amp;") > maxReply/6+1 {
		t.Error("the long reply was not cut")
	}
}

// TestCSPMatchesStyle: the policy allows the page's own style sheet by its
// hash, and nothing else: no script, nothing from elsewhere.
func TestCSPMatchesStyle(t *testing.T) {
	var b bytes.Buffer
	WriteHTML(&b, &Page{Timezone: "UTC"}, "")
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatal("no style element")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(CSP, "style-src "+want) {
		t.Errorf("the CSP does not allow the style element as served (%s): %s", want, CSP)
	}
	for _, must := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, must) {
			t.Errorf("CSP lacks %s", must)
		}
	}
	if strings.Contains(b.String(), "<script") || regexp.MustCompile(` style=`).MatchString(b.String()) {
		t.Error("the page has a script or a style attribute, which the CSP forbids")
	}
}

func TestMeaning(t *testing.T) {
	for c, want := range map[string]string{
		"2.0.0":   "delivered",
		"2.1.5":   "delivered (Destination address valid)",
		"4.3.2":   "deferred: System not accepting network messages",
		"4.4.7":   "expired: the queue lifetime ran out, returned to the sender",
		"5.1.1":   "bounced: Bad destination mailbox address",
		"5.7.606": "bounced: Security or Policy Status (code not registered)",
	} {
		if got := Meaning(code(c)); got != want {
			t.Errorf("%s: want %q, got %q", c, want, got)
		}
	}
}
