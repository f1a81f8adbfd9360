//go:build e2e

package e2e

// TestFleet proves the fleet path of deploy/prometheus/ with real parts, as
// a user without root can run them on loopback: two `bouncewatch run`, each
// following its own Postfix log, two Prometheus agents (agent.yml), each
// scraping one bouncewatch every second and remote-writing to a central
// Prometheus (central.yml) that evaluates the shipped alerts (a copy with
// only its for: durations shortened) and the fleet recording rules every
// second. Host A defers a domain never seen before 6 times with 4.3.2, host
// B the same domain 5 times and another one twice; host A's log also holds
// 7 older 4.3.2 deferrals of a third domain, read at its first start with
// --source.from-beginning. Through the central Prometheus's HTTP API:
// the fleet total of the shared domain is 11 (6 + 5, each host's series new,
// counted from its first event), the other 2 and the old one 0, and
// BouncewatchRepeated432 fires once per host for the shared domain and for
// nothing else.
//
//	go test -tags e2e -run TestFleet -count=1 -v ./e2e/     # about 1.5 minutes
//
// It needs /usr/bin/prometheus (Debian's prometheus package, 2.42 in
// bookworm: agent mode and --web.enable-remote-write-receiver); without it
// the test is skipped, unless CI is set.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/testenv"
	"go.yaml.in/yaml/v3"
)

const (
	sharedDomain = "shared.example"  // deferred on both hosts
	twoDomain    = "two.example"     // deferred twice on host B
	histDomain   = "history.example" // deferred 7 times on host A, before bouncewatch's first start
	alertName    = "BouncewatchRepeated432"
	forShortened = "3s"
)

