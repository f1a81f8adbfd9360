// Package bouncewatch holds what the whole program shares: the default rules.
package bouncewatch

import (
	_ "embed"

	"github.com/bouncewatch/bouncewatch/parser"
)

// DefaultRules is rules.yaml as shipped; the binary uses it when no
// --config.file is given.
//
//go:embed rules.yaml
var DefaultRules []byte

// LoadRules loads a rules file, or the built-in rules when path is "".
func LoadRules(path string) (*parser.RuleSet, error) {
	if path == "" {
		return parser.Parse("rules.yaml (built in)", DefaultRules)
	}
	return parser.Load(path)
}

// AlertRules is the shipped Prometheus alert rules file, served by the
// daemon's status page.
//
//go:embed alerting/bouncewatch.rules.yml
var AlertRules []byte

// Dashboard is the shipped Grafana dashboard, served by the status page.
//
//go:embed deploy/grafana/bouncewatch.json
var Dashboard []byte
