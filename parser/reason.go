package parser

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"sync"
	"unicode"

	"github.com/cespare/xxhash/v2"

	"github.com/bouncewatch/bouncewatch/internal/fastregexp"
)

// Reason says why a delivery did not happen, in a postmaster's words: the
// receiver is not accepting mail, it is rate-limiting us, our IP is
// blocked, the user is unknown... rules.yaml's reasons: list defines them,
// each with patterns on the reply text and the code; the first that
// matches names the reason of a deferral, bounce or expiry.
//
// A Reason is an interned name, so that it means the same to every part of
// bouncewatch across reloads of the rules: the names are those of the
// rules files loaded since the process started (and the two built in).
type Reason uint8

// The built-in reasons.
const (
	ReasonUndefined Reason = iota // no reason's patterns matched
	ReasonDelivered               // a 2xx result: nothing went wrong
)

// maxReasonNames bounds the interned names: a rules file may define
// maxReasons, and reloads with new names add to them.
const (
	maxReasons     = 64
	maxReasonNames = 255
)

var reasonNames = struct {
	sync.RWMutex
	names []string
	index map[string]Reason
}{
	names: []string{"undefined", "delivered"},
	index: map[string]Reason{"undefined": ReasonUndefined, "delivered": ReasonDelivered},
}

// String returns the reason's name, its label value.
func (r Reason) String() string {
	reasonNames.RLock()
	defer reasonNames.RUnlock()
	if int(r) < len(reasonNames.names) {
		return reasonNames.names[r]
	}
	return "undefined"
}

// ReasonNamed returns the reason with the given name, adding it to the
// names known; false when there is no room left for a new one.
func ReasonNamed(name string) (Reason, bool) {
	reasonNames.Lock()
	defer reasonNames.Unlock()
	if r, ok := reasonNames.index[name]; ok {
		return r, true
	}
	if len(reasonNames.names) >= maxReasonNames {
		return ReasonUndefined, false
	}
	r := Reason(len(reasonNames.names))
	reasonNames.names = append(reasonNames.names, name)
	reasonNames.index[name] = r
	return r, true
}

// ReasonConfig is one entry of the reasons list.
type ReasonConfig struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Text is an RE2 regexp searched for in the reply text, lower-cased and
	// with what is inside <...> (addresses) left out.
	Text string `yaml:"text"`
	// Code is an RE2 regexp the enhanced code ("4.3.2") must match.
	Code string `yaml:"code"`
}

// ReasonRule is one compiled entry of the reasons list.
type ReasonRule struct {
	Reason      Reason
	Name        string
	Description string
	Line        int
	// text is the text pattern as alternatives (its top-level a|b|c; one
	// when it has none): whether the text matches is whether one of them
	// does, and each can be skipped by a byte search for a literal it
	// requires, which most replies do not contain.
	text []textBranch
	code *regexp.Regexp
	// slow says why some alternative runs on package regexp ("" if none).
	slow string
}

type textBranch struct {
	re    *regexp.Regexp
	fast  *fastregexp.Prog     // nil: re runs it
	lits  []fastregexp.Literal // the text must contain one of them
	grams [][]uint16           // the byte pairs of each, see bigrams
}

// bigrams is a small set of the byte pairs of a text: a literal one of
// whose pairs is not in it is not in the text either. A reply is checked
// against several hundred literals; the set rules out nearly all of them
// at a few loads each, and only the rest are searched for.
type bigrams [64]uint64

func gram(a, b byte) uint16 { return uint16((uint32(a)<<8|uint32(b))*0x9E3779B1>>20) & 4095 }

func (g *bigrams) of(text []byte) {
	*g = bigrams{}
	for i := 1; i < len(text); i++ {
		h := gram(text[i-1], text[i])
		g[h>>6] |= 1 << (h & 63)
	}
}

func (g *bigrams) has(grams []uint16) bool {
	for _, h := range grams {
		if g[h>>6]&(1<<(h&63)) == 0 {
			return false
		}
	}
	return true
}

func gramsOf(lit string) []uint16 {
	var out []uint16
	for i := 1; i < len(lit); i++ {
		out = append(out, gram(lit[i-1], lit[i]))
	}
	return out
}

