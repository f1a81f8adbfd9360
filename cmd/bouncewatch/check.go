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
	fmt.Fprintf(stdout, "%s: OK, %d rules\n", rs.File, len(rs.Rules))
	if len(files) == 0 {
		return nil
	}
	var unmatched []string
	opts := report.Options{Rules: rs, Source: "check", Stdin: stdin,
		OnLine: func(file string, lineNo int, line []byte, res parser.Result) {
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
	if len(unmatched) > 0 {
		fmt.Fprintf(stdout, "\nUnmatched lines that look like deliveries (first %d):\n", len(unmatched))
		for _, l := range unmatched {
			fmt.Fprintln(stdout, l)
		}
	}
	return nil
}
