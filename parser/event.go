// Package parser turns mail log lines into delivery events. It owns rules.yaml
// (loading, strict validation, compiled rule sets), the timestamp formats Postfix
// and Exim logs are written in, and RFC 3463 enhanced status codes.
package parser

import (
	"time"
)

// Status is what happened to one recipient, or to a whole message.
type Status uint8

// The statuses an event can carry. Removed is message-level: Postfix
// "QID: removed" and Exim "Completed".
const (
	StatusNone Status = iota
	StatusSent
	StatusDeferred
	StatusBounced
	StatusExpired
	StatusRemoved
)

var statusNames = [...]string{"", "sent", "deferred", "bounced", "expired", "removed"}

// String returns the name used in rules.yaml and in metric labels.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// parseStatus maps a captured or configured status word to a Status. Exim's
// flags are accepted too, so one rule may capture them.
func parseStatus(b []byte) Status {
	switch string(b) {
	case "sent", "=>", "->", ">>":
		return StatusSent
	case "deferred", "==":
		return StatusDeferred
	case "bounced", "**":
		return StatusBounced
	case "expired", "force-expired":
		return StatusExpired
	case "removed":
		return StatusRemoved
	}
	return StatusNone
}

// Event is one delivery result read from a log line. The byte slices alias the
// line and the parser's scratch space: they are valid until the next Parse call,
// so a consumer that keeps one must copy it.
type Event struct {
	Time      time.Time
	Source    string
	Rule      string
	QueueID   []byte
	Recipient []byte
	Domain    []byte // normalised: lower case, no trailing dot, A-label; "invalid" otherwise
	Relay     []byte
	Status    Status
	Code      Code
	Reply     uint16 // basic reply code such as 451, 0 when the line has none
	Text      []byte
	// InheritCode says the line carries no code (Code is 4.0.0): a deferral
	// without an attempt, which takes the code of the latest deferral with
	// one for the same domain (the tracker knows it).
	InheritCode bool
	// Reason is why it failed, from rules.yaml's reasons (ReasonDelivered
	// for a 2xx result); for InheritCode, the tracker gives it the domain's
	// along with the code, when it knows one.
	Reason Reason
}