func TestFleet(t *testing.T) {
	prom := testenv.Tool(t, "prometheus", "apt-get install -y prometheus")
	out, err := exec.Command(prom, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", prom, err, out)
	}
	t.Logf("%s", strings.SplitN(string(out), "\n", 2)[0])

	root := repoRoot(t)
	dir := t.TempDir()
	bw := buildBouncewatch(t)

	ports := freePorts(t, 5)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	hosts := []*fleetHost{
		{name: "a", bwAddr: addr(0), agentAddr: addr(2)},
		{name: "b", bwAddr: addr(1), agentAddr: addr(3)},
	}
	central := addr(4)
	tmpl := readTemplates(t, filepath.Join(root, "testdata", "lab", "postfix.log"))

	// Host A's log already has history when bouncewatch first starts: an
	// hour-old delivery and 7 deferrals of histDomain, read with
	// --source.from-beginning before /metrics answers 200.
	var history strings.Builder
	hourAgo := time.Now().Add(-time.Hour)
	history.WriteString(logLine(tmpl.sent, hourAgo, "A0000000A0", "alice@ok.example"))
	for i := range 7 {
		history.WriteString(logLine(tmpl.deferred, hourAgo, fmt.Sprintf("A00000010%d", i), fmt.Sprintf("user%d@%s", i, histDomain)))
	}
	// Host B's log starts with one delivery.
	initial := map[string]string{
		"a": history.String(),
		"b": logLine(tmpl.sent, hourAgo, "B0000000A0", "alice@ok.example"),
	}

	for _, h := range hosts {
		h.log = filepath.Join(dir, "mail-"+h.name+".log")
		if err := os.WriteFile(h.log, []byte(initial[h.name]), 0o644); err != nil {
			t.Fatal(err)
		}
		startProc(t, dir, "bouncewatch-"+h.name, bw, "run",
			"--source.file=postfix="+h.log,
			"--source.from-beginning",
			"--state.file="+filepath.Join(dir, "state-"+h.name+".json"),
			"--web.listen-address="+h.bwAddr)
	}
	for _, h := range hosts {
		waitReady(t, "bouncewatch "+h.name, "http://"+h.bwAddr+"/-/ready")
	}

	// The configurations: deploy/prometheus's examples with this test's
	// addresses and 1 s intervals.
	rulesCopy := shortenFor(t, filepath.Join(root, "alerting", "bouncewatch.rules.yml"), filepath.Join(dir, "bouncewatch.rules.yml"))
	recording := filepath.Join(root, "alerting", "bouncewatch.recording.yml")
	centralCfg := filepath.Join(dir, "central.yml")
	writeCentralConfig(t, filepath.Join(root, "deploy", "prometheus", "central.yml"), centralCfg,
		[]string{rulesCopy, recording}, []string{hosts[0].agentAddr, hosts[1].agentAddr})
	checkConfig(t, centralCfg)
	startProc(t, dir, "prometheus-central", prom,
		"--config.file="+centralCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "central-data"),
		"--web.listen-address="+central,
		"--web.enable-remote-write-receiver",
		"--log.level=warn")
	for _, h := range hosts {
		cfg := filepath.Join(dir, "agent-"+h.name+".yml")
		writeAgentConfig(t, filepath.Join(root, "deploy", "prometheus", "agent.yml"), cfg, h.bwAddr, "http://"+central+"/api/v1/write")
		checkConfig(t, cfg, "--agent")
		startProc(t, dir, "prometheus-agent-"+h.name, prom,
			"--enable-feature=agent",
			"--config.file="+cfg,
			"--storage.agent.path="+filepath.Join(dir, "agent-data-"+h.name),
			"--web.listen-address="+h.agentAddr,
			"--log.level=warn")
	}
	c := &promClient{base: "http://" + central}
	waitReady(t, "central prometheus", c.base+"/-/ready")
	for _, h := range hosts {
		waitReady(t, "agent "+h.name, "http://"+h.agentAddr+"/-/ready")
	}

	// The central Prometheus has a successful scrape of each bouncewatch
	// (through its agent) before the burst, so the burst's series are new
	// there, not part of a target's first scrape.
	eventually(t, "central prometheus has up == 1 for both bouncewatch instances", 90*time.Second, func() (bool, string) {
		res, err := c.query(`up{job="bouncewatch"} == 1`)
		if err != nil {
			return false, err.Error()
		}
		return len(res) == 2, fmt.Sprintf("%d instances up", len(res))
	})
	if res, err := c.query(`bouncewatch_domain_events_total{domain="` + sharedDomain + `"}`); err != nil || len(res) != 0 {
		t.Fatalf("before the burst: want no %s series, got %v (%v)", sharedDomain, res, err)
	}

	// The burst: real Postfix deferral lines, with the current time.
	now := time.Now()
	burst := map[string]string{}
	for i := range 6 {
		burst["a"] += logLine(tmpl.deferred, now, fmt.Sprintf("AB0000020%d", i), fmt.Sprintf("rcpt%d@%s", i, sharedDomain))
	}
	for i := range 5 {
		burst["b"] += logLine(tmpl.deferred, now, fmt.Sprintf("BB0000020%d", i), fmt.Sprintf("rcpt%d@%s", i, sharedDomain))
	}
	for i := range 2 {
		burst["b"] += logLine(tmpl.deferred, now, fmt.Sprintf("BB0000030%d", i), fmt.Sprintf("rcpt%d@%s", i, twoDomain))
	}
	for _, h := range hosts {
		appendFile(t, h.log, burst[h.name])
	}
	burstAt := time.Now()
	t.Logf("appended the burst: host a %d lines, host b %d lines", strings.Count(burst["a"], "\n"), strings.Count(burst["b"], "\n"))

	// Each host's own count reached the central Prometheus by remote write.
	eventually(t, "the central prometheus has each host's deferrals", 60*time.Second, func() (bool, string) {
		got, err := c.values(`sum by (instance, domain) (bouncewatch_domain_events_total{status="deferred", code="4.3.2"})`, "instance", "domain")
		if err != nil {
			return false, err.Error()
		}
		want := map[string]float64{
			hosts[0].bwAddr + " " + sharedDomain: 6, hosts[0].bwAddr + " " + histDomain: 7,
			hosts[1].bwAddr + " " + sharedDomain: 5, hosts[1].bwAddr + " " + twoDomain: 2,
		}
		return maps.Equal(got, want), fmt.Sprintf("got %v, want %v", got, want)
	})

	// The fleet view: recorded totals per domain across both hosts.
	const fleet = `domain_status_code:bouncewatch_domain_events:increase15m{status="deferred", code="4.3.2"}`
	var fleetValues map[string]float64
	eventually(t, "the fleet recording rule gives 11 for "+sharedDomain, 3*time.Minute, func() (bool, string) {
		got, err := c.values(fleet, "domain")
		if err != nil {
			return false, err.Error()
		}
		fleetValues = got
		return got[sharedDomain] == 11 && got[twoDomain] == 2, fmt.Sprintf("%s: %v", fleet, got)
	})
	t.Logf("%.0fs after the burst, %s: %v", time.Since(burstAt).Seconds(), fleet, fleetValues)
	if v, ok := fleetValues[histDomain]; !ok || v != 0 {
		t.Errorf("%s{domain=%q}: want 0 (history read at the first start is no burst), got %v (present %v)", fleet, histDomain, v, ok)
	}
	pending, err := c.values(`domain:bouncewatch_domain_deferred_recipients:sum`, "domain")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("domain:bouncewatch_domain_deferred_recipients:sum: %v", pending)
	if want := map[string]float64{sharedDomain: 11, twoDomain: 2, histDomain: 7}; !maps.Equal(pending, want) {
		t.Errorf("domain:bouncewatch_domain_deferred_recipients:sum: want %v, got %v", want, pending)
	}

	// The alert: once per host for the shared domain, never for the others.
	var firing []promAlert
	eventually(t, alertName+" fires for "+sharedDomain+" on both hosts", 2*time.Minute, func() (bool, string) {
		alerts, err := c.alerts()
		if err != nil {
			return false, err.Error()
		}
		firing = firing[:0]
		var seen []string
		for _, a := range alerts {
			if a.Labels["alertname"] == alertName {
				seen = append(seen, a.String())
				if a.State == "firing" {
					firing = append(firing, a)
				}
			}
		}
		return len(firing) >= 2, fmt.Sprintf("%s alerts: %v", alertName, seen)
	})
	t.Logf("%.0fs after the burst, firing:", time.Since(burstAt).Seconds())
	got := map[string]bool{}
	for _, a := range firing {
		t.Logf("  %s (%s)", a, a.Annotations["summary"])
		got[a.Labels["instance"]+" "+a.Labels["domain"]] = true
	}
	if len(firing) != 2 || !got[hosts[0].bwAddr+" "+sharedDomain] || !got[hosts[1].bwAddr+" "+sharedDomain] {
		t.Errorf("want %s firing exactly for (%s, %s) and (%s, %s), got %v", alertName,
			hosts[0].bwAddr, sharedDomain, hosts[1].bwAddr, sharedDomain, firing)
	}
	for _, a := range firing {
		if a.Labels["job"] != "bouncewatch" || a.Labels["source"] != "postfix" || a.Labels["severity"] != "warning" {
			t.Errorf("%s: want job bouncewatch, source postfix, severity warning", a)
		}
		want := map[string]string{hosts[0].bwAddr: "logged 6 deferrals", hosts[1].bwAddr: "logged 5 deferrals"}[a.Labels["instance"]]
		if !strings.Contains(a.Annotations["description"], want) {
			t.Errorf("%s: description does not say %q: %s", a, want, a.Annotations["description"])
		}
	}
	// Neither pending nor firing for the others, and no other evaluation
	// says otherwise: ALERTS has only the shared domain.
	res, err := c.query(`ALERTS{alertname="` + alertName + `", domain!="` + sharedDomain + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Errorf("ALERTS for domains other than %s: %v", sharedDomain, res)
	}
	res, err = c.query(`max_over_time(ALERTS{alertname="` + alertName + `", domain!="` + sharedDomain + `"}[10m])`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Errorf("%s was active at some time for domains other than %s: %v", alertName, sharedDomain, res)
	}
}

