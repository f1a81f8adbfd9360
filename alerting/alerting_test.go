package alerting

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/testenv"
	"go.yaml.in/yaml/v3"
)

// The files under test, relative to this package's directory (go test's
// working directory).
const (
	rulesFile         = "bouncewatch.rules.yml"
	rulesTestFile     = "bouncewatch.rules.test.yml"
	recordingFile     = "bouncewatch.recording.yml"
	recordingTestFile = "bouncewatch.recording.test.yml"
	readmeFile        = "../README.md"
	dashboardFile     = "../deploy/grafana/bouncewatch.json"
	promConfig        = "../deploy/prometheus/prometheus.yml"
	agentConfig       = "../deploy/prometheus/agent.yml"
	centralConfig     = "../deploy/prometheus/central.yml"
	k8sFile           = "../deploy/kubernetes/bouncewatch-sidecar.yaml"
	dockerfile        = "../deploy/Dockerfile"
	buildImageScript  = "../deploy/build-image.sh"
	imagePasswd       = "../deploy/image/etc/passwd"
	imageGroup        = "../deploy/image/etc/group"
)

// requiredAlerts are the alerts the README and the end-to-end test rely on.
var requiredAlerts = []string{
	"BouncewatchRepeated432",
	"BouncewatchRateLimited",
	"BouncewatchBlocked",
	"BouncewatchAuthFailuresRising",
	"BouncewatchDomainDeferringLong",
	"BouncewatchRetrySuccessLow",
	"BouncewatchBounceSpike",
	"BouncewatchLogStale",
	"BouncewatchRulesReloadFailed",
	"BouncewatchLabelOverflow",
	"BouncewatchCheckpointFailing",
}

// promtoolPath finds promtool: a failure on CI, a skip elsewhere.
func promtoolPath(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, "promtool", "apt-get install -y prometheus")
}

// runPromtool runs promtool in dir and fails the test with its output unless
// it exits 0.
func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtoolPath(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	for _, f := range []string{rulesFile, recordingFile} {
		out := runPromtool(t, ".", "check", "rules", f)
		if !strings.Contains(out, "SUCCESS") {
			t.Errorf("want SUCCESS from promtool check rules %s, got:\n%s", f, out)
		}
	}
}

func TestPromtoolTestRules(t *testing.T) {
	for _, f := range []string{rulesTestFile, recordingTestFile} {
		out := runPromtool(t, ".", "test", "rules", f)
		if !strings.Contains(out, "SUCCESS") {
			t.Errorf("want SUCCESS from promtool test rules %s, got:\n%s", f, out)
		}
	}
}

