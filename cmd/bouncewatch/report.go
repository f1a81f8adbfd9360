package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/report"
)

func runReport(ctx context.Context, rs *parser.RuleSet, source, format string, files []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts := report.Options{Rules: rs, Source: source, Stdin: stdin}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		opts.Progress = stderr
	}
	s, err := report.Run(ctx, opts, files)
	if s == nil {
		return err
	}
	// What was read is reported even when a file could not be read to its
	// end (a truncated .gz): then the error, and exit status 1.
	if s.NothingRecognised() && err == nil {
		return fmt.Errorf("no delivery line recognised in %s: is it a Postfix or Exim mail log (not a reject log, nor journalctl -o cat without time stamps)? `bouncewatch check %s` shows what the rules match", strings.Join(s.Files, ", "), strings.Join(s.Files, " "))
	}
	if s.Order != "" && format != "text" {
		fmt.Fprintf(stderr, "bouncewatch: %s\n", s.Order)
	}
	w := bufio.NewWriter(stdout)
	var werr error
	switch format {
	case "json":
		werr = s.WriteJSON(w)
	case "prometheus":
		werr = s.WritePrometheus(w)
	case "html":
		werr = s.WriteHTML(w)
	default:
		werr = s.WriteText(w)
	}
	if werr == nil {
		werr = w.Flush()
	}
	return errors.Join(werr, err)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
