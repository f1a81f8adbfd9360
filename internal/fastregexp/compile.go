// Package fastregexp runs the regexps of rules.yaml faster than package
// regexp, with the same matches and submatches.
//
// The rules are RE2 regexps, and a user edits them; regexp runs them with a
// general backtracker (or an NFA for long lines) that spends about 15 ns on
// every byte a match covers. Rules for mail logs are mostly literals and
// runs of one character class ("[0-9A-Za-z]{5,}", "[^>]*") one after the
// other. fastregexp compiles the parsed regexp into a small backtracking
// program whose steps are a whole literal (one comparison) and a whole run
// of a class (one scan over a byte table), and which knows, from the bytes
// that can come next, when giving back part of a run cannot help (a run of
// [^>] before ">"), so it rarely backtracks at all.
//
// It takes only regexps it can run exactly as regexp does: no case
// folding, no \b, no loop whose body can match nothing, no class with some
// but not all non-ASCII characters, and a class that matches non-ASCII
// characters only as a whole run (where it can stand for bytes instead of
// characters without changing the match). Compile says why it refuses a
// regexp; the caller then uses regexp. A match that would take more steps
// than regexp's backtracker may (a pathological regexp on a hostile line)
// gives up, and the caller uses regexp for that line.
package fastregexp

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

type opcode uint8

const (
	opMatch  opcode = iota
	opFail          // matches nothing (an empty class)
	opLit           // the bytes lit
	opByte          // one byte of class (an ASCII class)
	opRun           // min to max bytes of class, greedy or not
	opSplit         // try x, then y
	opJmp           // go to x
	opSave          // record the position in capture slot x
	opAssert        // the empty-width assertion x
)

// Empty-width assertions.
const (
	atBeginText = iota
	atEndText
	atBeginLine
	atEndLine
)

type inst struct {
	op     opcode
	greedy bool
	// possessive: a shorter run can never be followed by what comes next
	// (no byte of the class can start it), so the run is never given back.
	possessive bool
	// followAny: what comes next may match without consuming a byte, or
	// after an assertion, so every shorter run is a candidate; otherwise only
	// runs followed by a byte of follow are.
	followAny bool
	// wide: the class of a run matches every non-ASCII character, byte by
	// byte (see classOf).
	wide bool
	// stop: the one byte the class of a run does not match ([^>]), whose
	// end a vectorised search finds; -1 for other classes.
	stop int
	// next: the one byte that can follow the run (not followAny), which
	// a byte search finds when the run gives back; -1 otherwise.
	next int
	// nextLit: the literal that must follow a lazy run (" dsn=" after
	// ".*?"), when it is longer than a byte: the run's candidate ends are
	// where it occurs, found by its rarest byte, not every place its first
	// byte (often a space) does.
	nextLit *Literal
	x, y    int
	// saves are capture slots set to the position before the instruction
	// runs: the Save instructions that preceded it, folded into it.
	saves    []int
	min, max int // max < 0: no limit
	class    *[256]bool
	follow   *[256]bool
	lit      []byte
	// word and wordMask are lit as a little-endian load of 8 bytes reads
	// it, when it is no longer: one comparison, not a call.
	word, wordMask uint64
	// guard, for a split, is the literal its first choice meets guardAt
	// bytes on, when it does: without it there, that choice cannot match.
	guard   *inst
	guardAt int
}

// Prog is a compiled regexp. It is immutable and safe for concurrent use;
// a Matcher holds the scratch space of one goroutine.
type Prog struct {
	insts  []inst
	ncap   int    // capture slots, 2 per group including the whole match
	prefix []byte // every match starts with it
	// prefixLit searches for it by its rarest byte.
	prefixLit Literal
	first     *[256]bool
	// anchored: the regexp starts with ^; a match starts at 0 or nowhere.
	anchored bool
	// nullableStart: the first step may consume nothing, so every position
	// can start a match and first says nothing.
	nullableStart bool
	// quick is the pc of the run every match begins with after the
	// prefix, checked before the program runs (-1: none); see quickStart.
	quick int
	// anchor, when not nil, is the literal that follows that run: a match
	// starts just before the run of the class that ends at an occurrence of
	// it, which is found faster than trying every occurrence of the prefix.
	anchor *Literal
	expr   string
}

// maxInsts bounds the program a regexp compiles to (a counted repetition of
// a group repeats its instructions).
const maxInsts = 5000

// ErrUnsupported wraps the reason Compile refuses a regexp.
var ErrUnsupported = errors.New("not supported by fastregexp")

// Compile parses expr with the flags regexp.Compile uses and compiles it.
func Compile(expr string) (*Prog, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, err
	}
	c := compiler{}
	c.emit(inst{op: opSave, x: 0})
	if err := c.compile(re); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	c.emit(inst{op: opSave, x: 1})
	c.emit(inst{op: opMatch})
	if len(c.insts) > maxInsts {
		return nil, fmt.Errorf("%w: the program would have more than %d steps", ErrUnsupported, maxInsts)
	}
	p := &Prog{insts: c.insts, ncap: 2 * (re.MaxCap() + 1), expr: expr}
	if err := p.analyse(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	p.foldSaves()
	for i := range p.insts {
		if in := &p.insts[i]; in.op == opLit && len(in.lit) <= 8 {
			for k, c := range in.lit {
				in.word |= uint64(c) << (8 * k)
				in.wordMask |= 0xff << (8 * k)
			}
		}
	}
	p.setGuards()
	return p, nil
}

