// Package bouncewatch holds what the whole program shares: the default rules.
package bouncewatch

import _ "embed"

// DefaultRules is rules.yaml as shipped; the binary uses it when no
// --config.file is given.
//
//go:embed rules.yaml
var DefaultRules []byte
