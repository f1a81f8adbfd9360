package report

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDurationsWithinPrecision compares the histogram's percentiles with
// the exact nearest-rank ones on spreads a mail log gives: seconds to days.
func TestDurationsWithinPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, spread := range []func() time.Duration{
		func() time.Duration { return time.Duration(r.IntN(120)) * time.Millisecond },               // exact region
		func() time.Duration { return time.Duration(r.IntN(3600)) * time.Second },                   // up to an hour, whole seconds
		func() time.Duration { return time.Duration(r.ExpFloat64() * float64(20*time.Minute)) },     // retries
		func() time.Duration { return time.Duration(r.Int64N(int64(120 * time.Hour))) },             // up to the tracker's TTL
		func() time.Duration { return time.Duration(r.Int64N(int64(time.Second))) + 5*time.Minute }, // one narrow bucket
	} {
		var d Durations
		var all []time.Duration
		for range 1 + r.IntN(20000) {
			v := spread()
			d.Add(v)
			all = append(all, v)
		}
		slices.Sort(all)
		if d.N() != uint64(len(all)) || d.Max() != all[len(all)-1] {
			t.Fatalf("n %d max %v, want %d %v", d.N(), d.Max(), len(all), all[len(all)-1])
		}
		for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 1} {
			exact := all[int(math.Ceil(q*float64(len(all))))-1]
			got := d.Quantile(q)
			tol := max(time.Duration(float64(exact)*0.004), time.Millisecond)
			if diff := got - exact; diff > tol || -diff > tol {
				t.Errorf("q%.2f of %d: %v, exact %v (tolerance %v)", q, len(all), got, exact, tol)
			}
		}
	}
}

// TestDurationsMemory: a million durations take the same few buckets as a
// thousand; memory is by the spread of values, not their number.
func TestDurationsMemory(t *testing.T) {
	var d Durations
	for i := range 1000000 {
		d.Add(time.Duration(i%86400) * time.Second)
	}
	used := 0
	for _, o := range d.octaves {
		if o != nil {
			used++
		}
	}
	if used > 28 {
		t.Errorf("%d octaves of 128 buckets for values up to a day", used)
	}
}
