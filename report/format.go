package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/status"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// TopDomains is how many domains the text and JSON reports list.
const TopDomains = 20

var eventStatuses = []parser.Status{parser.StatusSent, parser.StatusDeferred, parser.StatusBounced, parser.StatusExpired}

// Doc is the report as data; the JSON format is this, encoded.
type Doc struct {
	Source   string            `json:"source"`
	Files    []string          `json:"files"`
	Timezone string            `json:"timezone"`
	Lines    map[string]uint64 `json:"lines"`
	Bytes    uint64            `json:"bytes"`
	First    *time.Time        `json:"first_event,omitempty"`
	Last     *time.Time        `json:"last_event,omitempty"`
	Codes    []CodeDoc         `json:"codes"`
	Reasons  []ReasonDoc       `json:"reasons"`
	Domains  []DomainDoc       `json:"top_domains"`
	Hours    []HourDoc         `json:"hours"`
	Pending  PendingDoc        `json:"pending"`
}

// CodeDoc describes one code.
type CodeDoc struct {
	Code        string `json:"code"`
	Kind        string `json:"kind"`    // delivered, deferred, bounced, expired
	Meaning     string `json:"meaning"` // in a postmaster's words
	Class       string `json:"class"`
	Subject     string `json:"subject"`
	Description string `json:"description"`
	TallyDoc
	Reasons map[string]uint64 `json:"reasons,omitempty"` // its failures by reason
}

// TallyDoc is a Tally as the code and the reason tables show it.
type TallyDoc struct {
	Events      map[string]uint64 `json:"events"` // by status
	Total       uint64            `json:"total"`
	Outcomes    map[string]uint64 `json:"retry_outcomes,omitempty"`
	SuccessRate *float64          `json:"retry_success_rate,omitempty"` // delivered, of the retries that ended
	Resolution  []ResolutionDoc   `json:"resolution,omitempty"`
}

// ReasonDoc describes one reason of failure: the failures it explains, and
// how the recipients whose first deferral it explains ended.
type ReasonDoc struct {
	Reason      string `json:"reason"`
	Description string `json:"description,omitempty"`
	Domains     int    `json:"domains"`
	TallyDoc
}

// ResolutionDoc gives percentiles of the time from first deferral to an
// outcome, in seconds: within 0.4% of the exact ones; the maximum is exact.
type ResolutionDoc struct {
	Outcome string  `json:"outcome"`
	N       int     `json:"n"`
	P50     float64 `json:"p50_seconds"`
	P90     float64 `json:"p90_seconds"`
	P99     float64 `json:"p99_seconds"`
	Max     float64 `json:"max_seconds"`
}

// DomainDoc describes one affected domain.
type DomainDoc struct {
	Domain  string            `json:"domain"`
	Events  map[string]uint64 `json:"events"`
	Codes   map[string]uint64 `json:"codes"`
	Reasons map[string]uint64 `json:"reasons"`
	failed  uint64
}

// HourDoc counts events in one hour of the day.
type HourDoc struct {
	Hour   string            `json:"hour"`
	Events map[string]uint64 `json:"events"`
}

// PendingDoc describes the recipients still waiting when the input ended.
type PendingDoc struct {
	Total    int               `json:"total"`
	ByCode   map[string]int    `json:"by_code"`
	ByDomain map[string]int    `json:"by_domain"`
	Oldest   map[string]string `json:"oldest_by_domain"`
}

