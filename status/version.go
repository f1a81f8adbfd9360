package status

import "github.com/prometheus/common/version"

// Version is the version line the page shows.
func Version() string {
	v := version.Version
	if v == "" || v == "(devel)" {
		v = "a development build"
	}
	if version.Revision != "" && version.Revision != "unknown" {
		v += " (" + version.Revision + ")"
	}
	return "bouncewatch " + v
}
