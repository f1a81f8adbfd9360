// Command bouncewatch reads Postfix and Exim logs, extracts SMTP enhanced
// status codes, follows deferred recipients until they are delivered, bounced
// or expire, and reports or exports what it found.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/daemon"
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
	cfg := daemon.Config{Stdin: stdin}
	var files, journals []string
	runCmd.Flag("source.file", "A log to follow, as NAME=PATH (PATH - is standard input); repeatable. NAME is the source label.").PlaceHolder("NAME=PATH").StringsVar(&files)
	runCmd.Flag("source.journal", "A systemd unit whose journal to follow, as NAME=UNIT (runs journalctl --output=json); repeatable.").PlaceHolder("NAME=UNIT").StringsVar(&journals)
	runCmd.Flag("source.journalctl", "The journalctl command for --source.journal.").Default("journalctl").Hidden().StringVar(&cfg.Journalctl)
	runCmd.Flag("source.from-beginning", "On a first start (no state), read the files from their start instead of their end.").BoolVar(&cfg.FromBeginning)
	runCmd.Flag("state.file", "Checkpoint file: every open file's position, the retry tracker and every metric value.").Default("/var/lib/bouncewatch/state").StringVar(&cfg.StateFile)
	runCmd.Flag("state.interval", "How often to write the checkpoint.").Default("10s").DurationVar(&cfg.StateInterval)
	runCmd.Flag("tail.poll", "How often to look at each log for new lines and rotations; a scrape of /metrics and the status page also read each log to its end first.").Default("2s").DurationVar(&cfg.Poll)
	runCmd.Flag("tail.inotify", "Also wake on inotify events in each log's directory, for lower latency (Linux; polling goes on as the safety net).").BoolVar(&cfg.Inotify)
	runCmd.Flag("tail.rotate-wait", "How long a rotated-away log must be quiet before it is let go (syslog daemons write to it until signalled).").Default("5s").DurationVar(&cfg.RotateWait)
	runCmd.Flag("web.telemetry-path", "Path under which to expose the metrics.").Default("/metrics").StringVar(&cfg.TelemetryPath)
	runCmd.Flag("web.enable-lifecycle", "Enable POST /-/reload (as in Prometheus).").BoolVar(&cfg.EnableLifecycle)
	cfg.Web = kingpinflag.AddFlags(runCmd, ":9467")

	reportCmd := app.Command("report", "Read finished log files (plain, .gz, - for stdin) as one stream, in the order of their first log times, and summarise them.")
	reportFormat := reportCmd.Flag("format", "Output format: text, json, prometheus, or html (one self-contained page with charts).").Default("text").Enum("text", "json", "prometheus", "html")
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
		cfg.RulesFile = *configFile
		if cfg.StateInterval <= 0 {
			return &exitError{2, fmt.Errorf("--state.interval must be positive")}
		}
		sources, err := parseSources(files, journals)
		if err != nil {
			return &exitError{2, err}
		}
		cfg.Sources = sources
		cfg.Logger = promslog.New(logConfig)
		cfg.Logger.Info("starting bouncewatch", "version", version.Info())
		return daemon.Main(ctx, cfg)
	case reportCmd.FullCommand():
		// A report's live heap is small (the rules, the tracker, the
		// per-domain figures) and it allocates next to nothing per line, so
		// collecting at half the default growth holds its peak RSS down
		// (by about 1.5 MiB) at no measurable CPU cost. GOGC still wins.
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(50)
		}
		rs, err := bouncewatch.LoadRules(*configFile)
		if err != nil {
			return err
		}
		return runReport(ctx, rs, *reportSource, *reportFormat, *reportFiles, stdin, stdout, stderr)
	case checkCmd.FullCommand():
		rs, err := bouncewatch.LoadRules(*configFile)
		if err != nil {
			return err
		}
		return runCheck(ctx, rs, *checkFiles, *checkSamples, stdin, stdout)
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// parseSources reads --source.file=NAME=PATH and --source.journal=NAME=UNIT.
func parseSources(files, journals []string) ([]daemon.SourceConfig, error) {
	var out []daemon.SourceConfig
	seen := map[string]bool{}
	for _, f := range []struct {
		flag, what, example string
		kind                daemon.Kind
		specs               []string
	}{
		{"--source.file", "PATH", "postfix=/var/log/mail.log", daemon.File, files},
		{"--source.journal", "UNIT", "postfix=postfix@-.service", daemon.Journal, journals},
	} {
		for _, spec := range f.specs {
			name, target, ok := strings.Cut(spec, "=")
			if !ok || name == "" || target == "" {
				return nil, fmt.Errorf("%s=%q: want NAME=%s, e.g. %s=%s", f.flag, spec, f.what, f.flag, f.example)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s: the source name %q is used twice", f.flag, name)
			}
			seen[name] = true
			kind := f.kind
			if kind == daemon.File && target == "-" {
				kind = daemon.Stdin
			}
			out = append(out, daemon.SourceConfig{Name: name, Kind: kind, Target: target})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no log source: give --source.file=NAME=PATH (e.g. --source.file=postfix=/var/log/mail.log) or --source.journal=NAME=UNIT")
	}
	return out, nil
}