// TestPromtoolCheckConfig checks the scrape config example from the
// repository root, as its comment says, which also checks the rule file it
// names; and that it names the shipped rules.
func TestPromtoolCheckConfig(t *testing.T) {
	type scrapeConfig struct {
		JobName        string `yaml:"job_name"`
		ScrapeInterval string `yaml:"scrape_interval"`
		StaticConfigs  []struct {
			Targets []string
		} `yaml:"static_configs"`
	}
	var cfg struct {
		RuleFiles     []string       `yaml:"rule_files"`
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	decodeYAML(t, promConfig, &cfg)
	if len(cfg.RuleFiles) != 1 {
		t.Fatalf("want 1 rule file in %s, got %q", promConfig, cfg.RuleFiles)
	}
	sameFile(t, filepath.Join(filepath.Dir(promConfig), cfg.RuleFiles[0]), rulesFile)
	i := slices.IndexFunc(cfg.ScrapeConfigs, func(sc scrapeConfig) bool { return sc.JobName == "bouncewatch" })
	if i < 0 {
		t.Fatalf("%s: want a scrape config with job_name bouncewatch (BouncewatchDown selects it)", promConfig)
	}
	if got := cfg.ScrapeConfigs[i].ScrapeInterval; got != "15s" {
		t.Errorf("%s: job bouncewatch: want scrape_interval 15s, got %q", promConfig, got)
	}
	for _, sc := range cfg.ScrapeConfigs[i].StaticConfigs {
		for _, target := range sc.Targets {
			if !strings.HasSuffix(target, ":9467") {
				t.Errorf("%s: target %q: want bouncewatch's port 9467", promConfig, target)
			}
		}
	}

	out := runPromtool(t, "..", "check", "config", filepath.Join("deploy", "prometheus", "prometheus.yml"))
	if !strings.Contains(out, "SUCCESS: 1 rule files found") {
		t.Errorf("want promtool check config to find and check 1 rule file, got:\n%s", out)
	}
}

// TestPromtoolCheckFleetConfigs checks the fleet examples from the
// repository root: agent.yml as an agent-mode config (a bouncewatch job that
// remote-writes), central.yml with both rule files (which promtool checks
// too) and no bouncewatch job of its own.
func TestPromtoolCheckFleetConfigs(t *testing.T) {
	type fleetConfig struct {
		Global struct {
			ExternalLabels map[string]string `yaml:"external_labels"`
		}
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
		RemoteWrite []struct {
			URL string
		} `yaml:"remote_write"`
	}

	var agent fleetConfig
	decodeYAML(t, agentConfig, &agent)
	if len(agent.RuleFiles) != 0 {
		t.Errorf("%s: an agent evaluates no rules, got rule_files %q", agentConfig, agent.RuleFiles)
	}
	if len(agent.Global.ExternalLabels) != 0 {
		t.Errorf("%s: want no external label per host (the fleet rules sum without instance only), got %v", agentConfig, agent.Global.ExternalLabels)
	}
	if len(agent.ScrapeConfigs) != 1 || agent.ScrapeConfigs[0].JobName != "bouncewatch" {
		t.Errorf("%s: want one scrape config, job_name bouncewatch", agentConfig)
	} else {
		for _, sc := range agent.ScrapeConfigs[0].StaticConfigs {
			for _, target := range sc.Targets {
				if !strings.HasSuffix(target, ":9467") || strings.HasPrefix(target, "localhost:") || strings.HasPrefix(target, "127.") {
					t.Errorf("%s: target %q: want the host's own name and bouncewatch's port 9467", agentConfig, target)
				}
			}
		}
	}
	if len(agent.RemoteWrite) != 1 || !strings.HasSuffix(agent.RemoteWrite[0].URL, "/api/v1/write") {
		t.Errorf("%s: want one remote_write to a Prometheus's /api/v1/write, got %+v", agentConfig, agent.RemoteWrite)
	}
	out := runPromtool(t, "..", "check", "config", "--agent", filepath.Join("deploy", "prometheus", "agent.yml"))
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check config --agent %s: want SUCCESS, got:\n%s", agentConfig, out)
	}

	var central fleetConfig
	decodeYAML(t, centralConfig, &central)
	if len(central.RuleFiles) != 2 {
		t.Fatalf("%s: want 2 rule files (alerts and fleet recording rules), got %q", centralConfig, central.RuleFiles)
	}
	sameFile(t, filepath.Join(filepath.Dir(centralConfig), central.RuleFiles[0]), rulesFile)
	sameFile(t, filepath.Join(filepath.Dir(centralConfig), central.RuleFiles[1]), recordingFile)
	for _, sc := range central.ScrapeConfigs {
		if sc.JobName == "bouncewatch" {
			t.Errorf("%s: the agents scrape bouncewatch; a job bouncewatch here would duplicate its series", centralConfig)
		}
	}
	out = runPromtool(t, "..", "check", "config", filepath.Join("deploy", "prometheus", "central.yml"))
	if !strings.Contains(out, "SUCCESS: 2 rule files found") {
		t.Errorf("want promtool check config to find and check 2 rule files in %s, got:\n%s", centralConfig, out)
	}
}

// metricDoc is one row of README.md's metrics table.
type metricDoc struct {
	typ    string
	labels []string
}

// readmeMetrics parses the table under "## Metrics" in README.md: the
// public names. Histograms also give their _bucket, _sum and _count series.
func readmeMetrics(t *testing.T) map[string]metricDoc {
	t.Helper()
	f, err := os.Open(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]metricDoc{}
	inSection := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inSection = strings.TrimSpace(line) == "## Metrics"
			continue
		}
		if !inSection || !strings.HasPrefix(line, "|") {
			continue
		}
		row := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "|"), "|")
		cells := strings.Split(row, "|")
		if len(cells) < 3 {
			continue
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if !regexp.MustCompile(`^bouncewatch_[a-z0-9_]+$`).MatchString(cells[0]) {
			continue
		}
		var labels []string
		for _, l := range strings.Split(cells[2], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
				labels = append(labels, l)
			}
		}
		typ := strings.Fields(cells[1] + " ?")[0]
		names[cells[0]] = metricDoc{typ: typ, labels: labels}
		if typ == "histogram" {
			names[cells[0]+"_bucket"] = metricDoc{typ: "histogram_bucket", labels: append(slices.Clip(labels), "le")}
			names[cells[0]+"_sum"] = metricDoc{typ: "histogram_sum", labels: labels}
			names[cells[0]+"_count"] = metricDoc{typ: "histogram_count", labels: labels}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// A guard against a table this parser no longer understands.
	for _, want := range []string{"bouncewatch_domain_events_total", "bouncewatch_resolution_seconds_bucket", "bouncewatch_config_last_reload_successful"} {
		if _, ok := names[want]; !ok {
			t.Fatalf("%s: %s not found in the table under \"## Metrics\" (%d names parsed): has the table's layout changed?", readmeFile, want, len(names))
		}
	}
	return names
}

