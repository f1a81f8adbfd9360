package status

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// Page is everything the status page (and the HTML report) shows; it is
// also what /api/v1/status answers, as JSON.
type Page struct {
	Title     string    `json:"title"`
	Version   string    `json:"version"`
	Generated time.Time `json:"generated"`
	// Reference is the time ages and "lately" are counted from: now for the
	// daemon, the newest log time for a report.
	Reference time.Time `json:"reference"`
	Timezone  string    `json:"timezone"`
	Live      bool      `json:"live"` // the daemon (true) or a report of finished logs
	Ready     bool      `json:"ready"`
	NotReady  []string  `json:"not_ready"`

	// Whole says the page counts over the whole of finished logs (a report)
	// rather than the last 15 minutes (the daemon).
	Whole      bool          `json:"whole_period"`
	Deferring  []Deferring   `json:"deferring"`
	Resolved   []Resolution  `json:"resolved"`
	Hours      []Hour        `json:"hours"`
	Resolution []Bucket      `json:"time_to_delivery"`
	Totals     Totals        `json:"totals"`
	Sources    []SourceState `json:"sources"`
	Rules      Rules         `json:"rules"`
	Checkpoint *Checkpoint   `json:"checkpoint,omitempty"`
	Links      []Link        `json:"links"`
}

// Deferring is a domain with recipients waiting for a retry, or deferred
// lately.
type Deferring struct {
	Source  string `json:"source"`
	Domain  string `json:"domain"`
	Pending int64  `json:"pending_recipients"`
	// Oldest is the log time of the oldest pending deferral; OldestAge how
	// long before Reference.
	Oldest           *time.Time `json:"oldest_deferral,omitempty"`
	OldestAgeSeconds float64    `json:"oldest_age_seconds"`
	FirstCode        Code       `json:"first_code"`   // of the first deferral since the domain had none pending
	CurrentCode      Code       `json:"current_code"` // of the latest deferral
	Reason           Reason     `json:"reason"`       // of the latest deferral's reply
	LastDeferral     time.Time  `json:"last_deferral"`
	Reply            string     `json:"last_reply"`
	Lately           int        `json:"deferrals_last_15m"`
	Total            uint64     `json:"deferrals"` // all of them, since the start or in the logs
	Threshold        int        `json:"alert_threshold"`
	// Alerting says the shipped BouncewatchRepeated432 alert would see its
	// threshold reached: Lately >= Threshold with 4.3.2.
	Alerting bool `json:"alert_threshold_reached"`
}

// Code is an enhanced status code with what it means.
type Code struct {
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
}

func codeOf(c parser.Code) Code {
	if c == 0 {
		return Code{}
	}
	return Code{Code: c.String(), Description: Meaning(c)}
}

// Reason is why deliveries failed, from the rules' reasons.
type Reason struct {
	Reason      string `json:"reason"`
	Description string `json:"description,omitempty"`
}

func reasonOf(r parser.Reason, described map[parser.Reason]string) Reason {
	return Reason{Reason: r.String(), Description: described[r]}
}

// Resolution counts the deferred recipients of a domain that reached an
// outcome, by the code and reason of their first deferral.
type Resolution struct {
	Source         string    `json:"source"`
	Domain         string    `json:"domain"`
	Outcome        string    `json:"outcome"`
	FirstCode      Code      `json:"first_code"`
	FirstReason    Reason    `json:"first_reason"`
	Recipients     uint64    `json:"recipients"`
	MeanSeconds    float64   `json:"mean_seconds"` // from first deferral to outcome
	LongestSeconds float64   `json:"longest_seconds"`
	MeanDeferrals  float64   `json:"mean_deferrals"`
	Last           time.Time `json:"last"` // log time of the latest
}

// Hour counts events by hour of day of their log time.
type Hour struct {
	Hour     string `json:"hour"`
	Sent     uint64 `json:"sent"`
	Deferred uint64 `json:"deferred"`
	Bounced  uint64 `json:"bounced"`
	Expired  uint64 `json:"expired"`
}