// Doc builds the report data.
func (s *Summary) Doc() *Doc {
	d := &Doc{
		Source: s.Source, Files: s.Files, Timezone: status.Zone(s.Rules.Location),
		Lines: map[string]uint64{}, Bytes: s.Bytes,
		Pending: PendingDoc{Total: len(s.Pending), ByCode: map[string]int{}, ByDomain: map[string]int{}, Oldest: map[string]string{}},
	}
	if d.Files == nil {
		d.Files = []string{}
	}
	for _, r := range parser.Results {
		d.Lines[r.String()] = s.Lines[r]
	}
	if !s.First.IsZero() {
		f, l := s.First.In(s.Rules.Location), s.Last.In(s.Rules.Location)
		d.First, d.Last = &f, &l
	}
	codes := make([]parser.Code, 0, len(s.Codes))
	for c := range s.Codes {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
	for _, c := range codes {
		cs := s.Codes[c]
		info := c.Describe()
		cd := CodeDoc{
			Code: c.String(), Kind: status.Kind(c), Meaning: status.Meaning(c), Class: info.Class, Subject: info.Subject,
			Description: info.Description, TallyDoc: cs.doc(),
		}
		for r, n := range cs.Reasons {
			if cd.Reasons == nil {
				cd.Reasons = map[string]uint64{}
			}
			cd.Reasons[r.String()] = n
		}
		d.Codes = append(d.Codes, cd)
	}
	d.Reasons = []ReasonDoc{}
	for _, r := range s.reasonOrder() {
		rs := s.Reasons[r]
		rd := ReasonDoc{Reason: r.String(), Description: s.describe(r), Domains: len(rs.Domains), TallyDoc: rs.doc()}
		d.Reasons = append(d.Reasons, rd)
	}
	if d.Codes == nil {
		d.Codes = []CodeDoc{}
	}
	for name, ds := range s.Domains {
		dd := DomainDoc{Domain: name, Events: map[string]uint64{}, Codes: map[string]uint64{}, Reasons: map[string]uint64{}}
		for _, st := range eventStatuses {
			if v := ds.Events[st]; v > 0 {
				dd.Events[st.String()] = v
			}
		}
		dd.failed = ds.Events[parser.StatusDeferred] + ds.Events[parser.StatusBounced] + ds.Events[parser.StatusExpired]
		if dd.failed == 0 {
			continue
		}
		for c, v := range ds.Codes {
			dd.Codes[c.String()] = v
		}
		for r, v := range ds.Reasons {
			dd.Reasons[r.String()] = v
		}
		d.Domains = append(d.Domains, dd)
	}
	sort.Slice(d.Domains, func(i, j int) bool {
		a, b := d.Domains[i], d.Domains[j]
		if a.failed != b.failed {
			return a.failed > b.failed
		}
		return a.Domain < b.Domain
	})
	if len(d.Domains) > TopDomains {
		d.Domains = d.Domains[:TopDomains]
	}
	if d.Domains == nil {
		d.Domains = []DomainDoc{}
	}
	for h := range s.Hours {
		hd := HourDoc{Hour: fmt.Sprintf("%02d", h), Events: map[string]uint64{}}
		for _, st := range eventStatuses {
			if v := s.Hours[h][st]; v > 0 {
				hd.Events[st.String()] = v
			}
		}
		d.Hours = append(d.Hours, hd)
	}
	for _, p := range s.Pending {
		d.Pending.ByCode[p.Code.String()]++
		d.Pending.ByDomain[p.Domain]++
		if _, ok := d.Pending.Oldest[p.Domain]; !ok { // s.Pending is sorted oldest first
			d.Pending.Oldest[p.Domain] = p.First.In(s.Rules.Location).Format(time.RFC3339)
		}
	}
	return d
}

// resolutions gives the percentiles of the times to delivery, and of the
// times to any outcome when some recipients were not delivered.
func resolutions(delivered, all *Durations) []ResolutionDoc {
	var out []ResolutionDoc
	if delivered.N() > 0 {
		out = append(out, percentiles("delivered", delivered))
	}
	if all.N() > delivered.N() {
		out = append(out, percentiles("all", all))
	}
	return out
}

// reasonOrder lists the reasons seen, those with the most failures first
// (then those that only began retries), undefined last.
func (s *Summary) reasonOrder() []parser.Reason {
	var out []parser.Reason
	for r := range s.Reasons {
		if r != parser.ReasonUndefined {
			out = append(out, r)
		}
	}
	failures := func(r parser.Reason) uint64 {
		e := s.Reasons[r].Events
		return e[parser.StatusDeferred] + e[parser.StatusBounced] + e[parser.StatusExpired]
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := failures(out[i]), failures(out[j])
		return a > b || a == b && out[i].String() < out[j].String()
	})
	if s.Reasons[parser.ReasonUndefined] != nil {
		out = append(out, parser.ReasonUndefined)
	}
	return out
}

