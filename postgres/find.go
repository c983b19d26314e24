package postgres

import (
	"context"
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
	branches := b.branches(&w, q.Criteria, q.After, q.Before, q.MaxSequence, limit, q.Backwards)
	desc := ""
	if q.Backwards {
		desc = " DESC"
	}
	ids := branches[0]
	if len(branches) > 1 {
		// UNION drops the events that several criteria match; each branch
		// has at most a page of them.
		ids = "SELECT id FROM (" + strings.Join(branches, " UNION ") + ") u ORDER BY id" + desc + " LIMIT " + limit
	}
	cols := "e." + strings.ReplaceAll(readColumns, ", ", ", e.")
	return "SELECT " + cols + " FROM (" + ids + ") s JOIN " + b.sql.events + " e ON e.id = s.id ORDER BY e.id" + desc, w.args
}

// buildMatch returns the SQL of cond's match, the Sequence of the first
// event above cond.After that its Criteria match (0 for none), and its
// arguments: the same indexed queries as Find's, each for one event.
func (b *backend) buildMatch(cond *evstore.Condition) (string, []any) {
	var w where
	if matchesAll(cond.Criteria) {
		return "SELECT COALESCE(MIN(id), 0) FROM " + b.sql.events + " WHERE id > $1", []any{cond.After}
	}
	branches := b.branches(&w, cond.Criteria, cond.After, 0, 0, "1", false)
	return "SELECT COALESCE(MIN(id), 0) FROM (" + strings.Join(branches, " UNION ALL ") + ") u", w.args
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
// arguments go to w; after, before and max are shared by every branch.
// Every branch goes through events, so that a row of evstore_tags whose
// event older code deleted matches nothing.
func (b *backend) branches(w *where, c evstore.Criteria, after, before, max int64, limit string, backwards bool) []string {
	var bounds []string
	if after > 0 {
		bounds = append(bounds, " > "+w.arg(after))
	}
	if before > 0 {
		bounds = append(bounds, " < "+w.arg(before))
	}
	if max > 0 {
		bounds = append(bounds, " <= "+w.arg(max))
	}
	where := func(pos string) string {
		var sb strings.Builder
		for _, b := range bounds {
			sb.WriteString(" AND " + pos + b)
		}
		sb.WriteString(" ORDER BY " + pos)
		if backwards {
			sb.WriteString(" DESC")
		}
		sb.WriteString(" LIMIT " + limit)
		return sb.String()
	}
	var out []string
	for _, cr := range c {
		if len(cr.Tags) == 0 {
			types := slices.Compact(slices.Sorted(slices.Values(cr.Types)))
			for _, t := range types {
				out = append(out, "(SELECT e.id FROM "+b.sql.events+" e WHERE e.event_type = "+w.arg(t)+"::text"+where("e.id")+")")
			}
			continue
		}
		var sb strings.Builder
		sb.WriteString("(SELECT t0.seq AS id FROM " + b.sql.tags + " t0")
		for i, tag := range cr.Tags[1:] {
			t := "t" + itoa(i+1)
			sb.WriteString(" JOIN " + b.sql.tags + " " + t + " ON " + t + ".tag = " + w.arg(tag) + "::text AND " + t + ".seq = t0.seq")
		}
		sb.WriteString(" JOIN " + b.sql.events + " e ON e.id = t0.seq")
		if len(cr.Types) > 0 {
			sb.WriteString(" AND e.event_type = ANY(" + w.arg(cr.Types) + "::text[])")
		}
		sb.WriteString(" WHERE t0.tag = " + w.arg(cr.Tags[0]) + "::text" + where("t0.seq") + ")")
		out = append(out, sb.String())
	}
	return out
}
