package sqlite

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"zombiezen.com/go/sqlite"
)

var (
	_ evstore.Finder        = (*backend)(nil)
	_ evstore.MultiAppender = (*backend)(nil)
)

// Find implements evstore.Finder: see buildFind.
func (b *backend) Find(ctx context.Context, q evstore.FindQuery, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	query, args, ok := buildFind(q, !b.noTags)
	if !ok {
		return dst, nil
	}
	conn, err := take(ctx, b.readers)
	if err != nil {
		return dst, err
	}
	defer put(b.readers, conn)
	stmt, done, err := prepareShape(conn, query)
	if err != nil {
		return dst, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "find")
	}
	defer done()
	bind(stmt, args)
	var d decoder
	n0 := len(dst)
	for {
		row, err := stmt.Step()
		if err != nil {
			return dst, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "find")
		}
		if !row {
			break
		}
		e, err := d.event(stmt)
		if err != nil {
			return dst, errs.Wrapf("evstore/sqlite", err, "find")
		}
		dst = append(dst, e)
	}
	if err := b.attachTags(conn, dst[n0:]); err != nil {
		return dst, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "find")
	}
	return dst, nil
}

// buildFind turns q into SQL and its arguments: the events whose id is
// among the union of one indexed query per criterion, each ordered and
// limited on its own, so that a page reads at most Limit rows of each:
//
//   - tags: the (tag, seq) index of evstore_tags for the first tag,
//     joined with the (seq, tag) key for each other tag, and with events
//     by rowid when the criterion has types;
//   - types only: the index events_event_type, (event_type, rowid), one
//     query per type;
//   - neither: events by rowid, as a read of @all.
//
// ok is false when no criterion can match (tags, in an old file that has
// no evstore_tags).
func buildFind(q evstore.FindQuery, tags bool) (query string, args []any, ok bool) {
	var parts []string
	add := func(c evstore.Criterion) {
		part, a, ok := criterionSQL(c, q.After, q.Before, q.MaxSequence, q.Limit, q.Backwards, tags)
		if ok {
			parts = append(parts, "SELECT seq FROM ("+part+")")
			args = append(args, a...)
		}
	}
	for _, c := range q.Criteria {
		if len(c.Tags) == 0 && len(c.Types) > 1 {
			// One range of the type index each: an IN over several
			// would read them all to sort them.
			for _, t := range c.Types {
				add(evstore.Criterion{Types: []string{t}})
			}
			continue
		}
		add(c)
	}
	if len(parts) == 0 {
		return "", nil, false
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + eventColumns + " FROM events WHERE id IN (")
	sb.WriteString(strings.Join(parts, " UNION "))
	sb.WriteString(") ORDER BY id")
	if q.Backwards {
		sb.WriteString(" DESC")
	}
	sb.WriteString(" LIMIT +?")
	args = append(args, int64(q.Limit))
	return sb.String(), args, true
}

// criterionSQL returns a query of the Sequences (column seq) of the events
// c matches above after (and below before, and at most max, when above
// zero), in order, at most limit of them.
func criterionSQL(c evstore.Criterion, after, before, max int64, limit int, backwards, tags bool) (string, []any, bool) {
	var w where
	var sb strings.Builder
	seq := "id"
	switch {
	case len(c.Tags) > 0:
		if !tags {
			return "", nil, false
		}
		seq = "t0.seq"
		sb.WriteString("SELECT t0.seq AS seq FROM evstore_tags t0")
		for i := 1; i < len(c.Tags); i++ {
			n := "t" + strconv.Itoa(i)
			sb.WriteString(" JOIN evstore_tags " + n + " ON " + n + ".seq = t0.seq AND " + n + ".tag = +?")
			w.args = append(w.args, c.Tags[i])
		}
		if len(c.Types) > 0 {
			sb.WriteString(" JOIN events e ON e.id = t0.seq AND e.event_type IN (" + placeholders(len(c.Types)) + ")")
			for _, t := range c.Types {
				w.args = append(w.args, t)
			}
		}
		w.add("t0.tag = +?", c.Tags[0])
	case len(c.Types) > 0:
		sb.WriteString("SELECT id AS seq FROM events")
		types := make([]any, len(c.Types))
		for i, t := range c.Types {
			types[i] = t
		}
		w.add("event_type IN ("+placeholders(len(c.Types))+")", types...)
	default:
		sb.WriteString("SELECT id AS seq FROM events")
	}
	if after > 0 {
		w.add(seq+" > +?", after)
	}
	if before > 0 {
		w.add(seq+" < +?", before)
	}
	if max > 0 {
		w.add(seq+" <= +?", max)
	}
	if len(w.conds) > 0 {
		sb.WriteString(" WHERE " + strings.Join(w.conds, " AND "))
	}
	sb.WriteString(" ORDER BY " + seq)
	if backwards {
		sb.WriteString(" DESC")
	}
	sb.WriteString(" LIMIT +?")
	w.args = append(w.args, int64(limit))
	return sb.String(), w.args, true
}

// Find's and the conditions' SQL depends on the criteria's shape (how
// many criteria, tags and types), not on their values, so each shape is
// kept prepared on each connection: compiling it for every call cost
// conditional appends half their rate. Parameters are written +? (as in
// read.go) so that binding them never makes SQLite compile the statement
// again. Past maxShapes distinct texts, a new one is compiled for its
// call only, so that odd criteria cannot grow every connection's cache.
const maxShapes = 64

var shapes = struct {
	sync.Mutex
	known map[string]bool
}{known: map[string]bool{}}

// prepareShape returns query prepared on conn, and what to call when the
// statement is done with.
func prepareShape(conn *sqlite.Conn, query string) (*sqlite.Stmt, func(), error) {
	shapes.Lock()
	keep := shapes.known[query]
	if !keep && len(shapes.known) < maxShapes {
		shapes.known[query], keep = true, true
	}
	shapes.Unlock()
	if keep {
		stmt, err := conn.Prepare(query)
		if err != nil {
			return nil, nil, err
		}
		return stmt, func() { stmt.Reset() }, nil
	}
	stmt, _, err := conn.PrepareTransient(query)
	if err != nil {
		return nil, nil, err
	}
	return stmt, func() { stmt.Finalize() }, nil
}

// placeholders returns n comma-separated parameters, +? each.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("+?,", n), ",")
}

// firstMatch returns the Sequence of the first event above after that c
// matches, or 0: the match of a FailIfMatch condition, read in the
// write's transaction, where the events of the group's earlier calls are
// already in.
func firstMatch(conn *sqlite.Conn, c evstore.Criteria, after int64, tags bool) (int64, error) {
	query, args, ok := buildFind(evstore.FindQuery{Criteria: c, After: after, Limit: 1}, tags)
	if !ok {
		return 0, nil
	}
	// Only the id is wanted: the rows' other columns cost little at
	// LIMIT 1, and one builder serves both.
	stmt, done, err := prepareShape(conn, query)
	if err != nil {
		return 0, err
	}
	defer done()
	bind(stmt, args)
	row, err := stmt.Step()
	if err != nil || !row {
		return 0, err
	}
	return stmt.ColumnInt64(0), nil
}
