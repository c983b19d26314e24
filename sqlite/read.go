package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"zombiezen.com/go/sqlite"
)

const eventColumns = "id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version"

// Read implements evstore.Backend.
func (b *backend) Read(ctx context.Context, q evstore.Query, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	query, args := buildRead(q, !b.noTags)
	n0 := len(dst)
	conn, err := take(ctx, b.readers)
	if err != nil {
		return dst, err
	}
	defer put(b.readers, conn)
	var stmt *sqlite.Stmt
	if len(q.Filter) == 0 {
		// Unfiltered queries come in a handful of shapes: keep them prepared.
		stmt, err = conn.Prepare(query)
	} else {
		stmt, _, err = conn.PrepareTransient(query)
		if err == nil {
			defer stmt.Finalize()
		}
	}
	if err != nil {
		return dst, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "read %s", q.StreamID)
	}
	defer stmt.Reset()
	bind(stmt, args)
	var d decoder
	if q.StreamID != evstore.All {
		d.known = q.StreamID
	}
	for {
		row, err := stmt.Step()
		if err != nil {
			return dst, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "read %s", q.StreamID)
		}
		if !row {
			break
		}
		e, err := d.event(stmt)
		if err != nil {
			return dst, errs.Wrapf("evstore/sqlite", err, "read %s", q.StreamID)
		}
		dst = append(dst, e)
	}
	if err := b.attachTags(conn, dst[n0:]); err != nil {
		return dst, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "read %s", q.StreamID)
	}
	return dst, nil
}

// buildRead turns q into SQL text and its arguments. The text depends only
// on q's shape; every value, including metadata paths, is an argument.
//
// Parameters compared with indexed columns are written +? : the plan is
// the same, but SQLite (built with STAT4) then does not recompile the
// statement each time they are bound, which tripled the cost of a query.
//
// With tags, a "tag" clause looks in evstore_tags; without (an old file
// read as it is), no event has tags.
func buildRead(q evstore.Query, tags bool) (string, []any) {
	w := where{tags: tags}
	pos := "id"
	if q.StreamID != evstore.All {
		pos = "version"
		w.add("stream_id = +?", q.StreamID)
	}
	if q.After > 0 {
		w.add(pos+" > +?", q.After)
	}
	if q.Before > 0 {
		w.add(pos+" < +?", q.Before)
	}
	if q.MaxSequence > 0 {
		w.add("id <= +?", q.MaxSequence)
	}
	for _, c := range q.Filter {
		w.clause(c)
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + eventColumns + " FROM events")
	if len(w.conds) > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(strings.Join(w.conds, " AND "))
	}
	sb.WriteString(" ORDER BY " + pos)
	if q.Backwards {
		sb.WriteString(" DESC")
	}
	sb.WriteString(" LIMIT ?")
	w.args = append(w.args, int64(q.Limit))
	return sb.String(), w.args
}

