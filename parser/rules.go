package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/fastregexp"
	"github.com/bouncewatch/bouncewatch/internal/litset"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Config is rules.yaml as written. Load turns it into a RuleSet.
type Config struct {
	Timezone string       `yaml:"timezone"`
	Limits   LimitsConfig `yaml:"limits"`
	Domains  struct {
		Always []string `yaml:"always"`
	} `yaml:"domains"`
	Rules   []RuleConfig   `yaml:"rules"`
	Reasons []ReasonConfig `yaml:"reasons"`
}

// LimitsConfig bounds memory and label cardinality. Zero means the default.
type LimitsConfig struct {
	MaxDomains        int            `yaml:"max_domains"`
	MaxCodes          int            `yaml:"max_codes"`
	MaxLineBytes      int            `yaml:"max_line_bytes"`
	TrackerTTL        model.Duration `yaml:"tracker_ttl"`
	TrackerMaxEntries int            `yaml:"tracker_max_entries"`
}

// RuleConfig is one entry of the rules list.
type RuleConfig struct {
	Name     string `yaml:"name"`
	Contains string `yaml:"contains"`
	Match    string `yaml:"match"`
	Skip     bool   `yaml:"skip"`
	Status   string `yaml:"status"`
	Code     string `yaml:"code"`
	// InheritCode marks deferrals the MTA logs without trying (Exim's
	// "retry time not reached"): with no code of their own, they take the
	// code of the latest deferral that carried one for the same domain.
	InheritCode bool `yaml:"inherit_code"`
}

// Defaults for the limits; DESIGN.md documents them.
const (
	DefaultMaxDomains        = 500
	DefaultMaxCodes          = 200
	DefaultMaxLineBytes      = 65536
	DefaultTrackerTTL        = 120 * time.Hour
	DefaultTrackerMaxEntries = 1000000
)

// Limits are the effective limits of a RuleSet, defaults filled in.
type Limits struct {
	MaxDomains        int
	MaxCodes          int
	MaxLineBytes      int
	TrackerTTL        time.Duration
	TrackerMaxEntries int
}

// RuleSet is a loaded, validated and compiled rules file. It is immutable, so a
// reload can swap it atomically while parsers keep using the old one.
type RuleSet struct {
	File          string
	Location      *time.Location
	Limits        Limits
	AlwaysDomains []string
	Rules         []*Rule
	// Reasons name the cause of failures, in order: the first that
	// matches a reply wins.
	Reasons []*ReasonRule
	// literals are the rules' prefilters, each once: rules that share one
	// (", status=") search a line for it once. keys are the bytes they are
	// searched by, each once: literals with the same key (" => ", " -> ")
	// share its first search.
	literals []fastregexp.Literal
	// set finds, in one pass over a line, which of the first 64 literals
	// (the bits of inSet) it holds.
	set   *litset.Set
	inSet uint64
	keys  []byte
	// plan is Rules as Parse walks them: each rule with its literal and
	// key, side by side, so that the walk reads one array.
	plan []planStep
	// stepsOf has, for each of the first 64 literals, a bit for each of
	// the first 64 steps of the plan with that literal; noLit a bit for each
	// step with no literal, or one beyond the first 64.
	stepsOf [64]uint64
	noLit   uint64
}

// planStep is one rule of the plan.
type planStep struct {
	rule *Rule
	lit  *fastregexp.Literal // nil: none
	// bit is the literal's in Parse's masks, kbit its key's: the first 64
	// of each have one, the others 0 (looked for by each rule again).
	bit, kbit uint64
	key       uint8 // index of the key among the first 64
	keyByte   byte
}

// Field names a capture group may have.
const (
	fieldTime = iota
	fieldQueueID
	fieldRecipient
	fieldDomain
	fieldRelay
	fieldStatus
	fieldCode
	fieldReply
	fieldText
	numFields
)

var fieldNames = [numFields]string{"time", "queue_id", "recipient", "domain", "relay", "status", "code", "reply", "text"}

