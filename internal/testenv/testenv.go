// Package testenv is what tests share about the machine they run on: a
// program a test needs that is not installed fails the test on CI ($CI set),
// where .ci/run installs everything, and skips it elsewhere.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Missing fails the test on CI and skips it elsewhere, saying what is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Tool returns the path of the program name, or is Missing with the command
// that installs it.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not in PATH (%v); install it with: %s", name, err, install)
	}
	return p
}
