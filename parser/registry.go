package parser

// This file holds the IANA "Simple Mail Transfer Protocol (SMTP) Enhanced
// Status Codes" registry (RFC 5248, BCP 138) and Code.Describe, which turns
// an enhanced status code such as 4.3.2 into text for people. Codes are
// parsed once, by ParseCode and the parser.
//
// Source: https://www.iana.org/assignments/smtp-enhanced-status-codes/
// (Class Sub-Codes, Subject Sub-Codes and Enumerated Status Codes tables;
// the enumerated table is smtp-enhanced-status-codes-3.csv). The table below
// has every enumerated entry from X.0.0 to X.7.30.

// CodeInfo describes an enhanced status code for people reading a report or a dashboard.
type CodeInfo struct {
	Class       string // "Persistent Transient Failure"
	Subject     string // "Mail System Status"
	Description string // IANA sample text, e.g. "System not accepting network messages"; "" when the detail is not registered
	Registered  bool   // the subject.detail pair is in the IANA registry
}

// Describe returns what the registry says about the code. For an
// unregistered detail it still fills Class and Subject when those are known
// (subject 0-7), with Description "" and Registered false; the zero Code
// gives the zero CodeInfo. Describe does not allocate.
func (c Code) Describe() CodeInfo {
	if c == 0 {
		return CodeInfo{}
	}
	info := CodeInfo{
		Class:   escClassText(c.Class()),
		Subject: escSubjectText(c.Subject()),
	}
	if i := escLookup(c.Subject(), c.Detail()); i >= 0 {
		info.Description = escRegistry[i].text
		info.Registered = true
	}
	return info
}

// escClassText returns the IANA summary of a class sub-code (2.XXX.YYY etc.).
func escClassText(class int) string {
	switch class {
	case 2:
		return "Success"
	case 4:
		return "Persistent Transient Failure"
	case 5:
		return "Permanent Failure"
	}
	return ""
}

// escSubjects holds the IANA summaries of the subject sub-codes X.0.YYY to X.7.YYY.
// X.5 is "Mail Delivery Protocol Status" in both RFC 3463 and the IANA table.
var escSubjects = [...]string{
	0: "Other or Undefined Status",
	1: "Addressing Status",
	2: "Mailbox Status",
	3: "Mail System Status",
	4: "Network and Routing Status",
	5: "Mail Delivery Protocol Status",
	6: "Message Content or Media Status",
	7: "Security or Policy Status",
}

// escSubjectText returns the summary of subject, or "" for an unregistered subject.
func escSubjectText(subject int) string {
	if subject >= 0 && subject < len(escSubjects) {
		return escSubjects[subject]
	}
	return ""
}

// escEntry is one row of the IANA enumerated status code table, X.subject.detail.
type escEntry struct {
	subject, detail int
	text            string // IANA "Sample Text", whitespace collapsed to single spaces
	ref             string // IANA "Reference"
}

