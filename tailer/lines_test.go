package tailer

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

type got struct {
	lines []string
	sizes []int
}

func collect(t *testing.T, input string, max int, final bool) (got, int) {
	t.Helper()
	var g got
	rest, err := ReadLines(strings.NewReader(input), max, final, func(line []byte, n int, tooLong bool) error {
		if tooLong {
			g.lines = append(g.lines, fmt.Sprintf("<too long %d>", n))
		} else {
			g.lines = append(g.lines, string(line))
		}
		g.sizes = append(g.sizes, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, rest
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name  string
		input string
		final bool
		want  []string
		rest  int
	}{
		{"plain", "a\nbb\n", true, []string{"a", "bb"}, 0},
		{"final line without newline, complete file", "a\nbb", true, []string{"a", "bb"}, 0},
		{"final line without newline, growing file", "a\nbb", false, []string{"a"}, 2},
		{"empty lines kept", "\n\na\n", true, []string{"", "", "a"}, 0},
		{"CR kept for the parser to drop", "a\r\n", true, []string{"a\r"}, 0},
		{"too long in the middle", "a\n" + long + "\nb\n", true, []string{"a", "<too long 1001>", "b"}, 0},
		{"too long at the end of a growing file is left unread", "a\n" + long, false, []string{"a"}, 1000},
		{"too long at the end of a complete file", "a\n" + long, true, []string{"a", "<too long 1000>"}, 0},
		{"exactly the limit", strings.Repeat("y", 100) + "\n", true, []string{strings.Repeat("y", 100)}, 0},
		{"one past the limit", strings.Repeat("y", 101) + "\n", true, []string{"<too long 102>"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, rest := collect(t, tt.input, 100, tt.final)
			if fmt.Sprint(g.lines) != fmt.Sprint(tt.want) {
				t.Errorf("want %q, got %q", tt.want, g.lines)
			}
			if rest != tt.rest {
				t.Errorf("want rest %d, got %d", tt.rest, rest)
			}
			total := rest
			for _, n := range g.sizes {
				total += n
			}
			if total != len(tt.input) {
				t.Errorf("bytes accounted: want %d, got %d", len(tt.input), total)
			}
		})
	}
}

// hugeReader yields n bytes of 'x' without a newline, then "\nok\n", without
// ever holding them in memory.
type hugeReader struct{ left int }

func (h *hugeReader) Read(p []byte) (int, error) {
	if h.left < 0 {
		return 0, io.EOF
	}
	if h.left == 0 {
		h.left = -1
		return copy(p, "\nok\n"), nil
	}
	n := min(len(p), h.left)
	for i := range n {
		p[i] = 'x'
	}
	h.left -= n
	return n, nil
}

// TestHugeLineMemoryBounded reads a 100 MiB line: it is skipped and counted,
// the next line is read, and memory stays at the buffer size.
func TestHugeLineMemoryBounded(t *testing.T) {
	const size = 100 << 20
	var lines []string
	allocs := testing.AllocsPerRun(1, func() {
		lines = lines[:0]
		_, err := ReadLines(&hugeReader{left: size}, 65536, true, func(line []byte, n int, tooLong bool) error {
			if tooLong {
				lines = append(lines, fmt.Sprintf("too long %d", n))
			} else {
				lines = append(lines, string(line))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	want := []string{fmt.Sprintf("too long %d", size+1), "ok"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("want %q, got %q", want, lines)
	}
	if allocs > 20 {
		t.Errorf("want a bounded number of allocations, got %v", allocs)
	}
}