// Rule is one compiled rule.
type Rule struct {
	Name string
	Line int // line of the rule in its file
	// contains is the literal a line must have: the rule's contains, or
	// else one its regexp requires; lit is its index in the rule set's
	// literals (-1: none).
	contains string
	lit      int
	// also is a long literal (or a choice of them) the regexp requires
	// besides contains, such as "SMTP delivery explicitly queued": a line
	// with none of them skips the regexp.
	also []fastregexp.Literal
	re   *regexp.Regexp
	// fast runs re when fastregexp can (every shipped rule); slow says why
	// it cannot.
	fast    *fastregexp.Prog
	slow    string
	skip    bool
	status  Status
	code    Code
	inherit bool
	// groups[f] lists the submatch indexes of field f; names may repeat, and the
	// first group that matched wins.
	groups [numFields][]int
}

// Slow says why the rule's regexp runs on package regexp rather than the
// faster matcher ("" when it does not).
func (r *Rule) Slow() string { return r.slow }

// Skip reports whether lines this rule matches are deliberately ignored.
func (r *Rule) Skip() bool { return r.skip }

// Load reads and compiles a rules file.
func Load(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return Parse(path, data)
}

// Parse compiles rules from data; name is used in error messages (a file name).
func Parse(name string, data []byte) (*RuleSet, error) {
	root, err := parseDocument(name, data)
	if err != nil {
		return nil, err
	}
	lines := lineIndex(root)
	if err := checkTree(lines.root); err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	// checkTree has seen every key and value; the strict decoder stays as a
	// second line of defence.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, yamlError(name, data, err)
	}
	rs := &RuleSet{File: name}
	top := func(key string) int { return lines.key(key) }

	tz := cfg.Timezone
	if tz == "" {
		tz = "Local"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: timezone %q: %w", name, top("timezone"), tz, err)
	}
	rs.Location = loc

	l := cfg.Limits
	rs.Limits = Limits{
		MaxDomains:        orDefault(l.MaxDomains, DefaultMaxDomains),
		MaxCodes:          orDefault(l.MaxCodes, DefaultMaxCodes),
		MaxLineBytes:      orDefault(l.MaxLineBytes, DefaultMaxLineBytes),
		TrackerTTL:        time.Duration(l.TrackerTTL),
		TrackerMaxEntries: orDefault(l.TrackerMaxEntries, DefaultTrackerMaxEntries),
	}
	if rs.Limits.TrackerTTL == 0 {
		rs.Limits.TrackerTTL = DefaultTrackerTTL
	}
	for _, c := range []struct {
		key string
		v   int64
	}{
		{"max_domains", int64(l.MaxDomains)}, {"max_codes", int64(l.MaxCodes)},
		{"max_line_bytes", int64(l.MaxLineBytes)}, {"tracker_ttl", int64(l.TrackerTTL)},
		{"tracker_max_entries", int64(l.TrackerMaxEntries)},
	} {
		if c.v < 0 {
			return nil, fmt.Errorf("%s:%d: limits.%s must not be negative", name, lines.path("limits", c.key), c.key)
		}
	}
	if rs.Limits.MaxLineBytes < 256 {
		return nil, fmt.Errorf("%s:%d: limits.max_line_bytes must be at least 256", name, lines.path("limits", "max_line_bytes"))
	}

	for i, d := range cfg.Domains.Always {
		var scratch []byte
		nd := normaliseDomain([]byte(d), &scratch)
		if bytes.Equal(nd, invalidDomain) {
			return nil, fmt.Errorf("%s:%d: domains.always[%d]: %q is not a valid domain name", name, lines.always(i), i, d)
		}
		rs.AlwaysDomains = append(rs.AlwaysDomains, string(nd))
	}

	if len(cfg.Rules) == 0 {
		return nil, fmt.Errorf("%s:%d: no rules: the rules: list is missing or empty", name, top("rules"))
	}
	seen := map[string]int{}
	for i, rc := range cfg.Rules {
		r, err := compileRule(rc, lines.rule(i))
		if err != nil {
			return nil, fmt.Errorf("%s:%w", name, err)
		}
		if prev, dup := seen[r.Name]; dup {
			return nil, fmt.Errorf("%s:%d: rule %q: duplicate name (first at line %d)", name, r.Line, r.Name, prev)
		}
		seen[r.Name] = r.Line
		r.lit = -1
		if r.contains != "" {
			r.lit = slices.IndexFunc(rs.literals, func(l fastregexp.Literal) bool { return l.Text() == r.contains })
			if r.lit < 0 {
				r.lit = len(rs.literals)
				l := fastregexp.NewLiteral(r.contains)
				rs.literals = append(rs.literals, l)
				if bytes.IndexByte(rs.keys, l.Key()) < 0 {
					rs.keys = append(rs.keys, l.Key())
				}
			}
		}
		rs.Rules = append(rs.Rules, r)
	}
	for _, r := range rs.Rules {
		st := planStep{rule: r}
		if r.lit >= 0 {
			st.lit = &rs.literals[r.lit]
			st.keyByte = st.lit.Key()
			if r.lit < 64 {
				st.bit = 1 << r.lit
			}
			if k := bytes.IndexByte(rs.keys, st.keyByte); k < 64 {
				st.kbit, st.key = 1<<k, uint8(k)
			}
		}
		rs.plan = append(rs.plan, st)
	}
	texts := make([]string, min(len(rs.literals), 64))
	for i := range texts {
		texts[i] = rs.literals[i].Text()
	}
	for j, st := range rs.plan[:min(len(rs.plan), 64)] {
		if st.bit == 0 {
			rs.noLit |= 1 << j
		} else {
			rs.stepsOf[bits.TrailingZeros64(st.bit)] |= 1 << j
		}
	}
	rs.set = litset.New(texts)
	rs.inSet = 1<<len(texts) - 1
	if len(texts) == 64 {
		rs.inSet = ^uint64(0)
	}
	if len(cfg.Reasons) > maxReasons {
		return nil, fmt.Errorf("%s:%d: %d reasons: at most %d (each is a label value)", name, top("reasons"), len(cfg.Reasons), maxReasons)
	}
	seenReason := map[string]int{}
	for i, rc := range cfg.Reasons {
		rr, err := compileReason(rc, lines.item("reasons", i))
		if err != nil {
			return nil, fmt.Errorf("%s:%w", name, err)
		}
		if prev, dup := seenReason[rr.Name]; dup {
			return nil, fmt.Errorf("%s:%d: reason %q: duplicate name (first at line %d)", name, rr.Line, rr.Name, prev)
		}
		seenReason[rr.Name] = rr.Line
		rs.Reasons = append(rs.Reasons, rr)
	}
	return rs, nil
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// compileRule validates one rule. Its errors start with "LINE: rule ...", so the
// caller only puts the file name in front.
func compileRule(rc RuleConfig, ln ruleLines) (*Rule, error) {
	r := &Rule{Name: rc.Name, Line: ln.item, skip: rc.Skip, inherit: rc.InheritCode, contains: rc.Contains}
	errf := func(key, format string, args ...any) error {
		line := ln.item
		if l, ok := ln.keys[key]; ok {
			line = l
		}
		return fmt.Errorf("%d: rule %q: "+format, append([]any{line, rc.Name}, args...)...)
	}
	if rc.Name == "" {
		return nil, fmt.Errorf("%d: rule #%d: name is missing", ln.item, ln.index+1)
	}
	if rc.Match == "" && rc.Contains == "" {
		return nil, errf("name", "needs match or contains (or both)")
	}
	if rc.Match != "" {
		re, err := regexp.Compile(rc.Match)
		if err != nil {
			return nil, errf("match", "compile match: %w", err)
		}
		r.re = re
		if r.fast, err = fastregexp.Compile(rc.Match); err != nil {
			r.slow = err.Error()
		}
		r.contains, r.also = prefilter(rc.Contains, fastregexp.Required(rc.Match))
		for i, n := range re.SubexpNames() {
			if n == "" {
				continue
			}
			f := fieldIndex(n)
			if f < 0 {
				return nil, errf("match", "unknown group name %q (known: %s)", n, strings.Join(fieldNames[:], ", "))
			}
			r.groups[f] = append(r.groups[f], i)
		}
	}
	if rc.Status != "" {
		r.status = parseStatus([]byte(rc.Status))
		if r.status == StatusNone || strings.ContainsAny(rc.Status, "=*>-") {
			return nil, errf("status", "unknown status %q (one of sent, deferred, bounced, expired, removed)", rc.Status)
		}
	}
	if rc.Code != "" {
		c, ok := ParseCode(rc.Code)
		if !ok {
			return nil, errf("code", "invalid code %q: want an RFC 3463 code such as 4.4.1 (class 2, 4 or 5)", rc.Code)
		}
		r.code = c
	}
	if r.skip {
		if rc.Status != "" || rc.Code != "" || rc.InheritCode {
			return nil, errf("skip", "a skip rule takes no status or code")
		}
		return r, nil
	}
	if r.inherit && (r.status != StatusDeferred || rc.Code != "") {
		return nil, errf("inherit_code", "inherit_code is for deferrals (status: deferred) without a code: of their own")
	}
	if r.status == StatusNone && len(r.groups[fieldStatus]) == 0 {
		return nil, errf("name", "no status: capture (?P<status>...) or set status:")
	}
	if r.re == nil {
		return nil, errf("name", "a rule that is not skip needs match")
	}
	if len(r.groups[fieldQueueID]) == 0 {
		return nil, errf("match", "needs a (?P<queue_id>...) group: retries are followed by queue id")
	}
	if (r.status == StatusSent || r.status == StatusDeferred || r.status == StatusBounced) && len(r.groups[fieldRecipient]) == 0 {
		return nil, errf("match", "a %s rule needs a (?P<recipient>...) group", r.status)
	}
	return r, nil
}

