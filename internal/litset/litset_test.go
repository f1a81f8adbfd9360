package litset

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// shippedLiterals returns the literals of the shipped rules.yaml, each once,
// in order.
func shippedLiterals(t testing.TB) []string {
	data, err := os.ReadFile("../../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var lits []string
	for _, m := range regexp.MustCompile(`(?m)^\s*contains: (".*")\s*$`).FindAllSubmatch(data, -1) {
		s, err := strconv.Unquote(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(lits, s) {
			lits = append(lits, s)
		}
	}
	if len(lits) < 10 {
		t.Fatalf("rules.yaml: only %d literals found", len(lits))
	}
	return lits
}

// logLines returns the lines of the repository's real Postfix and Exim logs.
func logLines(t testing.TB) [][]byte {
	var lines [][]byte
	for _, dir := range []string{"../../testdata/lab", "../../testdata/public"} {
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for line := range bytes.Lines(data) {
				lines = append(lines, bytes.TrimSuffix(line, []byte("\n")))
			}
		}
	}
	if len(lines) < 3000 {
		t.Fatalf("only %d lines: testdata is missing", len(lines))
	}
	return lines
}

// check says what is wrong with In on line, or "".
func check(s *Set, lits []string, line []byte) string {
	got, ok := s.In(line)
	if !vector {
		if ok {
			return "In answered without the vector code"
		}
		return ""
	}
	if !ok {
		return "In did not answer"
	}
	var want uint64
	for i, l := range lits {
		if bytes.Contains(line, []byte(l)) {
			want |= 1 << i
		}
	}
	if got != want {
		return fmt.Sprintf("In = %#x, want %#x", got, want)
	}
	return ""
}

// TestInOnRealLogs: on every line of the real logs, and on every prefix and
// suffix of some (each length a block boundary can fall at), In finds the
// literals of the shipped rules that the line holds, and no other.
func TestInOnRealLogs(t *testing.T) {
	lits := shippedLiterals(t)
	s := New(lits)
	for i, line := range logLines(t) {
		if msg := check(s, lits, line); msg != "" {
			t.Fatalf("%q: %s", line, msg)
		}
		if i%50 != 0 {
			continue
		}
		for k := range len(line) {
			if msg := check(s, lits, line[:k]); msg != "" {
				t.Fatalf("%q: %s", line[:k], msg)
			}
			if msg := check(s, lits, line[k:]); msg != "" {
				t.Fatalf("%q: %s", line[k:], msg)
			}
		}
	}
}

// bucketsAt is what the vector code finds at p of buf, which it reads past
// len(line) up to 2 bytes.
func bucketsAt(s *Set, buf []byte, p int) uint8 {
	return s.bucketsOf(load3(buf, p))
}

// TestScanIsThePositionByPositionLookup: of the blocks the vector code
// looks at (whole blocks, then one that may start anywhere), it returns the
// first with a position whose six lookups leave a bucket, and each such
// position of the block, as the lookups done one position at a time do.
func TestScanIsThePositionByPositionLookup(t *testing.T) {
	if !vector {
		t.Skip("no vector code on this machine")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	lits := shippedLiterals(t)
	for round := range 2000 {
		set := lits
		if round%2 == 1 {
			set = randomLiterals(rng)
		}
		s := New(set)
		blocks := rng.IntN(5)
		buf := make([]byte, 32*blocks+2+rng.IntN(40))
		for i := 0; i < len(buf); {
			if rng.IntN(20) == 0 {
				i += copy(buf[i:], set[rng.IntN(len(set))])
			} else {
				buf[i] = randomByte(rng)
				i++
			}
		}
		starts := make([]int, blocks)
		for i := range starts {
			starts[i] = 32 * i
		}
		var last *byte
		if len(buf) >= 34 && rng.IntN(2) == 0 {
			k := rng.IntN(len(buf) - 33)
			last = &buf[k]
			starts = append(starts, k)
		}
		wantBlock, wantMask := -1, uint32(0)
		for i, start := range starts {
			for p := range 32 {
				if bucketsAt(s, buf, start+p) != 0 {
					wantMask |= 1 << p
				}
			}
			if wantMask != 0 {
				wantBlock = i
				break
			}
		}
		var first *byte
		if blocks > 0 {
			first = &buf[0]
		}
		if block, mask := scan(&s.t, first, blocks, last); block != wantBlock || mask != wantMask {
			t.Fatalf("literals %q, %q, blocks from %v: scan = %d, %#x; want %d, %#x", set, buf, starts, block, mask, wantBlock, wantMask)
		}
	}
}

// TestFewPositionsToCompare: the windows and buckets are of use. Of the real
// log lines that hold none of the shipped literals, most have no position
// to compare at all.
func TestFewPositionsToCompare(t *testing.T) {
	lits := shippedLiterals(t)
	s := New(lits)
	var noise, clear int
	for _, line := range logLines(t) {
		if in := slices.ContainsFunc(lits, func(l string) bool { return bytes.Contains(line, []byte(l)) }); in {
			continue
		}
		noise++
		any := false
		for p := range line {
			any = any || bucketsAt(s, line, p) != 0
		}
		if !any {
			clear++
		}
	}
	if noise < 1000 || clear*100 < noise*85 {
		t.Errorf("%d of %d lines without a literal have no position to compare, want 85%%", clear, noise)
	}
}

// TestInManyLiterals: more literals than buckets, short and empty ones,
// bytes of every kind. Random lines, each with some of the literals.
func TestInManyLiterals(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		lits := randomLiterals(rng)
		s := New(lits)
		for k := range 50 {
			size := rng.IntN(300)
			if k == 0 {
				size = 3000 // many blocks, and literals in the last
			}
			var line []byte
			for len(line) < size {
				if rng.IntN(8) == 0 {
					line = append(line, lits[rng.IntN(len(lits))]...)
				} else {
					line = append(line, randomByte(rng))
				}
			}
			if msg := check(s, lits, line); msg != "" {
				t.Fatalf("round %d, literals %q, line %q: %s", round, lits, line, msg)
			}
		}
	}
}

func randomLiterals(rng *rand.Rand) []string {
	lits := make([]string, 1+rng.IntN(64))
	for i := range lits {
		b := make([]byte, rng.IntN(7))
		for j := range b {
			b[j] = randomByte(rng)
		}
		lits[i] = string(b)
	}
	return lits
}

func randomByte(rng *rand.Rand) byte {
	switch rng.IntN(4) {
	case 0:
		return byte(rng.IntN(256))
	case 1:
		return " =<>,:"[rng.IntN(6)]
	}
	return byte(' ' + rng.IntN(95))
}

// TestInWithoutVector: on a machine without the vector code, In says it
// cannot tell, and the caller searches for each literal.
func TestInWithoutVector(t *testing.T) {
	defer func(v bool) { vector = v }(vector)
	vector = false
	if _, ok := New(shippedLiterals(t)).In([]byte(" == ")); ok {
		t.Error("In answered without the vector code")
	}
}

func TestNewPanicsBeyond64(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New took 65 literals")
		}
	}()
	New(make([]string, 65))
}

func FuzzIn(f *testing.F) {
	lits := shippedLiterals(f)
	for _, line := range logLines(f)[:200] {
		f.Add(line, "")
	}
	f.Add([]byte(" == x"), "==")
	f.Add([]byte(strings.Repeat("a", 70)+" ** "), "\x00\xff")
	f.Fuzz(func(t *testing.T, line []byte, extra string) {
		all := append(append([]string(nil), lits...), extra)
		for _, set := range [][]string{lits, all, {extra}} {
			if msg := check(New(set), set, line); msg != "" {
				t.Fatalf("literals %q, line %q: %s", set, line, msg)
			}
		}
	})
}

func BenchmarkIn(b *testing.B) {
	lits := shippedLiterals(b)
	s := New(lits)
	lines := logLines(b)
	var size int
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ResetTimer()
	for i := range b.N {
		s.In(lines[i%len(lines)])
	}
}
