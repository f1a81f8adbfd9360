//go:build e2e

package e2e

// What TestEndToEnd, TestOutage and TestFleet share: prerequisites, one build of
// bouncewatch, one run of the package installs, running a scenario script, and
// reading the artifacts it leaves (facts.env, expositions, Prometheus answers).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/internal/testenv"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error

	installOnce sync.Once
	installErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// repoRoot is the repository's root (the tests run in e2e/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goTool is the go command that runs the tests: go test puts its GOROOT/bin
// first on the test binary's PATH (Go 1.19+), so a plain lookup finds it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go" // exec then says that it is not found
}

// buildBouncewatch builds ./cmd/bouncewatch once for all the tests of the
// package and returns the binary's path; E2E_BW_BIN names a built one instead.
func buildBouncewatch(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("E2E_BW_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	root := repoRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "bouncewatch-e2e-build-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "bouncewatch")
		cmd := exec.Command(goTool(), "build", "-o", buildBin, "./cmd/bouncewatch")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/bouncewatch: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// requireScenario checks what the scenario scripts need: root, bash, an awk
// with mktime (mawk 1.3.4 or gawk), unshare, and either apt-get (the
// scripts install the rest) or the packages already there. A missing one
// fails the test on CI (CI set) and skips it elsewhere; not being root
// always fails it.
func requireScenario(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the scenario tests must run as root: they install Debian packages and run Postfix and Exim (as root: go test -tags e2e -count=1 -v -timeout 20m ./e2e/)")
	}
	var missing []string
	for _, c := range []string{"bash", "awk", "unshare"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if out, err := exec.Command("awk", `BEGIN { print (mktime("2026 01 02 03 04 05") > 0) }`).Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		missing = append(missing, "an awk with mktime (mawk >= 1.3.4 or gawk)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		for _, c := range []string{"postfix", "rsyslogd", "prometheus", "promtool", "jq", "curl", "ss"} {
			if _, err := exec.LookPath(c); err != nil {
				missing = append(missing, c+" (and no apt-get to install it)")
			}
		}
	}
	if len(missing) > 0 {
		testenv.Missing(t, "missing prerequisites: %s", strings.Join(missing, ", "))
	}
}

