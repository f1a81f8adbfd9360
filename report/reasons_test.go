package report_test

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/report"
)

// TestReasonShares reads every log in testdata (and in the project's shared
// corpus, when it is checked out beside the repository) and reports, per
// file, the deferred, bounced and expired results and the share whose reply
// no reason explains. Under 10% of them may be undefined overall.
func TestReasonShares(t *testing.T) {
	var files []string
	for _, root := range []string{"../testdata", "../../shared/corpus"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			switch {
			case strings.Contains(path, "/reasons/"), strings.Contains(path, "/golden/"), strings.HasSuffix(path, ".json"),
				strings.HasSuffix(path, ".jsonl"), strings.HasSuffix(path, ".md"), strings.HasSuffix(path, ".txt"), strings.HasSuffix(path, ".tsv"):
				return nil
			}
			files = append(files, path)
			return nil
		})
	}
	var b strings.Builder
	var allFailures, allUndefined uint64
	undefinedReplies := map[string]int{}
	for _, f := range files {
		var undefined []string
		s, err := report.Run(context.Background(), report.Options{Rules: rules(t), Reference: reference,
			OnLine: func(_ string, _ int, line []byte, _ parser.Result, ev *parser.Event) {
				if ev != nil && ev.Reason == parser.ReasonUndefined &&
					(ev.Status == parser.StatusDeferred || ev.Status == parser.StatusBounced || ev.Status == parser.StatusExpired) {
					undefined = append(undefined, string(parser.NormaliseReply(nil, ev.Text)))
				}
			}}, []string{f})
		if err != nil {
			continue // not a log (an index, a queue listing)
		}
		var failures uint64
		for _, r := range s.Reasons {
			failures += r.Events[parser.StatusDeferred] + r.Events[parser.StatusBounced] + r.Events[parser.StatusExpired]
		}
		if failures == 0 {
			continue
		}
		allFailures += failures
		allUndefined += uint64(len(undefined))
		for _, u := range undefined {
			undefinedReplies[u]++
		}
		fmt.Fprintf(&b, "  %-72s %6d failures, %5.1f%% with a reason, %5.1f%% undefined\n", f, failures,
			100-100*float64(len(undefined))/float64(failures), 100*float64(len(undefined))/float64(failures))
	}
	if allFailures == 0 {
		t.Fatal("no failures read: the corpus is missing")
	}
	share := float64(allUndefined) / float64(allFailures)
	var replies []string
	for r, n := range undefinedReplies {
		replies = append(replies, fmt.Sprintf("%4d× %q", n, r))
	}
	sort.Strings(replies)
	t.Logf("reasons of deferred, bounced and expired results:\n%s  all: %d failures, %.1f%% undefined\nundefined replies:\n  %s",
		b.String(), allFailures, 100*share, strings.Join(replies, "\n  "))
	if share >= 0.10 {
		t.Errorf("%.1f%% of %d failures have no reason; at most 10%% may", 100*share, allFailures)
	}
}
