package jsonw

import (
	"encoding/json"
	"math"
	"testing"
)

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLikeEncodingJSON: every appender writes what json.Marshal writes.
func TestLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "example.com", "4.3.2", `say "hi"`, `back\slash`, "<a&b>", "tab\there", "nl\n", "\x00\x1f", "del\x7f", "dïgé.ch", "bad\xff\xfe", "line\u2028sep", "quota"} {
		if got, want := string(String(nil, s)), marshal(t, s); got != want {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
	for _, ss := range [][]string{nil, {}, {"a"}, {"mail", "example.com", "deferred", "4.3.2"}, {`"`, "<"}} {
		if got, want := string(Strings(nil, ss)), marshal(t, ss); got != want {
			t.Errorf("Strings(%q) = %s, want %s", ss, got, want)
		}
	}
	for _, us := range [][]uint64{nil, {}, {0}, {1, 2, math.MaxUint64}} {
		if got, want := string(Uints(nil, us)), marshal(t, us); got != want {
			t.Errorf("Uints(%v) = %s, want %s", us, got, want)
		}
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.5e-7, 1e-6, 9.99e-7, 123456789.125, 1e20, 1e21, -1e21, 5e-324, math.MaxFloat64, 86400.25} {
		got, err := Float(nil, f)
		if err != nil {
			t.Fatalf("Float(%v): %v", f, err)
		}
		if want := marshal(t, f); string(got) != want {
			t.Errorf("Float(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := Float(nil, f); err == nil {
			t.Errorf("Float(%v): no error; JSON has no such number", f)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a", `"`, "\xff", "<", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(String(nil, s)), marshal(t, s); got != want {
			t.Fatalf("String(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzFloat(f *testing.F) {
	for _, v := range []float64{0, 1e-7, 1e21, 123.456} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		got, err := Float(nil, v)
		want, werr := json.Marshal(v)
		if (err != nil) != (werr != nil) || err == nil && string(got) != string(want) {
			t.Fatalf("Float(%v) = %s, %v; json.Marshal: %s, %v", v, got, err, want, werr)
		}
	})
}