// prefilter chooses what a line is searched for before a rule's regexp
// runs: contains, or else the best literal the regexp requires; and besides
// it, a choice of long literals the regexp requires (at least 8 bytes each,
// which few lines have), when there is one that contains does not imply.
func prefilter(contains string, required [][]string) (string, []fastregexp.Literal) {
	if contains == "" {
		var single []string
		for _, set := range required {
			if len(set) == 1 {
				single = append(single, set[0])
			}
		}
		contains = fastregexp.Best(single)
	}
	var also []string
	longest := 7 // the shortest literal of the set chosen, and below 8 none is
	for _, set := range required {
		shortest := len(set[0])
		for _, s := range set {
			shortest = min(shortest, len(s))
		}
		if shortest > longest && !(len(set) == 1 && strings.Contains(contains, set[0])) {
			also, longest = set, shortest
		}
	}
	var lits []fastregexp.Literal
	for _, s := range also {
		lits = append(lits, fastregexp.NewLiteral(s))
	}
	return contains, lits
}

func fieldIndex(name string) int {
	for i, n := range fieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

// parseDocument reads the one YAML document of a rules file. An empty file (or
// one with only comments) is an error, and so is a second document, which
// yaml.Unmarshal would silently ignore.
func parseDocument(name string, data []byte) (*yaml.Node, error) {
	empty := fmt.Errorf("%s: empty rules file: it needs at least a rules: list", name)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, empty
		}
		return nil, yamlError(name, data, err)
	}
	if isEmptyDocument(&root) {
		return nil, empty
	}
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			return &root, nil
		}
		if err != nil {
			return nil, yamlError(name, data, err)
		}
		if !isEmptyDocument(&extra) {
			return nil, fmt.Errorf("%s:%d: a second YAML document: a rules file holds exactly one", name, extra.Line)
		}
	}
}

