package main

import (
	"bufio"
	"context"
	"io"
	"os"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/report"
)

func runReport(ctx context.Context, rs *parser.RuleSet, source, format string, files []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts := report.Options{Rules: rs, Source: source, Stdin: stdin}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		opts.Progress = stderr
	}
	s, err := report.Run(ctx, opts, files)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	switch format {
	case "json":
		err = s.WriteJSON(w)
	case "prometheus":
		err = s.WritePrometheus(w)
	default:
		err = s.WriteText(w)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
