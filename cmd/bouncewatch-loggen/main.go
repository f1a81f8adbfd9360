// Command bouncewatch-loggen writes a deterministic, realistic Postfix or Exim
// log to standard output, for benchmarks (bench/throughput.sh) and for trying
// bouncewatch on more than the lab samples:
//
//	bouncewatch-loggen -mta=postfix -lines=1000000 -seed=1 > postfix.log
//	bouncewatch-loggen -lines=300000 -rate=10000 >> /tmp/mail.log   # a live log at 10,000 lines/s
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

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
	rate := fs.Int("rate", 0, "Lines per second, written in batches every 10ms, like a live log (0: as fast as possible).")
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
	if *rate > 0 {
		var buf bytes.Buffer
		if err := gen(&buf, *lines, *seed); err != nil {
			return err
		}
		return paced(stdout, buf.Bytes(), *rate)
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	if err := gen(w, *lines, *seed); err != nil {
		return err
	}
	return w.Flush()
}

// paced writes data at rate lines per second, a batch every 10ms.
func paced(w io.Writer, data []byte, rate int) error {
	const tick = 10 * time.Millisecond
	perTick := max(1, rate/100)
	start := time.Now()
	for n := 0; len(data) > 0; n++ {
		end := 0
		for k := 0; k < perTick && end < len(data); k++ {
			i := bytes.IndexByte(data[end:], '\n')
			if i < 0 {
				end = len(data)
				break
			}
			end += i + 1
		}
		if _, err := w.Write(data[:end]); err != nil {
			return err
		}
		data = data[end:]
		time.Sleep(time.Until(start.Add(time.Duration(n+1) * tick)))
	}
	return nil
}
