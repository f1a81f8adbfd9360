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
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/parser"
)

func init() {
	// A binary built with go build or go install carries its module version.
	if version.Version == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			version.Version = bi.Main.Version
		}
	}
}

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
	logConfig := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, logConfig)

	runCmd := app.Command("run", "Follow the logs and serve the metrics (the default command).").Default()
	cfg := daemonConfig{stdin: stdin}
	runCmd.Flag("source.file", "A log to follow, as NAME=PATH (PATH - is standard input); repeatable. NAME is the source label.").PlaceHolder("NAME=PATH").StringsVar(&cfg.files)
	runCmd.Flag("source.journal", "A systemd unit whose journal to follow, as NAME=UNIT (runs journalctl --follow --output=json); repeatable.").PlaceHolder("NAME=UNIT").StringsVar(&cfg.journals)
	runCmd.Flag("source.journalctl", "The journalctl command for --source.journal.").Default("journalctl").Hidden().StringVar(&cfg.journalctl)
	runCmd.Flag("source.from-beginning", "On a first start (no state), read the files from their start instead of their end.").BoolVar(&cfg.fromBeginning)
	runCmd.Flag("state.file", "Checkpoint file: positions, retry tracker and every metric value.").Default("/var/lib/bouncewatch/state.json").StringVar(&cfg.stateFile)
	runCmd.Flag("state.interval", "How often to write the checkpoint.").Default("10s").DurationVar(&cfg.stateInterval)
	runCmd.Flag("tail.poll", "How often to look at each log for new lines and rotations.").Default("250ms").DurationVar(&cfg.poll)
	runCmd.Flag("tail.inotify", "Also wake on inotify events in each log's directory, for lower latency (Linux; polling goes on as the safety net).").BoolVar(&cfg.inotify)
	runCmd.Flag("tail.rotate-wait", "How long a rotated-away log must be quiet before it is let go (syslog daemons write to it until signalled).").Default("5s").DurationVar(&cfg.rotateWait)
	runCmd.Flag("web.telemetry-path", "Path under which to expose the metrics.").Default("/metrics").StringVar(&cfg.telemetryPath)
	cfg.web = kingpinflag.AddFlags(runCmd, ":9467")

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
	// kingpin hands a lone "-" argument over as an empty string.
	for _, files := range []*[]string{reportFiles, checkFiles} {
		for i, f := range *files {
			if f == "" {
				(*files)[i] = "-"
			}
		}
	}
	switch cmd {
	case runCmd.FullCommand():
		cfg.configFile = *configFile
		if cfg.stateInterval <= 0 {
			return &exitError{2, fmt.Errorf("--state.interval must be positive")}
		}
		logger := promslog.New(logConfig)
		logger.Info("starting bouncewatch", "version", version.Info())
		return runDaemon(ctx, cfg, logger)
	case reportCmd.FullCommand():
		rs, err := loadRules(*configFile)
		if err != nil {
			return err
		}
		return runReport(ctx, rs, *reportSource, *reportFormat, *reportFiles, stdin, stdout, stderr)
	case checkCmd.FullCommand():
		rs, err := loadRules(*configFile)
		if err != nil {
			return err
		}
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