// escRegistry is the IANA enumerated status code table, sorted by (subject, detail);
// the key of an entry is "subject.detail". The class (the X) is not part of the key:
// IANA registers each code as X.S.D for any class and only lists the basic reply
// codes it is usually seen with, so 2.7.1, 4.7.1 and 5.7.1 all share one entry even
// where a class makes little sense in practice.
var escRegistry = [...]escEntry{
	{0, 0, "Other undefined Status", "RFC 3463"},

	{1, 0, "Other address status", "RFC 3463"},
	{1, 1, "Bad destination mailbox address", "RFC 3463"},
	{1, 2, "Bad destination system address", "RFC 3463"},
	{1, 3, "Bad destination mailbox address syntax", "RFC 3463"},
	{1, 4, "Destination mailbox address ambiguous", "RFC 3463"},
	{1, 5, "Destination address valid", "RFC 3463"},
	{1, 6, "Destination mailbox has moved, No forwarding address", "RFC 3463"},
	{1, 7, "Bad sender's mailbox address syntax", "RFC 3463"},
	{1, 8, "Bad sender's system address", "RFC 3463"},
	{1, 9, "Message relayed to non-compliant mailer", "RFC 3886"},
	{1, 10, "Recipient address has null MX", "RFC 7505; RFC 7504"},

	{2, 0, "Other or undefined mailbox status", "RFC 3463"},
	{2, 1, "Mailbox disabled, not accepting messages", "RFC 3463"},
	{2, 2, "Mailbox full", "RFC 3463"},
	{2, 3, "Message length exceeds administrative limit", "RFC 3463"},
	{2, 4, "Mailing list expansion problem", "RFC 3463"},

	{3, 0, "Other or undefined mail system status", "RFC 3463"},
	{3, 1, "Mail system full", "RFC 3463"},
	{3, 2, "System not accepting network messages", "RFC 3463; RFC 7504"},
	{3, 3, "System not capable of selected features", "RFC 3463"},
	{3, 4, "Message too big for system", "RFC 3463"},
	{3, 5, "System incorrectly configured", "RFC 3463"},
	{3, 6, "Requested priority was changed", "RFC 6710"},

	{4, 0, "Other or undefined network or routing status", "RFC 3463"},
	{4, 1, "No answer from host", "RFC 3463"},
	{4, 2, "Bad connection", "RFC 3463"},
	{4, 3, "Directory server failure", "RFC 3463"},
	{4, 4, "Unable to route", "RFC 3463"},
	{4, 5, "Mail system congestion", "RFC 3463"},
	{4, 6, "Routing loop detected", "RFC 3463"},
	{4, 7, "Delivery time expired", "RFC 3463"},

	{5, 0, "Other or undefined protocol status", "RFC 3463"},
	{5, 1, "Invalid command", "RFC 3463"},
	{5, 2, "Syntax error", "RFC 3463"},
	{5, 3, "Too many recipients", "RFC 3463"},
	{5, 4, "Invalid command arguments", "RFC 3463"},
	{5, 5, "Wrong protocol version", "RFC 3463"},
	{5, 6, "Authentication Exchange line is too long", "RFC 4954"},

	{6, 0, "Other or undefined media error", "RFC 3463"},
	{6, 1, "Media not supported", "RFC 3463"},
	{6, 2, "Conversion required and prohibited", "RFC 3463"},
	{6, 3, "Conversion required but not supported", "RFC 3463"},
	{6, 4, "Conversion with loss performed", "RFC 3463"},
	{6, 5, "Conversion Failed", "RFC 3463"},
	{6, 6, "Message content not available", "RFC 4468"},
	{6, 7, "Non-ASCII addresses not permitted for that sender/recipient", "RFC 6531"},
	{6, 8, "UTF-8 string reply is required, but not permitted by the SMTP client", "RFC 6531"},
	{6, 9, "UTF-8 header message cannot be transferred to one or more recipients, so the message must be rejected", "RFC 6531"},
	// IANA lists X.6.10 with no sample text: "This is a duplicate of X.6.8 and
	// is thus deprecated." It is still registered, so it gets X.6.8's text.
	{6, 10, "UTF-8 string reply is required, but not permitted by the SMTP client", "RFC 6531"},

	{7, 0, "Other or undefined security status", "RFC 3463"},
	{7, 1, "Delivery not authorized, message refused", "RFC 3463"},
	{7, 2, "Mailing list expansion prohibited", "RFC 3463"},
	{7, 3, "Security conversion required but not possible", "RFC 3463"},
	{7, 4, "Security features not supported", "RFC 3463"},
	{7, 5, "Cryptographic failure", "RFC 3463"},
	{7, 6, "Cryptographic algorithm not supported", "RFC 3463"},
	{7, 7, "Message integrity failure", "RFC 3463"},
	{7, 8, "Authentication credentials invalid", "RFC 4954"},
	{7, 9, "Authentication mechanism is too weak", "RFC 4954"},
	{7, 10, "Encryption Needed", "RFC 5248"},
	{7, 11, "Encryption required for requested authentication mechanism", "RFC 4954"},
	{7, 12, "A password transition is needed", "RFC 4954"},
	{7, 13, "User Account Disabled", "RFC 5248"},
	{7, 14, "Trust relationship required", "RFC 5248"},
	{7, 15, "Priority Level is too low", "RFC 6710"},
	{7, 16, "Message is too big for the specified priority", "RFC 6710"},
	{7, 17, "Mailbox owner has changed", "RFC 7293"},
	{7, 18, "Domain owner has changed", "RFC 7293"},
	{7, 19, "RRVS test cannot be completed", "RFC 7293"},
	{7, 20, "No passing DKIM signature found", "RFC 7372; RFC 6376"},
	{7, 21, "No acceptable DKIM signature found", "RFC 7372; RFC 6376"},
	{7, 22, "No valid author-matched DKIM signature found", "RFC 7372; RFC 6376"},
	{7, 23, "SPF validation failed", "RFC 7372; RFC 7208"},
	{7, 24, "SPF validation error", "RFC 7372; RFC 7208"},
	{7, 25, "Reverse DNS validation failed", "RFC 7372; RFC 7601"},
	{7, 26, "Multiple authentication checks failed", "RFC 7372"},
	{7, 27, "Sender address has null MX", "RFC 7505"},
	{7, 28, "Mail flood detected", "draft-levine-mailbomb-header"},
	{7, 29, "ARC validation failure", "RFC 8617"},
	{7, 30, "REQUIRETLS support required", "RFC 8689"},
}

// escLookup returns the index in escRegistry of subject.detail, or -1.
func escLookup(subject, detail int) int {
	lo, hi := 0, len(escRegistry)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e := &escRegistry[mid]
		if e.subject < subject || (e.subject == subject && e.detail < detail) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(escRegistry) && escRegistry[lo].subject == subject && escRegistry[lo].detail == detail {
		return lo
	}
	return -1
}
