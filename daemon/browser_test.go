package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bouncewatch/bouncewatch/internal/browsertest"
	"github.com/bouncewatch/bouncewatch/internal/labtest"
	"github.com/bouncewatch/bouncewatch/report"
	"github.com/bouncewatch/bouncewatch/status"
)

var screenshot = flag.Bool("update-screenshot", false, "write the status page's screenshot for README.md (docs/status-page.png)")

// artifacts is where the browser tests leave their screenshots for people
// to look at: $BOUNCEWATCH_ARTIFACTS, or a temporary directory.
func artifacts(t *testing.T) string {
	if d := os.Getenv("BOUNCEWATCH_ARTIFACTS"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}

// outageNow writes the first part of the real outage's logs (until the
// middle of the outage) with their times moved so that the middle is now:
// what a postmaster's host shows during the outage.
func outageNow(t *testing.T, dir string) (postfix, exim string) {
	t.Helper()
	mid := time.Date(2026, 11, 30, 2, 49, 30, 0, time.UTC)
	shift := time.Now().UTC().Truncate(time.Second).Sub(mid)
	rewrite := func(src, dst, layout string, width int) string {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		w := bufio.NewWriter(out)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			l := sc.Text()
			ts, err := time.Parse(layout, l[:width])
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if ts.After(mid) {
				break
			}
			fmt.Fprintln(w, ts.Add(shift).UTC().Format(layout)+l[width:])
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	return rewrite("../testdata/outage/postfix-tx.log", filepath.Join(dir, "mail.log"), "2006-01-02T15:04:05.000000-07:00", 32),
		rewrite("../testdata/outage/exim-mainlog", filepath.Join(dir, "mainlog"), "2006-01-02 15:04:05", 19)
}

// TestStatusPageInBrowser opens the status page, during the real outage, in
// Chromium: it loads with no console error (a CSP violation is one), its
// table of deferring domains has the rows /api/v1/status has, a reply text
// from the network shows as text, and a screenshot is left to look at.
func TestStatusPageInBrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	dir := t.TempDir()
	postfix, exim := outageNow(t, dir)
	// A hostile reply: markup in a deferral's text.
	f, _ := os.OpenFile(postfix, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "%s vm postfix-tx/smtp[1]: 9F9F9F9F9F: to=<x@hostile.example>, relay=mx.hostile.example[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=4.7.1, status=deferred (host mx.hostile.example[192.0.2.9] said: 450 4.7.1 <script>alert('reply')</script> %s (in reply to RCPT TO command))\n",
		time.Now().UTC().Format("2006-01-02T15:04:05.000000-07:00"), strings.Repeat("x", 10000))
	f.Close()
	cfg := testConfig(t, dir, SourceConfig{Name: "postfix", Kind: File, Target: postfix}, SourceConfig{Name: "exim", Kind: File, Target: exim})
	cfg.FromBeginning = true
	r := start(t, cfg)
	waitUntil(t, "ready", func() bool { code, _ := r.get("/-/ready"); return code == 200 })

	_, body := r.get("/api/v1/status")
	var page status.Page
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range page.Deferring {
		want = append(want, d.Domain+" "+d.Source+" "+fmt.Sprint(d.Pending))
	}
	if !slices.Contains(want, "outage.example postfix 49") || !slices.Contains(want, "dead.example exim 21") {
		t.Errorf("the status misses the outage: %q", want)
	}

	errs := browsertest.ConsoleErrors(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.srv.URL+"/"), chromedp.WaitVisible("#deferring")); err != nil {
		t.Fatal(err)
	}
	rows := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#deferring tbody tr')].map(tr => [...tr.cells].slice(0, 3).map(c => c.innerText.trim()).join(' '))`))
	hostile := browsertest.Run(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#deferring td.reply')].map(td => td.innerText).find(s => s.includes('alert')) || ''`))
	png := browsertest.Run(t, ctx, chromedp.FullScreenshot(100))
	if !slices.Equal(rows, want) {
		t.Errorf("the page's table differs from /api/v1/status:\npage %q\njson %q", rows, want)
	}
	if !strings.Contains(hostile, "450 4.7.1 <script>alert('reply')</script> xxx") || len([]rune(hostile)) > 250 {
		t.Errorf("the hostile reply is not shown as text, cut: %.80q (%d characters)", hostile, len(hostile))
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors: %q", e)
	}
	out := filepath.Join(artifacts(t), "status-page.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
	if *screenshot {
		if err := os.WriteFile("../docs/status-page.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReportHTMLInBrowser: `report --format=html` of the lab logs is one
// file that opens from disk, with no console error (its CSP is in a meta
// element), and shows the charts and the tables.
func TestReportHTMLInBrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	s, err := report.Run(context.Background(), report.Options{Rules: labtest.Rules(t), Source: "postfix", Reference: labtest.Reference}, []string{postfixLog})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	errs := browsertest.ConsoleErrors(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible("#hours")); err != nil {
		t.Fatal(err)
	}
	bars := browsertest.Run(t, ctx, chromedp.Evaluate[[]int](`['#hours', '#resolution'].map(id => document.querySelectorAll(id + ' svg rect').length)`))
	if len(bars) != 2 || bars[0] == 0 || bars[1] == 0 {
		t.Errorf("want bars in both charts, got %v", bars)
	}
	domains := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#deferring td.domain')].map(td => td.innerText.trim())`))
	for _, want := range []string{"down.example", "retry.example", "expire.example"} {
		if !slices.Contains(domains, want) {
			t.Errorf("want %s among the domains that deferred, got %q", want, domains)
		}
	}
	outcomes := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#resolved tbody tr')].map(tr => [...tr.cells].slice(0, 4).map(c => c.innerText.trim()).join(' '))`))
	if !slices.Contains(outcomes, "retry.example postfix delivered 3") || !slices.Contains(outcomes, "down.example postfix expired 7") {
		t.Errorf("outcomes: %q", outcomes)
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors: %q", e)
	}
	png := browsertest.Run(t, ctx, chromedp.FullScreenshot(100))
	out := filepath.Join(artifacts(t), "report.png")
	os.WriteFile(out, png, 0o644)
	t.Logf("screenshot: %s", out)
}