var (
	metricNameRE = regexp.MustCompile(`bouncewatch_[a-zA-Z0-9_]*`)
	selectorRE   = regexp.MustCompile(`(bouncewatch_[a-zA-Z0-9_]+)\s*\{([^{}]*)\}`)
	matcherRE    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	groupingRE   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)`)
)

// scrapeLabels are added by Prometheus to every scraped series.
var scrapeLabels = []string{"instance", "job"}

// checkNames reports every bouncewatch_ name in text that is not in the
// README's table.
func checkNames(t *testing.T, file, text string, known map[string]metricDoc) {
	t.Helper()
	seen := map[string]bool{}
	for _, name := range metricNameRE.FindAllString(text, -1) {
		if seen[name] {
			continue
		}
		seen[name] = true
		if _, ok := known[name]; !ok {
			t.Errorf("%s uses %s, which is not in README.md's metrics table", file, name)
		}
	}
	if len(seen) == 0 {
		t.Errorf("%s uses no bouncewatch_ metric at all", file)
	}
}

// checkLabels reports label names in selectors and in by/on/... clauses of a
// PromQL expression that no bouncewatch metric has. It returns the matchers
// of each selector, by metric name, for further checks.
func checkLabels(t *testing.T, where, expr string, known map[string]metricDoc) [][]string {
	t.Helper()
	allLabels := map[string]bool{"le": true}
	for _, l := range scrapeLabels {
		allLabels[l] = true
	}
	for _, m := range known {
		for _, l := range m.labels {
			allLabels[l] = true
		}
	}
	var selectors [][]string
	for _, sel := range selectorRE.FindAllStringSubmatch(expr, -1) {
		name, body := sel[1], sel[2]
		doc, ok := known[name]
		if !ok {
			continue // reported by checkNames
		}
		matchers := matcherRE.FindAllStringSubmatch(body, -1)
		if rest := strings.Trim(matcherRE.ReplaceAllString(body, ""), " ,"); rest != "" {
			t.Errorf("%s: %s{%s}: cannot read the matchers (left over: %q)", where, name, body, rest)
		}
		entry := []string{name}
		for _, m := range matchers {
			if !slices.Contains(doc.labels, m[1]) && !slices.Contains(scrapeLabels, m[1]) {
				t.Errorf("%s: %s has no label %q (README: %s)", where, name, m[1], strings.Join(doc.labels, ", "))
			}
			entry = append(entry, m[1]+m[2]+`"`+m[3]+`"`)
		}
		selectors = append(selectors, entry)
	}
	for _, g := range groupingRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !allLabels[l] {
				t.Errorf("%s: grouping by %q, a label no bouncewatch metric has", where, l)
			}
		}
	}
	return selectors
}

type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Record      string
			Expr        string
			For         string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

type unitTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name        string
		InputSeries []struct {
			Series string
			Values string
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	}
}

// TestRulesUseDocumentedMetrics: every metric name in the rules and their
// unit tests is a public name from README.md, every label used exists, and
// every input series of the unit tests has exactly the labels a scrape gives.
// The recording rules' own names (level:metric:operations) contain
// bouncewatch_ but are not bouncewatch's metrics.
var recordedNameRE = regexp.MustCompile(`[a-zA-Z0-9_]*:[a-zA-Z0-9_]+:[a-zA-Z0-9_]+`)

func TestRulesUseDocumentedMetrics(t *testing.T) {
	known := readmeMetrics(t)
	for _, f := range []string{rulesFile, rulesTestFile, recordingFile, recordingTestFile} {
		checkNames(t, f, recordedNameRE.ReplaceAllString(readFile(t, f), ""), known)
	}

	for _, f := range []string{rulesFile, recordingFile} {
		var rules ruleFile
		decodeYAML(t, f, &rules)
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				checkLabels(t, f+": "+r.Alert+r.Record, r.Expr, known)
			}
		}
	}

	seriesRE := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$`)
	for _, f := range []string{rulesTestFile, recordingTestFile} {
		var tests unitTestFile
		decodeYAML(t, f, &tests)
		for _, tc := range tests.Tests {
			for _, in := range tc.InputSeries {
				m := seriesRE.FindStringSubmatch(in.Series)
				if m == nil {
					t.Errorf("%s: test %q: cannot read series %q", f, tc.Name, in.Series)
					continue
				}
				var want []string
				if doc, ok := known[m[1]]; ok {
					want = append(slices.Clone(doc.labels), scrapeLabels...)
				} else if m[1] == "up" {
					// up joins a target's series by their target labels.
					want = slices.Clone(scrapeLabels)
				} else {
					continue // reported by checkNames
				}
				var got []string
				for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
					got = append(got, mm[1])
				}
				sort.Strings(got)
				sort.Strings(want)
				if !slices.Equal(want, got) {
					t.Errorf("%s: test %q: series %s: want labels %v, got %v", f, tc.Name, in.Series, want, got)
				}
			}
		}
	}
}

