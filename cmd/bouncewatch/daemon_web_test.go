package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/testenv"
	"golang.org/x/crypto/bcrypt"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key into
// dir and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bouncewatch test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

type webResult struct {
	code int
	body string
}

func webGet(c *http.Client, url, user, pass string) (webResult, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return webResult{}, err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return webResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return webResult{resp.StatusCode, string(b)}, err
}

// TestDaemonWebConfig: with --web.config.file the daemon serves HTTPS with
// the given certificate and asks for bcrypt basic auth; plain HTTP and wrong
// or missing credentials get no metrics.
func TestDaemonWebConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	const user, password = "prometheus", "s3cret-scrape"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	conf := "tls_server_config:\n  cert_file: " + certFile + "\n  key_file: " + keyFile +
		"\nbasic_auth_users:\n  " + user + ": '" + string(hash) + "'\n"
	if err := os.WriteFile(webConfig, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "mail.log")
	copyFile(t, postfixLog, log)

	p := startDaemon(t, "--source.file=mail="+log, "--source.from-beginning", "--state.file="+filepath.Join(dir, "state"), "--web.config.file="+webConfig)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	defer client.CloseIdleConnections()
	base := "https://" + p.addr

	// Ready over HTTPS with the password (the harness's waitHTTP is plain).
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := webGet(client, base+"/-/ready", user, password)
		if err == nil && r.code == http.StatusOK {
			break
		}
		select {
		case err := <-p.done:
			t.Fatalf("daemon exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("want /-/ready 200 over https, last got %+v, %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	tests := []struct {
		name       string
		user, pass string
		code       int
		metrics    bool
	}{
		{"right password", user, password, http.StatusOK, true},
		{"wrong password", user, "guess", http.StatusUnauthorized, false},
		{"empty password", user, "", http.StatusUnauthorized, false},
		{"unknown user", "admin", password, http.StatusUnauthorized, false},
		{"no credentials", "", "", http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := webGet(client, base+"/metrics", tt.user, tt.pass)
			if err != nil {
				t.Fatal(err)
			}
			if r.code != tt.code {
				t.Errorf("want status %d, got %d: %s", tt.code, r.code, r.body)
			}
			if got := strings.Contains(r.body, "\nbouncewatch_events_total{"); got != tt.metrics {
				t.Errorf("want bouncewatch_ samples %v, got %v:\n%.500s", tt.metrics, got, r.body)
			}
		})
	}

	t.Run("plain http", func(t *testing.T) {
		// Go's TLS server answers a plain request with a 400 and closes.
		r, err := webGet(&http.Client{Timeout: 5 * time.Second}, "http://"+p.addr+"/metrics", user, password)
		if err == nil && (r.code == http.StatusOK || strings.Contains(r.body, "bouncewatch_")) {
			t.Errorf("plain http to the TLS port: want an error or a refusal, got %d:\n%.500s", r.code, r.body)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		c := &http.Client{Timeout: 5 * time.Second}
		if _, err := webGet(c, base+"/metrics", user, password); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("want a certificate error without the test CA, got %v", err)
		}
	})

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: want exit 0, got %d", code)
	}
	if logText := p.stderr.String(); !strings.Contains(logText, `msg="TLS is enabled."`) {
		t.Errorf("want the log to say TLS is enabled, got:\n%s", logText)
	}
}

// TestDaemonMetricsPassPromtool: a live scrape after the lab log has been
// counted passes promtool check metrics without a single remark.
func TestDaemonMetricsPassPromtool(t *testing.T) {
	promtool := testenv.Tool(t, "promtool", "apt-get install -y prometheus")
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	copyFile(t, postfixLog, log)
	p := startDaemon(t, "--source.file=mail="+log, "--source.from-beginning", "--state.file="+filepath.Join(dir, "state"))
	p.waitHTTP("/-/ready")
	p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(fileSize(t, log)))

	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: want 200, got %d, %v", resp.StatusCode, err)
	}
	if !bytes.Contains(body, []byte("bouncewatch_events_total{")) {
		t.Fatalf("want bouncewatch_events_total samples in the scrape, got:\n%s", body)
	}
	p.stop(syscall.SIGTERM)

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: want exit 0 and no output, got %v:\n%s", err, out)
	}
}

// TestScrapeReadsTheLogFirst runs the daemon as installed, with its 2 s
// poll: a scrape made right after lines are written counts every one of
// them, and so does the status page, because both read each log to its end
// before they answer.
func TestScrapeReadsTheLogFirst(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	lines, err := os.ReadFile(postfixLog)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := startDaemon(t, "--source.file=mail="+log, "--state.file="+filepath.Join(dir, "state"))
	p.waitHTTP("/-/ready")
	chunks := bytes.SplitAfter(lines, []byte("\n"))
	written := 0
	for round := range 5 {
		for _, l := range chunks[round*len(chunks)/5 : (round+1)*len(chunks)/5] {
			n, err := f.Write(l)
			if err != nil {
				t.Fatal(err)
			}
			written += n
		}
		if got := p.scrape()[`bouncewatch_log_bytes_total{source="mail"}`]; got != float64(written) {
			t.Fatalf("round %d: a scrape right after the write counts %v bytes, want %d", round, got, written)
		}
		resp, err := httpGet("http://" + p.addr + "/api/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`"bytes": %d,`, written); !strings.Contains(resp.body, want) {
			t.Fatalf("round %d: the status right after the write lacks %s:\n%s", round, want, resp.body)
		}
	}
}
