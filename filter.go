package evstore

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A Filter selects events: an event matches when it matches every clause.
// The empty Filter matches every event.
//
// Fields are "stream_id", "event_type", "version", "tag" and
// "metadata.<path>", where <path> is a dotted path into the metadata object
// ("metadata.tags.prio"). A "tag" clause matches an event that carries a
// matching tag among its Tags (Equals: that tag; In: any of them; Like: a
// tag matching the pattern). Values are strings for stream_id, event_type
// and tag,
// integers for version, and strings, numbers or booleans for metadata; a
// metadata clause matches only a value of the same JSON type. Filters never
// become SQL text: backends bind field paths and values as parameters.
type Filter []Clause

// An Op is the comparison a Clause makes.
type Op uint8

// The comparisons a Clause can make.
const (
	OpEquals Op = iota + 1 // the field equals the value
	OpIn                   // the field equals one of the values
	OpLike                 // the field is a string matching an SQL LIKE pattern
)

// A Clause is one condition of a Filter. Build clauses with Equals, In and
// Like; a clause built from bad input makes the Filter fail Validate with
// ErrInvalidFilter.
type Clause struct {
	op     Op
	field  string   // the column: "stream_id", "event_type", "version" or "metadata"
	path   []string // metadata keys, for field "metadata"
	values []any    // normalised: string, int64 (version), float64 or bool (metadata)
	err    error
}

// Equals matches events whose field equals value.
func Equals(field string, value any) Clause { return newClause(OpEquals, field, []any{value}) }

// In matches events whose field equals one of values; it needs at least one.
func In(field string, values ...any) Clause { return newClause(OpIn, field, values) }

// Like matches events whose field is a string matching pattern, where % stands
// for any run of characters and _ for one character, as in SQL. Letters match
// regardless of ASCII case. It applies to stream_id, event_type and metadata
// strings.
func Like(field string, pattern string) Clause {
	return newClause(OpLike, field, []any{pattern})
}

func newClause(op Op, field string, values []any) Clause {
	c := Clause{op: op}
	c.err = c.parse(field, values)
	return c
}

func (c *Clause) parse(field string, values []any) error {
	switch field {
	case "stream_id", "event_type", "version", "tag":
		c.field = field
	default:
		rest, ok := strings.CutPrefix(field, "metadata.")
		if !ok {
			return fmt.Errorf("%w: unknown field %q (want stream_id, event_type, version, tag or metadata.<path>)", ErrInvalidFilter, field)
		}
		path := strings.Split(rest, ".")
		for _, key := range path {
			if key == "" || strings.ContainsAny(key, "\"\\") || !text(key) {
				return fmt.Errorf("%w: bad metadata path %q: keys must be non-empty UTF-8 without quotes, backslashes or NUL", ErrInvalidFilter, field)
			}
		}
		c.field, c.path = "metadata", path
	}
	if len(values) == 0 {
		return fmt.Errorf("%w: In(%q) needs at least one value", ErrInvalidFilter, field)
	}
	if c.op == OpLike && c.field == "version" {
		return fmt.Errorf("%w: Like applies to strings, not to %q", ErrInvalidFilter, field)
	}
	c.values = make([]any, len(values))
	for i, v := range values {
		n, err := normalise(c.field, v)
		if err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrInvalidFilter, field, err)
		}
		c.values[i] = n
	}
	return nil
}

// normalise converts a filter value to the one type the field compares with.
func normalise(field string, v any) (any, error) {
	switch field {
	case "stream_id", "event_type", "tag":
		if s, ok := v.(string); ok {
			return checkText(s)
		}
		return nil, fmt.Errorf("value %v (%T) is not a string", v, v)
	case "version":
		if n, ok := toInt64(v); ok {
			return n, nil
		}
		return nil, fmt.Errorf("value %v (%T) is not an integer", v, v)
	}
	switch x := v.(type) {
	case string:
		return checkText(x)
	case bool:
		return x, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("value %q is not a number", x)
		}
		return checkFloat(f)
	case float64:
		return checkFloat(x)
	case float32:
		return float32Value(x)
	}
	if n, ok := toInt64(v); ok {
		return float64(n), nil
	}
	switch n := v.(type) {
	case uint64:
		return float64(n), nil
	case uint:
		return float64(n), nil
	}
	return nil, fmt.Errorf("value %v (%T) is not a string, number or boolean", v, v)
}

