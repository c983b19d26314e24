package postgres

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

var _ evstore.Finder = (*backend)(nil)

// Find implements evstore.Finder. Each Criterion becomes an indexed
// query of the Sequences it matches, ordered and limited: one with tags
// walks evstore_tags' primary key for its first tag, in Sequence order,
// and looks its other tags up there, and the event (for its type) in
// events; one with types only walks evstore_events_type, once per type.
// Their union, ordered and limited again, selects the events. A
// Criterion with neither matches everything: the query is then a read of
// @all. So the cost of a page does not grow with the store, only with the
// number of criteria and types (see TestFindPlans for the plans).
func (b *backend) Find(ctx context.Context, q evstore.FindQuery, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	query, args := b.buildFind(q)
	dst, err := b.queryEvents(ctx, query, args, dst)
	if err != nil {
		return dst, errs.Wrap("evstore/postgres", "find", err)
	}
	return dst, nil
}

// buildFind returns the SQL of q, which selects readColumns, and its
// arguments.
func (b *backend) buildFind(q evstore.FindQuery) (string, []any) {
	if matchesAll(q.Criteria) {
		return b.buildRead(evstore.Query{StreamID: evstore.All, After: q.After, Before: q.Before,
			MaxSequence: q.MaxSequence, Limit: q.Limit, Backwards: q.Backwards})
	}
	var w where
	limit := w.arg(q.Limit)
	branches := b.branches(&w, q.Criteria, q.After, q.Before, q.MaxSequence, bucket(q.Limit), q.Backwards)
	desc := ""
	if q.Backwards {
		desc = " DESC"
	}
	// UNION drops the events that several criteria match; each branch
	// has at most a page of them.
	ids := "SELECT id FROM (" + strings.Join(branches, " UNION ") + ") u ORDER BY id" + desc + " LIMIT " + limit
	return "SELECT e.* FROM (" + ids + ") s CROSS JOIN LATERAL (" + b.fetch("s.id") + ") e ORDER BY s.id" + desc, w.args
}

// fetch returns a subquery that selects readColumns of the event whose
// Sequence is seq (an expression of the query around it), which the
// query joins LATERAL: OFFSET 0 keeps the planner from flattening it, so
// that the event is looked up by its key, whatever the planner guesses of
// how many rows come.
func (b *backend) fetch(seq string) string {
	return "SELECT " + readColumns + " FROM " + b.sql.events + " WHERE id = " + seq + " OFFSET 0"
}

// bucket returns the branches' limit for a page of n events: a literal,
// so that the planner costs the branches for a page, rather than for a
// tenth of what they select, as it does for LIMIT $1 in a generic plan,
// and then would hash-join a whole table; rounded up to a power of two,
// so that few statements are prepared.
func bucket(n int) string {
	l := 1
	for l < n {
		l *= 2
	}
	return itoa(l)
}

// matchesAll reports whether c has a Criterion with neither types nor
// tags, which matches every event.
func matchesAll(c evstore.Criteria) bool {
	return slices.ContainsFunc(c, func(cr evstore.Criterion) bool { return len(cr.Types) == 0 && len(cr.Tags) == 0 })
}

// branches returns one query per Criterion with tags, and one per type of
// each Criterion with types only, each selecting the id of the events it
// matches, in the range (above after; below before and at most max when
// above zero), in order, at most limit (a placeholder) of them. The
// arguments go to w. Every branch goes through events, so that a row of
// evstore_tags whose event older code deleted matches nothing.
//
// A branch walks its index, evstore_tags' (tag, seq) or
// evstore_events_type's (event_type, id), from one key to another, as a
// row comparison ordered by the whole key: no other index yields that
// order, so the plan does not depend on how common the planner guesses
// a tag or type is. (With tag = $1 and ORDER BY seq, a generic plan may
// walk events' primary key and filter, reading the whole store for a
// rare type, or fetch a tag's every event and sort them.)
func (b *backend) branches(w *where, c evstore.Criteria, after, before, max int64, limit string, backwards bool) []string {
	hi := int64(math.MaxInt64)
	if max > 0 {
		hi = max
	}
	if before > 0 {
		hi = min(hi, before-1)
	}
	lo, up := w.arg(after), w.arg(hi)
	desc := ""
	if backwards {
		desc = " DESC"
	}
	// walk selects the range of key's index for value, in order.
	walk := func(key, pos, value string) string {
		return "(" + key + ", " + pos + ") > (" + value + ", " + lo + "::bigint) AND (" + key + ", " + pos + ") <= (" + value + ", " + up + "::bigint)" +
			" ORDER BY " + key + desc + ", " + pos + desc + " LIMIT " + limit
	}
	var out []string
	for _, cr := range c {
		if len(cr.Tags) == 0 {
			types := slices.Compact(slices.Sorted(slices.Values(cr.Types)))
			for _, t := range types {
				out = append(out, "(SELECT e.id FROM "+b.sql.events+" e WHERE "+walk("e.event_type", "e.id", w.arg(t)+"::text")+")")
			}
			continue
		}
		var sb strings.Builder
		sb.WriteString("(SELECT t0.seq AS id FROM " + b.sql.tags + " t0")
		for i, tag := range cr.Tags[1:] {
			t := "t" + itoa(i+1)
			sb.WriteString(" CROSS JOIN LATERAL (SELECT 1 FROM " + b.sql.tags + " " + t + " WHERE " + t + ".tag = " + w.arg(tag) + "::text AND " + t + ".seq = t0.seq OFFSET 0) " + t)
		}
		// The event, for its type, and to know it is there: LATERAL,
		// OFFSET 0 as in fetch.
		sb.WriteString(" CROSS JOIN LATERAL (SELECT 1 FROM " + b.sql.events + " e WHERE e.id = t0.seq")
		if len(cr.Types) > 0 {
			sb.WriteString(" AND e.event_type = ANY(" + w.arg(cr.Types) + "::text[])")
		}
		sb.WriteString(" OFFSET 0) e")
		sb.WriteString(" WHERE " + walk("t0.tag", "t0.seq", w.arg(cr.Tags[0])+"::text") + ")")
		out = append(out, sb.String())
	}
	return out
}
