package parser

import (
	"bytes"
	"strconv"
)

// Code is an RFC 3463 enhanced status code (class.subject.detail) packed into
// one integer so that events and map keys carry no strings. The zero Code means
// "no code".
type Code uint32

// NewCode packs a code. It reports false when the parts are out of the RFC 3463
// syntax: class 2, 4 or 5, subject and detail 0..999.
func NewCode(class, subject, detail int) (Code, bool) {
	if (class != 2 && class != 4 && class != 5) || subject < 0 || subject > 999 || detail < 0 || detail > 999 {
		return 0, false
	}
	return Code(class<<20 | subject<<10 | detail), true
}

// Class returns 2, 4 or 5 (0 for the zero Code).
func (c Code) Class() int { return int(c >> 20) }

// Subject returns the middle part.
func (c Code) Subject() int { return int(c>>10) & 1023 }

// Detail returns the last part.
func (c Code) Detail() int { return int(c) & 1023 }

// String formats the code as "4.3.2" ("" for the zero Code).
func (c Code) String() string {
	if c == 0 {
		return ""
	}
	return string(c.AppendTo(make([]byte, 0, 11)))
}

// AppendTo appends the dotted form of c to b.
func (c Code) AppendTo(b []byte) []byte {
	b = strconv.AppendInt(b, int64(c.Class()), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c.Subject()), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(c.Detail()), 10)
}

// ParseCode reads a whole string as an enhanced status code ("4.3.2").
func ParseCode(s string) (Code, bool) {
	c, n := scanCode([]byte(s))
	return c, n == len(s) && n > 0
}

// scanCode reads an enhanced code at the start of b and returns it with the
// number of bytes used (0 when b does not start with one).
func scanCode(b []byte) (Code, int) {
	if len(b) < 5 || (b[0] != '2' && b[0] != '4' && b[0] != '5') || b[1] != '.' {
		return 0, 0
	}
	i := 2
	sub, n := scanNumber(b[i:], 3)
	if n == 0 || i+n >= len(b) || b[i+n] != '.' {
		return 0, 0
	}
	i += n + 1
	det, n := scanNumber(b[i:], 3)
	if n == 0 {
		return 0, 0
	}
	i += n
	c, _ := NewCode(int(b[0]-'0'), sub, det)
	return c, i
}

// scanNumber reads up to max decimal digits; a longer run of digits is not a
// number of that size and reads as nothing.
func scanNumber(b []byte, max int) (int, int) {
	v, i := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i == max {
			return 0, 0
		}
		v = v*10 + int(b[i]-'0')
		i++
	}
	return v, i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWordByte is true for bytes that may not border a code or reply on either
// side: letters, digits, '.', '_' (so 127.0.0.1 and 4.4.4.4 never read as codes).
func isWordByte(c byte) bool {
	return isDigit(c) || c == '.' || c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// parseReply reads a whole basic reply code such as "451".
func parseReply(b []byte) uint16 {
	if len(b) != 3 || (b[0] != '2' && b[0] != '4' && b[0] != '5') || !isDigit(b[1]) || !isDigit(b[2]) {
		return 0
	}
	return uint16(b[0]-'0')*100 + uint16(b[1]-'0')*10 + uint16(b[2]-'0')
}

// codeFromText finds the first SMTP reply in a reply text (at its start, after
// ": " as in "host x said: 451 ..." and "after RCPT TO:<a@b>: 451 ...", or
// after `="` as in Exim's C="250 2.0.0 ...")
// and the enhanced code that follows it, as Postfix's smtp_chat_resp() does:
// "451 4.3.2 ..." gives
// 451 and 4.3.2; a code whose class differs from the reply's first digit, or no
// code, gives the reply's class with .0.0. Without any reply it takes the first
// free-standing code in the text.
func codeFromText(text []byte) (Code, uint16) {
	// Candidates are few (the text's start, each ": " and `="`), so look for
	// them with IndexByte rather than at every byte.
	colon, quote := -1, -1
	for i := 0; i+3 < len(text); {
		if code, reply, ok := replyAt(text, i); ok {
			return code, reply
		}
		if quote <= i {
			quote = after(text, i+1, `="`, 1)
		}
		if colon <= i {
			// Only a ": " before the quote can come first: the search
			// stops there (Exim's C="..." often has none, to its end).
			colon = after(text[:quote], i+1, ": ", 0)
		}
		i = min(colon, quote)
	}
	// No reply: the first free-standing code, found by its first dot.
	for k := 1; k < len(text); k++ {
		j := bytes.IndexByte(text[k:], '.')
		if j < 0 {
			break
		}
		k += j
		i := k - 1
		if i+4 >= len(text) {
			break
		}
		if i > 0 && isWordByte(text[i-1]) {
			continue
		}
		if code, n := scanCode(text[i:]); n > 0 && (i+n == len(text) || !isWordByte(text[i+n])) {
			return code, 0
		}
	}
	return 0, 0
}

// replyAt reads a reply ("451 " or "451-") at i and the code after it.
func replyAt(text []byte, i int) (Code, uint16, bool) {
	c := text[i]
	if c != '2' && c != '4' && c != '5' || !isDigit(text[i+1]) || !isDigit(text[i+2]) || (text[i+3] != ' ' && text[i+3] != '-') {
		return 0, 0, false
	}
	reply := parseReply(text[i : i+3])
	class := int(c - '0')
	rest := text[i+4:]
	if code, n := scanCode(rest); n > 0 && code.Class() == class && (n == len(rest) || !isWordByte(rest[n])) {
		return code, reply, true
	}
	code, _ := NewCode(class, 0, 0)
	return code, reply, true
}

// after returns the first position from from on that follows the two bytes
// of pair, or len(text). It searches for pair[key], the rarer of the two:
// the ':' of ": ", the '"' of `="` (Exim's text has an '=' in every field).
func after(text []byte, from int, pair string, key int) int {
	for k := max(from-2, 0) + key; k+1-key < len(text); k++ {
		j := bytes.IndexByte(text[k:len(text)-1+key], pair[key])
		if j < 0 {
			break
		}
		k += j
		if s := k - key; text[s] == pair[0] && text[s+1] == pair[1] {
			return s + 2
		}
	}
	return len(text)
}
