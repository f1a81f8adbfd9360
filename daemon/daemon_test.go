package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/internal/labtest"
	"github.com/bouncewatch/bouncewatch/report"
)

const postfixLog = "../testdata/lab/postfix.log"

// logBuffer is the daemon's log, safe to read while it runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running is a daemon run in the test's process, served by httptest.
type running struct {
	t    *testing.T
	d    *Daemon
	srv  *httptest.Server
	log  *logBuffer
	stop func() time.Duration
}

// testConfig is the shipped configuration with a quick poll, a state file
// and the sources given.
func testConfig(t *testing.T, dir string, sources ...SourceConfig) Config {
	return Config{
		RulesFile: utcRules(t, dir),
		Sources:   sources, StateFile: filepath.Join(dir, "state"), StateInterval: time.Hour,
		Poll: 10 * time.Millisecond, RotateWait: 5 * time.Second, TelemetryPath: "/metrics", EnableLifecycle: true,
	}
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	r := &running{t: t, log: &logBuffer{}}
	cfg.Logger = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	r.srv = httptest.NewServer(d.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	var once sync.Once
	var took time.Duration
	r.stop = func() time.Duration {
		once.Do(func() {
			begin := time.Now()
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the daemon did not stop within 30s")
			}
			took = time.Since(begin)
			r.srv.Close()
		})
		return took
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", r.log.String())
		}
	})
	return r
}

func (r *running) get(path string) (int, string) {
	r.t.Helper()
	resp, err := http.Get(r.srv.URL + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) post(path string) (int, string) {
	r.t.Helper()
	resp, err := http.Post(r.srv.URL+path, "text/plain", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape returns the samples of /metrics (nil while it answers 503).
func (r *running) scrape() exposition.Samples {
	r.t.Helper()
	code, body := r.get("/metrics")
	if code != 200 {
		return nil
	}
	s, err := exposition.Parse(strings.NewReader(body))
	if err != nil {
		r.t.Fatalf("the scrape does not parse: %v", err)
	}
	return s.Prefix("bouncewatch_")
}

// waitUntil polls cond with a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSample scrapes until series has value want.
func (r *running) waitSample(series string, want float64) exposition.Samples {
	r.t.Helper()
	var s exposition.Samples
	waitUntil(r.t, series, func() bool { s = r.scrape(); return s != nil && s[series] == want })
	return s
}

// reportSamples is what `report --format=prometheus` gives for files.
func reportSamples(t *testing.T, source string, files ...string) exposition.Samples {
	t.Helper()
	s, err := report.Run(context.Background(), report.Options{Rules: labtest.Rules(t), Source: source, Reference: labtest.Reference}, files)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out, err := exposition.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out.Counters()
}

// daemonOnly says a series is one the report does not have.
func daemonOnly(series string) bool {
	for _, p := range []string{"bouncewatch_log_rotations_total", "bouncewatch_checkpoint_", "bouncewatch_state_file_"} {
		if strings.HasPrefix(series, p) {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// utcRules writes the shipped rules with the zone set to UTC, as the
// report's tests read them (labtest.Rules), and returns the file.
func utcRules(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, bytes.Replace(data, []byte("timezone: Local"), []byte("timezone: UTC"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
