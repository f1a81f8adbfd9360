// Command bouncewatch reads Postfix and Exim logs, extracts SMTP enhanced
// status codes, follows deferred recipients until they are delivered, bounced
// or expire, and reports or exports what it found.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/parser"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bouncewatch:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

// run is the whole program; main only adds the process around it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	app := kingpin.New("bouncewatch", "Follows SMTP enhanced status codes in Postfix and Exim logs, from deferral to delivery, bounce or expiry.")
	app.Version(version.Print("bouncewatch"))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	terminated := false // --help and --version print, then stop without an error
	app.Terminate(func(int) { terminated = true })
	configFile := app.Flag("config.file", "Rules file (rules.yaml). Default: the rules built into the binary.").PlaceHolder("rules.yaml").String()

	reportCmd := app.Command("report", "Read finished log files (plain, .gz, - for stdin) in the order given, as one stream, and summarise them.")
	reportFormat := reportCmd.Flag("format", "Output format: text, json or prometheus.").Default("text").Enum("text", "json", "prometheus")
	reportSource := reportCmd.Flag("source", "Value of the source label.").Default("report").String()
	reportFiles := reportCmd.Arg("file", "Log files; - is standard input.").Required().Strings()

	checkCmd := app.Command("check", "Validate the rules; with files, show how many lines each rule matched and delivery-like lines no rule matched.")
	checkSamples := checkCmd.Flag("samples", "Unmatched delivery-like lines to show.").Default("10").Int()
	checkFiles := checkCmd.Arg("file", "Log files to try the rules on.").Strings()

	cmd, err := app.Parse(args)
	if terminated {
		return nil
	}
	if err != nil {
		return &exitError{2, err}
	}
	rs, err := loadRules(*configFile)
	if err != nil {
		return err
	}
	// kingpin hands a lone "-" argument over as an empty string.
	for _, files := range []*[]string{reportFiles, checkFiles} {
		for i, f := range *files {
			if f == "" {
				(*files)[i] = "-"
			}
		}
	}
	switch cmd {
	case reportCmd.FullCommand():
		return runReport(ctx, rs, *reportSource, *reportFormat, *reportFiles, stdin, stdout, stderr)
	case checkCmd.FullCommand():
		return runCheck(ctx, rs, *checkFiles, *checkSamples, stdin, stdout)
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func loadRules(path string) (*parser.RuleSet, error) {
	if path == "" {
		return parser.Parse("rules.yaml (built in)", bouncewatch.DefaultRules)
	}
	return parser.Load(path)
}
