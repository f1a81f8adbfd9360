// Package litset says, in one vectorised pass over a line, which of a set
// of literals the line contains.
//
// Most lines of a mail log match no rule, and a rule's literal (", status=",
// " == ") is what shows it: without the set, a line is searched once per
// literal, by the literal's rarest byte, and then at every occurrence of
// that byte ('=' and ',' occur many times in every delivery line). Set
// checks every position of the line against all the literals at once, with
// the Teddy method of Hyperscan: each literal has a window of up to three of
// its bytes, each window byte is split into its two 4-bit halves, and a
// vector byte shuffle looks each half up in a 16-entry table whose 8 bits
// are 8 buckets of literals. A position where some bucket's bits survive all
// six lookups may start that bucket's window. Only those few positions are
// compared with the literals, byte for byte.
package litset

import (
	"math/bits"
	"slices"
)

// Set is a set of up to 64 literals. It is immutable and safe for
// concurrent use.
type Set struct {
	t tables
	// bucket lists the windows of each bucket.
	bucket [buckets][]window
	// always are the empty literals, which every line holds.
	always uint64
	// short: some window is shorter than 3 bytes.
	short bool
}

// tables is what the vector code reads: for window bytes 0, 1 and 2, the
// bucket bits of each low and each high 4-bit half, every 16-byte table
// twice (a 32-byte shuffle looks up within each 16-byte half), then 32
// bytes of 0x0f.
type tables struct {
	nib  [6][32]byte
	mask [32]byte
}

// window is the part of one or more literals the tables hold.
type window struct {
	text string
	// key is text as load3 reads it, in the bytes of mask.
	key, mask uint32
	bucket    int
	lits      []placed
}

// placed is a literal with its window at off.
type placed struct {
	text string
	off  int
	bit  uint64
}

// buckets is how many groups of literals the tables tell apart.
const buckets = 8

// New returns the set of lits; bit i of In's mask is lits[i]. It panics
// with more than 64 literals.
func New(lits []string) *Set {
	if len(lits) > 64 {
		panic("litset: more than 64 literals")
	}
	s := &Set{}
	var wins []window
	for i, l := range lits {
		if l == "" {
			s.always |= 1 << i
			continue
		}
		off := bestWindow(l)
		text := l[off:min(off+3, len(l))]
		// Literals with the same window share it.
		j := slices.IndexFunc(wins, func(w window) bool { return w.text == text })
		if j < 0 {
			j = len(wins)
			w := window{text: text}
			for k := range len(text) {
				w.key |= uint32(text[k]) << (8 * k)
				w.mask |= 0xff << (8 * k)
			}
			wins = append(wins, w)
		}
		wins[j].lits = append(wins[j].lits, placed{text: l, off: off, bit: 1 << i})
		s.short = s.short || len(text) < 3
	}
	group(wins)
	for i := range s.t.mask {
		s.t.mask[i] = 0x0f
	}
	for _, w := range wins {
		s.bucket[w.bucket] = append(s.bucket[w.bucket], w)
		lo, hi := nibbles(w.text)
		bit := byte(1) << w.bucket
		for j := range 3 {
			for n := range 16 {
				if lo[j]&(1<<n) != 0 {
					s.t.nib[2*j][n] |= bit
					s.t.nib[2*j][n+16] |= bit
				}
				if hi[j]&(1<<n) != 0 {
					s.t.nib[2*j+1][n] |= bit
					s.t.nib[2*j+1][n+16] |= bit
				}
			}
		}
	}
	return s
}