// where collects the conditions of a query and their arguments.
type where struct {
	conds []string
	args  []any
	tags  bool // the file has evstore_tags
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// clause adds a filter clause. Metadata values match only values of the
// same JSON type, as evstore.Filter.Match defines.
func (w *where) clause(c evstore.Clause) {
	var alts []string
	for _, v := range c.Values() {
		var cond string
		var args []any
		switch c.Field() {
		case "tag":
			op := "="
			if c.Op() == evstore.OpLike {
				op = "LIKE"
			}
			cond, args = "EXISTS (SELECT 1 FROM evstore_tags WHERE seq = events.id AND tag "+op+" ?)", []any{v}
			if !w.tags {
				cond, args = "0", nil // no event of an old file has tags
			}
		case "stream_id", "event_type", "version":
			op := "="
			if c.Op() == evstore.OpLike {
				op = "LIKE"
			}
			cond, args = c.Field()+" "+op+" ?", []any{v}
		default:
			path := jsonPath(c.Path())
			switch x := v.(type) {
			case bool:
				cond, args = "json_type(metadata, ?) = ?", []any{path, strconv.FormatBool(x)}
			case float64:
				// As doubles on both sides, as Filter.Match compares them.
				cond, args = "(json_type(metadata, ?) IN ('integer', 'real') AND CAST(json_extract(metadata, ?) AS REAL) = ?)", []any{path, path, x}
			default:
				op := "="
				if c.Op() == evstore.OpLike {
					op = "LIKE"
				}
				cond, args = "(json_type(metadata, ?) = 'text' AND json_extract(metadata, ?) "+op+" ?)", []any{path, path, x}
			}
		}
		alts = append(alts, cond)
		w.args = append(w.args, args...)
	}
	if len(alts) == 1 {
		w.conds = append(w.conds, alts[0])
	} else {
		w.conds = append(w.conds, "("+strings.Join(alts, " OR ")+")")
	}
}

// jsonPath quotes each key, so any key (dots and spaces included) is one step.
func jsonPath(keys []string) string {
	var sb strings.Builder
	sb.WriteByte('$')
	for _, k := range keys {
		sb.WriteString(`."`)
		sb.WriteString(k)
		sb.WriteByte('"')
	}
	return sb.String()
}

func bind(stmt *sqlite.Stmt, args []any) {
	for i, a := range args {
		switch x := a.(type) {
		case string:
			stmt.BindText(i+1, x)
		case int64:
			stmt.BindInt64(i+1, x)
		case float64:
			stmt.BindFloat(i+1, x)
		default:
			panic(fmt.Sprintf("evstore/sqlite: cannot bind %T", a))
		}
	}
}

// A decoder turns rows into events. Consecutive rows tend to repeat their
// stream id, type and timestamp (the events of one write share it), so it
// compares those columns with the previous row's in place and reuses the
// strings, and the parsed time, when they are the same.
type decoder struct {
	known           string // the stream every row belongs to, if one
	buf             []byte
	stream, typ, ts string
	time            time.Time
}

// text returns column col as a string, reusing *last when it is the same.
func (d *decoder) text(stmt *sqlite.Stmt, col int, last *string) (s string, changed bool) {
	n := stmt.ColumnLen(col)
	if n == len(*last) {
		if cap(d.buf) < n {
			d.buf = make([]byte, n, 2*n)
		}
		stmt.ColumnBytes(col, d.buf[:n])
		if string(d.buf[:n]) == *last {
			return *last, false
		}
		*last = string(d.buf[:n])
		return *last, true
	}
	*last = stmt.ColumnText(col)
	return *last, true
}

// event decodes a row of eventColumns.
func (d *decoder) event(stmt *sqlite.Stmt) (evstore.StoredEvent, error) {
	e := evstore.StoredEvent{
		Sequence: stmt.ColumnInt64(0),
		Version:  stmt.ColumnInt64(7),
	}
	if e.StreamID = d.known; e.StreamID == "" {
		e.StreamID, _ = d.text(stmt, 1, &d.stream)
	}
	e.Type, _ = d.text(stmt, 3, &d.typ)
	if stmt.ColumnLen(2) > 0 {
		e.ID = stmt.ColumnText(2) // NULL (no key) leaves ""
	}
	if _, changed := d.text(stmt, 4, &d.ts); changed {
		t, err := parseTimestamp(d.ts)
		if err != nil {
			d.ts = "" // do not take the next row's equal text as parsed
			return e, fmt.Errorf("%w: event %d: %v", evstore.ErrCorrupt, e.Sequence, err)
		}
		d.time = t
	}
	e.Timestamp = d.time
	if n := stmt.ColumnLen(6); n > 0 {
		e.Data = make([]byte, n)
		stmt.ColumnBytes(6, e.Data)
	}
	if stmt.ColumnLen(5) > 0 { // NULL, or (written by hand) empty: none
		m, err := decodeMetadata(stmt.ColumnText(5))
		if err != nil {
			return e, fmt.Errorf("%w: event %d: metadata: %v", evstore.ErrCorrupt, e.Sequence, err)
		}
		e.Metadata = m
	}
	return e, nil
}

func decodeMetadata(text string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
