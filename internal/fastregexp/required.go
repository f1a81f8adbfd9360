package fastregexp

import (
	"regexp/syntax"
	"unicode/utf8"
)

// Required returns what every match of expr contains, in the order it
// appears: sets of literals, of which each match contains at least one (a
// set of one is a literal every match contains). They come from the
// literal parts of its top-level sequence, looking inside groups, into
// repetitions that happen at least once, and into alternations whose every
// branch requires a literal (one per branch). A line without any literal of
// a set cannot match, which a byte search says faster than any matcher.
func Required(expr string) [][]string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return required(re, nil)
}

func required(re *syntax.Regexp, out [][]string) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			var b []byte
			for _, r := range re.Rune {
				b = utf8.AppendRune(b, r)
			}
			if len(b) > 0 {
				out = append(out, []string{string(b)})
			}
		}
	case syntax.OpCapture, syntax.OpPlus:
		out = required(re.Sub[0], out)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			out = required(re.Sub[0], out)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			out = required(sub, out)
		}
	case syntax.OpAlternate:
		// One literal per branch: the longest each requires.
		var set []string
		for _, sub := range re.Sub {
			best := ""
			for _, s := range required(sub, nil) {
				if len(s) == 1 && len(s[0]) > len(best) {
					best = s[0]
				}
			}
			if best == "" {
				return out // a branch that requires nothing: neither does the whole
			}
			set = append(set, best)
		}
		out = append(out, set)
	}
	return out
}