func isEmptyDocument(doc *yaml.Node) bool {
	return doc.Kind == 0 || len(doc.Content) == 0 || isNull(doc.Content[0])
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// resolve follows aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// checkTree checks the document against Config before it is decoded, so that
// an unknown or repeated key, or a value of the wrong type, is reported with
// its line and, inside rules:, the rule it is in (yaml's own errors name Go
// types and no rule). Its errors read "LINE: ...".
func checkTree(doc *yaml.Node) error {
	c := checker{merged: map[merged]bool{}, active: map[*yaml.Node]bool{}}
	return c.mapping(doc, reflect.TypeFor[Config](), treeContext{})
}

type checker struct {
	// merged holds the mappings already checked through a merge key (<<), so
	// that a pile of repeated merges is checked only once.
	merged map[merged]bool
	// active holds the mappings being checked, to catch a mapping that merges
	// itself (&a {<<: *a}), which the decoder reports without a line.
	active map[*yaml.Node]bool
}

type merged struct {
	n *yaml.Node
	t reflect.Type
}

// treeContext says where a mapping is: inside a rule (rule is `rule "name"`
// or `rule #2`) or at a dotted path ("limits"; "" at the top level).
type treeContext struct {
	rule string
	path string
}

// prefix starts an error about the mapping itself.
func (tc treeContext) prefix() string {
	switch {
	case tc.rule != "":
		return tc.rule + ": "
	case tc.path != "":
		return tc.path + ": "
	}
	return ""
}

// label names the value of key in error messages.
func (tc treeContext) label(key string) string {
	switch {
	case tc.rule != "":
		return tc.rule + ": " + key
	case tc.path != "":
		return tc.path + "." + key
	}
	return key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return "a single value"
	}
	return "nothing"
}

