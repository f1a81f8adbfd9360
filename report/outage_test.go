package report_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/report"
)

// awkCount is the independent count of a real outage's logs
// (e2e/outage-count.awk, which does not use bouncewatch's code): per
// (domain, status, code) the events, per (first code, outcome) the
// recipients and the sum of their times to resolution.
type awkCount struct {
	events   map[string]float64 // "domain status code"
	outcomes map[string]float64 // "code outcome"
	seconds  map[string]float64
	pending  int
}

// readAwkCount reads e2e/outage-count.awk's output for one source: the kept
// testdata/outage/outage-count.txt, or (with awk) a fresh run over the logs,
// which must agree with it.
func readAwkCount(t *testing.T, source string) awkCount {
	t.Helper()
	kept, err := os.ReadFile("../testdata/outage/outage-count.txt")
	if err != nil {
		t.Fatal(err)
	}
	if awk, err := exec.LookPath("awk"); err == nil {
		fresh, err := exec.Command(awk, "-f", "../e2e/logwords.awk", "-f", "../e2e/outage-count.awk", "../testdata/outage/postfix-tx.log", "../testdata/outage/exim-mainlog").Output()
		if err != nil {
			t.Fatalf("outage-count.awk: %v", err)
		}
		if !bytes.Equal(sortedLines(fresh), sortedLines(kept)) {
			t.Fatal("testdata/outage/outage-count.txt is not what e2e/outage-count.awk gives for the logs next to it")
		}
	}
	c := awkCount{events: map[string]float64{}, outcomes: map[string]float64{}, seconds: map[string]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(kept))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1] != source {
			continue
		}
		switch f[0] {
		case "EVENTS": // EVENTS src domain status code n
			n, _ := strconv.ParseFloat(f[5], 64)
			c.events[f[2]+" "+f[3]+" "+f[4]] += n
		case "RCPT": // RCPT src qid rcpt first-code outcome first-time outcome-time lines ...
			if f[5] == "pending" {
				c.pending++
				continue
			}
			first, _ := strconv.ParseFloat(f[6], 64)
			end, _ := strconv.ParseFloat(f[7], 64)
			c.outcomes[f[4]+" "+f[5]]++
			c.seconds[f[4]+" "+f[5]] += end - first
		}
	}
	return c
}

func sortedLines(b []byte) []byte {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(l)
	return []byte(strings.Join(l, "\n"))
}

// TestRealOutage: report over the logs of a real Postfix and a real Exim
// whose receiver refused at the greeting (421 4.3.2) gives every recipient
// the outcome and first code the independent count gives, and the same
// events per domain, status and code: the deferrals logged without an
// attempt (Postfix "delivery temporarily suspended", Exim "retry time not
// reached") included, Exim's queued-only lines and Postfix's verification
// probes left out.
func TestRealOutage(t *testing.T) {
	for _, tt := range []struct{ source, file string }{
		{"postfix", "../testdata/outage/postfix-tx.log"},
		{"exim", "../testdata/outage/exim-mainlog"},
	} {
		t.Run(tt.source, func(t *testing.T) {
			want := readAwkCount(t, tt.source)
			s, err := report.Run(context.Background(), report.Options{Rules: rules(t), Source: tt.source}, []string{tt.file})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := s.WritePrometheus(&b); err != nil {
				t.Fatal(err)
			}
			got, err := exposition.Parse(&b)
			if err != nil {
				t.Fatal(err)
			}
			gotEvents := map[string]float64{}
			for k, v := range got.Prefix("bouncewatch_domain_events_total{") {
				gotEvents[label(k, "domain")+" "+label(k, "status")+" "+label(k, "code")] += v
			}
			if d := diffMaps(want.events, gotEvents); d != "" {
				t.Errorf("events per domain, status and code (awk, bouncewatch):\n%s", d)
			}
			gotOutcomes, gotSeconds := map[string]float64{}, map[string]float64{}
			for k, v := range got.Prefix("bouncewatch_retry_outcomes_total{") {
				if v > 0 {
					gotOutcomes[label(k, "code")+" "+label(k, "outcome")] = v
				}
			}
			for k, v := range got.Prefix("bouncewatch_resolution_seconds_sum{") {
				gotSeconds[label(k, "code")+" "+label(k, "outcome")] = v
			}
			if d := diffMaps(want.outcomes, gotOutcomes); d != "" {
				t.Errorf("recipients per first code and outcome (awk, bouncewatch):\n%s", d)
			}
			for k, w := range want.seconds {
				// Exim's time stamps are whole seconds, Postfix's microseconds.
				if g := gotSeconds[k]; math.Abs(g-w) > 0.001*want.outcomes[k]+1e-6 {
					t.Errorf("time to resolution, %s: awk %.6f s, bouncewatch %.6f s", k, w, g)
				}
			}
			if n := len(s.Pending); n != want.pending {
				t.Errorf("pending at the end: awk %d, bouncewatch %d", want.pending, n)
			}
			t.Logf("%s: %d deferral events of 4.3.2, outcomes %v", tt.source, int(got.Sum("bouncewatch_events_total", `status="deferred"`, `code="4.3.2"`)), gotOutcomes)
		})
	}
}

func label(series, name string) string {
	i := strings.Index(series, name+`="`)
	if i < 0 {
		return ""
	}
	v := series[i+len(name)+2:]
	return v[:strings.IndexByte(v, '"')]
}

func diffMaps(want, got map[string]float64) string {
	var d []string
	for k, v := range want {
		if got[k] != v {
			d = append(d, fmt.Sprintf("  %s: %v, %v", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("  %s: -, %v", k, v))
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}