// TestRecordingRules: the fleet rules are recording rules named
// level:metric:operations, where level is the bouncewatch labels the result
// keeps and metric a bouncewatch metric (without _total), and each recorded
// name has a unit test.
func TestRecordingRules(t *testing.T) {
	known := readmeMetrics(t)
	labels := map[string]bool{}
	for _, m := range known {
		for _, l := range m.labels {
			labels[l] = true
		}
	}
	var rules ruleFile
	decodeYAML(t, recordingFile, &rules)
	if len(rules.Groups) != 1 || rules.Groups[0].Name != "bouncewatch-fleet" {
		t.Fatalf("%s: want one group named bouncewatch-fleet, got %d groups", recordingFile, len(rules.Groups))
	}
	nameRE := regexp.MustCompile(`^([a-z_]*):(bouncewatch_[a-z0-9_]+):([a-z0-9_]+)$`)
	var records []string
	for _, r := range rules.Groups[0].Rules {
		if r.Record == "" {
			t.Errorf("%s: alert %q: want only recording rules here (alerts are in %s)", recordingFile, r.Alert, rulesFile)
			continue
		}
		if slices.Contains(records, r.Record) {
			t.Errorf("%s: %s recorded twice", recordingFile, r.Record)
		}
		records = append(records, r.Record)
		m := nameRE.FindStringSubmatch(r.Record)
		if m == nil {
			t.Errorf("%s: %s: want level:bouncewatch_metric:operations", recordingFile, r.Record)
			continue
		}
		if strings.HasSuffix(m[2], "_total") {
			t.Errorf("%s: %s: drop _total from the metric part (convention for rate and increase)", recordingFile, r.Record)
		}
		if m[1] != "" {
			for _, l := range strings.Split(m[1], "_") {
				if !labels[l] {
					t.Errorf("%s: %s: level %q names %q, which is no bouncewatch label", recordingFile, r.Record, m[1], l)
				}
			}
		}
	}

	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			Name           string
			PromqlExprTest []struct {
				Expr string
			} `yaml:"promql_expr_test"`
		}
	}
	decodeYAML(t, recordingTestFile, &tests)
	if !slices.Equal(tests.RuleFiles, []string{recordingFile}) {
		t.Errorf("%s: want rule_files [%s], got %q", recordingTestFile, recordingFile, tests.RuleFiles)
	}
	tested := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, e := range tc.PromqlExprTest {
			for _, name := range recordedNameRE.FindAllString(e.Expr, -1) {
				tested[name] = true
			}
		}
	}
	for _, r := range records {
		if !tested[r] {
			t.Errorf("%s: no promql_expr_test for %s", recordingTestFile, r)
		}
	}
}

// TestRulesAreActionableAndTested: the required alerts exist, each has a
// severity and the annotations a person on call reads, and the unit tests
// have, for every alert, a case where it fires and one where it does not.
func TestRulesAreActionableAndTested(t *testing.T) {
	var rules ruleFile
	decodeYAML(t, rulesFile, &rules)
	if len(rules.Groups) != 1 || rules.Groups[0].Name != "bouncewatch" {
		t.Fatalf("%s: want one group named bouncewatch, got %d groups", rulesFile, len(rules.Groups))
	}
	var alerts []string
	for _, r := range rules.Groups[0].Rules {
		if r.Alert == "" {
			t.Errorf("%s: rule %q is not an alert", rulesFile, r.Record)
			continue
		}
		if slices.Contains(alerts, r.Alert) {
			t.Errorf("%s: alert %s defined twice", rulesFile, r.Alert)
		}
		alerts = append(alerts, r.Alert)
		if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
			t.Errorf("%s: %s: want severity critical, warning or info, got %q", rulesFile, r.Alert, s)
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: %s: no %s annotation", rulesFile, r.Alert, a)
			}
		}
	}
	for _, want := range requiredAlerts {
		if !slices.Contains(alerts, want) {
			t.Errorf("%s: alert %s is missing", rulesFile, want)
		}
	}

	var tests unitTestFile
	decodeYAML(t, rulesTestFile, &tests)
	if !slices.Equal(tests.RuleFiles, []string{rulesFile}) {
		t.Errorf("%s: want rule_files [%s], got %q", rulesTestFile, rulesFile, tests.RuleFiles)
	}
	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tests.Tests {
		for _, at := range tc.AlertRuleTest {
			if !slices.Contains(alerts, at.Alertname) {
				t.Errorf("%s: test %q: alert %q is not in %s", rulesTestFile, tc.Name, at.Alertname, rulesFile)
			}
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname]++
			} else {
				quiet[at.Alertname]++
			}
		}
	}
	for _, a := range alerts {
		if fires[a] == 0 {
			t.Errorf("%s: no case where %s fires", rulesTestFile, a)
		}
		if quiet[a] == 0 {
			t.Errorf("%s: no case where %s does not fire", rulesTestFile, a)
		}
	}
}