func checkText(s string) (any, error) {
	if !text(s) {
		return nil, fmt.Errorf("value %q is not UTF-8 text without NUL bytes", s)
	}
	return s, nil
}

func checkFloat(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("value %v is not a JSON number", f)
	}
	return f, nil
}

// float32Value returns the float64 that f's JSON text reads back as.
// encoding/json writes a float32 with 32-bit precision (float32(0.1) as
// 0.1), so metadata holding f is stored as that number, not as
// float64(f) (0.10000000149011612); the filter value must be the same.
func float32Value(f float32) (any, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return nil, fmt.Errorf("value %v is not a JSON number", f)
	}
	n, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return nil, fmt.Errorf("value %v: %w", f, err)
	}
	return n, nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(x), x <= math.MaxInt64
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}

// Op returns the comparison the clause makes.
func (c Clause) Op() Op { return c.op }

// Field returns the column the clause tests: "stream_id", "event_type",
// "version", "tag" or "metadata".
func (c Clause) Field() string { return c.field }

// Path returns the metadata keys of a "metadata.<path>" clause, outermost first.
func (c Clause) Path() []string { return c.path }

// Values returns the values the clause compares with, normalised: strings
// for stream_id, event_type, tag and Like patterns; int64 for version; string,
// float64 or bool for metadata.
func (c Clause) Values() []any { return c.values }

// Validate returns nil if every clause was built from good input, and an
// error wrapping ErrInvalidFilter naming the first bad one otherwise.
func (f Filter) Validate() error {
	for _, c := range f {
		if c.err != nil {
			return c.err
		}
		if c.op == 0 {
			return fmt.Errorf("%w: zero Clause (build clauses with Equals, In or Like)", ErrInvalidFilter)
		}
	}
	return nil
}

// Match reports whether e matches every clause of f. It is the definition
// of what a filter selects: Read and Watch return exactly the events for
// which Match is true. A Filter that fails Validate matches nothing.
func (f Filter) Match(e StoredEvent) bool {
	for _, c := range f {
		if c.err != nil || !c.match(e) {
			return false
		}
	}
	return true
}

func (c Clause) match(e StoredEvent) bool {
	var got any
	switch c.field {
	case "stream_id":
		got = e.StreamID
	case "event_type":
		got = e.Type
	case "version":
		got = e.Version
	case "tag":
		for _, t := range e.Tags {
			if clauseOf(c, t) {
				return true
			}
		}
		return false
	case "metadata":
		v, ok := lookup(e.Metadata, c.path)
		if !ok {
			return false
		}
		got = v
	default:
		return false
	}
	if c.op == OpLike {
		s, ok := got.(string)
		return ok && likeMatch(s, c.values[0].(string))
	}
	for _, want := range c.values {
		if got == want {
			return true
		}
	}
	return false
}

// clauseOf reports whether the string s satisfies c's comparison.
func clauseOf(c Clause, s string) bool {
	if c.op == OpLike {
		return likeMatch(s, c.values[0].(string))
	}
	for _, want := range c.values {
		if s == want {
			return true
		}
	}
	return false
}

// lookup walks path through nested JSON objects.
func lookup(m map[string]any, path []string) (any, bool) {
	var v any = m
	for _, key := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// likeMatch implements SQL LIKE without an escape character: % matches any
// run of characters, _ exactly one, and ASCII letters match either case.
func likeMatch(s, pattern string) bool {
	var si, pi int       // positions in s and pattern
	star, starS := -1, 0 // the last % seen, and where s stood then
	for si < len(s) {
		if pi < len(pattern) {
			pc, pn := utf8.DecodeRuneInString(pattern[pi:])
			switch pc {
			case '%':
				star, starS = pi+pn, si
				pi += pn
				continue
			case '_':
				_, sn := utf8.DecodeRuneInString(s[si:])
				si, pi = si+sn, pi+pn
				continue
			default:
				sc, sn := utf8.DecodeRuneInString(s[si:])
				if foldASCII(sc) == foldASCII(pc) {
					si, pi = si+sn, pi+pn
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		_, sn := utf8.DecodeRuneInString(s[starS:])
		starS += sn
		si, pi = starS, star
	}
	for pi < len(pattern) && pattern[pi] == '%' {
		pi++
	}
	return pi == len(pattern)
}

func foldASCII(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}