// Slow says why part of the reason's text pattern runs on package regexp,
// several times slower ("" when none does).
func (rr *ReasonRule) Slow() string { return rr.slow }

// prefilterSet chooses, of the sets of literals a pattern requires (one of
// each set is in every match), the one that rules out most texts: the set
// whose shortest literal is longest (a longer literal is rarer), the
// smaller set of equals. Short ones ("s" of a factored s(?:pf|ender ...))
// rule out nothing.
func prefilterSet(sets [][]string) []string {
	var best []string
	bestLen := 0
	for _, set := range sets {
		shortest := len(set[0])
		for _, l := range set {
			shortest = min(shortest, len(l))
		}
		if shortest > bestLen || shortest == bestLen && len(set) < len(best) {
			best, bestLen = set, shortest
		}
	}
	if bestLen < 2 {
		return nil
	}
	return best
}

// branches splits a text pattern at its top-level alternatives.
func branches(expr string) ([]textBranch, string, error) {
	whole, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, "", err
	}
	parts := []string{expr}
	if whole.Op == syntax.OpAlternate {
		parts = parts[:0]
		for _, sub := range whole.Sub {
			parts = append(parts, sub.String())
		}
	}
	var out []textBranch
	var slow string
	for _, p := range parts {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, "", err
		}
		b := textBranch{re: re}
		if b.fast, err = fastregexp.Compile(p); err != nil && slow == "" {
			slow = fmt.Sprintf("%s: %v", p, err)
		}
		for _, lit := range prefilterSet(fastregexp.Required(p)) {
			b.lits = append(b.lits, fastregexp.NewLiteral(lit))
			b.grams = append(b.grams, gramsOf(lit))
		}
		out = append(out, b)
	}
	return out, slow, nil
}

var reasonName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// compileReason validates one entry of the reasons list. Its errors start
// with "LINE: reason ...", so the caller only puts the file name in front.
func compileReason(rc ReasonConfig, ln ruleLines) (*ReasonRule, error) {
	errf := func(key, format string, args ...any) error {
		line := ln.item
		if l, ok := ln.keys[key]; ok {
			line = l
		}
		return fmt.Errorf("%d: reason %q: "+format, append([]any{line, rc.Name}, args...)...)
	}
	if rc.Name == "" {
		return nil, fmt.Errorf("%d: reason #%d: name is missing", ln.item, ln.index+1)
	}
	if !reasonName.MatchString(rc.Name) {
		return nil, errf("name", "a name is lower-case letters, digits and _, starting with a letter (it is a label value)")
	}
	if rc.Name == "undefined" || rc.Name == "delivered" {
		return nil, errf("name", "%q is built in: the reason of a failure no pattern matches, and of a 2xx result", rc.Name)
	}
	if rc.Text == "" && rc.Code == "" {
		return nil, errf("name", "needs text or code (or both)")
	}
	rr := &ReasonRule{Name: rc.Name, Description: rc.Description, Line: ln.item}
	if rc.Text != "" {
		if _, err := regexp.Compile(rc.Text); err != nil {
			return nil, errf("text", "compile text: %w", err)
		}
		if r, ok := upperLiteral(rc.Text); ok {
			return nil, errf("text", "%q can never match: the text is matched in lower case", r)
		}
		var err error
		if rr.text, rr.slow, err = branches(rc.Text); err != nil {
			return nil, errf("text", "compile text: %w", err)
		}
	}
	if rc.Code != "" {
		re, err := regexp.Compile(rc.Code)
		if err != nil {
			return nil, errf("code", "compile code: %w", err)
		}
		rr.code = re
	}
	r, ok := ReasonNamed(rc.Name)
	if !ok {
		return nil, errf("name", "too many reason names since bouncewatch started (%d); restart it to load new ones", maxReasonNames)
	}
	rr.Reason = r
	return rr, nil
}

// upperLiteral returns an upper-case letter the regexp must match as such
// (not in a class, not under (?i)): in lower-cased text it never matches.
func upperLiteral(expr string) (rune, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, false
	}
	var found rune
	var walk func(*syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		if re.Op == syntax.OpLiteral && re.Flags&syntax.FoldCase == 0 {
			for _, r := range re.Rune {
				if found == 0 && unicode.IsUpper(r) {
					found = r
				}
			}
		}
		for _, sub := range re.Sub {
			walk(sub)
		}
	}
	walk(re)
	return found, found != 0
}

