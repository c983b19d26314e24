package sqlite

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/groupcommit"
	"zombiezen.com/go/sqlite"
)

// insertChunk is the most rows one INSERT statement carries: multi-row
// inserts run about 1.5x faster than one statement per row.
const insertChunk = 64

// Append implements evstore.Backend.
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (evstore.WriteReport, error) {
	return groupcommit.Do(ctx, &b.queue, groupcommit.Request{One: req}, b.writer, b.commitGroup)
}

// AppendStreams implements evstore.MultiAppender: the request is one call
// of group commit, written by appendStreamsTx.
func (b *backend) AppendStreams(ctx context.Context, req evstore.StreamsRequest) ([]evstore.WriteReport, error) {
	return groupcommit.DoMany(ctx, &b.queue, groupcommit.Request{Many: &req}, b.writer, b.commitGroup)
}

// rollback ends an open transaction. It clears the connection's interrupt
// first: a cancelled ctx must not keep the ROLLBACK from running, or the
// connection would go back to the pool inside the transaction.
func rollback(conn *sqlite.Conn) {
	conn.SetInterrupt(nil)
	if !conn.AutocommitEnabled() {
		_ = exec(context.Background(), conn, "ROLLBACK")
	}
}

// appendTx does Append's work inside its transaction, by the append rule
// of evstore.PlanAppend. On success the stream's new version goes into h.
func appendTx(conn *sqlite.Conn, h *heads, req evstore.AppendRequest, ts string) (r evstore.WriteReport, err error) {
	cur, err := h.get(conn, req.StreamID)
	if err != nil {
		return r, err
	}
	plan, err := evstore.PlanAppend(req, cur, nil)
	if err != nil {
		return r, err
	}
	if plan.Optimistic {
		// Try the insert and let the unique index find repeated keys,
		// undoing the attempt if it does.
		if err := exec(context.Background(), conn, "SAVEPOINT optimistic"); err != nil {
			return r, err
		}
		err := insert(conn, req.StreamID, ts, cur, plan.Events)
		if err == nil {
			if err := exec(context.Background(), conn, "RELEASE optimistic"); err != nil {
				return r, brokenError{err}
			}
			return written(conn, h, req.StreamID, plan), nil
		}
		if sqlite.ErrCode(err) != sqlite.ResultConstraintUnique {
			return r, err
		}
		if err := exec(context.Background(), conn, "ROLLBACK TO optimistic"); err != nil {
			return r, brokenError{err}
		}
		if err := exec(context.Background(), conn, "RELEASE optimistic"); err != nil {
			return r, brokenError{err}
		}
		plan.LookupKeys = true
	}
	if plan.LookupKeys {
		keys, err := existingKeys(conn, req.StreamID, req.Events)
		if err != nil {
			return r, err
		}
		if plan, err = evstore.PlanAppend(req, cur, keys); err != nil {
			return r, err
		}
	}
	if len(plan.Events) == 0 {
		return evstore.WriteReport{Version: plan.Version}, nil // a retry of a write that went through
	}
	if err := insert(conn, req.StreamID, ts, cur, plan.Events); err != nil {
		return r, err
	}
	return written(conn, h, req.StreamID, plan), nil
}

// appendStreamsTx does AppendStreams' work inside its transaction, by the
// rule of evstore.PlanStreams. It reads the streams' versions, and the
// condition's match in the transaction, where the group's earlier calls
// are already written. On success the streams' new versions go into h.
func appendStreamsTx(conn *sqlite.Conn, h *heads, req evstore.StreamsRequest, ts string, tags bool) ([]evstore.WriteReport, error) {
	heads := make([]int64, len(req.Writes))
	for i, w := range req.Writes {
		var err error
		if heads[i], err = h.get(conn, w.StreamID); err != nil {
			return nil, err
		}
	}
	var match int64
	if c := req.Condition; c != nil {
		var err error
		if match, err = firstMatch(conn, c.Criteria, c.After, tags); err != nil {
			return nil, err
		}
	}
	plan, err := evstore.PlanStreams(req, heads, nil, match)
	if err != nil {
		return nil, err
	}
	if !plan.LookupKeys && slices.ContainsFunc(plan.Writes, func(p evstore.AppendPlan) bool { return p.Optimistic }) {
		// Try the inserts and let the unique index find repeated keys,
		// undoing the attempt if it does.
		if err := exec(context.Background(), conn, "SAVEPOINT optimistic"); err != nil {
			return nil, err
		}
		out, err := insertStreams(conn, req, plan, ts)
		if err == nil {
			if err := exec(context.Background(), conn, "RELEASE optimistic"); err != nil {
				return nil, brokenError{err}
			}
			setHeads(h, req, plan)
			return out, nil
		}
		if sqlite.ErrCode(err) != sqlite.ResultConstraintUnique {
			return nil, err
		}
		if err := exec(context.Background(), conn, "ROLLBACK TO optimistic"); err != nil {
			return nil, brokenError{err}
		}
		if err := exec(context.Background(), conn, "RELEASE optimistic"); err != nil {
			return nil, brokenError{err}
		}
		plan.LookupKeys = true
	}
	if plan.LookupKeys {
		keys := make([]evstore.KeySet, len(req.Writes))
		for i, w := range req.Writes {
			if keys[i], err = existingKeys(conn, w.StreamID, w.Events); err != nil {
				return nil, err
			}
		}
		if plan, err = evstore.PlanStreams(req, heads, keys, match); err != nil {
			return nil, err
		}
	}
	out, err := insertStreams(conn, req, plan, ts)
	if err != nil {
		return nil, err
	}
	setHeads(h, req, plan)
	return out, nil
}

