package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

// Read implements evstore.Backend.
func (b *backend) Read(ctx context.Context, q evstore.Query, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	query, args := b.buildRead(q)
	dst, err := b.queryEvents(ctx, query, args, dst)
	if err != nil {
		return dst, errs.Wrapf("evstore/postgres", err, "read %s", q.StreamID)
	}
	return dst, nil
}

// queryEvents runs query, which selects readColumns, and appends the
// events it returns to dst.
func (b *backend) queryEvents(ctx context.Context, query string, args []any, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	rows, err := b.pool.Query(ctx, query, args...)
	if err != nil {
		return dst, interrupted(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e evstore.StoredEvent
		var key *string
		var meta []byte
		if err := rows.Scan(&e.Sequence, &e.StreamID, &key, &e.Type, &e.Timestamp, &meta, &e.Data, &e.Version, &e.Tags); err != nil {
			return dst, interrupted(ctx, err)
		}
		e.Timestamp = e.Timestamp.UTC()
		if key != nil {
			e.ID = *key
		}
		if len(e.Data) == 0 {
			e.Data = nil
		}
		if len(e.Tags) == 0 {
			e.Tags = nil
		}
		if len(meta) > 0 {
			if err := json.Unmarshal(meta, &e.Metadata); err != nil {
				return dst, fmt.Errorf("%w: event %d: metadata: %v", evstore.ErrCorrupt, e.Sequence, err)
			}
			if len(e.Metadata) == 0 {
				e.Metadata = nil
			}
		}
		dst = append(dst, e)
	}
	if err := rows.Err(); err != nil {
		return dst, interrupted(ctx, err)
	}
	return dst, nil
}

// buildRead turns q into SQL text and its arguments. The text depends only
// on q's shape; every value, including metadata paths, is an argument.
func (b *backend) buildRead(q evstore.Query) (string, []any) {
	w := where{events: b.sql.events}
	pos := "id"
	if q.StreamID != evstore.All {
		pos = "version"
		w.add("stream_id = %s", q.StreamID)
	}
	if q.After > 0 {
		w.add(pos+" > %s", q.After)
	}
	if q.Before > 0 {
		w.add(pos+" < %s", q.Before)
	}
	if q.MaxSequence > 0 {
		w.add("id <= %s", q.MaxSequence)
	}
	for _, c := range q.Filter {
		w.clause(c)
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + readColumns + " FROM " + b.sql.events)
	if len(w.conds) > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(strings.Join(w.conds, " AND "))
	}
	sb.WriteString(" ORDER BY " + pos)
	if q.Backwards {
		sb.WriteString(" DESC")
	}
	w.args = append(w.args, q.Limit)
	fmt.Fprintf(&sb, " LIMIT $%d", len(w.args))
	return sb.String(), w.args
}

// where collects the conditions of a query and their arguments.
type where struct {
	conds  []string
	args   []any
	events string // the table, qualified (the tag clause needs it)
}

// arg adds an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// add adds a condition with one argument, placed at %s.
func (w *where) add(cond string, v any) {
	w.conds = append(w.conds, fmt.Sprintf(cond, w.arg(v)))
}

// foldASCII lowers ASCII letters only, as evstore.Like does.
func foldASCII(expr string) string {
	return "translate(" + expr + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
}

// clause adds a filter clause. Metadata values match only values of the
// same JSON type, and numbers compare as doubles, as evstore.Filter.Match
// defines; LIKE has no escape character and folds ASCII letters only.
func (w *where) clause(c evstore.Clause) {
	if c.Field() == "tag" {
		w.conds = append(w.conds, w.tagClause(c))
		return
	}
	var value, text string
	if c.Field() == "metadata" {
		value, text = w.metadataPath(c.Path())
	}
	var alts []string
	for _, v := range c.Values() {
		if c.Field() != "metadata" {
			if c.Op() == evstore.OpLike {
				alts = append(alts, foldASCII(c.Field())+" LIKE "+foldASCII(w.arg(v))+" ESCAPE ''")
			} else {
				alts = append(alts, c.Field()+" = "+w.arg(v))
			}
			continue
		}
		switch x := v.(type) {
		case bool:
			alts = append(alts, value+" = to_jsonb("+w.arg(x)+"::boolean)")
		case float64:
			alts = append(alts, "(jsonb_typeof("+value+") = 'number' AND ("+text+")::float8 = "+w.arg(x)+"::float8)")
		default:
			if c.Op() == evstore.OpLike {
				alts = append(alts, "(jsonb_typeof("+value+") = 'string' AND "+foldASCII(text)+" LIKE "+foldASCII(w.arg(x)+"::text")+" ESCAPE '')")
			} else {
				alts = append(alts, "(jsonb_typeof("+value+") = 'string' AND "+text+" = "+w.arg(x)+"::text)")
			}
		}
	}
	if len(alts) == 1 {
		w.conds = append(w.conds, alts[0])
	} else {
		w.conds = append(w.conds, "("+strings.Join(alts, " OR ")+")")
	}
}

// metadataPath returns expressions for the metadata value at path, as
// jsonb and as text, with each key an argument. The path steps into
// objects only, as evstore.Filter.Match does: jsonb's -> with a text key
// is NULL on an array (where #> would take a numeric key as an index).
func (w *where) metadataPath(path []string) (value, text string) {
	parent := "metadata"
	for _, key := range path[:len(path)-1] {
		parent += " -> " + w.arg(key) + "::text"
	}
	last := w.arg(path[len(path)-1]) + "::text"
	return "(" + parent + " -> " + last + ")", "(" + parent + " ->> " + last + ")"
}

// tagClause returns the condition of a tag clause. It tests the tags the
// event carries, events.tags, in the row the read scans anyway, as the
// other fields do: looking each event up in evstore_tags would cost an
// index probe per event, and a join with it, which the planner prefers
// in a generic plan, reads every event of the tag for each page. (Find is
// the way to select a tag's events through the index.)
func (w *where) tagClause(c evstore.Clause) string {
	tags := w.events + ".tags"
	switch c.Op() {
	case evstore.OpLike:
		return "EXISTS (SELECT 1 FROM unnest(" + tags + ") AS g(tag) WHERE " +
			foldASCII("g.tag") + " LIKE " + foldASCII(w.arg(c.Values()[0])+"::text") + " ESCAPE '')"
	case evstore.OpEquals:
		return tags + " @> ARRAY[" + w.arg(c.Values()[0]) + "::text]"
	}
	values := make([]string, len(c.Values()))
	for i, v := range c.Values() {
		values[i] = v.(string)
	}
	return tags + " && " + w.arg(values) + "::text[]"
}