// ReplyText drops what comes before the reply in a failure's text: Exim's
// " R=router T=transport defer (-44) H=host [ip]: " before "SMTP error from
// ...", the ": " of "** addr: retry timeout exceeded", or the space after
// Postfix's "(".
func ReplyText(text []byte) []byte {
	text = bytes.TrimLeft(text, " ")
	switch {
	case bytes.HasPrefix(text, []byte("R=")) || bytes.HasPrefix(text, []byte("T=")) || bytes.HasPrefix(text, []byte("F=")):
		if i := indexDefer(text); i >= 0 {
			if j := bytes.Index(text[i:], []byte(": ")); j >= 0 {
				return text[i+j+2:]
			}
		}
		if i := bytes.Index(text, []byte(": ")); i >= 0 {
			return text[i+2:]
		}
	case bytes.HasPrefix(text, []byte(": ")):
		return text[2:]
	}
	return text
}

// indexDefer is bytes.Index(text, []byte("defer (")), found by the '(',
// which is rare in Exim's text (the 'd' of "R=dnslookup" is not).
func indexDefer(text []byte) int {
	for k := 0; ; k++ {
		i := bytes.IndexByte(text[k:], '(')
		if i < 0 {
			return -1
		}
		if k += i; k >= 6 && string(text[k-6:k]) == "defer " {
			return k - 6
		}
	}
}

// maxReasonText is how much of a reply is looked at for its reason.
const maxReasonText = 1024

// replySpan is the part of a failure's text that says why: ReplyText, then
// without what only says where it came from, which differs from one MX host
// to the next: Postfix's "delivery temporarily suspended: " and "host
// mx.example[192.0.2.1] said: " (or "refused to talk to me: ") before the
// reply and " (in reply to RCPT TO command)" after it, Exim's "SMTP error
// from remote mail server after RCPT TO:<a@b>: " and "host mx.example
// [192.0.2.1]: " before it; at most maxReasonText bytes.
func replySpan(text []byte) []byte {
	text = ReplyText(text)
	text = bytes.TrimPrefix(text, []byte("delivery temporarily suspended: "))
	if rest, ok := bytes.CutPrefix(text, []byte("SMTP error from remote mail server after ")); ok {
		if i := bytes.Index(rest, []byte(": ")); i >= 0 {
			text = rest[i+2:]
		}
	}
	if bytes.HasPrefix(text, []byte("host ")) {
		// "host NAME[ADDR] said: ", "... refused to talk to me: ", or Exim's
		// "host NAME [ADDR]: ": after the first "]".
		if i := bytes.IndexByte(text[:min(len(text), 320)], ']'); i >= 0 {
			rest := text[i+1:]
			for _, sep := range [][]byte{[]byte(" said: "), []byte(" refused to talk to me: "), []byte(": ")} {
				if bytes.HasPrefix(rest, sep) {
					text = rest[len(sep):]
					break
				}
			}
		}
	}
	if n := len(text); n > 0 && text[n-1] == ')' {
		text = text[:n-1] // Postfix's "(...)"
	}
	if bytes.HasSuffix(text, []byte(" command)")) {
		if i := bytes.LastIndexByte(text, '('); i > 0 && bytes.HasPrefix(text[i-1:], []byte(" (in reply to ")) {
			text = text[:i-1]
		}
	}
	return text[:min(len(text), maxReasonText)]
}

