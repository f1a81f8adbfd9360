package report

import (
	"math"
	"math/bits"
	"time"
)

// Durations collects times to resolution in a fixed amount of memory, so a
// report over a year of logs takes no more than one over a day: a
// histogram with 128 buckets per doubling, in milliseconds. A percentile
// read from it is within 0.4% of the exact one (below 128 ms, exact); the
// count and the largest value are exact.
type Durations struct {
	n        uint64
	min, max time.Duration
	octaves  [64]*[subBuckets]uint64 // made when first used
}

const (
	subBits    = 7
	subBuckets = 1 << subBits
)

// bucket returns where v (milliseconds, not negative) is counted.
func bucket(v uint64) (octave, sub int) {
	if v < subBuckets {
		return 0, int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return shift + 1, int(v>>shift) - subBuckets
}

// bounds returns the values a bucket covers, [lo, hi).
func bounds(octave, sub int) (lo, hi uint64) {
	if octave == 0 {
		return uint64(sub), uint64(sub) + 1
	}
	shift := octave - 1
	lo = uint64(subBuckets+sub) << shift
	return lo, lo + 1<<shift
}

// Add counts one duration (a negative one as zero).
func (d *Durations) Add(v time.Duration) {
	v = max(v, 0)
	if d.n == 0 || v < d.min {
		d.min = v
	}
	d.max = max(d.max, v)
	d.n++
	o, s := bucket(uint64(v / time.Millisecond))
	if d.octaves[o] == nil {
		d.octaves[o] = new([subBuckets]uint64)
	}
	d.octaves[o][s]++
}

// N returns how many durations were added.
func (d *Durations) N() uint64 { return d.n }

// Max returns the largest duration added.
func (d *Durations) Max() time.Duration { return d.max }

// Quantile returns the nearest-rank q-quantile (0 < q <= 1): the middle of
// its bucket, kept within the smallest and largest values seen.
func (d *Durations) Quantile(q float64) time.Duration {
	if d.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(d.n)))
	rank = min(max(rank, 1), d.n)
	var seen uint64
	for o, oct := range d.octaves {
		if oct == nil {
			continue
		}
		for s, c := range oct {
			if seen += c; c > 0 && seen >= rank {
				lo, hi := bounds(o, s)
				mid := time.Duration(lo+hi) * time.Millisecond / 2
				if hi-lo == 1 {
					mid = time.Duration(lo) * time.Millisecond
				}
				return min(max(mid, d.min), d.max)
			}
		}
	}
	return d.max
}