// installPackages runs `bash e2e/lib.sh install` once for all the scenario
// tests (the Debian packages and the unpacked Exim); the scripts then run
// with E2E_SKIP_INSTALL=1.
func installPackages(t *testing.T) {
	t.Helper()
	installOnce.Do(func() {
		cmd := exec.Command("bash", filepath.Join(repoRoot(t), "e2e", "lib.sh"), "install")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			installErr = fmt.Errorf("bash e2e/lib.sh install: %v (the FAIL: line above says why)", err)
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
}

// reuse says whether to assert over the artifacts of an earlier run instead
// of running the scenario (E2E_REUSE=1).
func reuse() bool { return os.Getenv("E2E_REUSE") == "1" }

// runScenario runs a scenario script (bash, as root) with its output on the
// test's output, after the installs and the build, and fails the test if it
// exits non-zero (an orchestration failure: its FAIL: line says which).
// need is how long the script takes at most.
func runScenario(t *testing.T, need time.Duration, env []string, script string, args ...string) {
	t.Helper()
	installPackages(t)
	bin := buildBouncewatch(t)
	cmd := exec.CommandContext(t.Context(), "bash", append([]string{script}, args...)...)
	cmd.Env = append(append(os.Environ(), "E2E_SKIP_INSTALL=1", "E2E_BW_BIN="+bin), env...)
	if deadline, ok := t.Deadline(); ok {
		// Leave the script a minute to stop what it started before go test gives up.
		remaining := time.Until(deadline) - time.Minute
		if remaining < need {
			t.Fatalf("go test -timeout leaves %v; %s needs up to %v (use -timeout 20m)", remaining, script, need)
		}
		timer := time.AfterFunc(remaining, func() {
			if cmd.Process != nil {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
		})
		defer timer.Stop()
	}
	// On cancellation the script gets SIGTERM, so that its trap stops the MTAs,
	// bouncewatch and Prometheus by pid.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s failed after %v: %v (an orchestration failure: see the FAIL: line above)", script, time.Since(start).Round(time.Second), err)
	}
	t.Logf("%s: the scenario ran in %v", script, time.Since(start).Round(time.Second))
}

// artifacts is a scenario's result directory.
type artifacts struct {
	dir   string
	facts map[string]string
}

func loadArtifacts(t *testing.T, dir string) *artifacts {
	t.Helper()
	a := &artifacts{dir: dir, facts: map[string]string{}}
	b, err := os.ReadFile(a.path("facts.env"))
	if err != nil {
		t.Fatalf("no scenario facts: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			a.facts[k] = v // the last one wins
		}
	}
	return a
}

func (a *artifacts) path(p ...string) string { return filepath.Join(append([]string{a.dir}, p...)...) }

func (a *artifacts) fact(t *testing.T, key string) string {
	t.Helper()
	v, ok := a.facts[key]
	if !ok {
		t.Fatalf("facts.env has no %s", key)
	}
	return v
}

func (a *artifacts) factFloat(t *testing.T, key string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(a.fact(t, key), 64)
	if err != nil {
		t.Fatalf("facts.env: %s: %v", key, err)
	}
	return f
}

func (a *artifacts) read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(a.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metrics parses an exposition artifact.
func (a *artifacts) metrics(t *testing.T, rel string) exposition.Samples {
	t.Helper()
	s, err := exposition.Parse(bytes.NewReader(a.read(t, rel)))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return s
}

// scrape is one GET /metrics of the scrape poller.
type scrape struct {
	seq    string
	at     float64
	status string
	file   string
}

// scrapes lists scrapes/index.tsv in order.
func (a *artifacts) scrapes(t *testing.T) []scrape {
	t.Helper()
	var out []scrape
	for line := range strings.SplitSeq(strings.TrimSpace(string(a.read(t, "scrapes/index.tsv"))), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("scrapes/index.tsv: bad line %q", line)
		}
		at, _ := strconv.ParseFloat(f[1], 64)
		out = append(out, scrape{seq: f[0], at: at, status: f[2], file: filepath.Join("scrapes", f[0]+".prom")})
	}
	return out
}

// checkCountersNeverDown parses every successful scrape, in order, then the
// final one, and fails for each bouncewatch_ counter (and histogram part)
// that is lower than in the scrape before (across restarts too). It also fails for an HTTP status other than
// 200, 503 (not ready yet) or none (000: bouncewatch stopped).
func checkCountersNeverDown(t *testing.T, a *artifacts, final string) {
	t.Helper()
	var prev exposition.Samples
	prevName := ""
	n := map[string]int{}
	check := func(name string, s exposition.Samples) {
		c := s.Prefix("bouncewatch_").Counters() // the Go and process collectors start again with a process
		if prev != nil {
			if d := exposition.WentDown(prev, c); len(d) > 0 {
				t.Errorf("counters went down from %s to %s (want none): %d series, e.g.\n  %s", prevName, name, len(d), strings.Join(first(d, 10), "\n  "))
			}
		}
		prev, prevName = c, name
	}
	for _, s := range a.scrapes(t) {
		n[s.status]++
		switch s.status {
		case "200":
			check(s.file, a.metrics(t, s.file))
		case "503", "000":
		default:
			t.Errorf("scrape %s: want HTTP 200, 503 (not ready) or no answer, got %s", s.seq, s.status)
		}
	}
	check(final, a.metrics(t, final))
	if n["200"] < 10 {
		t.Errorf("want at least 10 successful scrapes, got %d (%v)", n["200"], n)
	}
	t.Logf("scrapes by HTTP status: %v, then %s; no counter went down", n, final)
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... %d more", len(s)-n))
	}
	return s
}

// parseSeries splits an exposition series key (name{a="x",b="y"}) into its
// name and labels.
func parseSeries(key string) (string, map[string]string) {
	name, rest, ok := strings.Cut(key, "{")
	labels := map[string]string{}
	if !ok {
		return name, labels
	}
	rest = strings.TrimSuffix(rest, "}")
	for rest != "" {
		k, r, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		q, err := strconv.QuotedPrefix(r)
		if err != nil {
			break
		}
		v, _ := strconv.Unquote(q)
		labels[k] = v
		rest = strings.TrimPrefix(r[len(q):], ",")
	}
	return name, labels
}

// table is a flat count keyed by a space-joined tuple ("domain status code").
type table map[string]float64

// group sums the series of metric name that carry every label of match,
// keyed by the values of the labels by; zero values are left out.
func group(s exposition.Samples, name string, match map[string]string, by ...string) table {
	out := table{}
	for k, v := range s {
		n, ls := parseSeries(k)
		if n != name {
			continue
		}
		ok := true
		for mk, mv := range match {
			if ls[mk] != mv {
				ok = false
			}
		}
		if !ok {
			continue
		}
		var key []string
		for _, b := range by {
			key = append(key, ls[b])
		}
		out[strings.Join(key, " ")] += v
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

// diffTables lists, sorted, the keys whose values differ (a missing key is 0).
func diffTables(want, got table) []string {
	var d []string
	for k, v := range want {
		if got[k] != v {
			d = append(d, fmt.Sprintf("%s: want %v, got %v", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			d = append(d, fmt.Sprintf("%s: want 0, got %v", k, v))
		}
	}
	sort.Strings(d)
	return d
}

func (tb table) String() string {
	var ks []string
	for k := range tb {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "\n  %s %v", k, tb[k])
	}
	return b.String()
}

// expectTable fails with the differences when got is not want.
func expectTable(t *testing.T, what string, want, got table) {
	t.Helper()
	if d := diffTables(want, got); len(d) > 0 {
		t.Errorf("%s: want the reference, got %d differences:\n  %s\nwant (reference):%s", what, len(d), strings.Join(d, "\n  "), want)
		return
	}
	t.Logf("%s: %d keys equal the reference:%s", what, len(want), want)
}

// runAwk runs an awk program of e2e/ over files and returns its output
// lines split into fields.
func runAwk(t *testing.T, program string, vars []string, files ...string) [][]string {
	t.Helper()
	args := []string{}
	for _, v := range vars {
		args = append(args, "-v", v)
	}
	args = append(args, "-f", filepath.Join(repoRoot(t), "e2e", "logwords.awk"), "-f", filepath.Join(repoRoot(t), "e2e", program))
	args = append(args, files...)
	cmd := exec.Command("awk", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("awk %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines [][]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.Fields(sc.Text()))
	}
	return lines
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}

// promVector reads a saved /api/v1/query answer (prom/NAME.json).
func promVector(t *testing.T, a *artifacts, name string) []promSample {
	t.Helper()
	var env struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []promSample
		}
	}
	if err := json.Unmarshal(a.read(t, filepath.Join("prom", name+".json")), &env); err != nil {
		t.Fatalf("prom/%s.json: %v", name, err)
	}
	if env.Status != "success" || env.Data.ResultType != "vector" {
		t.Fatalf("prom/%s.json: status %s (%s), result type %s; want success, vector", name, env.Status, env.Error, env.Data.ResultType)
	}
	return env.Data.Result
}

func sampleValue(t *testing.T, s promSample) float64 {
	t.Helper()
	str, _ := s.Value[1].(string)
	return atof(t, str)
}

// checkNoResets checks prom/resets.json: resets() over the run, one series
// per counter series, labelled counter="<name>", all 0, and every counter
// of the final metrics there.
func checkNoResets(t *testing.T, a *artifacts, final exposition.Samples) {
	t.Helper()
	res := promVector(t, a, "resets")
	var bad []string
	seen := map[string]bool{}
	for _, s := range res {
		seen[s.Metric["counter"]] = true
		if v := sampleValue(t, s); v != 0 {
			bad = append(bad, fmt.Sprintf("%v: %v", s.Metric, v))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("resets() over the run: want 0 for every counter, got %d:\n  %s", len(bad), strings.Join(first(bad, 20), "\n  "))
	}
	var missing []string
	for k := range final.Prefix("bouncewatch_").Counters() {
		if n := exposition.Name(k); !seen[n] {
			seen[n] = true
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("resets(): want every counter of the final scrape, got none for %v", missing)
	}
	t.Logf("resets() is 0 for all %d counter series", len(res))
}

// alertPoll is one line of alerts.jsonl.
type alertPoll struct {
	T      float64
	Alerts []promAlert
}

func (a *artifacts) alertPolls(t *testing.T) []alertPoll {
	t.Helper()
	var out []alertPoll
	for line := range strings.SplitSeq(strings.TrimSpace(string(a.read(t, "alerts.jsonl"))), "\n") {
		if line == "" {
			continue
		}
		var p alertPoll
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("alerts.jsonl: %v: %q", err, line)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		t.Fatal("alerts.jsonl: no poll")
	}
	return out
}

func (a *artifacts) finalAlerts(t *testing.T) []promAlert {
	t.Helper()
	var env struct {
		Status string
		Data   struct{ Alerts []promAlert }
	}
	if err := json.Unmarshal(a.read(t, "alerts-final.json"), &env); err != nil || env.Status != "success" {
		t.Fatalf("alerts-final.json: %v (status %q)", err, env.Status)
	}
	return env.Data.Alerts
}

// alertSet is the sorted, distinct "source/domain" (or domain, without
// bySource) of alert name's alerts in the given states.
func alertSet(alerts []promAlert, name string, bySource bool, states ...string) []string {
	seen := map[string]bool{}
	for _, al := range alerts {
		if al.Labels["alertname"] != name {
			continue
		}
		ok := len(states) == 0
		for _, s := range states {
			ok = ok || al.State == s
		}
		if !ok {
			continue
		}
		d, has := al.Labels["domain"]
		if !has {
			d = "<no domain label>"
		}
		if bySource {
			d = al.Labels["source"] + "/" + d
		}
		seen[d] = true
	}
	out := []string{}
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkRulesCopy checks that the loaded alert rules (rules.yml) differ from
// the shipped file only in for: lines.
func checkRulesCopy(t *testing.T, a *artifacts) {
	t.Helper()
	shipped, err := os.ReadFile(filepath.Join(repoRoot(t), "alerting", "bouncewatch.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	loaded := a.read(t, "rules.yml")
	o, c := strings.Split(string(shipped), "\n"), strings.Split(string(loaded), "\n")
	if len(o) != len(c) {
		t.Fatalf("rules.yml has %d lines, the shipped rules %d", len(c), len(o))
	}
	changed := 0
	for i := range o {
		if o[i] == c[i] {
			continue
		}
		if !strings.HasPrefix(strings.TrimSpace(o[i]), "for:") || !strings.HasPrefix(strings.TrimSpace(c[i]), "for:") {
			t.Errorf("line %d: want the shipped %q, got %q (only for: may differ)", i+1, o[i], c[i])
		}
		changed++
	}
	t.Logf("the loaded rules differ from alerting/bouncewatch.rules.yml in %d for: lines only", changed)
}

// near says whether a and b differ by at most tol.
func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
