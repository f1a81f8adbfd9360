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
