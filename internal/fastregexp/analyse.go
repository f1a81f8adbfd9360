package fastregexp

import (
	"errors"
	"slices"
)

// next is what can come after a point of the program, without consuming
// anything first.
type next struct {
	first [256]bool // bytes the next consuming step can start with
	// match: the match can end here without consuming a byte or passing an
	// assertion.
	match bool
	// assert: an assertion may be passed first; it succeeds only between
	// characters, never inside one.
	assert bool
}

// nextAt walks the program's empty steps from pc.
func (p *Prog) nextAt(pc int) *next {
	n := &next{}
	seen := make([]uint8, len(p.insts)) // bit 1: reached plainly, bit 2: after an assertion
	var walk func(pc int, asserted bool)
	walk = func(pc int, asserted bool) {
		bit := uint8(1)
		if asserted {
			bit = 2
		}
		if seen[pc]&bit != 0 {
			return
		}
		seen[pc] |= bit
		in := &p.insts[pc]
		switch in.op {
		case opMatch:
			if asserted {
				n.assert = true
			} else {
				n.match = true
			}
		case opLit:
			n.first[in.lit[0]] = true
		case opByte, opRun:
			for b, ok := range in.class {
				n.first[b] = n.first[b] || ok
			}
			if in.op == opRun && in.min == 0 {
				walk(pc+1, asserted)
			}
		case opSplit:
			walk(in.x, asserted)
			walk(in.y, asserted)
		case opJmp:
			walk(in.x, asserted)
		case opSave:
			walk(pc+1, asserted)
		case opAssert:
			n.assert = true
			walk(pc+1, true)
		}
	}
	walk(pc, false)
	return n
}

// analyse works out, once, what the matcher uses to skip work: for every
// run, what may follow it; for the whole program, how a match can start.
// It also refuses the wide runs it cannot run byte by byte.
func (p *Prog) analyse() error {
	for pc := range p.insts {
		in := &p.insts[pc]
		if in.op != opRun {
			continue
		}
		nx := p.nextAt(pc + 1)
		in.follow = &nx.first
		in.stop, in.next = -1, -1
		if out := outside(in.class); len(out) == 1 {
			in.stop = int(out[0])
		}
		if f := outside(&nx.first); len(f) == 255 && !nx.match && !nx.assert {
			in.next = int(slices.IndexFunc(nx.first[:], func(ok bool) bool { return ok }))
		}
		if nl := &p.insts[pc+1]; !in.greedy && nl.op == opLit && len(nl.lit) > 1 {
			l := NewLiteral(string(nl.lit))
			in.nextLit = &l
		}
		in.followAny = nx.match || nx.assert
		in.possessive = !in.followAny
		for b, ok := range in.class {
			if ok && nx.first[b] {
				in.possessive = false
			}
		}
		if !in.wide {
			continue
		}
		// A wide run ends inside a character only when it gives back part
		// of itself. That is harmless when the next step must consume an
		// ASCII byte first (no ASCII byte continues a character), and when
		// the match can end right after a greedy run (it never gives back).
		ascii := true
		for b := 0x80; b < 256; b++ {
			ascii = ascii && !nx.first[b]
		}
		if !(in.greedy && nx.match || !nx.match && ascii) {
			return errors.New("a run of a class with non-ASCII characters that may be followed by a non-ASCII character")
		}
	}
	p.quick = p.quickStart()
	p.anchor = p.anchorAfter(p.quick)
	start := p.nextAt(0)
	p.first = &start.first
	p.nullableStart = start.match || start.assert
	if len(p.insts) > 1 {
		switch in := p.insts[1]; {
		case in.op == opLit:
			p.prefix = in.lit
			p.prefixLit = NewLiteral(string(in.lit))
		case in.op == opAssert && in.x == atBeginText:
			p.anchored = true
		}
	}
	return nil
}

// outside returns the bytes a class does not match.
func outside(cl *[256]bool) []byte {
	var out []byte
	for b, ok := range cl {
		if !ok {
			out = append(out, byte(b))
		}
	}
	return out
}

// quickStart returns the run a match must begin with, after its literal
// prefix and with nothing to give back (" QUEUEID:" in most rules): a
// start where it is too short, or ends in a byte that cannot follow, is
// rejected without running the program. -1 when there is no such run.
func (p *Prog) quickStart() int {
	if len(p.insts) < 2 || p.insts[1].op != opLit {
		return -1
	}
	for pc := 2; pc < len(p.insts); pc++ {
		switch in := &p.insts[pc]; in.op {
		case opSave:
			continue
		case opRun:
			if in.possessive && in.min > 0 {
				return pc
			}
		}
		break
	}
	return -1
}

// anchorAfter returns the literal that comes right after the quick run
// (captures aside), when the run cannot begin inside the prefix (the
// prefix ends with a byte outside its class): then each occurrence of the
// literal gives one place a match can start, and only one.
func (p *Prog) anchorAfter(quick int) *Literal {
	if quick < 0 {
		return nil
	}
	run := &p.insts[quick]
	prefix := p.insts[1].lit
	if run.class[prefix[len(prefix)-1]] {
		return nil
	}
	for pc := quick + 1; pc < len(p.insts); pc++ {
		switch in := &p.insts[pc]; in.op {
		case opSave:
			continue
		case opLit:
			if run.class[in.lit[0]] { // the run would go through it
				return nil
			}
			l := NewLiteral(string(in.lit))
			return &l
		}
		break
	}
	return nil
}