// insertStreams inserts the events of plan's writes, in order, and
// reports them.
func insertStreams(conn *sqlite.Conn, req evstore.StreamsRequest, plan evstore.StreamsPlan, ts string) ([]evstore.WriteReport, error) {
	out := make([]evstore.WriteReport, len(req.Writes))
	for i, w := range req.Writes {
		p := plan.Writes[i]
		out[i].Version = p.Version
		if len(p.Events) == 0 {
			continue
		}
		if err := insert(conn, w.StreamID, ts, p.Head, p.Events); err != nil {
			return nil, err
		}
		last := conn.LastInsertRowID()
		out[i].Appended, out[i].First, out[i].Last = len(p.Events), last-int64(len(p.Events))+1, last
	}
	return out, nil
}

// setHeads records the streams' new versions, once all are written.
func setHeads(h *heads, req evstore.StreamsRequest, plan evstore.StreamsPlan) {
	for i, w := range req.Writes {
		if len(plan.Writes[i].Events) > 0 {
			h.set(w.StreamID, plan.Writes[i].Version)
		}
	}
}

// written reports plan's events as inserted by the last statements on conn.
// AUTOINCREMENT numbers the rows of one writer's transaction one after
// another, so they end at the last rowid inserted.
func written(conn *sqlite.Conn, h *heads, streamID string, plan evstore.AppendPlan) evstore.WriteReport {
	h.set(streamID, plan.Version)
	last := conn.LastInsertRowID()
	return evstore.WriteReport{Version: plan.Version, Appended: len(plan.Events), First: last - int64(len(plan.Events)) + 1, Last: last}
}

// existingKeys returns which keys of events the stream has, for
// PlanAppend, each looked up in the unique (stream_id, idempotency_key)
// index.
func existingKeys(conn *sqlite.Conn, streamID string, events []evstore.EncodedEvent) (evstore.KeyMap, error) {
	keys := evstore.KeyMap{}
	for _, e := range events {
		if e.ID == "" {
			continue
		}
		_, found, err := lookupKey(conn, streamID, e.ID)
		if err != nil {
			return nil, err
		}
		keys[e.ID] = found
	}
	return keys, nil
}

// streamHead returns the stream's version in the database.
func streamHead(conn *sqlite.Conn, streamID string) (int64, error) {
	return queryInt(conn, "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = +?", streamID)
}

// lookupKey returns the version of the stream's event with key.
func lookupKey(conn *sqlite.Conn, streamID, key string) (int64, bool, error) {
	stmt, err := conn.Prepare("SELECT version FROM events WHERE stream_id = +? AND idempotency_key = +?")
	if err != nil {
		return 0, false, err
	}
	defer stmt.Reset()
	stmt.BindText(1, streamID)
	stmt.BindText(2, key)
	found, err := stmt.Step()
	if err != nil || !found {
		return 0, false, err
	}
	return stmt.ColumnInt64(0), true, nil
}

// A brokenError is a failure to close a savepoint: the transaction may
// hold part of a call's rows, so the group it belongs to fails as a whole.
type brokenError struct{ error }

func (e brokenError) Unwrap() error { return e.error }

// broken reports whether, after a call failed with err, the transaction
// can no longer go on: SQLite rolled all of it back itself (as it does on
// some I/O, disk-full and out-of-memory errors), or a savepoint could not
// be closed.
func broken(conn *sqlite.Conn, err error) bool {
	var b brokenError
	return conn.AutocommitEnabled() || errors.As(err, &b)
}

// insert writes events as versions cur+1, cur+2, ... in multi-row INSERTs.
func insert(conn *sqlite.Conn, streamID, ts string, cur int64, events []evstore.EncodedEvent) error {
	for len(events) > 0 {
		n := min(len(events), insertChunk)
		stmt, err := conn.Prepare(insertSQL(n))
		if err != nil {
			return err
		}
		stmt.BindText(1, streamID)
		stmt.BindText(2, ts)
		for i, e := range events[:n] {
			p := 3 + 5*i
			if e.ID == "" {
				stmt.BindNull(p)
			} else {
				stmt.BindText(p, e.ID)
			}
			stmt.BindText(p+1, e.Type)
			if e.Metadata == nil {
				stmt.BindNull(p + 2)
			} else {
				stmt.BindText(p+2, string(e.Metadata))
			}
			stmt.BindBytes(p+3, e.Data)
			cur++
			stmt.BindInt64(p+4, cur)
		}
		_, err = stmt.Step()
		stmt.Reset()
		if err != nil {
			return err
		}
		// The chunk's rows are numbered one after another; inserting
		// tags (a WITHOUT ROWID table) leaves LastInsertRowID alone.
		if err := insertTags(conn, conn.LastInsertRowID()-int64(n)+1, events[:n]); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

var insertSQLs [insertChunk + 1]string

func init() {
	for n := 1; n <= insertChunk; n++ {
		var sb strings.Builder
		sb.WriteString("INSERT INTO events (stream_id, timestamp, idempotency_key, event_type, metadata, data, version) VALUES ")
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			p := 3 + 5*i
			sb.WriteString("(?1,?2")
			for j := range 5 {
				sb.WriteString(",?")
				sb.WriteString(strconv.Itoa(p + j))
			}
			sb.WriteByte(')')
		}
		insertSQLs[n] = sb.String()
	}
}

// insertSQL returns the INSERT statement for n rows; parameters 1 and 2 are
// the stream id and timestamp, then five per row.
func insertSQL(n int) string { return insertSQLs[n] }
