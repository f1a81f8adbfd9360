package fastregexp

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// Matcher runs programs; it holds the scratch space that makes a match
// allocate nothing. It is not safe for concurrent use.
type Matcher struct {
	stack []entry
	caps  []int
	steps int
}

// entry is a choice left to try, or a capture to restore on the way back.
type entry struct {
	kind uint8
	pc   int
	a, b int
}

const (
	kBranch  uint8 = iota // resume at pc, position a
	kRestore              // capture slot a had value b
	kGreedy               // run at pc: try shorter ends from b-1 down to a
	kLazy                 // run at pc: try longer ends from a+1 up to b
)

// FindSubmatchIndex is regexp's FindSubmatchIndex, written in dst's memory
// when it has room, else in the Matcher's: the match is valid until the
// next call, and dst's contents are not kept (a match is built in place,
// not copied). ok is false when the match would take too many steps (a
// regexp that backtracks a lot on this input): the caller should ask
// regexp instead.
func (m *Matcher) FindSubmatchIndex(p *Prog, b []byte, dst []int) (match []int, ok bool) {
	m.steps = 4*len(p.insts)*(len(b)+1) + 4096
	if cap(dst) < p.ncap {
		if cap(m.caps) < p.ncap {
			m.caps = make([]int, p.ncap)
		}
		dst = m.caps
	}
	caps := dst[:p.ncap]
	if p.anchor != nil {
		return m.anchored(p, b, caps)
	}
	for pos := 0; pos <= len(b); {
		if p.prefix != nil {
			i := p.prefixLit.Index(b[pos:])
			if i < 0 {
				return nil, true
			}
			pos += i
		} else if !p.nullableStart {
			if pos == len(b) {
				return nil, true
			}
			if c := b[pos]; !p.first[c] {
				if c < utf8.RuneSelf {
					pos++
				} else {
					_, w := utf8.DecodeRune(b[pos:])
					pos += w
				}
				if m.steps--; m.steps < 0 {
					return nil, false
				}
				continue
			}
		}
		if p.quick >= 0 && !quickOK(&p.insts[p.quick], b, pos+len(p.prefix)) {
			if m.steps--; m.steps < 0 {
				return nil, false
			}
			pos++ // the prefix is ASCII or a whole character: step past its first byte
			continue
		}
		for i := range caps {
			caps[i] = -1
		}
		found, ok := m.try(p, b, 0, pos, caps)
		if !ok {
			return nil, false
		}
		if found {
			return caps, true
		}
		if p.anchored || pos == len(b) {
			break
		}
		// Matches start between characters, as regexp's do.
		if b[pos] < utf8.RuneSelf {
			pos++
		} else {
			_, w := utf8.DecodeRune(b[pos:])
			pos += w
		}
	}
	return nil, true
}

// nextCandidate returns the first end from c to hi (inclusive) a lazy run
// of in may have, or hi+1.
func nextCandidate(in *inst, b []byte, c, hi int) int {
	if in.nextLit != nil {
		if i := in.nextLit.Index(b[c:min(hi+len(in.nextLit.text), len(b))]); i >= 0 {
			return c + i
		}
		return hi + 1
	}
	if in.next >= 0 {
		if i := bytes.IndexByte(b[c:min(hi+1, len(b))], byte(in.next)); i >= 0 {
			return c + i
		}
		return hi + 1
	}
	for c <= hi && !candidate(in, b, c) {
		c++
	}
	return c
}

