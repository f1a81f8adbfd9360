package status

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

//go:embed web/page.html
var pageHTML string

//go:embed web/style.css
var styleCSS string

// CSP is the Content-Security-Policy the page is served with (and that the
// HTML report carries in a meta element): nothing may load or run but the
// page's own style sheet, identified by its hash. The page has no script;
// the live page refreshes with a meta element.
var CSP = metaCSP + "; frame-ancestors 'none'"

// metaCSP is the policy a meta element can carry (frame-ancestors only works
// in the header).
var metaCSP = "default-src 'none'; style-src '" + hashOf(styleCSS) + "'; img-src 'self' data:; base-uri 'none'; form-action 'none'"

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"age":       age,
	"threshold": func() int { return Threshold },
	"total": func(m map[string]uint64) (t uint64) {
		for _, v := range m {
			t += v
		}
		return t
	},
	"bytes": ByteSize,
	"words": func(name string) string { return strings.ReplaceAll(name, "_", " ") },
	"deref": func(f *float64) float64 { return *f },
	"stamp": func(any) string { return "" }, // bound to the page's zone by WriteHTML
}).Parse(pageHTML))

// view is the page with what only its HTML needs.
type view struct {
	Page          *Page
	Live          bool
	Subtitle      string
	Style         template.CSS
	CSP           string
	Deferring     int // domains with recipients waiting
	HoursSVG      template.HTML
	ResolutionSVG template.HTML
}

// WriteHTML renders the page. The text in it comes from the network (domains
// are checked host names, but reply texts are anything): html/template
// escapes every value for where it goes, and the charts are drawn from
// numbers only.
func WriteHTML(w io.Writer, p *Page, subtitle string) error {
	loc := time.UTC
	if l, err := time.LoadLocation(p.Timezone); err == nil {
		loc = l
	} else if strings.HasPrefix(p.Timezone, "Local") {
		loc = time.Local
	}
	v := view{Page: p, Live: p.Live, Subtitle: subtitle, Style: template.CSS(styleCSS), CSP: metaCSP,
		HoursSVG: hoursSVG(p.Hours), ResolutionSVG: resolutionSVG(p.Resolution)}
	for _, d := range p.Deferring {
		if d.Pending > 0 || p.Whole {
			v.Deferring++
		}
	}
	t, err := pageTemplate.Clone()
	if err != nil {
		return err
	}
	t.Funcs(template.FuncMap{"stamp": func(x any) string {
		var tm time.Time
		switch x := x.(type) {
		case time.Time:
			tm = x
		case *time.Time:
			tm = *x
		}
		return tm.In(loc).Format("2006-01-02 15:04:05")
	}})
	return t.Execute(w, v)
}

// age writes a duration in seconds as a person reads it: 45s, 12m, 3h 20m,
// 2d 4h.
func age(secs float64) string {
	d := time.Duration(math.Round(secs)) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// ByteSize writes a number of bytes for a person: "126.1 KiB".
func ByteSize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH   = 640, 200
	padL, padB, padT = 40, 22, 10
)

// hoursSVG draws failures (deferred, bounced, expired, stacked) per hour of
// day.
func hoursSVG(hours []Hour) template.HTML {
	var peak uint64
	for _, h := range hours {
		peak = max(peak, h.Deferred+h.Bounced+h.Expired)
	}
	var b strings.Builder
	open(&b, "Deferred, bounced and expired events by hour of day")
	scale := axis(&b, peak)
	slot := float64(chartW-padL) / 24
	for i, h := range hours {
		x := float64(padL) + float64(i)*slot + 2
		y := float64(chartH - padB)
		for _, part := range []struct {
			class string
			n     uint64
		}{{"deferred", h.Deferred}, {"bounced", h.Bounced}, {"expired", h.Expired}} {
			if part.n == 0 {
				continue
			}
			hgt := float64(part.n) * scale
			y -= hgt
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s:00 %d %s</title></rect>`,
				part.class, x, y, slot-4, hgt, h.Hour, part.n, part.class)
		}
		if i%3 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+(slot-4)/2, chartH-6, h.Hour)
		}
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// resolutionSVG draws the deliveries after deferral per time bucket.
func resolutionSVG(buckets []Bucket) template.HTML {
	var peak uint64
	for _, bk := range buckets {
		peak = max(peak, bk.Count)
	}
	var b strings.Builder
	open(&b, "Recipients delivered after a deferral, by time from their first deferral to delivery")
	scale := axis(&b, peak)
	slot := float64(chartW-padL) / float64(max(len(buckets), 1))
	for i, bk := range buckets {
		x := float64(padL) + float64(i)*slot + 3
		hgt := float64(bk.Count) * scale
		fmt.Fprintf(&b, `<rect class="delivered" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d</title></rect>`,
			x, float64(chartH-padB)-hgt, slot-6, hgt, bk.Label, bk.Count)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+(slot-6)/2, chartH-6, strings.TrimPrefix(bk.Label, "≤ "))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

func open(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s"><title>%s</title>`, chartW, chartH, title, title)
}

// axis draws the baseline and the peak's grid line, and returns the height
// of one event.
func axis(b *strings.Builder, peak uint64) float64 {
	base := chartH - padB
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, base, chartW, base)
	if peak == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">nothing yet</text>`, (chartW+padL)/2, chartH/2)
		return 0
	}
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d" text-anchor="end">%d</text>`,
		padL, padT, chartW, padT, padL-6, padT+4, peak)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">0</text>`, padL-6, base+4)
	return float64(base-padT) / float64(peak)
}