// In returns the literals line contains, and true; or false on a machine
// without the vector code, where the caller searches for each literal.
func (s *Set) In(line []byte) (uint64, bool) {
	if !vector {
		return 0, false
	}
	in := s.always
	n := len(line)
	// The vector code reads two bytes past each block of 32 positions. It
	// reads whole blocks up to n-2; the positions left, but the last two,
	// are the end of one more block, which starts inside the last. A line
	// too short for that is read from a copy padded with zeroes (which only
	// the comparison rules out).
	buf, blocks := line, (n-2)/32
	rest := n - 2 - 32*blocks
	var last *byte
	if n < 34 {
		var pad [66]byte
		copy(pad[:], line)
		buf, blocks, rest = pad[:], (n+31)/32, 0
	} else if rest > 0 {
		last = &line[n-34]
	}
	for from := 0; from < blocks || last != nil; {
		i, mask := scan(&s.t, &buf[32*from], blocks-from, last)
		if i < 0 {
			break
		}
		if from += i; from == blocks {
			in |= s.compare(line, n-34, mask&^(1<<(32-rest)-1))
			break
		}
		in |= s.compare(line, 32*from, mask)
		from++
	}
	if s.short && n >= 34 {
		// Only a window shorter than 3 can start at the last two.
		in |= s.compare(line, n-2, 3)
	}
	return in, true
}

// compare returns the literals whose windows are at the positions base+k
// for the bits k of mask.
func (s *Set) compare(line []byte, base int, mask uint32) uint64 {
	var in uint64
	for ; mask != 0; mask &= mask - 1 {
		p := base + bits.TrailingZeros32(mask)
		if p >= len(line) {
			break
		}
		v := load3(line, p)
		for b := s.bucketsOf(v); b != 0; b &= b - 1 {
			ws := s.bucket[bits.TrailingZeros8(b)]
			for i := range ws {
				if v&ws[i].mask != ws[i].key {
					continue
				}
				for _, l := range ws[i].lits {
					// A literal no longer than its window is the window,
					// if the line does not end inside it (load3's zeroes).
					if in&l.bit == 0 && p >= l.off && (len(l.text) <= 3 && len(line)-p >= len(l.text) || hasAt(line, p-l.off, l.text)) {
						in |= l.bit
					}
				}
			}
		}
	}
	return in
}

// load3 returns the bytes at p, p+1 and p+2 of line, 0 past its end, in
// the order of a little-endian load.
func load3(line []byte, p int) uint32 {
	if len(line)-p >= 3 {
		return uint32(line[p]) | uint32(line[p+1])<<8 | uint32(line[p+2])<<16
	}
	v := uint32(line[p])
	if len(line)-p == 2 {
		v |= uint32(line[p+1]) << 8
	}
	return v
}

// bucketsOf is what the vector code finds for the three bytes v, at one
// position.
func (s *Set) bucketsOf(v uint32) uint8 {
	t := &s.t.nib
	b0, b1, b2 := byte(v), byte(v>>8), byte(v>>16)
	return t[0][b0&15] & t[1][b0>>4] & t[2][b1&15] & t[3][b1>>4] & t[4][b2&15] & t[5][b2>>4]
}

func hasAt(line []byte, p int, text string) bool {
	return len(line)-p >= len(text) && string(line[p:p+len(text)]) == text
}

// nibbles returns, for each of the 3 window positions, the low and high
// halves of the window's byte as bit sets; all 16 where the window is
// shorter (any byte will do).
func nibbles(w string) (lo, hi [3]uint16) {
	for j := range 3 {
		if j < len(w) {
			lo[j] = 1 << (w[j] & 15)
			hi[j] = 1 << (w[j] >> 4)
		} else {
			lo[j], hi[j] = 0xffff, 0xffff
		}
	}
	return lo, hi
}

// bestWindow returns where the three bytes of l (all of it when shorter)
// least likely to start at a position of a mail log line begin.
func bestWindow(l string) int {
	best, bestP := 0, 2.0
	for i := 0; i+3 <= len(l); i++ {
		p := 1.0
		for j := i; j < i+3; j++ {
			p *= freq(l[j])
		}
		if p < bestP {
			best, bestP = i, p
		}
	}
	return best
}