// anchored finds the match of a program with an anchor (see Prog.anchor):
// for each occurrence of the anchor, in order, the run of the class that
// ends there, and the prefix before it, give the one start to try.
func (m *Matcher) anchored(p *Prog, b []byte, caps []int) ([]int, bool) {
	run, prefix := &p.insts[p.quick], p.prefix
	for from := 0; from < len(b); {
		i := p.anchor.Index(b[from:])
		if i < 0 {
			return nil, true
		}
		q := from + i
		from = q + 1
		s := q
		if run.min == run.max {
			// A run of fixed length ([0-9A-Za-z]{6} before Exim's "-")
			// starts at one place: the byte before it, in the prefix or
			// not of the class, rules out most occurrences at once.
			if s = q - run.min; s < len(prefix) || s > 0 && run.class[b[s-1]] || span(run.class, b[s:q]) < run.min {
				continue
			}
		} else {
			for cl := run.class; s > 0 && cl[b[s-1]]; {
				s--
			}
		}
		if m.steps -= 1 + (q-s)>>4; m.steps < 0 {
			return nil, false
		}
		if n := q - s; n < run.min || run.max >= 0 && n > run.max || s < len(prefix) || !bytes.Equal(b[s-len(prefix):s], prefix) {
			continue
		}
		for i := range caps {
			caps[i] = -1
		}
		// The prefix and the run are known to match, and leave no choice:
		// the program goes on after them, with their captures set. The
		// prefix is instruction 0, with the whole match's start folded
		// into it (the tests check it of every program with a run here).
		for _, slot := range p.insts[0].saves {
			caps[slot] = s - len(prefix)
		}
		for pc := 1; pc <= p.quick; pc++ {
			in := &p.insts[pc]
			for _, slot := range in.saves {
				caps[slot] = s
			}
			if in.op == opSave {
				caps[in.x] = s
			}
		}
		m.steps -= p.quick + 1
		found, ok := m.try(p, b, p.quick+1, q, caps)
		if !ok {
			return nil, false
		}
		if found {
			return caps, true
		}
	}
	return nil, true
}

// span returns the length of the run of class bytes b starts with. Four
// bytes a round: runs are ids and addresses, tens of bytes.
func span(class *[256]bool, b []byte) int {
	i := 0
	for ; len(b)-i >= 4; i += 4 {
		w := b[i : i+4 : i+4]
		if !class[w[0]] {
			return i
		}
		if !class[w[1]] {
			return i + 1
		}
		if !class[w[2]] {
			return i + 2
		}
		if !class[w[3]] {
			return i + 3
		}
	}
	for ; i < len(b); i++ {
		if !class[b[i]] {
			return i
		}
	}
	return len(b)
}

// quickOK says whether the run in can begin at pos: long enough, and ended
// by a byte that can follow it.
func quickOK(in *inst, b []byte, pos int) bool {
	end := len(b)
	if in.max >= 0 && pos+in.max < end {
		end = pos + in.max
	}
	n := pos + span(in.class, b[pos:end])
	return n-pos >= in.min && n < len(b) && in.follow[b[n]]
}

// candidate reports whether a run of in may end at c: what follows can start
// there.
func candidate(in *inst, b []byte, c int) bool {
	return in.followAny || c < len(b) && in.follow[b[c]]
}

