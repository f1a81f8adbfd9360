package parser

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

var invalidDomain = []byte("invalid")

// domainOf returns the normalised domain of an address: the part after the last
// '@', lower case, without a trailing dot, internationalised names in A-label
// (punycode) form. Anything that is not a valid host name reads as "invalid",
// so hostile log text can never become a label value. The result may alias addr
// or scratch.
func domainOf(addr []byte, scratch *[]byte) []byte {
	at := bytes.LastIndexByte(addr, '@')
	if at < 0 {
		return invalidDomain
	}
	return normaliseDomain(addr[at+1:], scratch)
}

// normaliseDomain is domainOf for a bare domain.
func normaliseDomain(d []byte, scratch *[]byte) []byte {
	if len(d) > 0 && d[len(d)-1] == '.' {
		d = d[:len(d)-1]
	}
	if len(d) == 0 || len(d) > 253 {
		return invalidDomain
	}
	// Most domains are ASCII host names in lower case already: one pass
	// checks that, and the rest take the long way.
	n := 0 // bytes of the label so far
	for i, c := range d {
		switch hostByte[c] {
		case hostLDH:
		case hostDash:
			if n == 0 {
				return invalidDomain
			}
		case hostDot:
			if n == 0 || d[i-1] == '-' {
				return invalidDomain
			}
			n = 0
			continue
		default:
			return foldDomain(d, scratch)
		}
		if n++; n > 63 {
			return invalidDomain
		}
	}
	if n == 0 || d[len(d)-1] == '-' {
		return invalidDomain
	}
	return d
}

// Byte classes of host names, for normaliseDomain's one pass.
const (
	hostOther = iota // upper case, non-ASCII, or not in a host name
	hostLDH          // a-z, 0-9 and _ (real MX targets and test domains have it)
	hostDash
	hostDot
)

var hostByte = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			t[c] = hostLDH
		case c == '-':
			t[c] = hostDash
		case c == '.':
			t[c] = hostDot
		}
	}
	return t
}()

// foldDomain is normaliseDomain for a domain with upper case or non-ASCII
// bytes (or invalid ones): lower-cased, or converted to A-labels, then
// checked.
func foldDomain(d []byte, scratch *[]byte) []byte {
	lower, ascii := true, true
	for _, c := range d {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if c >= 'A' && c <= 'Z' {
			lower = false
		}
	}
	if !ascii {
		if !utf8.Valid(d) {
			return invalidDomain
		}
		a, err := idna.Lookup.ToASCII(string(d))
		if err != nil {
			return invalidDomain
		}
		*scratch = append((*scratch)[:0], a...)
		d = *scratch
	} else if !lower {
		*scratch = append((*scratch)[:0], d...)
		for i, c := range *scratch {
			if c >= 'A' && c <= 'Z' {
				(*scratch)[i] = c + 'a' - 'A'
			}
		}
		d = *scratch
	}
	if !validHostname(d) {
		return invalidDomain
	}
	return d
}

// validHostname checks lower-case LDH labels of 1 to 63 bytes. Underscores are
// allowed because real MX targets and test domains use them.
func validHostname(d []byte) bool {
	if len(d) == 0 || len(d) > 253 {
		return false
	}
	n := 0
	for i, c := range d {
		switch {
		case c == '.':
			if n == 0 || d[i-1] == '-' {
				return false
			}
			n = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '-':
			if n == 0 {
				return false
			}
		default:
			return false
		}
		n++
		if n > 63 {
			return false
		}
	}
	return n > 0 && d[len(d)-1] != '-'
}
