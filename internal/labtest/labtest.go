// Package labtest holds what tests of several packages share about the lab
// captures in testdata/lab: the shipped rules with a fixed zone, and the time
// the captures are read relative to.
package labtest

import (
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/parser"
)

// Reference is the day after the lab captures were written (2026-11-27):
// year-less time stamps are read relative to it rather than to the files'
// checkout time, so tests give the same times in any year.
var Reference = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// Rules returns the shipped rules.yaml with the zone set to UTC, so that
// tests do not depend on the machine's zone.
func Rules(tb testing.TB) *parser.RuleSet {
	tb.Helper()
	rs, err := parser.Parse("rules.yaml", bouncewatch.DefaultRules)
	if err != nil {
		tb.Fatal(err)
	}
	rs.Location = time.UTC
	return rs
}
