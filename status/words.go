package status

import (
	"time"

	"github.com/bouncewatch/bouncewatch/parser"
)

// Meaning says what a code means to a postmaster: what happened, then the
// registry's text where it adds something. The registry's "Other undefined
// Status" says nothing, and 4.4.7 is an expiry, not a retry to wait for.
func Meaning(c parser.Code) string {
	switch c.String() {
	case "2.0.0":
		return "delivered"
	case "4.0.0":
		return "deferred: the reply had no enhanced code"
	case "5.0.0":
		return "bounced: the reply had no enhanced code"
	case "4.4.7", "5.4.7":
		return "expired: the queue lifetime ran out, returned to the sender"
	}
	info := c.Describe()
	what := map[int]string{2: "delivered", 4: "deferred", 5: "bounced"}[c.Class()]
	switch {
	case info.Registered && c.Class() == 2:
		return what + " (" + info.Description + ")"
	case info.Registered:
		return what + ": " + info.Description
	case info.Subject != "":
		return what + ": " + info.Subject + " (code not registered)"
	}
	return what + " (code not registered)"
}

// Kind says what a code does to a message: delivered, deferred (a
// temporary failure: the MTA retries), bounced, or expired.
func Kind(c parser.Code) string {
	switch {
	case c.String() == "4.4.7" || c.String() == "5.4.7":
		return "expired"
	case c.Class() == 2:
		return "delivered"
	case c.Class() == 4:
		return "deferred"
	}
	return "bounced"
}

// Zone names a time zone for the page: "Local" with its abbreviation.
func Zone(loc *time.Location) string {
	if loc != time.Local {
		return loc.String()
	}
	abbr, _ := time.Now().In(loc).Zone()
	return "Local, " + abbr
}
