package parser

import "testing"

// codeFromTextByBytes is codeFromText as first written, looking at every
// byte: the reference the faster one must agree with.
func codeFromTextByBytes(text []byte) (Code, uint16) {
	for i := 0; i+3 < len(text); i++ {
		c := text[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		if i > 0 && (i < 2 || !(text[i-2] == ':' && text[i-1] == ' ' || text[i-2] == '=' && text[i-1] == '"')) {
			continue
		}
		if !isDigit(text[i+1]) || !isDigit(text[i+2]) || (text[i+3] != ' ' && text[i+3] != '-') {
			continue
		}
		reply := parseReply(text[i : i+3])
		class := int(c - '0')
		rest := text[i+4:]
		if code, n := scanCode(rest); n > 0 && code.Class() == class && (n == len(rest) || !isWordByte(rest[n])) {
			return code, reply
		}
		code, _ := NewCode(class, 0, 0)
		return code, reply
	}
	for i := 0; i+4 < len(text); i++ {
		if i > 0 && isWordByte(text[i-1]) {
			continue
		}
		if code, n := scanCode(text[i:]); n > 0 && (i+n == len(text) || !isWordByte(text[i+n])) {
			return code, 0
		}
	}
	return 0, 0
}

// FuzzCodeFromText: the reply and code found in a text are those a look at
// every byte finds.
func FuzzCodeFromText(f *testing.F) {
	for _, s := range []string{
		"host mx.example[192.0.2.1] said: 451 4.3.2 System not accepting network messages (in reply to RCPT TO command)",
		`R=dnslookup T=remote_smtp H=mx [192.0.2.1] C="250 2.0.0 Ok: queued as 1234"`,
		"connect to mx.example[192.0.2.1]:25: Connection refused",
		"delivery temporarily suspended: 4.4.1 x", "x: 45", ": 4", `="5`, "5.1.1", "a5.1.1 4.2.2", "250-2.0.0 ok", "::: 550 5.1.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c1, r1 := codeFromText([]byte(s))
		c2, r2 := codeFromTextByBytes([]byte(s))
		if c1 != c2 || r1 != r2 {
			t.Errorf("%q: %v %d, by bytes %v %d", s, c1, r1, c2, r2)
		}
	})
}