// yamlKeys returns the keys a struct accepts, in field order.
func yamlKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
	}
	return keys
}

func (c checker) mapping(n *yaml.Node, t reflect.Type, tc treeContext) error {
	n = resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if tc.rule == "" && tc.path == "" {
			return fmt.Errorf("%d: want a mapping of %s at the top level, got %s", n.Line, strings.Join(yamlKeys(t), ", "), kindName(n))
		}
		return fmt.Errorf("%d: %swant a mapping, got %s", n.Line, tc.prefix(), kindName(n))
	}
	c.active[n] = true
	defer delete(c.active, n)
	keys := yamlKeys(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("%d: %sa key must be a plain name, got %s", k.Line, tc.prefix(), kindName(k))
		}
		if k.ShortTag() == "!!merge" {
			if err := c.merge(v, t, tc); err != nil {
				return err
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			return fmt.Errorf("%d: %sduplicate key %q (first at line %d)", k.Line, tc.prefix(), k.Value, first)
		}
		seen[k.Value] = k.Line
		f := slices.Index(keys, k.Value)
		if f < 0 {
			return fmt.Errorf("%d: %sunknown key %q (known: %s)", k.Line, tc.prefix(), k.Value, strings.Join(keys, ", "))
		}
		if err := c.value(k, v, t.Field(f).Type, tc); err != nil {
			return err
		}
	}
	return nil
}

// merge checks the mappings a merge key (<<: *base) brings in.
func (c checker) merge(v *yaml.Node, t reflect.Type, tc treeContext) error {
	var refs []*yaml.Node
	if rv := resolve(v); rv != nil && rv.Kind == yaml.SequenceNode {
		refs = rv.Content
	} else {
		refs = append(refs, v)
	}
	for _, ref := range refs {
		m := resolve(ref)
		if m == nil || m.Kind != yaml.MappingNode {
			return fmt.Errorf("%d: %sa merge (<<) takes a mapping or a list of mappings", ref.Line, tc.prefix())
		}
		if c.active[m] {
			return fmt.Errorf("%d: %sanchor %q merges into itself", ref.Line, tc.prefix(), ref.Value)
		}
		if c.merged[merged{m, t}] {
			continue
		}
		c.merged[merged{m, t}] = true
		if err := c.mapping(m, t, tc); err != nil {
			return err
		}
	}
	return nil
}

var (
	ruleConfigType   = reflect.TypeFor[RuleConfig]()
	reasonConfigType = reflect.TypeFor[ReasonConfig]()
	durationType     = reflect.TypeFor[model.Duration]()
)