// describe returns the description the rules give a reason.
func (s *Summary) describe(r parser.Reason) string {
	for _, rr := range s.Rules.Reasons {
		if rr.Reason == r {
			return rr.Description
		}
	}
	if r == parser.ReasonUndefined {
		return "No reason's patterns matched the reply."
	}
	return ""
}

func percentiles(outcome string, d *Durations) ResolutionDoc {
	q := func(p float64) float64 { return d.Quantile(p).Seconds() }
	return ResolutionDoc{Outcome: outcome, N: int(d.N()), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: d.Max().Seconds()}
}

// WriteJSON writes the report as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s.Doc())
}

// WritePrometheus writes the metric set in the text exposition format: the
// bouncewatch_ families exactly as the daemon serves them.
func (s *Summary) WritePrometheus(w io.Writer) error {
	return s.Metrics.WriteText(w, nil)
}

// writeOutcomes writes the row of the retry-outcome tables: how the
// recipients first deferred with this code or reason ended, and how long
// delivery took.
func (t *TallyDoc) writeOutcomes(tw io.Writer, name string) {
	var n uint64
	for _, v := range t.Outcomes {
		n += v
	}
	times := "-"
	if len(t.Resolution) > 0 && t.Resolution[0].Outcome == "delivered" {
		r := t.Resolution[0]
		times = dur(r.P50) + " " + dur(r.P90) + " " + dur(r.P99)
	}
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.0f%%\t%s\n", name, n, t.Outcomes["delivered"], t.Outcomes["bounced"], t.Outcomes["expired"], t.Outcomes["abandoned"], 100**t.SuccessRate, times)
}