// TestDashboard: the Grafana dashboard is valid JSON, takes its data source
// from ${DS_PROMETHEUS}, has the instance and source variables, filters
// every query by them, and uses only documented metrics and labels.
func TestDashboard(t *testing.T) {
	known := readmeMetrics(t)
	raw := readFile(t, dashboardFile)
	var dash struct {
		Title         string
		UID           string
		SchemaVersion int `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name       string
				Type       string
				Definition string
				Datasource struct{ UID string }
			}
		}
		Panels []grafanaPanel
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("%s: not valid JSON: %v", dashboardFile, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: data after the dashboard object", dashboardFile)
	}
	if dash.SchemaVersion < 39 || dash.UID == "" || dash.Title == "" {
		t.Errorf("%s: want schemaVersion >= 39, a uid and a title; got %d, %q, %q", dashboardFile, dash.SchemaVersion, dash.UID, dash.Title)
	}
	checkNames(t, dashboardFile, raw, known)

	vars := map[string]string{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && v.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("%s: variable %s: want datasource uid ${DS_PROMETHEUS}, got %q", dashboardFile, v.Name, v.Datasource.UID)
		}
		if v.Definition != "" {
			checkNames(t, dashboardFile+": variable "+v.Name, v.Definition, known)
		}
	}
	for name, typ := range map[string]string{"DS_PROMETHEUS": "datasource", "instance": "query", "source": "query"} {
		if vars[name] != typ {
			t.Errorf("%s: want a %s variable %q, got %q", dashboardFile, typ, name, vars[name])
		}
	}

	var panels []grafanaPanel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			panels = append(panels, p)
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	ids := map[int]bool{}
	type query struct{ where, expr string }
	var queries []query
	for _, p := range panels {
		where := fmt.Sprintf("%s: panel %d %q", dashboardFile, p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: duplicate panel id", where)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("%s: want datasource uid ${DS_PROMETHEUS}, got %q", where, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("%s: target %s: want datasource uid ${DS_PROMETHEUS}, got %q", where, tg.RefID, tg.Datasource.UID)
			}
			queries = append(queries, query{where + " " + tg.RefID, tg.Expr})
		}
	}
	for _, want := range []string{
		"bouncewatch_events_total", "bouncewatch_domain_events_total", "bouncewatch_resolution_seconds_bucket",
		"bouncewatch_retry_outcomes_total", "bouncewatch_events_by_hour_total",
		"bouncewatch_domain_deferred_recipients", "bouncewatch_domain_oldest_deferral_timestamp_seconds",
	} {
		if !slices.ContainsFunc(queries, func(q query) bool { return strings.Contains(q.expr, want+"{") }) {
			t.Errorf("%s: no panel queries %s", dashboardFile, want)
		}
	}

	for _, q := range queries {
		selectors := checkLabels(t, q.where, q.expr, known)
		if n := len(metricNameRE.FindAllString(q.expr, -1)); n != len(selectors) {
			t.Errorf("%s: %d metric names but %d selectors with {...}: every metric must be filtered by $instance: %s", q.where, n, len(selectors), q.expr)
		}
		for _, sel := range selectors {
			name, matchers := sel[0], sel[1:]
			if !slices.Contains(matchers, `instance=~"$instance"`) {
				t.Errorf("%s: %s: want instance=~\"$instance\"", q.where, name)
			}
			if slices.Contains(known[name].labels, "source") && !slices.Contains(matchers, `source=~"$source"`) {
				t.Errorf("%s: %s: want source=~\"$source\"", q.where, name)
			}
		}
	}

	// The queries are valid PromQL: promtool checks them as recording rules,
	// with Grafana's variables replaced by values.
	expand := strings.NewReplacer(
		"$__rate_interval", "1m", "$__range", "1d", "$window", "6h",
		"$instance", ".*", "$source", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range queries {
		expr, err := json.Marshal(expand.Replace(q.expr)) // a JSON string is a YAML string
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %s\n", i, expr)
	}
	if strings.Contains(rules.String(), "$") {
		t.Errorf("%s: a Grafana variable is left unexpanded:\n%s", dashboardFile, rules.String())
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.rules.yml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runPromtool(t, dir, "check", "rules", "dashboard.rules.yml")
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(queries)); !strings.Contains(out, want) {
		t.Errorf("promtool check rules on the dashboard's queries: want %q, got:\n%s", want, out)
	}
}

type grafanaPanel struct {
	ID         int
	Type       string
	Title      string
	Datasource struct{ UID string }
	Targets    []struct {
		RefID      string `json:"refId"`
		Expr       string
		Datasource struct{ UID string }
	}
	Panels []grafanaPanel
}

type k8sContainer struct {
	Name  string
	Image string
	Args  []string
	Ports []struct {
		ContainerPort int `yaml:"containerPort"`
	}
	VolumeMounts []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	// SecurityContext fields are pointers: unset is not false.
	SecurityContext *struct {
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		RunAsGroup               *int64 `yaml:"runAsGroup"`
		ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		Capabilities             *struct {
			Drop []string
		}
	} `yaml:"securityContext"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string
		Port any
	} `yaml:"httpGet"`
}

type k8sDoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string
	Metadata   struct {
		Name        string
		Annotations map[string]string
	}
	Spec struct {
		// Deployment
		Template struct {
			Metadata struct {
				Annotations map[string]string
			}
			Spec struct {
				Containers []k8sContainer
				Volumes    []struct {
					Name                  string
					EmptyDir              *map[string]any `yaml:"emptyDir"`
					PersistentVolumeClaim *map[string]any `yaml:"persistentVolumeClaim"`
				}
			}
		}
		// Service
		Ports []struct {
			Port int
		}
	}
}

