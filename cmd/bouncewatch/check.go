package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/report"
)

// deliveryMarks are the bits of text that make an unmatched line worth showing:
// it probably is a delivery line that no rule understood.
var deliveryMarks = [][]byte{[]byte("status="), []byte(" == "), []byte(" ** "), []byte(" => ")}

func runCheck(ctx context.Context, rs *parser.RuleSet, files []string, samples int, stdin io.Reader, stdout io.Writer) error {
	fmt.Fprintf(stdout, "%s: OK, %d rules, %d reasons\n", rs.File, len(rs.Rules), len(rs.Reasons))
	for _, r := range rs.Rules {
		if r.Slow() != "" {
			fmt.Fprintf(stdout, "rule %q runs on Go's regexp package, several times slower: %s\n", r.Name, r.Slow())
		}
	}
	if len(files) == 0 {
		return nil
	}
	var unmatched, unexplained []string
	opts := report.Options{Rules: rs, Source: "check", Stdin: stdin,
		OnLine: func(file string, lineNo int, line []byte, res parser.Result, ev *parser.Event) {
			if ev != nil && ev.Reason == parser.ReasonUndefined && len(unexplained) < samples &&
				(ev.Status == parser.StatusDeferred || ev.Status == parser.StatusBounced || ev.Status == parser.StatusExpired) {
				unexplained = append(unexplained, file+":"+strconv.Itoa(lineNo)+": "+strconv.Quote(string(line)))
			}
			if res != parser.Unmatched || len(unmatched) >= samples {
				return
			}
			for _, m := range deliveryMarks {
				if bytes.Contains(line, m) {
					unmatched = append(unmatched, file+":"+strconv.Itoa(lineNo)+": "+strconv.Quote(string(line)))
					return
				}
			}
		}}
	s, err := report.Run(ctx, opts, files)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLINES")
	for _, r := range rs.Rules {
		fmt.Fprintf(tw, "%s\t%d\n", r.Name, s.RuleHits[r.Name])
	}
	for _, r := range parser.Results {
		if r != parser.Matched {
			fmt.Fprintf(tw, "(%s)\t%d\n", r, s.Lines[r])
		}
	}
	tw.Flush()
	var failures uint64
	for _, r := range s.Reasons {
		failures += r.Events[parser.StatusDeferred] + r.Events[parser.StatusBounced] + r.Events[parser.StatusExpired]
	}
	if failures > 0 {
		fmt.Fprintf(stdout, "\nReasons of the %d deferred, bounced and expired results\n", failures)
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REASON\tRESULTS\tSHARE")
		for _, d := range s.Doc().Reasons {
			if d.Total > 0 {
				fmt.Fprintf(tw, "%s\t%d\t%.1f%%\n", d.Reason, d.Total, 100*float64(d.Total)/float64(failures))
			}
		}
		tw.Flush()
	}
	if len(unexplained) > 0 {
		fmt.Fprintf(stdout, "\nFailures no reason's pattern matched (first %d):\n", len(unexplained))
		for _, l := range unexplained {
			fmt.Fprintln(stdout, l)
		}
	}
	if len(unmatched) > 0 {
		fmt.Fprintf(stdout, "\nUnmatched lines that look like deliveries (first %d):\n", len(unmatched))
		for _, l := range unmatched {
			fmt.Fprintln(stdout, l)
		}
	}
	return nil
}
