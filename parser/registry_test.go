package parser

import (
	"fmt"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		code string
		want CodeInfo
	}{
		{"4.3.2", CodeInfo{"Persistent Transient Failure", "Mail System Status", "System not accepting network messages", true}},
		{"5.3.2", CodeInfo{"Permanent Failure", "Mail System Status", "System not accepting network messages", true}},
		{"5.1.1", CodeInfo{"Permanent Failure", "Addressing Status", "Bad destination mailbox address", true}},
		{"4.4.7", CodeInfo{"Persistent Transient Failure", "Network and Routing Status", "Delivery time expired", true}},
		{"5.7.1", CodeInfo{"Permanent Failure", "Security or Policy Status", "Delivery not authorized, message refused", true}},
		{"4.7.0", CodeInfo{"Persistent Transient Failure", "Security or Policy Status", "Other or undefined security status", true}},
		{"2.0.0", CodeInfo{"Success", "Other or Undefined Status", "Other undefined Status", true}},
		{"2.1.5", CodeInfo{"Success", "Addressing Status", "Destination address valid", true}},
		{"4.2.2", CodeInfo{"Persistent Transient Failure", "Mailbox Status", "Mailbox full", true}},
		{"5.5.6", CodeInfo{"Permanent Failure", "Mail Delivery Protocol Status", "Authentication Exchange line is too long", true}},
		{"5.6.7", CodeInfo{"Permanent Failure", "Message Content or Media Status", "Non-ASCII addresses not permitted for that sender/recipient", true}},
		{"5.6.10", CodeInfo{"Permanent Failure", "Message Content or Media Status", "UTF-8 string reply is required, but not permitted by the SMTP client", true}},
		{"5.1.10", CodeInfo{"Permanent Failure", "Addressing Status", "Recipient address has null MX", true}},
		{"5.7.26", CodeInfo{"Permanent Failure", "Security or Policy Status", "Multiple authentication checks failed", true}},
		{"5.7.27", CodeInfo{"Permanent Failure", "Security or Policy Status", "Sender address has null MX", true}},
		{"4.7.28", CodeInfo{"Persistent Transient Failure", "Security or Policy Status", "Mail flood detected", true}},
		{"5.7.30", CodeInfo{"Permanent Failure", "Security or Policy Status", "REQUIRETLS support required", true}},
		// Unregistered details keep the class and, for subjects 0-7, the subject.
		{"4.3.99", CodeInfo{"Persistent Transient Failure", "Mail System Status", "", false}},
		{"5.7.31", CodeInfo{"Permanent Failure", "Security or Policy Status", "", false}},
		{"5.7.606", CodeInfo{"Permanent Failure", "Security or Policy Status", "", false}},
		{"4.999.999", CodeInfo{"Persistent Transient Failure", "", "", false}},
		{"2.8.0", CodeInfo{"Success", "", "", false}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, ok := ParseCode(tt.code)
			if !ok {
				t.Fatalf("ParseCode(%q) ok = false, want true", tt.code)
			}
			if got := c.Describe(); got != tt.want {
				t.Errorf("Describe(%q) = %+v, want %+v", tt.code, got, tt.want)
			}
		})
	}
}

func TestDescribeZero(t *testing.T) {
	if got := Code(0).Describe(); got != (CodeInfo{}) {
		t.Errorf("the zero Code: %+v", got)
	}
}

func TestRegistryTable(t *testing.T) {
	// The IANA registry as of its 2024-12-06 update: X.0.0, X.1.0-X.1.10,
	// X.2.0-X.2.4, X.3.0-X.3.6, X.4.0-X.4.7, X.5.0-X.5.6, X.6.0-X.6.10 and
	// X.7.0-X.7.30.
	if got, want := len(escRegistry), 81; got != want {
		t.Errorf("registry has %d entries, want %d", got, want)
	}
	seen := make(map[string]bool, len(escRegistry))
	for i, e := range escRegistry {
		key := fmt.Sprintf("%d.%d", e.subject, e.detail)
		t.Run(key, func(t *testing.T) {
			if e.subject < 0 || e.subject > 7 {
				t.Errorf("subject %d outside 0..7", e.subject)
			}
			if e.detail < 0 || e.detail > 999 {
				t.Errorf("detail %d outside 0..999", e.detail)
			}
			if strings.TrimSpace(e.text) == "" {
				t.Error("empty description")
			}
			if e.text != strings.Join(strings.Fields(e.text), " ") {
				t.Errorf("description %q has stray whitespace", e.text)
			}
			if e.ref == "" {
				t.Error("empty reference")
			}
			if seen[key] {
				t.Error("duplicate key")
			}
			seen[key] = true
			if i > 0 {
				p := escRegistry[i-1]
				if p.subject > e.subject || (p.subject == e.subject && p.detail >= e.detail) {
					t.Errorf("not sorted: %d.%d comes before it", p.subject, p.detail)
				}
				// The registry has no gaps: each subject runs from 0 upwards.
				if p.subject == e.subject && e.detail != p.detail+1 {
					t.Errorf("gap after %d.%d", p.subject, p.detail)
				}
			}
			if (i == 0 || escRegistry[i-1].subject != e.subject) && e.detail != 0 {
				t.Errorf("subject %d does not start at detail 0", e.subject)
			}
			for _, class := range []string{"2", "4", "5"} {
				code := class + "." + key
				c, ok := ParseCode(code)
				got := c.Describe()
				if !ok || !got.Registered || got.Description != e.text || got.Subject == "" || got.Class == "" {
					t.Errorf("%s: %+v, %v", code, got, ok)
				}
			}
		})
	}
}

func TestDescribeDoesNotAllocate(t *testing.T) {
	for _, code := range []string{"5.7.26", "4.3.2", "2.0.0", "4.999.999", "5.7.606"} {
		c, _ := ParseCode(code)
		if n := testing.AllocsPerRun(100, func() { c.Describe() }); n != 0 {
			t.Errorf("%s: Describe allocates %v times per call", code, n)
		}
	}
}

func BenchmarkDescribe(b *testing.B) {
	c, _ := ParseCode("5.7.26")
	for b.Loop() {
		c.Describe()
	}
}