// Bucket counts deliveries after deferral by time to delivery: those that
// took at most Le seconds and more than the bucket before.
type Bucket struct {
	Le    float64 `json:"le_seconds"` // +Inf for the last
	Label string  `json:"label"`
	Count uint64  `json:"count"`
}

// Totals are the event counts of every source.
type Totals struct {
	Sent     uint64 `json:"sent"`
	Deferred uint64 `json:"deferred"`
	Bounced  uint64 `json:"bounced"`
	Expired  uint64 `json:"expired"`
	Pending  int64  `json:"pending_recipients"`
}

// SourceState is how one source is doing.
type SourceState struct {
	Name      string            `json:"name"`
	Kind      string            `json:"kind"`   // file, journal, stdin; or "file" of a report
	Target    string            `json:"target"` // path or unit
	Readable  bool              `json:"readable"`
	CaughtUp  bool              `json:"caught_up"`
	Problem   string            `json:"problem,omitempty"` // why it is not ready
	Lines     map[string]uint64 `json:"lines"`
	Bytes     uint64            `json:"bytes"`
	LastRead  *time.Time        `json:"last_read,omitempty"`  // wall time of the last line read
	LastEvent *time.Time        `json:"last_event,omitempty"` // log time of the newest delivery line
	// LagSeconds is how far the newest delivery line is behind Reference.
	LagSeconds *float64          `json:"lag_seconds,omitempty"`
	Rotations  map[string]uint64 `json:"rotations"`
	Files      []string          `json:"open_files,omitempty"`
}

// Rules is the state of the rules file.
type Rules struct {
	File       string     `json:"file"`
	Count      int        `json:"rules"`
	LastReload *time.Time `json:"last_reload,omitempty"`
	OK         bool       `json:"last_reload_successful"`
	Error      string     `json:"error,omitempty"`
}

