// Package filtertext reads evstore filters written as text, one clause a
// string, as the evstore command's --filter flags and the server's filter
// parameters take them:
//
//	field=value      Equals
//	field=a|b|c      In: any of the values
//	field~pattern    Like: % any run of characters, _ one character
//
// Fields are those of evstore.Filter: stream_id, event_type, version,
// tag and metadata.<path>. Values of version are integers; values of
// metadata fields that read as JSON numbers, booleans or quoted strings
// take that type (10, true, "007"), anything else is a string (EMEA,
// 007); other fields' values are strings as written.
package filtertext

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-event-sourcing/evstore"
)

// Help describes the syntax in one line, for a flag's help.
const Help = "field=value, field=a|b (any of) or field~LIKE-pattern; fields stream_id, event_type, version, tag, metadata.<path>; repeatable"

// Parse turns one clause's text into a Clause, or an error wrapping
// evstore.ErrInvalidFilter. The Clause itself may still be bad (an
// unknown field): Filter.Validate says so.
func Parse(s string) (evstore.Clause, error) {
	if field, pattern, ok := strings.Cut(s, "~"); ok && !strings.Contains(field, "=") {
		return evstore.Like(field, pattern), nil
	}
	field, value, ok := strings.Cut(s, "=")
	if !ok {
		return evstore.Clause{}, fmt.Errorf("%w: %q: want field=value or field~pattern", evstore.ErrInvalidFilter, s)
	}
	var values []any
	for _, v := range strings.Split(value, "|") {
		switch {
		case field == "version":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return evstore.Clause{}, fmt.Errorf("%w: version %q is not an integer", evstore.ErrInvalidFilter, v)
			}
			values = append(values, n)
		case strings.HasPrefix(field, "metadata."):
			values = append(values, JSONScalar(v))
		default:
			values = append(values, v)
		}
	}
	if len(values) == 1 {
		return evstore.Equals(field, values[0]), nil
	}
	return evstore.In(field, values...), nil
}

// Build parses every clause and returns the Filter they make, validated.
func Build(clauses []string) (evstore.Filter, error) {
	var f evstore.Filter
	for _, s := range clauses {
		c, err := Parse(s)
		if err != nil {
			return nil, err
		}
		f = append(f, c)
	}
	return f, f.Validate()
}

// JSONScalar reads s as a JSON number, boolean or string if it is one
// ("10", "true", "\"007\""), and as a plain string otherwise ("EMEA", "007").
func JSONScalar(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		switch v.(type) {
		case float64, bool, string:
			return v
		}
	}
	return s
}