// setGuards gives each split the literal its first choice meets at a fixed
// distance, when there is one: the " <" of an optional "(?: <[^>]*>)?", the
// "-" eleven bytes on in "(?:[0-9A-Za-z]{11}-...|[0-9A-Za-z]{6}-...)". Where
// that literal is missing, the matcher goes to the second choice at once,
// with no choice to come back to.
func (p *Prog) setGuards() {
	for i := range p.insts {
		in := &p.insts[i]
		if in.op != opSplit {
			continue
		}
		at := 0
	walk:
		for pc := in.x; pc < len(p.insts); pc++ {
			switch x := &p.insts[pc]; {
			case x.op == opSave:
			case x.op == opLit:
				in.guard, in.guardAt = x, at
				break walk
			case x.op == opByte:
				at++
			case x.op == opRun && x.min == x.max:
				at += x.min // an ASCII class: a byte each
			default:
				break walk
			}
		}
	}
}

// String returns the source text.
func (p *Prog) String() string { return p.expr }

type compiler struct {
	insts []inst
}

func (c *compiler) emit(in inst) int {
	c.insts = append(c.insts, in)
	return len(c.insts) - 1
}

func (c *compiler) compile(re *syntax.Regexp) error {
	if len(c.insts) > maxInsts {
		return fmt.Errorf("the program would have more than %d steps", maxInsts)
	}
	switch re.Op {
	case syntax.OpNoMatch:
		c.emit(inst{op: opFail})
	case syntax.OpEmptyMatch:
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return c.foldLiteral(re.Rune)
		}
		var b []byte
		for _, r := range re.Rune {
			if r == utf8.RuneError {
				return errors.New("the character U+FFFD, which regexp also matches for invalid UTF-8")
			}
			b = utf8.AppendRune(b, r)
		}
		if len(b) > 0 {
			c.emit(inst{op: opLit, lit: b})
		}
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		cl, wide, err := classOf(re)
		if err != nil {
			return err
		}
		if wide {
			return errors.New("a class that matches non-ASCII characters, taken one at a time (only a run of them, with * or +, is supported)")
		}
		c.emit(inst{op: opByte, class: cl})
	case syntax.OpBeginText:
		c.emit(inst{op: opAssert, x: atBeginText})
	case syntax.OpEndText:
		c.emit(inst{op: opAssert, x: atEndText})
	case syntax.OpBeginLine:
		c.emit(inst{op: opAssert, x: atBeginLine})
	case syntax.OpEndLine:
		c.emit(inst{op: opAssert, x: atEndLine})
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return errors.New(`\b and \B`)
	case syntax.OpCapture:
		c.emit(inst{op: opSave, x: 2 * re.Cap})
		if err := c.compile(re.Sub[0]); err != nil {
			return err
		}
		c.emit(inst{op: opSave, x: 2*re.Cap + 1})
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if err := c.compile(sub); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		return c.alternate(re.Sub)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		min, max := 0, -1
		switch re.Op {
		case syntax.OpPlus:
			min = 1
		case syntax.OpQuest:
			max = 1
		case syntax.OpRepeat:
			min, max = re.Min, re.Max
		}
		return c.repeat(re.Sub[0], min, max, re.Flags&syntax.NonGreedy == 0)
	default:
		return fmt.Errorf("the operator %v", re.Op)
	}
	return nil
}

// foldLiteral compiles a literal that ignores case ((?i)retry, or [Rr]
// which the parser turns into one) as a class per character. Only ASCII
// letters whose other cases are ASCII are supported: regexp's k also matches
// the Kelvin sign, and its s the long s.
func (c *compiler) foldLiteral(runes []rune) error {
	for _, r := range runes {
		cl := new([256]bool)
		f := r
		for {
			if f >= utf8.RuneSelf {
				return fmt.Errorf("case folding of %q, whose other cases are not all ASCII", r)
			}
			cl[f] = true
			if f = unicode.SimpleFold(f); f == r {
				break
			}
		}
		c.emit(inst{op: opByte, class: cl})
	}
	return nil
}

// alternate compiles a|b|c as split(a, split(b, c)), each branch jumping to
// the end.
func (c *compiler) alternate(subs []*syntax.Regexp) error {
	var jumps []int
	for i, sub := range subs {
		if i == len(subs)-1 {
			if err := c.compile(sub); err != nil {
				return err
			}
			break
		}
		split := c.emit(inst{op: opSplit})
		c.insts[split].x = split + 1
		if err := c.compile(sub); err != nil {
			return err
		}
		jumps = append(jumps, c.emit(inst{op: opJmp}))
		c.insts[split].y = len(c.insts)
	}
	for _, j := range jumps {
		c.insts[j].x = len(c.insts)
	}
	return nil
}