// TestKubernetesSidecar: the example parses, and the bouncewatch sidecar
// reads the MTA's log volume read-only, keeps its state on a volume of its
// own, runs hardened, is probed on /-/healthy and /-/ready, and is scraped.
func TestKubernetesSidecar(t *testing.T) {
	readme := readFile(t, readmeFile)
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, k8sFile)))
	var docs []k8sDoc
	for {
		var d k8sDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", k8sFile, len(docs)+1, err)
		}
		if d.APIVersion == "" || d.Kind == "" || d.Metadata.Name == "" {
			t.Errorf("%s: document %d: want apiVersion, kind and metadata.name", k8sFile, len(docs)+1)
		}
		docs = append(docs, d)
	}
	kinds := func(kind string) []k8sDoc {
		var out []k8sDoc
		for _, d := range docs {
			if d.Kind == kind {
				out = append(out, d)
			}
		}
		return out
	}
	deps := kinds("Deployment")
	if len(deps) != 1 {
		t.Fatalf("%s: want 1 Deployment, got %d", k8sFile, len(deps))
	}
	pod := deps[0].Spec.Template
	var bw, mta *k8sContainer
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Name == "bouncewatch" {
			bw = c
		} else {
			mta = c
		}
	}
	if bw == nil || mta == nil {
		t.Fatalf("%s: want a bouncewatch container and an MTA container", k8sFile)
	}
	volumes := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.EmptyDir != nil:
			volumes[v.Name] = "emptyDir"
		case v.PersistentVolumeClaim != nil:
			volumes[v.Name] = "persistentVolumeClaim"
		default:
			volumes[v.Name] = "other"
		}
	}
	mounts := func(c *k8sContainer, volume string) (path string, readOnly, ok bool) {
		for _, m := range c.VolumeMounts {
			if m.Name == volume {
				return m.MountPath, m.ReadOnly, true
			}
		}
		return "", false, false
	}

	if volumes["maillog"] != "emptyDir" {
		t.Errorf("want an emptyDir volume maillog, got %q", volumes["maillog"])
	}
	if _, ro, ok := mounts(mta, "maillog"); !ok || ro {
		t.Errorf("%s container: want maillog mounted read-write (it writes the log)", mta.Name)
	}
	logDir, ro, ok := mounts(bw, "maillog")
	if !ok || !ro {
		t.Errorf("bouncewatch: want maillog mounted readOnly, got mounted=%v readOnly=%v", ok, ro)
	}
	stateDir := ""
	for _, m := range bw.VolumeMounts {
		if m.MountPath == "/var/lib/bouncewatch" {
			stateDir = m.MountPath
			if m.ReadOnly {
				t.Errorf("bouncewatch: the state volume must be writable")
			}
			if k := volumes[m.Name]; k != "emptyDir" && k != "persistentVolumeClaim" {
				t.Errorf("bouncewatch: state volume %q: want an emptyDir or a PVC, got %q", m.Name, k)
			}
		}
	}
	if stateDir == "" {
		t.Errorf("bouncewatch: want a volume mounted at /var/lib/bouncewatch")
	}

	var haveSource, haveState bool
	for _, a := range bw.Args {
		if strings.HasPrefix(a, "--") {
			flag, _, _ := strings.Cut(a, "=")
			if !strings.Contains(readme, "`"+flag) {
				t.Errorf("bouncewatch: flag %s is not in README.md's flag table", flag)
			}
		}
		if v, ok := strings.CutPrefix(a, "--source.file="); ok {
			_, path, _ := strings.Cut(v, "=")
			haveSource = true
			if logDir == "" || !strings.HasPrefix(path, logDir+"/") {
				t.Errorf("bouncewatch: --source.file path %q is not on the maillog volume (%q)", path, logDir)
			}
		}
		if v, ok := strings.CutPrefix(a, "--state.file="); ok {
			haveState = true
			if stateDir == "" || !strings.HasPrefix(v, stateDir+"/") {
				t.Errorf("bouncewatch: --state.file %q is not on the state volume", v)
			}
		}
	}
	if !haveSource || !haveState {
		t.Errorf("bouncewatch: want --source.file and --state.file in args, got %q", bw.Args)
	}

	// The image (deploy/Dockerfile): its entry point is the binary, so args
	// start with the command; its VOLUME is the state mount; its USER is the
	// securityContext's.
	img := parseDockerfile(t)
	if img.Entrypoint != `["/usr/local/bin/bouncewatch"]` || len(bw.Args) == 0 || bw.Args[0] != "run" {
		t.Errorf("bouncewatch: want the image's ENTRYPOINT [\"/usr/local/bin/bouncewatch\"] and args starting with run, got %s and %q", img.Entrypoint, bw.Args)
	}
	if stateDir != "" && !slices.Contains(img.Volumes, stateDir) {
		t.Errorf("bouncewatch: the state volume %s is not a VOLUME of %s (%q)", stateDir, dockerfile, img.Volumes)
	}
	uid, gid := img.userIDs(t)
	sc := bw.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("bouncewatch: no securityContext")
	default:
		if sc.RunAsUser == nil || *sc.RunAsUser != uid || sc.RunAsGroup == nil || *sc.RunAsGroup != gid {
			t.Errorf("bouncewatch: want runAsUser %d and runAsGroup %d, the USER of %s", uid, gid, dockerfile)
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("bouncewatch: want runAsNonRoot: true")
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("bouncewatch: runAsUser 0")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("bouncewatch: want readOnlyRootFilesystem: true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("bouncewatch: want allowPrivilegeEscalation: false")
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("bouncewatch: want capabilities.drop [ALL]")
		}
	}
	for _, p := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{{"livenessProbe", bw.LivenessProbe, "/-/healthy"}, {"readinessProbe", bw.ReadinessProbe, "/-/ready"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path {
			t.Errorf("bouncewatch: want %s httpGet %s", p.name, p.path)
		}
	}
	if len(bw.Ports) != 1 || bw.Ports[0].ContainerPort != 9467 {
		t.Errorf("bouncewatch: want one containerPort, 9467")
	}
	if a := pod.Metadata.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9467" {
		t.Errorf("pod template: want prometheus.io/scrape \"true\" and prometheus.io/port \"9467\", got %v", a)
	}
	svcs := kinds("Service")
	if len(svcs) != 1 || len(svcs[0].Spec.Ports) != 1 || svcs[0].Spec.Ports[0].Port != 9467 {
		t.Errorf("%s: want one Service on port 9467", k8sFile)
	}
}