// group puts the windows into buckets: each its own while there are
// enough, then merging, again and again, the two groups whose merge adds the
// fewest expected false candidates per position (a merged bucket takes
// every mix of its windows' halves).
func group(wins []window) {
	type set struct {
		lo, hi  [3]uint16
		members []int
	}
	var sets []set
	for i, w := range wins {
		lo, hi := nibbles(w.text)
		sets = append(sets, set{lo: lo, hi: hi, members: []int{i}})
	}
	merged := func(a, b set) set {
		m := set{members: append(append([]int(nil), a.members...), b.members...)}
		for j := range 3 {
			m.lo[j] = a.lo[j] | b.lo[j]
			m.hi[j] = a.hi[j] | b.hi[j]
		}
		return m
	}
	cost := func(s set) float64 { return accepts(s.lo, s.hi) }
	// gain[i][j] (i < j) is what merging sets i and j adds.
	costs := make([]float64, len(sets))
	for i := range sets {
		costs[i] = cost(sets[i])
	}
	gain := make([][]float64, len(sets))
	for i := range sets {
		gain[i] = make([]float64, len(sets))
		for j := i + 1; j < len(sets); j++ {
			gain[i][j] = cost(merged(sets[i], sets[j])) - costs[i] - costs[j]
		}
	}
	alive := make([]bool, len(sets))
	for i := range alive {
		alive[i] = true
	}
	for n := len(sets); n > buckets; n-- {
		bi, bj := -1, -1
		for i := range sets {
			for j := i + 1; j < len(sets); j++ {
				if alive[i] && alive[j] && (bi < 0 || gain[i][j] < gain[bi][bj]) {
					bi, bj = i, j
				}
			}
		}
		sets[bi] = merged(sets[bi], sets[bj])
		costs[bi] = cost(sets[bi])
		alive[bj] = false
		for k := range sets {
			if alive[k] && k != bi {
				i, j := min(k, bi), max(k, bi)
				gain[i][j] = cost(merged(sets[i], sets[j])) - costs[i] - costs[j]
			}
		}
	}
	b := 0
	for i, s := range sets {
		if !alive[i] {
			continue
		}
		for _, m := range s.members {
			wins[m].bucket = b
		}
		b++
	}
}

// accepts is the share of positions of a mail log that a bucket with
// these halves lets through.
func accepts(lo, hi [3]uint16) float64 {
	p := 1.0
	for j := range 3 {
		q := 0.0
		for h := uint(hi[j]); h != 0; h &= h - 1 {
			for l := uint(lo[j]); l != 0; l &= l - 1 {
				q += freq(byte(bits.TrailingZeros(h)<<4 | bits.TrailingZeros(l)))
			}
		}
		p *= q
	}
	return p
}

// freq is how often c occurs in mail logs, as a share of their bytes.
func freq(c byte) float64 {
	if c >= ' ' && c <= '~' {
		return (float64(byteFreq[c-' ']) + 1) / 65536
	}
	if c == '\n' {
		return 0.005
	}
	return 1.0 / 65536
}

// byteFreq counts each printable ASCII byte per 65,536 bytes of the real
// Postfix and Exim logs of the corpus (shared/corpus/lab-*, a megabyte).
var byteFreq = [95]uint16{
	5552, 0, 18, 0, 0, 0, 0, 2, 177, 177, 17, 170, // sp ! " # $ % & ' ( ) * +
	454, 1482, 1980, 462, 4083, 3256, 2810, 822, 1179, 1004, 1458, 1384, // , - . / 0 1 2 3 4 5 6 7
	582, 647, 2132, 18, 415, 1253, 412, 0, 372, 121, 354, 295, // 8 9 : ; < = > ? @ A B C
	90, 501, 145, 7, 60, 1, 2, 11, 0, 71, 227, 69, // D E F G H I J K L M N O
	138, 31, 190, 127, 393, 70, 2, 216, 0, 6, 7, 509, // P Q R S T U V W X Y Z [
	0, 509, 0, 207, 0, 1742, 390, 918, 1207, 3796, 759, 243, // \ ] ^ _ ` a b c d e f g
	178, 1417, 106, 114, 1440, 1767, 1289, 2120, 1369, 190, 1880, 1623, // h i j k l m n o p q r s
	2292, 527, 743, 103, 1670, 411, 71, 0, 0, 0, 0, // t u v w x y z { | } ~
}
