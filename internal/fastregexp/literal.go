package fastregexp

import "bytes"

// Literal is text to search mail log lines for, with the byte to search for
// first. Most literals of rules start with a space (" == ", " ** "), and
// searching for a space (as bytes.Index does) stops at every word; searching
// for the literal's rarest byte ('*', '=', ')') and comparing around it skips
// most lines after one vectorised scan.
type Literal struct {
	text []byte
	off  int  // position of key in text
	key  byte // the rarest byte of text
	// guard is the position of the rarest byte but the key, compared
	// before the whole text: most occurrences of the key fail there.
	guard int
}

// NewLiteral returns the literal s.
func NewLiteral(s string) Literal {
	l := Literal{text: []byte(s)}
	for i := 0; i < len(s); i++ {
		if ByteRank(s[i]) < ByteRank(s[l.off]) {
			l.off = i
		}
	}
	if len(s) > 0 {
		l.key = s[l.off]
	}
	l.guard = l.off
	for i := 0; i < len(s); i++ {
		if i != l.off && (l.guard == l.off || ByteRank(s[i]) < ByteRank(s[l.guard])) {
			l.guard = i
		}
	}
	return l
}

// Text returns the literal.
func (l *Literal) Text() string { return string(l.text) }

// Key returns the byte it is searched by.
func (l *Literal) Key() byte { return l.key }

// In reports whether line contains the literal.
func (l *Literal) In(line []byte) bool {
	return l.InFrom(line, bytes.IndexByte(line, l.key))
}

// InFrom is In, given where the key first occurs in line (-1: nowhere),
// which literals with the same key search for once.
func (l *Literal) InFrom(line []byte, first int) bool {
	if len(l.text) == 0 {
		return true
	}
	return first >= 0 && l.indexFrom(line, first) >= 0
}

// Index returns where the literal first occurs in line, or -1.
func (l *Literal) Index(line []byte) int {
	switch len(l.text) {
	case 0:
		return 0
	case 1:
		return bytes.IndexByte(line, l.key)
	}
	return l.indexFrom(line, 0)
}

func (l *Literal) indexFrom(line []byte, first int) int {
	n := len(l.text)
	last := len(line) - n + l.off // last position the key can have
	for i := max(l.off, first); i <= last; i++ {
		// From InFrom, i is an occurrence of the key already found.
		if line[i] != l.key {
			j := bytes.IndexByte(line[i:last+1], l.key)
			if j < 0 {
				return -1
			}
			i += j
		}
		// A literal of one or two bytes is its key and its guard.
		if s := i - l.off; line[s+l.guard] == l.text[l.guard] && (n <= 2 || bytes.Equal(line[s:s+n], l.text)) {
			return s
		}
	}
	return -1
}

// ByteRank orders bytes by how often they occur in mail logs, rarest
// first, as counted over the real Postfix and Exim logs of the corpus (a
// megabyte): punctuation that only some lines have, capitals, then the rest,
// with digits, ':', '.' and the space, which every line has, last.
func ByteRank(c byte) int {
	const order = "^`{}~%&!|$?#\\X'VILJYZGK*;\"QHzUOMDwjkSAPF+)(hRq_WNgCB@Tb><y,/E][u89vf3c54d=n7pi6l-xsamr.:ot21e0 "
	for i := 0; i < len(order); i++ {
		if order[i] == c {
			return i
		}
	}
	return -1 // control bytes and non-ASCII: rarest of all
}

// Best picks, of literals every match requires, the one to search for: the
// one whose rarest byte is rarest, the longest of equals.
func Best(lits []string) string {
	best, bestRank := "", 1<<30
	for _, s := range lits {
		l := NewLiteral(s)
		if r := ByteRank(l.key); r < bestRank || r == bestRank && len(s) > len(best) {
			best, bestRank = s, r
		}
	}
	return best
}
