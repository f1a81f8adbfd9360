package parser

import "bytes"

// literal is a rule's contains: text with the byte to search for first. Most
// literals start with a space (" == ", " ** "), and searching for a space
// stops at every word; searching for the literal's rarest byte ('*', '=',
// ')') and comparing around it skips most lines after one vectorised scan.
type literal struct {
	text []byte
	off  int  // position of key in text
	key  byte // the rarest byte of text
}

func newLiteral(s string) literal {
	l := literal{text: []byte(s)}
	for i := 0; i < len(s); i++ {
		if byteRank(s[i]) < byteRank(s[l.off]) {
			l.off = i
		}
	}
	if len(s) > 0 {
		l.key = s[l.off]
	}
	return l
}

// in reports whether line contains the literal.
func (l *literal) in(line []byte) bool {
	n := len(l.text)
	if n == 0 {
		return true
	}
	last := len(line) - n + l.off // last position the key can have
	for i := l.off; i <= last; i++ {
		j := bytes.IndexByte(line[i:last+1], l.key)
		if j < 0 {
			return false
		}
		i += j
		if bytes.Equal(line[i-l.off:i-l.off+n], l.text) {
			return true
		}
	}
	return false
}

// byteRank orders bytes by how often they occur in mail logs, rarest first:
// punctuation that only some lines have, then the rest of the punctuation,
// then letters by English frequency, digits, and the space last.
func byteRank(c byte) int {
	const order = "*|~^`\\{}!?%$#&+\";)(][>@<',:=/_-." +
		"QZXJKVBPYGFWMUCLDRHSNIOATEqzxjkvbpygfwmucldrhsnioate" +
		"9876543210 "
	for i := 0; i < len(order); i++ {
		if order[i] == c {
			return i
		}
	}
	return -1 // control bytes and non-ASCII: rarest of all
}
