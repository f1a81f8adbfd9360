package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	Rules []RuleConfig `yaml:"rules"`
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
	Name     string
	Line     int // line of the rule in its file
	contains []byte
	re       *regexp.Regexp
	skip     bool
	status   Status
	code     Code
	// groups[f] lists the submatch indexes of field f; names may repeat, and the
	// first group that matched wins.
	groups [numFields][]int
}

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
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null" {
		return nil, fmt.Errorf("%s: empty rules file: it needs at least a rules: list", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty rules file: it needs at least a rules: list", name)
		}
		return nil, yamlError(name, err)
	}
	lines := lineIndex(&root)
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
			return nil, fmt.Errorf("%s:%d: domains.always[%d]: %q is not a valid domain name", name, lines.path("domains", "always"), i, d)
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
		rs.Rules = append(rs.Rules, r)
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
	r := &Rule{Name: rc.Name, Line: ln.item, skip: rc.Skip, contains: []byte(rc.Contains)}
	errf := func(key, format string, args ...any) error {
		line := ln.item
		if l, ok := ln.keys[key]; ok {
			line = l
		}
		return fmt.Errorf("%d: rule %q: %s", line, rc.Name, fmt.Sprintf(format, args...))
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
			return nil, errf("match", "compile match: %v", err)
		}
		r.re = re
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
		if rc.Status != "" || rc.Code != "" {
			return nil, errf("skip", "a skip rule takes no status or code")
		}
		return r, nil
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

func fieldIndex(name string) int {
	for i, n := range fieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

// yamlError turns yaml's "line N: msg" texts into "file:N: msg".
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			msgs[i] = name + ":" + strings.TrimPrefix(strings.Replace(e, "line ", "", 1), "")
		}
		return fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		return fmt.Errorf("%s:%s", name, strings.TrimPrefix(msg, "line "))
	}
	return fmt.Errorf("%s: %s", name, msg)
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
	return docLines{root}
}

func mapValue(n *yaml.Node, key string) (k, v *yaml.Node) {
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

func (d docLines) rule(i int) ruleLines {
	rl := ruleLines{index: i, item: d.key("rules"), keys: map[string]int{}}
	_, seq := mapValue(d.root, "rules")
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

// String describes a rule set briefly, for logs.
func (rs *RuleSet) String() string {
	return rs.File + " (" + strconv.Itoa(len(rs.Rules)) + " rules)"
}
