// Command bouncewatch-loggen writes a deterministic, realistic Postfix or Exim
// log to standard output, for benchmarks (bench/throughput.sh) and for trying
// bouncewatch on more than the lab samples:
//
//	bouncewatch-loggen -mta=postfix -lines=1000000 -seed=1 > postfix.log
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bouncewatch/bouncewatch/internal/loggen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bouncewatch-loggen:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bouncewatch-loggen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mta := fs.String("mta", "postfix", "Log to write: postfix or exim.")
	lines := fs.Int("lines", 1000000, "Number of lines to write.")
	seed := fs.Uint64("seed", 1, "Random seed; the same seed and line count give the same bytes.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *lines < 0 {
		return fmt.Errorf("-lines must not be negative")
	}
	var gen func(io.Writer, int, uint64) error
	switch *mta {
	case "postfix":
		gen = loggen.Postfix
	case "exim":
		gen = loggen.Exim
	default:
		return fmt.Errorf("-mta must be postfix or exim, not %q", *mta)
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	if err := gen(w, *lines, *seed); err != nil {
		return err
	}
	return w.Flush()
}
