package fastregexp

import (
	"regexp/syntax"
	"unicode/utf8"
)

// Required returns literals that every match of expr contains, in the order
// they appear: the literal parts of its top-level sequence, looking inside
// groups and into repetitions that happen at least once. A line without one
// of them cannot match, which a byte search says faster than any matcher.
func Required(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return required(re, nil)
}

func required(re *syntax.Regexp, out []string) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			var b []byte
			for _, r := range re.Rune {
				b = utf8.AppendRune(b, r)
			}
			if len(b) > 0 {
				out = append(out, string(b))
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
	}
	return out
}