// value checks the value v of key k, which has type t.
func (c checker) value(k, v *yaml.Node, t reflect.Type, tc treeContext) error {
	label := tc.label(k.Value)
	rv := resolve(v)
	if rv == nil || isNull(rv) {
		return nil
	}
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		return c.mapping(rv, t, treeContext{rule: tc.rule, path: label})
	case t.Kind() == reflect.Slice && (t.Elem() == ruleConfigType || t.Elem() == reasonConfigType):
		what := "rule"
		if t.Elem() == reasonConfigType {
			what = "reason"
		}
		if rv.Kind != yaml.SequenceNode {
			return fmt.Errorf("%d: %s: want a list of %ss, got %s", v.Line, label, what, kindName(rv))
		}
		for i, item := range rv.Content {
			if err := c.mapping(item, t.Elem(), treeContext{rule: itemLabel(what, item, i)}); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Slice:
		if rv.Kind != yaml.SequenceNode {
			return fmt.Errorf("%d: %s: want a list, got %s", v.Line, label, kindName(rv))
		}
		for i, item := range rv.Content {
			if err := decodeScalar(item, t.Elem(), fmt.Sprintf("%s[%d]", label, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return decodeScalar(v, t, label)
}

// decodeScalar decodes v into a throwaway value of type t and reports a
// failure at v's line, without yaml's "line N:" and Go type noise.
func decodeScalar(v *yaml.Node, t reflect.Type, label string) error {
	rv := resolve(v)
	if rv != nil && rv.Kind != yaml.ScalarNode {
		return fmt.Errorf("%d: %s: want a single value, got %s", v.Line, label, kindName(rv))
	}
	err := v.Decode(reflect.New(t).Interface())
	if err == nil {
		return nil
	}
	if t == durationType && rv != nil {
		if rest, neg := strings.CutPrefix(rv.Value, "-"); neg {
			if _, perr := model.ParseDuration(rest); perr == nil {
				return fmt.Errorf("%d: %s must not be negative", v.Line, label)
			}
		}
	}
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			msg = rest
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return fmt.Errorf("%d: %s: %s", v.Line, label, msg)
}

// itemLabel names the i-th rule or reason for error messages: `rule "name"`,
// or `rule #3` when it has no usable name.
func itemLabel(what string, item *yaml.Node, i int) string {
	if _, v := mapValue(resolve(item), "name"); v != nil {
		if v = resolve(v); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" && !isNull(v) {
			return fmt.Sprintf("%s %q", what, v.Value)
		}
	}
	return fmt.Sprintf("%s #%d", what, i+1)
}

// yamlError turns yaml's "line N: msg" texts into "file:N: msg".
func yamlError(name string, data []byte, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			if rest, ok := strings.CutPrefix(e, "line "); ok {
				msgs[i] = name + ":" + rest
			} else {
				msgs[i] = name + ": " + e
			}
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return fmt.Errorf("%s: %s", name, msg)
	}
	num, text, _ := strings.Cut(rest, ": ")
	line, aerr := strconv.Atoi(num)
	if aerr != nil {
		return fmt.Errorf("%s:%s", name, rest)
	}
	if strings.Contains(text, "tab character") {
		line = tabLine(data, line)
	}
	return fmt.Errorf("%s:%d: %s", name, line, text)
}

// tabLine returns the first line from line on that is indented with a tab.
// yaml reports a tab in the indentation at the line where the scalar or
// mapping it interrupts started, which is often the line before.
func tabLine(data []byte, line int) int {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if i+1 < line {
			continue
		}
		indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			return i + 1
		}
	}
	return line
}

// lineIndex remembers where things are in the YAML document, for error messages.
type docLines struct{ root *yaml.Node }

type ruleLines struct {
	index int
	item  int
	keys  map[string]int
}

func lineIndex(root *yaml.Node) docLines {
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	return docLines{resolve(root)}
}

// mapValue returns the key and value nodes of key in the mapping n (nil when
// n is not a mapping or has no such key). Aliases are followed.
func mapValue(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

func (d docLines) key(key string) int {
	if k, _ := mapValue(d.root, key); k != nil {
		return k.Line
	}
	return 1
}

func (d docLines) path(parent, key string) int {
	_, p := mapValue(d.root, parent)
	if k, _ := mapValue(p, key); k != nil {
		return k.Line
	}
	return d.key(parent)
}

func (d docLines) rule(i int) ruleLines { return d.item("rules", i) }

// item returns where the i-th entry of the list under key is.
func (d docLines) item(key string, i int) ruleLines {
	rl := ruleLines{index: i, item: d.key(key), keys: map[string]int{}}
	_, seq := mapValue(d.root, key)
	seq = resolve(seq)
	if seq == nil || seq.Kind != yaml.SequenceNode || i >= len(seq.Content) {
		return rl
	}
	item := seq.Content[i]
	rl.item = item.Line
	if item.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(item.Content); j += 2 {
			rl.keys[item.Content[j].Value] = item.Content[j].Line
		}
	}
	return rl
}

// always returns the line of the i-th entry of domains.always.
func (d docLines) always(i int) int {
	_, dom := mapValue(d.root, "domains")
	_, seq := mapValue(dom, "always")
	if seq = resolve(seq); seq != nil && seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
		return seq.Content[i].Line
	}
	return d.path("domains", "always")
}

// String describes a rule set briefly, for logs.
func (rs *RuleSet) String() string {
	return rs.File + " (" + strconv.Itoa(len(rs.Rules)) + " rules)"
}