// Checkpoint is the state of the daemon's state file.
type Checkpoint struct {
	File        string     `json:"file"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	AgeSeconds  *float64   `json:"age_seconds,omitempty"`
	Failures    uint64     `json:"failures"`
}

// Link is a link of the page's footer.
type Link struct {
	Text string `json:"text"`
	URL  string `json:"url"`
}

// SourceData is what one source's pipeline gives the page.
type SourceData struct {
	Name     string
	Domains  []DomainData
	Outcomes map[OutcomeKey]Outcomes
	Hours    [24][parser.StatusExpired + 1]uint64
	// Delivered counts deliveries after deferral per bucket of
	// ResolutionBuckets, the last for longer ones (not cumulative).
	Delivered []uint64
	Buckets   []float64
	Names     func(tracker.Group) string // domain label of a group
	// Reasons describes the reasons of the rules in use.
	Reasons map[parser.Reason]string
}

// DomainData joins the metrics' pending gauges and the recorder's notes.
type DomainData struct {
	DomainNow
	Pending int64
	Oldest  time.Time // zero when nothing is pending
}

// recentOutcomes is how far back the daemon's page lists outcomes.
const recentOutcomes = 24 * time.Hour

// Build puts the page together from the sources' data; ref is the time
// ages are counted from. With p.Whole (a report), every domain that
// deferred is listed with all its deferrals, and every outcome; else (the
// daemon) the domains with recipients waiting or deferrals in the last 15
// minutes, and the outcomes of the last day.
func Build(p *Page, ref time.Time, data []SourceData) {
	p.Reference = ref
	p.Hours = make([]Hour, 24)
	for h := range p.Hours {
		p.Hours[h].Hour = hourLabel(h)
	}
	var delivered []uint64
	var buckets []float64
	for _, sd := range data {
		for _, d := range sd.Domains {
			if d.Pending == 0 && d.Lately == 0 && !(p.Whole && d.Total > 0) {
				continue
			}
			def := Deferring{
				Source: sd.Name, Domain: sd.Names(d.Group), Pending: d.Pending,
				FirstCode: codeOf(d.FirstCode), CurrentCode: codeOf(d.LastCode), Reason: reasonOf(d.LastWhy, sd.Reasons),
				LastDeferral: d.Last, Reply: d.Reply, Lately: d.Lately, Total: d.Total, Threshold: Threshold,
			}
			if p.Whole {
				def.FirstCode = codeOf(d.FirstEver)
			}
			if !d.Oldest.IsZero() && d.Pending > 0 {
				o := d.Oldest
				def.Oldest, def.OldestAgeSeconds = &o, max(ref.Sub(o), 0).Seconds()
			}
			def.Alerting = d.Lately >= Threshold && d.LastCode.String() == "4.3.2"
			p.Deferring = append(p.Deferring, def)
			p.Totals.Pending += d.Pending
		}
		for k, o := range sd.Outcomes {
			if !p.Whole && ref.Sub(o.Last) > recentOutcomes {
				continue
			}
			p.Resolved = append(p.Resolved, Resolution{Source: sd.Name, Domain: sd.Names(k.Group), Outcome: k.Outcome.String(),
				FirstCode: codeOf(k.FirstCode), FirstReason: reasonOf(k.FirstReason, sd.Reasons), Recipients: o.N, MeanSeconds: o.Seconds / float64(o.N), LongestSeconds: o.MaxSeconds,
				MeanDeferrals: float64(o.Attempts) / float64(o.N), Last: o.Last})
		}
		for h := range sd.Hours {
			p.Hours[h].Sent += sd.Hours[h][parser.StatusSent]
			p.Hours[h].Deferred += sd.Hours[h][parser.StatusDeferred]
			p.Hours[h].Bounced += sd.Hours[h][parser.StatusBounced]
			p.Hours[h].Expired += sd.Hours[h][parser.StatusExpired]
			p.Totals.Sent += sd.Hours[h][parser.StatusSent]
			p.Totals.Deferred += sd.Hours[h][parser.StatusDeferred]
			p.Totals.Bounced += sd.Hours[h][parser.StatusBounced]
			p.Totals.Expired += sd.Hours[h][parser.StatusExpired]
		}
		if delivered == nil {
			delivered, buckets = make([]uint64, len(sd.Delivered)), sd.Buckets
		}
		for i, v := range sd.Delivered {
			delivered[i] += v
		}
	}
	// By impact: recipients waiting, then deferrals (lately, or at all in a
	// report), then the oldest.
	slices.SortStableFunc(p.Deferring, func(a, b Deferring) int {
		return cmp.Or(cmp.Compare(b.Pending, a.Pending), cmp.Compare(b.Lately, a.Lately), cmp.Compare(b.Total, a.Total),
			cmp.Compare(b.OldestAgeSeconds, a.OldestAgeSeconds), cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Source, b.Source))
	})
	slices.SortStableFunc(p.Resolved, func(a, b Resolution) int {
		return cmp.Or(b.Last.Compare(a.Last), cmp.Compare(b.Recipients, a.Recipients), cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Outcome, b.Outcome))
	})
	for i, v := range delivered {
		b := Bucket{Count: v}
		if i < len(buckets) {
			b.Le, b.Label = buckets[i], "≤ "+shortDuration(time.Duration(buckets[i])*time.Second)
		} else {
			b.Le, b.Label = infinity, "longer"
		}
		p.Resolution = append(p.Resolution, b)
	}
	if p.Deferring == nil {
		p.Deferring = []Deferring{}
	}
	if p.Resolved == nil {
		p.Resolved = []Resolution{}
	}
	if p.NotReady == nil {
		p.NotReady = []string{}
	}
}

// infinity stands for +Inf in JSON, which has no such number.
const infinity = 1e308

func hourLabel(h int) string { return string([]byte{byte('0' + h/10), byte('0' + h%10)}) }

// shortDuration writes 1m, 5m, 1h, 2d.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}