// WriteText writes the report for a person.
func (s *Summary) WriteText(w io.Writer) error {
	d := s.Doc()
	b := &strings.Builder{}
	var total uint64
	for _, v := range d.Lines {
		total += v
	}
	fmt.Fprintf(b, "bouncewatch report of %s\n", strings.Join(d.Files, ", "))
	if s.Order != "" {
		fmt.Fprintf(b, "(%s)\n", s.Order)
	}
	fmt.Fprintf(b, "%d lines (%s): %d delivery results, %d other lines (not delivery results)", total, status.ByteSize(d.Bytes), d.Lines["matched"], d.Lines["unmatched"])
	for _, r := range []struct{ key, what string }{
		{"skipped", "skipped on purpose (verification probes, queued-only, -N)"},
		{"too_long", "too long, skipped"},
		{"bad_time", "with a time that could not be read"},
		{"incomplete", "parts of split lines that never became whole"},
	} {
		if n := d.Lines[r.key]; n > 0 {
			fmt.Fprintf(b, ", %d %s", n, r.what)
		}
	}
	b.WriteString("\n")
	if d.First != nil {
		last := d.Last.Format("2006-01-02 15:04:05")
		if d.First.Format("2006-01-02") == d.Last.Format("2006-01-02") {
			last = d.Last.Format("15:04:05")
		}
		fmt.Fprintf(b, "log time: %s to %s (%s)\n", d.First.Format("2006-01-02 15:04:05"), last, d.Timezone)
	}

	b.WriteString("\nWhat happened, by code\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tDELIVERED\tDEFERRED\tBOUNCED\tEXPIRED\tMEANING")
	for _, c := range d.Codes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", c.Code, c.Events["sent"], c.Events["deferred"], c.Events["bounced"], c.Events["expired"], c.Meaning)
	}
	tw.Flush()
	b.WriteString("Counts are of log lines: a recipient deferred three times is three deferrals; an\nexpired message counts one expiry per recipient still waiting.\n")

	var failures bool
	for _, r := range d.Reasons {
		failures = failures || r.Total > 0
	}
	if failures {
		b.WriteString("\nWhy, by the reason of the reply\n")
		tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REASON\tDEFERRED\tBOUNCED\tEXPIRED\tDOMAINS\tWHAT IT MEANS")
		for _, r := range d.Reasons {
			if r.Total == 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", r.Reason, r.Events["deferred"], r.Events["bounced"], r.Events["expired"], r.Domains, firstSentence(r.Description))
		}
		tw.Flush()
	}

	if len(d.Domains) > 0 {
		fmt.Fprintf(b, "\nDomains with deferrals, bounces or expiries (the %d with the most)\n", TopDomains)
		tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DOMAIN\tDEFERRALS\tBOUNCED\tEXPIRED\tDELIVERED\tCODES\tREASONS")
		for _, dd := range d.Domains {
			codes := make([]string, 0, len(dd.Codes))
			for c, v := range dd.Codes {
				codes = append(codes, fmt.Sprintf("%s×%d", c, v))
			}
			sort.Strings(codes)
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", dd.Domain, dd.Events["deferred"], dd.Events["bounced"], dd.Events["expired"], dd.Events["sent"], strings.Join(codes, " "), mostFirst(dd.Reasons))
		}
		tw.Flush()
	}

	var retried bool
	for _, c := range d.Codes {
		retried = retried || c.Outcomes != nil
	}
	if retried {
		b.WriteString("\nDeferred recipients, by the code of their first deferral: how they ended\n")
		var abandoned uint64
		tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FIRST CODE\tRECIPIENTS\tDELIVERED\tBOUNCED\tEXPIRED\tABANDONED\tDELIVERED IN THE END\tTIME TO DELIVERY p50 p90 p99")
		for _, c := range d.Codes {
			if c.Outcomes != nil {
				c.writeOutcomes(tw, c.Code)
				abandoned += c.Outcomes["abandoned"]
			}
		}
		tw.Flush()
		b.WriteString("\nThe same recipients, by the reason of their first deferral\n")
		tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FIRST REASON\tRECIPIENTS\tDELIVERED\tBOUNCED\tEXPIRED\tABANDONED\tDELIVERED IN THE END\tTIME TO DELIVERY p50 p90 p99")
		for _, r := range d.Reasons {
			if r.Outcomes != nil {
				r.writeOutcomes(tw, r.Reason)
			}
		}
		tw.Flush()
		if abandoned > 0 {
			b.WriteString("Abandoned: the message left the queue with the recipient still waiting, or\nthe tracker let it go (tracker_ttl, tracker_max_entries).\n")
		}
	}

	fmt.Fprintf(b, "\nFailures by hour of day (%s): deferred, bounced and expired lines\n", d.Timezone)
	fails := make([]uint64, 24)
	var peak uint64
	firstHour, lastHour := -1, -1
	for i, h := range d.Hours {
		fails[i] = h.Events["deferred"] + h.Events["bounced"] + h.Events["expired"]
		peak = max(peak, fails[i])
		if fails[i] > 0 {
			if firstHour < 0 {
				firstHour = i
			}
			lastHour = i
		}
	}
	if firstHour < 0 {
		b.WriteString("none\n")
	}
	for i := firstHour; i >= 0 && i <= lastHour; i++ {
		bar := int(math.Round(float64(fails[i]) / float64(peak) * 40))
		fmt.Fprintf(b, "%s  %-40s  %d\n", d.Hours[i].Hour, strings.Repeat("█", bar), fails[i])
	}
	if firstHour >= 0 && (firstHour > 0 || lastHour < 23) {
		b.WriteString("(the other hours: none)\n")
	}

	fmt.Fprintf(b, "\nStill waiting for a retry at the end: %d recipients\n", d.Pending.Total)
	if d.Pending.Total > 0 {
		tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DOMAIN\tWAITING\tOLDEST DEFERRAL")
		domains := make([]string, 0, len(d.Pending.ByDomain))
		for dom := range d.Pending.ByDomain {
			domains = append(domains, dom)
		}
		sort.Slice(domains, func(i, j int) bool {
			a, b := d.Pending.ByDomain[domains[i]], d.Pending.ByDomain[domains[j]]
			return a > b || a == b && domains[i] < domains[j]
		})
		for _, dom := range domains {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", dom, d.Pending.ByDomain[dom], d.Pending.Oldest[dom])
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mostFirst lists counts by name, the largest first: "network×35 expired×7".
func mostFirst(m map[string]uint64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := m[names[i]], m[names[j]]
		return a > b || a == b && names[i] < names[j]
	})
	for i, k := range names {
		names[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(names, " ")
}

// firstSentence returns the first sentence of a description, without what
// it says in parentheses, cut at a word to fit a terminal.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	if i := strings.Index(s, " ("); i >= 0 {
		if j := strings.IndexByte(s[i:], ')'); j >= 0 {
			s = s[:i] + s[i+j+1:]
		}
	}
	const width = 64
	if utf8.RuneCountInString(s) > width {
		cut := 0
		for i := range s {
			if utf8.RuneCountInString(s[:i]) > width-1 {
				break
			}
			if s[i] == ' ' {
				cut = i
			}
		}
		s = strings.TrimRight(s[:cut], ",;:") + "…"
	}
	return s
}