// TestDockerfile: what can be checked without building the image
// (e2e/container_test.go builds and runs it): it needs no registry (FROM
// scratch, and no RUN: scratch has no shell); deploy/build-image.sh prepares
// its build context with a static, trimmed build of the daemon with the zone
// data compiled in; it runs as a non-root USER that its /etc/passwd and
// /etc/group name and that owns the state volume; port and entry point.
func TestDockerfile(t *testing.T) {
	img := parseDockerfile(t)
	script := readFile(t, buildImageScript)
	if !slices.Equal(img.From, []string{"scratch"}) {
		t.Errorf("%s: want one stage, FROM scratch (no registry), got FROM %q", dockerfile, img.From)
	}
	for _, run := range img.Runs {
		t.Errorf("%s: RUN %s: scratch has no shell; prepare the file in %s", dockerfile, run, buildImageScript)
	}
	for _, c := range img.Copies {
		if c.From != "" {
			t.Errorf("%s: COPY --from=%s: there is no other stage", dockerfile, c.From)
		}
		first, _, _ := strings.Cut(c.Src, "/")
		if !strings.Contains(script, `"$ctx/`+first) {
			t.Errorf("%s: COPY %s: %s does not put %s in the build context", dockerfile, c.Src, buildImageScript, first)
		}
	}
	uid, gid := img.userIDs(t)
	for _, want := range []struct {
		path, chown string
	}{
		{"/usr/local/bin/bouncewatch", ""},
		{"/etc/passwd", ""},
		{"/etc/group", ""},
		{"/var/lib/bouncewatch", fmt.Sprintf("%d:%d", uid, gid)},
	} {
		c, ok := img.copied(want.path)
		if !ok {
			t.Errorf("%s: nothing is copied to %s", dockerfile, want.path)
		} else if c.Chown != want.chown {
			t.Errorf("%s: COPY to %s: --chown=%q, want %q", dockerfile, want.path, c.Chown, want.chown)
		}
	}
	if !slices.Contains(img.Volumes, "/var/lib/bouncewatch") {
		t.Errorf("%s: want VOLUME /var/lib/bouncewatch, got %q", dockerfile, img.Volumes)
	}
	if !slices.Contains(img.Expose, "9467") {
		t.Errorf("%s: want EXPOSE 9467", dockerfile)
	}
	if img.Entrypoint != `["/usr/local/bin/bouncewatch"]` {
		t.Errorf("%s: want ENTRYPOINT [\"/usr/local/bin/bouncewatch\"], got %s", dockerfile, img.Entrypoint)
	}
	if !strings.Contains(img.Cmd, `"--state.file=/var/lib/bouncewatch/`) {
		t.Errorf("%s: CMD: want the state file on the volume, got %s", dockerfile, img.Cmd)
	}
	if !strings.Contains(img.Labels, "org.opencontainers.image.source=") {
		t.Errorf("%s: want the OCI label org.opencontainers.image.source", dockerfile)
	}

	// The user and group the image runs as, by name.
	entry := func(path string, idField int, id int64) string {
		for _, line := range strings.Split(readFile(t, path), "\n") {
			f := strings.Split(line, ":")
			if len(f) > idField && f[idField] == strconv.FormatInt(id, 10) {
				return line
			}
		}
		return ""
	}
	if line := entry(imagePasswd, 2, uid); line == "" {
		t.Errorf("%s: no user with the uid %d of USER", imagePasswd, uid)
	} else if f := strings.Split(line, ":"); len(f) != 7 || f[3] != strconv.FormatInt(gid, 10) || f[5] != "/var/lib/bouncewatch" {
		t.Errorf("%s: %q: want 7 fields, gid %d, home /var/lib/bouncewatch", imagePasswd, line, gid)
	}
	if entry(imageGroup, 2, gid) == "" {
		t.Errorf("%s: no group with the gid %d of USER", imageGroup, gid)
	}

	// The binary and the build: static, trimmed, zone data built in (scratch
	// has no /usr/share/zoneinfo), with buildah from this Dockerfile.
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-tags timetzdata", "./cmd/bouncewatch",
		"buildah", "deploy/Dockerfile", "deploy/image/etc/passwd", "deploy/image/etc/group"} {
		if !strings.Contains(script, want) {
			t.Errorf("%s: want %q", buildImageScript, want)
		}
	}
	if out, err := exec.Command("bash", "-n", buildImageScript).CombinedOutput(); err != nil {
		t.Errorf("bash -n %s: %v\n%s", buildImageScript, err, out)
	}
	if fi, err := os.Stat(buildImageScript); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("%s: want an executable file (%v)", buildImageScript, err)
	}
}