// repeat compiles sub{min,max}. A run of one class is one instruction;
// anything else is unrolled the way regexp/syntax's Simplify does, so that
// the order in which the choices are tried is regexp's.
func (c *compiler) repeat(sub *syntax.Regexp, min, max int, greedy bool) error {
	if max >= 0 && max < min || max == 0 {
		return nil // x{0} matches the empty string; x{2,1} does not parse
	}
	switch sub.Op {
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		cl, wide, err := classOf(sub)
		if err != nil {
			return err
		}
		if wide && (max >= 0 || min > 1) {
			return errors.New("a class that matches non-ASCII characters, counted (only * and + are supported for it)")
		}
		c.emit(inst{op: opRun, class: cl, min: min, max: max, greedy: greedy, wide: wide})
		return nil
	}
	if nullable(sub) && (max < 0 || max > 1) {
		return errors.New("a repeated group that can match the empty string")
	}
	for range min {
		if err := c.compile(sub); err != nil {
			return err
		}
	}
	if max < 0 {
		// x* loop: split(body, out); body; jmp loop. A min > 0 ends in x+
		// in Simplify, which tries the same choices in the same order.
		loop := c.emit(inst{op: opSplit})
		if err := c.compile(sub); err != nil {
			return err
		}
		c.emit(inst{op: opJmp, x: loop})
		c.setSplit(loop, loop+1, len(c.insts), greedy)
		return nil
	}
	// (x(x(x)?)?)? for the optional copies.
	var splits []int
	for range max - min {
		splits = append(splits, c.emit(inst{op: opSplit}))
		if err := c.compile(sub); err != nil {
			return err
		}
	}
	for _, s := range splits {
		c.setSplit(s, s+1, len(c.insts), greedy)
	}
	return nil
}

// setSplit makes the split at pc prefer body when greedy, out otherwise.
func (c *compiler) setSplit(pc, body, out int, greedy bool) {
	if greedy {
		c.insts[pc].x, c.insts[pc].y = body, out
	} else {
		c.insts[pc].x, c.insts[pc].y = out, body
	}
}

// nullable reports whether re can match the empty string.
func nullable(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	case syntax.OpLiteral:
		return len(re.Rune) == 0
	case syntax.OpCapture, syntax.OpPlus:
		return nullable(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min == 0 || nullable(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if nullable(s) {
				return true
			}
		}
	}
	return false
}

// classOf returns the byte table of a class. wide is set when the class
// matches every non-ASCII character (a negated class such as [^>], \S or
// .): its table then accepts every byte from 0x80 up, which is the same as
// accepting whole characters only inside a run. A class that matches some
// non-ASCII characters but not all cannot be a byte table.
func classOf(re *syntax.Regexp) (cl *[256]bool, wide bool, err error) {
	var ranges []rune
	switch re.Op {
	case syntax.OpAnyChar:
		ranges = []rune{0, utf8.MaxRune}
	case syntax.OpAnyCharNotNL:
		ranges = []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	default:
		ranges = re.Rune
	}
	cl = new([256]bool)
	covered := rune(0x80) // non-ASCII characters covered so far, from 0x80 on
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for r := lo; r <= hi && r < 0x80; r++ {
			cl[r] = true
		}
		if hi < 0x80 {
			continue
		}
		if lo > covered {
			return nil, false, errors.New("a class that matches some non-ASCII characters but not all")
		}
		covered = max(covered, hi+1)
	}
	switch {
	case covered == 0x80:
		return cl, false, nil
	case covered > utf8.MaxRune:
		for b := 0x80; b < 256; b++ {
			cl[b] = true
		}
		return cl, true, nil
	}
	return nil, false, errors.New("a class that matches some non-ASCII characters but not all")
}

// foldSaves folds each Save instruction into the instruction after it, so
// that a match runs a third fewer steps: captures are a Save before and
// after every group. A Save stays an instruction of its own when the one
// after it is also reached by a jump (which must not set its slot).
func (p *Prog) foldSaves() {
	target := make([]bool, len(p.insts)+1)
	for _, in := range p.insts {
		switch in.op {
		case opSplit:
			target[in.x], target[in.y] = true, true
		case opJmp:
			target[in.x] = true
		}
	}
	index := make([]int, len(p.insts))
	var out []inst
	var pending []int
	for pc, in := range p.insts {
		index[pc] = len(out)
		if in.op == opSave && pc+1 < len(p.insts) && !target[pc+1] {
			pending = append(pending, in.x)
			continue
		}
		in.saves = append(pending, in.saves...)
		pending = nil
		out = append(out, in)
	}
	for i := range out {
		switch out[i].op {
		case opSplit:
			out[i].x, out[i].y = index[out[i].x], index[out[i].y]
		case opJmp:
			out[i].x = index[out[i].x]
		}
	}
	if p.quick >= 0 {
		p.quick = index[p.quick]
	}
	p.insts = out
}
