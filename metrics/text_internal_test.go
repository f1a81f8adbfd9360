package metrics

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestAppendFloatIsG: appendFloat writes every value as expfmt does
// (strconv's shortest 'g'), including the whole numbers it writes as
// integers and the edges where 'g' turns to an exponent.
func TestAppendFloatIsG(t *testing.T) {
	values := []float64{0, math.Copysign(0, -1), 1, -1, 7, 10, 100, 999999, -999999, 1e6, -1e6, 1000001,
		1234567, 0.5, -0.5, 1e-5, 123456.5, 999999.5, 1 << 53, math.MaxInt64, math.MinInt64, 1e21, math.SmallestNonzeroFloat64}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		values = append(values, float64(r.IntN(3e6)-1e6), r.Float64()*1e7, float64(r.Uint64()))
	}
	for _, v := range values {
		if got, want := string(appendFloat(nil, v)), strconv.FormatFloat(v, 'g', -1, 64); got != want {
			t.Fatalf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{math.Inf(1): "+Inf", math.Inf(-1): "-Inf", math.NaN(): "NaN"} {
		if got := string(appendFloat(nil, v)); got != want {
			t.Errorf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestPrefixKey: keys order as their strings do, and "whole" keys are equal
// only for equal strings, NUL bytes (which look like the padding) included.
func TestPrefixKey(t *testing.T) {
	vals := []string{"", "a", "ab", "ab\x00", "ab\x00c", "\x00", "abcdefgh", "abcdefghi", "abcdefg\x00", "abcdefgh\x00", "zzzzzzzzzzz", "\xff\xff", "2.0.0", "4.3.2", "deferred", "sent"}
	for _, a := range vals {
		ka, wa := prefixKey(a)
		if want := len(a) <= 8 && !strings.Contains(a, "\x00"); wa != want {
			t.Errorf("prefixKey(%q): whole %v, want %v", a, wa, want)
		}
		for _, b := range vals {
			kb, wb := prefixKey(b)
			c := strings.Compare(a, b)
			if ka < kb && c >= 0 || ka > kb && c <= 0 {
				t.Errorf("%q and %q: keys %x and %x, strings compare %d", a, b, ka, kb, c)
			}
			if ka == kb && wa && wb && a != b {
				t.Errorf("%q and %q: one whole key, different strings", a, b)
			}
		}
	}
}