// dockerImage is what TestDockerfile and TestKubernetesSidecar read from
// the Dockerfile: the instructions' arguments as written.
type dockerImage struct {
	From, Runs, Volumes, Expose []string
	User, Entrypoint, Cmd       string
	Labels                      string
	Copies                      []dockerCopy
}

type dockerCopy struct {
	From, Chown string
	Src, Dst    string // Dst: the path in the image
}

// parseDockerfile reads the instructions of deploy/Dockerfile: comments and
// line continuations, no parser directives or heredocs.
func parseDockerfile(t *testing.T) dockerImage {
	t.Helper()
	var img dockerImage
	var lines []string
	pending := ""
	for _, line := range strings.Split(readFile(t, dockerfile), "\n") {
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			pending += l + " "
			continue
		}
		lines = append(lines, pending+line)
		pending = ""
	}
	for _, line := range lines {
		op, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		args = strings.TrimSpace(args)
		switch strings.ToUpper(op) {
		case "FROM":
			img.From = append(img.From, args)
		case "RUN":
			img.Runs = append(img.Runs, args)
		case "USER":
			img.User = args
		case "ENTRYPOINT":
			img.Entrypoint = args
		case "CMD":
			img.Cmd = args
		case "LABEL":
			img.Labels += args + " "
		case "EXPOSE":
			img.Expose = append(img.Expose, strings.Fields(args)...)
		case "VOLUME":
			var v []string
			if err := json.Unmarshal([]byte(args), &v); err != nil {
				v = strings.Fields(args)
			}
			img.Volumes = append(img.Volumes, v...)
		case "COPY", "ADD":
			var c dockerCopy
			var paths []string
			for _, f := range strings.Fields(args) {
				switch {
				case strings.HasPrefix(f, "--chown="):
					c.Chown = strings.TrimPrefix(f, "--chown=")
				case strings.HasPrefix(f, "--from="):
					c.From = strings.TrimPrefix(f, "--from=")
				case strings.HasPrefix(f, "--"):
				default:
					paths = append(paths, f)
				}
			}
			if len(paths) < 2 {
				t.Errorf("%s: %s: want sources and a destination", dockerfile, line)
				continue
			}
			dst := paths[len(paths)-1]
			for _, src := range paths[:len(paths)-1] {
				c := c
				c.Src, c.Dst = src, dst
				if strings.HasSuffix(dst, "/") && !strings.HasSuffix(src, "/") {
					c.Dst = dst + filepath.Base(src) // a file into a directory
				}
				c.Dst = strings.TrimSuffix(c.Dst, "/")
				img.Copies = append(img.Copies, c)
			}
		}
	}
	return img
}

// copied returns the COPY that makes path.
func (img dockerImage) copied(path string) (dockerCopy, bool) {
	for _, c := range img.Copies {
		if c.Dst == path {
			return c, true
		}
	}
	return dockerCopy{}, false
}

// userIDs returns USER's numeric uid and gid, failing unless both are
// given, numeric and not root: Kubernetes' runAsNonRoot can check only a
// numeric user.
func (img dockerImage) userIDs(t *testing.T) (uid, gid int64) {
	t.Helper()
	u, g, _ := strings.Cut(img.User, ":")
	uid, err1 := strconv.ParseInt(u, 10, 64)
	gid, err2 := strconv.ParseInt(g, 10, 64)
	if err1 != nil || err2 != nil || uid == 0 || gid == 0 {
		t.Fatalf("%s: want USER uid:gid, numeric and not root, got %q", dockerfile, img.User)
	}
	return uid, gid
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decodeYAML decodes one YAML document, failing on a second one.
func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, path)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: want one YAML document (%v)", path, err)
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(fa, fb) {
		t.Errorf("%s is not %s", a, b)
	}
}