// NormaliseReply writes to dst what the reasons' text patterns are matched
// against: the reply's cause (replySpan) lower-cased (ASCII), control bytes
// as spaces, and without what is inside <...>, which is an address and
// differs from one recipient to the next.
func NormaliseReply(dst, text []byte) []byte {
	text = replySpan(text)
	dst = dst[:0]
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c < 0x20 || c == 0x7f:
			c = ' '
		case c == '<':
			if j := bytes.IndexByte(text[i+1:min(len(text), i+257)], '>'); j >= 0 {
				dst = append(dst, '<', '>')
				i += j + 1
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// reasonCacheGen bounds the replies remembered: two generations of this
// many, the older dropped when the newer is full.
const reasonCacheGen = 8192

// classifier names the reason of failures for one parser. Replies repeat
// (a receiver in trouble answers every recipient alike; the address, which
// differs, is left out), so it remembers the reason of the replies it saw,
// by a hash of the reply as logged, and looks at the patterns only for a new
// one.
type classifier struct {
	norm     []byte
	codeText [16]byte
	grams    bigrams // of the text being classified
	cur, old map[uint64]Reason
	keyText  []byte // what key hashes, in one piece
	match    fastregexp.Matcher
	caps     []int
}

// reason returns the reason of a failure with code c and reply text.
func (k *classifier) reason(rs *RuleSet, c Code, text []byte) Reason {
	if len(rs.Reasons) == 0 {
		return ReasonUndefined
	}
	key := k.key(c, text)
	if r, ok := k.cur[key]; ok {
		return r
	}
	if r, ok := k.old[key]; ok {
		k.remember(key, r)
		return r
	}
	k.norm = NormaliseReply(k.norm, text)
	r := k.classify(rs, c, k.norm)
	k.remember(key, r)
	return r
}

// key hashes what NormaliseReply keeps of text, as logged (without
// lower-casing: a reply that differs only in case is one more entry), and
// the code. Replies with one key have one normalised text; replies of one
// receiver that differ only in its MX host or the recipient share one.
func (k *classifier) key(c Code, text []byte) uint64 {
	text = replySpan(text)
	b := k.keyText[:0]
	for {
		i := bytes.IndexByte(text, '<')
		if i < 0 {
			break
		}
		j := bytes.IndexByte(text[i+1:min(len(text), i+257)], '>')
		if j < 0 {
			b = append(b, text[:i+1]...)
			text = text[i+1:]
			continue
		}
		b = append(b, text[:i+1]...) // up to '<'; what follows up to '>' is left out
		text = text[i+1+j:]
	}
	b = append(b, text...)
	b = append(b, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
	k.keyText = b
	return xxhash.Sum64(b) // in one piece: cheaper than a Digest written piece by piece
}

func (k *classifier) remember(key uint64, r Reason) {
	if k.cur == nil || len(k.cur) >= reasonCacheGen {
		k.old, k.cur = k.cur, make(map[uint64]Reason, reasonCacheGen)
	}
	k.cur[key] = r
}

// classify looks at the patterns in order: the first reason whose code and
// text patterns both match (those it has) is the reason.
func (k *classifier) classify(rs *RuleSet, c Code, text []byte) Reason {
	k.grams.of(text)
	code := k.codeText[:0]
	if c != 0 {
		code = c.AppendTo(code) // "4.3.2"; a line without a code gives ""
	}
	for _, rr := range rs.Reasons {
		if rr.code != nil && !rr.code.Match(code) {
			continue
		}
		if rr.text != nil && !k.anyBranch(rr, text) {
			continue
		}
		return rr.Reason
	}
	return ReasonUndefined
}

// anyLiteral reports whether text holds one of the branch's literals.
func (k *classifier) anyLiteral(b *textBranch, text []byte) bool {
	for j := range b.lits {
		if k.grams.has(b.grams[j]) && b.lits[j].In(text) {
			return true
		}
	}
	return false
}

// anyBranch reports whether one of the alternatives of rr's text pattern
// matches text.
func (k *classifier) anyBranch(rr *ReasonRule, text []byte) bool {
	for i := range rr.text {
		b := &rr.text[i]
		if b.lits != nil && !k.anyLiteral(b, text) {
			continue
		}
		if b.fast != nil {
			if m, ok := k.match.FindSubmatchIndex(b.fast, text, k.caps); ok {
				if m != nil {
					k.caps = m
					return true
				}
				continue
			}
		}
		if b.re.Match(text) {
			return true
		}
	}
	return false
}

// ReasonOf returns the reason rs gives a failure with code c and reply
// text (for tests and `bouncewatch check`; the parser keeps a cache).
func (rs *RuleSet) ReasonOf(c Code, text []byte) Reason {
	var k classifier
	return k.classify(rs, c, NormaliseReply(nil, text))
}
