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
	return l.inFrom(line, bytes.IndexByte(line, l.key))
}

// inFrom is in, given where the key first occurs in line (-1: nowhere), which
// literals with the same key search for once.
func (l *literal) inFrom(line []byte, first int) bool {
	n := len(l.text)
	if n == 0 {
		return true
	}
	if first < 0 {
		return false
	}
	last := len(line) - n + l.off // last position the key can have
	for i := max(l.off, first); i <= last; i++ {
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

// byteRank orders bytes by how often they occur in mail logs, rarest
// first, as counted over the real Postfix and Exim logs of the corpus (a
// megabyte): punctuation that only some lines have, capitals, then the rest,
// with digits, ':', '.' and the space, which every line has, last.
func byteRank(c byte) int {
	const order = "^`{}~%&!|$?#\\X'VILJYZGK*;\"QHzUOMDwjkSAPF+)(hRq_WNgCB@Tb><y,/E][u89vf3c54d=n7pi6l-xsamr.:ot21e0 "
	for i := 0; i < len(order); i++ {
		if order[i] == c {
			return i
		}
	}
	return -1 // control bytes and non-ASCII: rarest of all
}

// bestLiteral picks, of the literals every match requires, the one to search
// for: the one whose rarest byte is rarest, the longest of equals.
func bestLiteral(lits []string) string {
	best, bestRank := "", 1<<30
	for _, s := range lits {
		l := newLiteral(s)
		if r := byteRank(l.key); r < bestRank || r == bestRank && len(s) > len(best) {
			best, bestRank = s, r
		}
	}
	return best
}