// try runs the program from instruction pc at pos, depth first in
// regexp's order of preference, and stops at the first match.
func (m *Matcher) try(p *Prog, b []byte, pc, pos int, caps []int) (found, ok bool) {
	stack := m.stack[:0]
	defer m.keep(&stack)
	insts := p.insts
	for {
		if m.steps--; m.steps < 0 {
			return false, false
		}
		in := &insts[pc]
		if len(stack) == 0 { // with no choice left, nothing is undone
			for _, slot := range in.saves {
				caps[slot] = pos
			}
		} else {
			for _, slot := range in.saves {
				stack = append(stack, entry{kind: kRestore, a: slot, b: caps[slot]})
				caps[slot] = pos
			}
		}
		switch in.op {
		case opMatch:
			return true, true
		case opLit:
			if litAt(in, b, pos) {
				pos += len(in.lit)
				pc++
				continue
			}
		case opByte:
			if pos < len(b) && in.class[b[pos]] {
				pos++
				pc++
				continue
			}
		case opRun:
			end := len(b)
			if in.max >= 0 && pos+in.max < end {
				end = pos + in.max
			}
			n := pos
			if in.stop >= 0 {
				if i := bytes.IndexByte(b[pos:end], byte(in.stop)); i >= 0 {
					n += i
				} else {
					n = end
				}
			} else {
				n += span(in.class, b[pos:end])
			}
			m.steps -= (n - pos) >> 4
			lo := pos + in.min
			if n < lo {
				break
			}
			if in.greedy {
				c := n
				if !candidate(in, b, c) {
					if in.possessive {
						break
					}
					if in.next >= 0 {
						c = lo + bytes.LastIndexByte(b[lo:c], byte(in.next)) // lo-1 when none
					} else {
						for c--; c >= lo && !candidate(in, b, c); c-- {
						}
					}
					if c < lo {
						break
					}
				}
				if c > lo && !in.possessive {
					stack = append(stack, entry{kind: kGreedy, pc: pc, a: lo, b: c})
				}
				pos, pc = c, pc+1
				continue
			}
			c := nextCandidate(in, b, lo, n)
			if c > n {
				break
			}
			if c < n {
				stack = append(stack, entry{kind: kLazy, pc: pc, a: c, b: n})
			}
			pos, pc = c, pc+1
			continue
		case opSplit:
			if g := in.guard; g != nil && !litAt(g, b, pos+in.guardAt) {
				pc = in.y // the first choice cannot match
				continue
			}
			stack = append(stack, entry{kind: kBranch, pc: in.y, a: pos})
			pc = in.x
			continue
		case opJmp:
			pc = in.x
			continue
		case opSave:
			if len(stack) > 0 { // with no choice left, nothing is undone
				stack = append(stack, entry{kind: kRestore, a: in.x, b: caps[in.x]})
			}
			caps[in.x] = pos
			pc++
			continue
		case opAssert:
			if assert(in.x, b, pos) {
				pc++
				continue
			}
		}
		// Failed: take the latest choice left.
		for {
			if len(stack) == 0 {
				return false, true
			}
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if m.steps--; m.steps < 0 {
				return false, false
			}
			switch e.kind {
			case kBranch:
				pc, pos = e.pc, e.a
			case kRestore:
				caps[e.a] = e.b
				continue
			case kGreedy:
				in := &p.insts[e.pc]
				c := e.b - 1
				if in.next >= 0 {
					c = e.a + bytes.LastIndexByte(b[e.a:e.b], byte(in.next)) // e.a-1 when none
				} else {
					for c >= e.a && !candidate(in, b, c) {
						c--
					}
				}
				m.steps -= (e.b - c) >> 4
				if c < e.a {
					continue
				}
				if c > e.a {
					stack = append(stack, entry{kind: kGreedy, pc: e.pc, a: e.a, b: c})
				}
				pc, pos = e.pc+1, c
			case kLazy:
				in := &p.insts[e.pc]
				c := nextCandidate(in, b, e.a+1, e.b)
				m.steps -= (c - e.a) >> 4
				if c > e.b {
					continue
				}
				if c < e.b {
					stack = append(stack, entry{kind: kLazy, pc: e.pc, a: c, b: e.b})
				}
				pc, pos = e.pc+1, c
			}
			break
		}
	}
}

// litAt says whether the literal of in is at pos (which may be past the
// end of b).
func litAt(in *inst, b []byte, pos int) bool {
	if in.wordMask != 0 && len(b)-pos >= 8 {
		return binary.LittleEndian.Uint64(b[pos:])&in.wordMask == in.word
	}
	return len(b)-pos >= len(in.lit) && bytes.Equal(b[pos:pos+len(in.lit)], in.lit)
}

// keep holds on to the stack's memory for the next match.
func (m *Matcher) keep(stack *[]entry) { m.stack = (*stack)[:0] }

func assert(kind int, b []byte, pos int) bool {
	switch kind {
	case atBeginText:
		return pos == 0
	case atEndText:
		return pos == len(b)
	case atBeginLine:
		return pos == 0 || b[pos-1] == '\n'
	case atEndLine:
		return pos == len(b) || b[pos] == '\n'
	}
	return false
}