func (t *Tally) doc() TallyDoc {
	d := TallyDoc{Events: map[string]uint64{}, Resolution: resolutions(&t.Delivered, &t.Resolutions)}
	for _, st := range eventStatuses {
		if v := t.Events[st]; v > 0 {
			d.Events[st.String()] = v
			d.Total += v
		}
	}
	var ended uint64
	for o := tracker.Outcome(0); o < tracker.NumOutcomes; o++ {
		if v := t.Outcomes[o]; v > 0 {
			if d.Outcomes == nil {
				d.Outcomes = map[string]uint64{}
			}
			d.Outcomes[o.String()] = v
			ended += v
		}
	}
	if ended > 0 {
		r := float64(t.Outcomes[tracker.Delivered]) / float64(ended)
		d.SuccessRate = &r
	}
	return d
}

func dur(sec float64) string {
	return (time.Duration(sec * float64(time.Second))).Round(time.Second).String()
}

// WriteHTML writes the report as one self-contained page, with the status
// page's components: what was still deferring at the end, what was
// resolved, the charts, the files read.
func (s *Summary) WriteHTML(w io.Writer) error {
	ref := s.Last
	p := &status.Page{Title: "bouncewatch report", Version: status.Version(), Generated: time.Now(), Timezone: status.Zone(s.Rules.Location), Whole: true}
	status.Build(p, ref, []status.SourceData{s.pipe.StatusData(ref)})
	c := s.pipe.Counts()
	src := status.SourceState{Name: s.Source, Kind: "files", Target: strings.Join(s.Files, ", "), Readable: true, CaughtUp: true,
		Lines: map[string]uint64{}, Bytes: c.Bytes, Rotations: map[string]uint64{}}
	for r, n := range c.Lines {
		src.Lines[parser.Result(r).String()] = n
	}
	if !s.Last.IsZero() {
		last := s.Last
		src.LastEvent = &last
	}
	p.Sources = []status.SourceState{src}
	p.Rules = status.Rules{File: s.Rules.File, Count: len(s.Rules.Rules), OK: true}
	sub := strings.Join(s.Files, ", ")
	if !s.First.IsZero() {
		sub += fmt.Sprintf(" · log time %s to %s", s.First.In(s.Rules.Location).Format("2006-01-02 15:04"), s.Last.In(s.Rules.Location).Format("2006-01-02 15:04"))
	}
	return status.WriteHTML(w, p, sub)
}
