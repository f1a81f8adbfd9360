package systemd

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/testenv"
)

// The files under test, relative to this package's directory (go test's
// working directory).
const (
	serviceFile = "bouncewatch.service"
	socketFile  = "bouncewatch.socket"
	defaultFile = "bouncewatch.default"

	// installedBinary is where the unit expects bouncewatch.
	installedBinary = "/usr/bin/bouncewatch"
	// maxExposure is the highest systemd-analyze security score accepted.
	maxExposure = 2.0
)

// analyzePath finds systemd-analyze: a failure on CI, a skip elsewhere.
func analyzePath(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, "systemd-analyze", "apt-get update && apt-get install -y systemd")
}

// analyze runs systemd-analyze and returns its combined output and error.
func analyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, analyzePath(t), args...)
	// The plain (ASCII) rendering, whatever the locale of the machine.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
	buildOut  []byte
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// bouncewatchBinary builds ../cmd/bouncewatch once for the package's tests.
func bouncewatchBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "bouncewatch-systemd-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "bouncewatch")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		buildOut, buildErr = exec.CommandContext(ctx, "go", "build", "-o", binPath, "../cmd/bouncewatch").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ../cmd/bouncewatch: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unitCopy writes the unit files to a temporary directory with the service's
// /usr/bin/bouncewatch replaced by bin (systemd-analyze verify insists that
// the commands exist and are executable), after edit, if given. It returns
// the paths of the service and the socket.
func unitCopy(t *testing.T, bin string, edit func(string) string) (service, socket string) {
	t.Helper()
	unit := readFile(t, serviceFile)
	for _, prefix := range []string{"ExecStartPre=", "ExecStart=", "ExecReload="} {
		if !strings.Contains(unit, "\n"+prefix+installedBinary+" ") {
			t.Fatalf("%s: no %s%s line to point at the test binary", serviceFile, prefix, installedBinary)
		}
	}
	unit = strings.ReplaceAll(unit, installedBinary, bin)
	if edit != nil {
		unit = edit(unit)
	}
	dir := t.TempDir()
	service = filepath.Join(dir, serviceFile) // the names link the socket to the service
	socket = filepath.Join(dir, socketFile)
	if err := os.WriteFile(service, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(socket, []byte(readFile(t, socketFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	return service, socket
}

// verify runs systemd-analyze verify on the service and the socket.
// --recursive-errors=no makes it exit non-zero on a warning about the given
// units (an unknown key, a bad value, a missing command) but not about the
// units they pull in from the host; without the option it exits 0 whatever
// it finds.
func verify(t *testing.T, service, socket string) (string, error) {
	t.Helper()
	return analyze(t, "verify", "--recursive-errors=no", "--man=false", service, socket)
}

func TestVerify(t *testing.T) {
	analyzePath(t)
	service, socket := unitCopy(t, bouncewatchBinary(t), nil)
	out, err := verify(t, service, socket)
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		switch {
		case line == "":
		case strings.Contains(line, "bouncewatch"):
			t.Errorf("systemd-analyze verify: %s", line)
		default: // about a unit of the host
			t.Logf("systemd-analyze verify: %s", line)
		}
	}
}

// TestVerifyCatchesMistakes makes sure that TestVerify would fail: a
// misspelt setting in the unit must make verify exit non-zero and name it.
func TestVerifyCatchesMistakes(t *testing.T) {
	analyzePath(t)
	service, socket := unitCopy(t, bouncewatchBinary(t), func(unit string) string {
		if !strings.Contains(unit, "\nProtectSystem=strict\n") {
			t.Fatalf("%s has no ProtectSystem=strict line", serviceFile)
		}
		return strings.Replace(unit, "\nProtectSystem=strict\n", "\nProtectSytem=strict\n", 1)
	})
	out, err := verify(t, service, socket)
	if err == nil || !strings.Contains(out, "ProtectSytem") {
		t.Errorf("systemd-analyze verify passed a unit with a misspelt key (err %v):\n%s", err, out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9]+(?:\.[0-9]+)?)`)

// security runs systemd-analyze security --offline=true on a unit file and
// returns the overall exposure level it prints, with its output.
// --threshold=20 (in tenths) also makes it exit non-zero above 2.0.
func security(t *testing.T, unit string) (float64, string, error) {
	t.Helper()
	out, err := analyze(t, "security", "--offline=true", "--threshold=20", "--no-pager", unit)
	m := exposureRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no \"Overall exposure level\" line from systemd-analyze security %s (err %v):\n%s", unit, err, out)
	}
	score, perr := strconv.ParseFloat(m[2], 64)
	if perr != nil {
		t.Fatalf("exposure level %q: %v", m[2], perr)
	}
	return score, out, err
}

func TestSecurityExposure(t *testing.T) {
	analyzePath(t)
	// The offline review does not need the ExecStart binary: the unit file
	// as shipped is what is reviewed.
	score, out, err := security(t, serviceFile)
	t.Logf("systemd-analyze security --offline=true %s: overall exposure level %.1f", serviceFile, score)
	if score > maxExposure {
		t.Errorf("exposure level %.1f, want %.1f or lower; the settings that count:\n%s", score, maxExposure, exposed(out))
	}
	if err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	}
}

// exposed keeps the lines of a security report that add to the exposure.
func exposed(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "✗ ") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestSecurityCatchesWeakUnit makes sure that TestSecurityExposure would
// fail: an unhardened unit gets a high score and a non-zero exit.
func TestSecurityCatchesWeakUnit(t *testing.T) {
	analyzePath(t)
	weak := filepath.Join(t.TempDir(), "weak.service")
	if err := os.WriteFile(weak, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	score, out, err := security(t, weak)
	if score <= maxExposure || err == nil {
		t.Errorf("an unhardened unit got exposure %.1f (err %v), want above %.1f and an error:\n%s", score, err, maxExposure, out)
	}
}

// unitSettings returns the [Service] assignments of the unit, each key with
// its values in order (a key may repeat).
func unitSettings(t *testing.T, unit string) map[string][]string {
	t.Helper()
	settings := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not an assignment: %q", serviceFile, line)
			}
			settings[k] = append(settings[k], v)
		}
	}
	return settings
}

// TestHardeningSettings pins the settings the exposure score does not show
// on its own (it would stay at 2.0 or lower without some of them) and the
// ones the daemon relies on. It needs no systemd.
func TestHardeningSettings(t *testing.T) {
	settings := unitSettings(t, readFile(t, serviceFile))
	want := map[string]string{
		"DynamicUser":             "yes",
		"SupplementaryGroups":     "adm systemd-journal",
		"StateDirectory":          "bouncewatch",
		"StateDirectoryMode":      "0700",
		"UMask":                   "0077",
		"ProtectSystem":           "strict",
		"ReadOnlyPaths":           "/var/log",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"PrivateUsers":            "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"ProtectClock":            "yes",
		"ProtectHostname":         "yes",
		"ProtectProc":             "invisible",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"RestrictRealtime":        "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"NoNewPrivileges":         "yes",
		"SystemCallArchitectures": "native",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"EnvironmentFile":         "-/etc/default/bouncewatch",
		"Restart":                 "on-failure",
		"TimeoutStopSec":          "10s",
	}
	for k, v := range want {
		got, ok := settings[k]
		if !ok || got[len(got)-1] != v {
			t.Errorf("%s=%q, want %s=%s", k, got, k, v)
		}
	}
	if got := strings.Join(settings["SystemCallFilter"], " | "); got != "@system-service | ~@privileged @resources" {
		t.Errorf("SystemCallFilter=%q, want @system-service, then ~@privileged @resources", got)
	}
	// ProcSubset=pid hides /proc/sys/kernel/random/boot_id, and journalctl
	// --follow (--source.journal) exits with "Failed to get boot id".
	if v, ok := settings["ProcSubset"]; ok && v[len(v)-1] == "pid" {
		t.Errorf("ProcSubset=pid breaks --source.journal (journalctl --follow needs /proc/sys/kernel/random/boot_id)")
	}

	// The commands: the rules checked before a start and a reload are the
	// ones the daemon loads, and the checkpoint is in the StateDirectory.
	checkCmd := installedBinary + " check $BOUNCEWATCH_CONFIG"
	if got := settings["ExecStartPre"]; len(got) != 1 || got[0] != checkCmd {
		t.Errorf("ExecStartPre=%q, want %s", got, checkCmd)
	}
	runCmd := installedBinary + " run --state.file=/var/lib/bouncewatch/state $BOUNCEWATCH_CONFIG $BOUNCEWATCH_ARGS"
	if got := settings["ExecStart"]; len(got) != 1 || got[0] != runCmd {
		t.Errorf("ExecStart=%q, want %s", got, runCmd)
	}
	if got := settings["ExecReload"]; len(got) != 2 || got[0] != checkCmd || got[1] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload=%q, want %s, then /bin/kill -HUP $MAINPID", got, checkCmd)
	}
}

var flagRE = regexp.MustCompile(`--([a-z][a-z0-9.-]*)`)

// TestFlagsExist checks that every flag the unit and the environment file
// give or suggest, commented examples included, is one that bouncewatch run
// accepts, and that the environment file sets only the two variables the
// unit reads. It needs no systemd.
func TestFlagsExist(t *testing.T) {
	help, err := exec.Command(bouncewatchBinary(t), "run", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("bouncewatch run --help: %v\n%s", err, help)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`--(?:\[no-\])?([a-z][a-z0-9.-]*)`).FindAllStringSubmatch(string(help), -1) {
		known[m[1]] = true
	}
	var lines []string
	for _, l := range strings.Split(readFile(t, serviceFile), "\n") {
		if strings.HasPrefix(l, "ExecStart") || strings.HasPrefix(l, "ExecReload") || strings.HasPrefix(l, "Environment=") {
			lines = append(lines, serviceFile+": "+l)
		}
	}
	assigned := map[string]bool{}
	for _, l := range strings.Split(readFile(t, defaultFile), "\n") {
		body := strings.TrimLeft(l, "# ")
		if strings.HasPrefix(body, "BOUNCEWATCH_") || strings.HasPrefix(body, "--") {
			lines = append(lines, defaultFile+": "+l)
		}
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			assigned[k] = true
			if !strings.HasPrefix(v, `"`) || !strings.HasSuffix(v, `"`) {
				t.Errorf("%s: %s: want the value in double quotes", defaultFile, l)
			}
		}
	}
	if len(assigned) != 2 || !assigned["BOUNCEWATCH_ARGS"] || !assigned["BOUNCEWATCH_CONFIG"] {
		t.Errorf("%s assigns %v, want BOUNCEWATCH_ARGS and BOUNCEWATCH_CONFIG", defaultFile, assigned)
	}
	checked := 0
	for _, l := range lines {
		for _, m := range flagRE.FindAllStringSubmatch(l, -1) {
			checked++
			if !known[m[1]] {
				t.Errorf("%s: bouncewatch run has no flag --%s", l, m[1])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d flags found in the unit and the environment file: is the parsing broken?", checked)
	}
	if out, err := exec.Command(bouncewatchBinary(t), "check").CombinedOutput(); err != nil {
		t.Errorf("bouncewatch check (ExecStartPre with BOUNCEWATCH_CONFIG empty): %v\n%s", err, out)
	}
}
