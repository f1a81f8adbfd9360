package fastregexp

import (
	"bytes"
	"testing"
)

func TestLiteral(t *testing.T) {
	tests := []struct {
		lit, line string
	}{
		{" == ", "2026-11-27 06:02:21 1xWp2L-0007Qz-2u == bob@retry.example R=x"},
		{" == ", "a === b == c"},
		{" == ", "a ==b"},
		{" ** ", " ** "},
		{" ** ", "x **"},
		{", status=", "to=<a@b>, relay=none, dsn=4.4.1, status=deferred"},
		{", status=", "status=deferred"},
		{"): Connection ", "defer (111): Connection refused"},
		{"): Connection ", "defer (111): Connection"},
		{"etry time not ", "== a routing defer (-52): retry time not reached"},
		{"", "anything"},
		{"x", ""},
		{"abc", "ab"},
		{"\xff\x00", "a\xff\x00b"},
	}
	for _, tt := range tests {
		l := NewLiteral(tt.lit)
		want := bytes.Contains([]byte(tt.line), []byte(tt.lit))
		if got, i := l.In([]byte(tt.line)), l.Index([]byte(tt.line)); got != want || i != bytes.Index([]byte(tt.line), []byte(tt.lit)) {
			t.Errorf("%q in %q: want %v, got %v", tt.lit, tt.line, want, got)
		}
	}
}

func FuzzLiteral(f *testing.F) {
	f.Add(" == ", "a == b")
	f.Add(", status=", "x, status=sent")
	f.Fuzz(func(t *testing.T, lit, line string) {
		l := NewLiteral(lit)
		if got, want := l.In([]byte(line)), bytes.Contains([]byte(line), []byte(lit)); got != want || l.Index([]byte(line)) != bytes.Index([]byte(line), []byte(lit)) {
			t.Errorf("%q in %q: want %v, got %v", lit, line, want, got)
		}
	})
}
