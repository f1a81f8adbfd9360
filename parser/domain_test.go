package parser

import (
	"strings"
	"testing"
)

func TestNormaliseDomain(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tc := range []struct{ in, want string }{
		{"example.com", "example.com"},
		{"Example.COM", "example.com"},
		{"example.com.", "example.com"},
		{"mx_1.example-host.com", "mx_1.example-host.com"},
		{"bücher.de", "xn--bcher-kva.de"},
		{"BÜCHER.de", "xn--bcher-kva.de"},
		{long + ".com", long + ".com"},
		{long + "a.com", "invalid"},
		{"-a.com", "invalid"},
		{"a-.com", "invalid"},
		{"a..com", "invalid"},
		{".a.com", "invalid"},
		{"a.com-", "invalid"},
		{"", "invalid"},
		{".", "invalid"},
		{"a b.com", "invalid"},
		{"a{b}.com", "invalid"},
		{"\xff.com", "invalid"},
		{strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 126) + "a"}, // 253 bytes
		{strings.Repeat("a.", 126) + "ab", "invalid"},
	} {
		var scratch []byte
		if got := string(normaliseDomain([]byte(tc.in), &scratch)); got != tc.want {
			t.Errorf("normaliseDomain(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzNormaliseDomain: the one pass over lower-case ASCII names gives what
// the long way (lower-casing, A-labels, then the host name check) gives.
func FuzzNormaliseDomain(f *testing.F) {
	for _, s := range []string{"example.com", "Example.COM.", "bücher.de", "a-.b", "-a.b", "a..b", "mx_1.x-y.z", strings.Repeat("a", 64)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		var s1, s2 []byte
		got := string(normaliseDomain(d, &s1))
		want := "invalid"
		if e := strings.TrimSuffix(string(d), "."); e != "" && len(e) <= 253 {
			want = string(foldDomain([]byte(e), &s2))
		}
		if got != want {
			t.Fatalf("normaliseDomain(%q) = %q, the long way %q", d, got, want)
		}
	})
}