type fleetHost struct {
	name      string
	log       string
	bwAddr    string
	agentAddr string
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1 (all listeners
// are open at once, so the ports differ).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// logTemplates are real lines of testdata/lab/postfix.log, written by
// Postfix 3.7.
type logTemplates struct {
	deferred, sent string
}

var templateRE = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d (.*\]: )([0-9A-F]+)(: to=<)([^>]+)(>.*)$`)

func readTemplates(t *testing.T, path string) logTemplates {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lt logTemplates
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !templateRE.MatchString(line) {
			continue
		}
		switch {
		case lt.deferred == "" && strings.Contains(line, "/smtp[") && strings.Contains(line, "dsn=4.3.2, status=deferred (host "):
			lt.deferred = line
		case lt.sent == "" && strings.Contains(line, "/smtp[") && strings.Contains(line, "dsn=2.0.0, status=sent ("):
			lt.sent = line
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lt.deferred == "" || lt.sent == "" {
		t.Fatalf("%s: no smtp deferral with 4.3.2 or no smtp delivery to use as a template", path)
	}
	return lt
}

// logLine is template tmpl at time ts, for queue id id and recipient rcpt
// (also where the reply text quotes the recipient), with a newline.
func logLine(tmpl string, ts time.Time, id, rcpt string) string {
	m := templateRE.FindStringSubmatch(tmpl)
	rest := strings.ReplaceAll(m[5], m[4], rcpt)
	return ts.Format("Jan _2 15:04:05") + " " + m[1] + id + m[3] + rcpt + rest + "\n"
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// startProc starts a process with its output in dir/name.log, and stops it
// at the end of the test (SIGTERM, then SIGKILL after 15 s); on failure the
// end of its log is shown.
func startProc(t *testing.T, dir, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-done:
			t.Errorf("%s (pid %d) exited before the end of the test: %v", name, cmd.Process.Pid, err)
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Errorf("%s (pid %d) did not stop within 15 s of SIGTERM; killed", name, cmd.Process.Pid)
				_ = cmd.Process.Kill()
				<-done
			}
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.Logf("--- end of %s's log:\n%s", name, strings.Join(lines, "\n"))
		}
	})
}

// eventually polls cond every 250 ms until it holds, and fails the test with
// cond's last word when the deadline passes first.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, timeout, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func waitReady(t *testing.T, what, u string) {
	t.Helper()
	eventually(t, what+" ready", 90*time.Second, func() (bool, string) {
		resp, err := http.Get(u)
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%s: %s %s", u, resp.Status, body)
	})
}

// shortenFor copies the shipped alert rules with every for: set to
// forShortened (production for: 5m would make the test wait minutes), and
// checks that the copy differs from the original in for: lines only.
func shortenFor(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	forRE := regexp.MustCompile(`(?m)^(\s*)for:\s*\S+\s*$`)
	copied := forRE.ReplaceAllString(string(b), "${1}for: "+forShortened)
	orig, cp := strings.Split(string(b), "\n"), strings.Split(copied, "\n")
	if len(orig) != len(cp) {
		t.Fatalf("the rules copy has %d lines, the original %d", len(cp), len(orig))
	}
	changed := 0
	for i := range orig {
		if orig[i] == cp[i] {
			continue
		}
		if !forRE.MatchString(orig[i]) || !forRE.MatchString(cp[i]) {
			t.Fatalf("the rules copy differs from %s in line %d, not a for: line: %q", src, i+1, orig[i])
		}
		changed++
	}
	if changed == 0 {
		t.Fatalf("%s: no for: line to shorten", src)
	}
	if err := os.WriteFile(dst, []byte(copied), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func writeYAML(t *testing.T, path string, m map[string]any) {
	t.Helper()
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mapAt is m[key] as a map, failing the test when it is not one.
func mapAt(t *testing.T, where string, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%s: no %s section", where, key)
	}
	return v
}

func listAt(t *testing.T, where string, m map[string]any, key string) []any {
	t.Helper()
	v, ok := m[key].([]any)
	if !ok || len(v) == 0 {
		t.Fatalf("%s: no %s list", where, key)
	}
	return v
}

// writeAgentConfig writes deploy/prometheus/agent.yml with the test's
// bouncewatch target, 1 s scrapes and the central Prometheus's URL.
func writeAgentConfig(t *testing.T, example, dst, target, writeURL string) {
	t.Helper()
	cfg := readYAML(t, example)
	mapAt(t, example, cfg, "global")["scrape_interval"] = "1s"
	var job map[string]any
	for _, sc := range listAt(t, example, cfg, "scrape_configs") {
		if m, ok := sc.(map[string]any); ok && m["job_name"] == "bouncewatch" {
			job = m
		}
	}
	if job == nil {
		t.Fatalf("%s: no job bouncewatch", example)
	}
	job["scrape_interval"] = "1s"
	listAt(t, example, job, "static_configs") // the example has static targets
	job["static_configs"] = []any{map[string]any{"targets": []any{target}}}
	rw := listAt(t, example, cfg, "remote_write")
	if len(rw) != 1 {
		t.Fatalf("%s: want one remote_write, got %d", example, len(rw))
	}
	w, ok := rw[0].(map[string]any)
	if !ok || w["url"] == nil {
		t.Fatalf("%s: remote_write without url", example)
	}
	w["url"] = writeURL
	writeYAML(t, dst, cfg)
}

// writeCentralConfig writes deploy/prometheus/central.yml with the given
// rule files, 1 s evaluations, the agents as its prometheus-agent targets
// and no Alertmanager (none runs here; the test reads the alerts from the
// API).
func writeCentralConfig(t *testing.T, example, dst string, ruleFiles, agents []string) {
	t.Helper()
	cfg := readYAML(t, example)
	g := mapAt(t, example, cfg, "global")
	g["evaluation_interval"] = "1s"
	g["scrape_interval"] = "1s"
	if n := len(listAt(t, example, cfg, "rule_files")); n != len(ruleFiles) {
		t.Fatalf("%s: %d rule files, the test has %d", example, n, len(ruleFiles))
	}
	var rf []any
	for _, f := range ruleFiles {
		rf = append(rf, f)
	}
	cfg["rule_files"] = rf
	delete(cfg, "alerting")
	for _, sc := range listAt(t, example, cfg, "scrape_configs") {
		if m, ok := sc.(map[string]any); ok && m["job_name"] == "prometheus-agent" {
			var targets []any
			for _, a := range agents {
				targets = append(targets, a)
			}
			m["static_configs"] = []any{map[string]any{"targets": targets}}
		}
	}
	writeYAML(t, dst, cfg)
}

// checkConfig runs promtool check config on a written configuration when
// promtool is there (it comes with prometheus), for a clear message.
func checkConfig(t *testing.T, path string, flags ...string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		return
	}
	args := append(append([]string{"check", "config"}, flags...), path)
	if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("promtool %s: %v\n%s\n%s", strings.Join(args, " "), err, out, b)
	}
}

type promClient struct{ base string }

type promSample struct {
	Metric map[string]string
	Value  [2]any
}

func (c *promClient) get(path string, params url.Values, data any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string
		Error  string
		Data   json.RawMessage
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %s: %v", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s %s: %s %s", path, params.Encode(), resp.Status, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

func (c *promClient) query(q string) ([]promSample, error) {
	var data struct {
		ResultType string
		Result     []promSample
	}
	if err := c.get("/api/v1/query", url.Values{"query": {q}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %s, want vector", q, data.ResultType)
	}
	return data.Result, nil
}

// values runs q and returns its values by the given labels' values (joined
// by a space).
func (c *promClient) values(q string, labels ...string) (map[string]float64, error) {
	res, err := c.query(q)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range res {
		var key []string
		for _, l := range labels {
			key = append(key, s.Metric[l])
		}
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v: %v", q, s.Value[1], err)
		}
		out[strings.Join(key, " ")] = v
	}
	return out, nil
}

type promAlert struct {
	Labels      map[string]string
	Annotations map[string]string
	State       string
	Value       string
}

func (a promAlert) String() string {
	var ls []string
	for k, v := range a.Labels {
		ls = append(ls, k+"="+strconv.Quote(v))
	}
	slices.Sort(ls)
	return fmt.Sprintf("%s{%s} value %s", a.State, strings.Join(ls, ", "), a.Value)
}

func (c *promClient) alerts() ([]promAlert, error) {
	var data struct{ Alerts []promAlert }
	if err := c.get("/api/v1/alerts", nil, &data); err != nil {
		return nil, err
	}
	return data.Alerts, nil
}
