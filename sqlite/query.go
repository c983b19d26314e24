package sqlite

import (
	"context"
	"fmt"
	"iter"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"zombiezen.com/go/sqlite"
)

// Head implements evstore.Backend. In SQLite a Sequence becomes visible
// only when its transaction commits, and writers commit in Sequence order,
// so the newest id is always safe to read up to.
func (b *backend) Head(ctx context.Context, streamID string) (int64, error) {
	conn, err := take(ctx, b.readers)
	if err != nil {
		return 0, err
	}
	defer put(b.readers, conn)
	var v int64
	if streamID == evstore.All {
		v, err = queryInt(conn, "SELECT COALESCE(MAX(id), 0) FROM events")
	} else {
		v, err = streamHead(conn, streamID)
	}
	if err != nil {
		return 0, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "version of %s", streamID)
	}
	return v, nil
}

// Metrics implements evstore.Backend, in one statement so that its figures
// agree with each other.
func (b *backend) Metrics(ctx context.Context, streamID string) (evstore.Metrics, error) {
	conn, err := take(ctx, b.readers)
	if err != nil {
		return evstore.Metrics{}, err
	}
	defer put(b.readers, conn)
	query := `SELECT COUNT(*), COALESCE(MAX(version), 0),
		(SELECT timestamp FROM events WHERE stream_id = +?1 ORDER BY version DESC LIMIT 1)
		FROM events WHERE stream_id = +?1`
	if streamID == evstore.All {
		query = `SELECT COUNT(*), COALESCE(MAX(id), 0),
		(SELECT timestamp FROM events ORDER BY id DESC LIMIT 1) FROM events`
	}
	stmt, err := conn.Prepare(query)
	if err != nil {
		return evstore.Metrics{}, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "metrics of %s", streamID)
	}
	defer stmt.Reset()
	if streamID != evstore.All {
		stmt.BindText(1, streamID)
	}
	if _, err := stmt.Step(); err != nil {
		return evstore.Metrics{}, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "metrics of %s", streamID)
	}
	m := evstore.Metrics{StreamID: streamID, EventCount: stmt.ColumnInt64(0), Version: stmt.ColumnInt64(1)}
	if stmt.ColumnType(2) != sqlite.TypeNull {
		if m.LastTimestamp, err = parseTimestamp(stmt.ColumnText(2)); err != nil {
			return m, fmt.Errorf("%w: metrics of %s: %v", evstore.ErrCorrupt, streamID, err)
		}
	}
	return m, nil
}

// queryInt runs a query that returns one integer.
func queryInt(conn *sqlite.Conn, query string, args ...any) (int64, error) {
	stmt, err := conn.Prepare(query)
	if err != nil {
		return 0, err
	}
	defer stmt.Reset()
	bind(stmt, args)
	if _, err := stmt.Step(); err != nil {
		return 0, err
	}
	return stmt.ColumnInt64(0), nil
}

// Streams implements evstore.StreamLister: a page of streamsPage streams
// per query over the (stream_id, version) index. No connection is held
// between pages, so the loop body may call the Store, even on a Store with
// one connection (":memory:", WithReaders(1)).
func (b *backend) Streams(ctx context.Context) iter.Seq2[evstore.Metrics, error] {
	return func(yield func(evstore.Metrics, error) bool) {
		after, first := "", true
		for {
			page, err := b.streamsPage(ctx, after, first)
			for _, m := range page {
				if !yield(m, nil) {
					return
				}
			}
			if err != nil {
				yield(evstore.Metrics{}, err)
				return
			}
			if len(page) < streamsPage {
				return
			}
			after, first = page[len(page)-1].StreamID, false
		}
	}
}

// streamsPage is how many streams one query of Streams lists.
const streamsPage = 256

// streamsPage lists the streams after the id after (from the first, if
// first), in byte order: stream_id is TEXT with SQLite's default BINARY
// collation.
func (b *backend) streamsPage(ctx context.Context, after string, first bool) ([]evstore.Metrics, error) {
	conn, err := take(ctx, b.readers)
	if err != nil {
		return nil, err
	}
	defer put(b.readers, conn)
	stmt, err := conn.Prepare("SELECT stream_id, COUNT(*), MAX(version), MAX(timestamp) FROM events WHERE stream_id > ?1 OR ?2 GROUP BY stream_id ORDER BY stream_id LIMIT ?3")
	if err != nil {
		return nil, errs.Wrap("evstore/sqlite", "list streams", interrupted(ctx, err))
	}
	defer stmt.Reset()
	stmt.BindText(1, after)
	stmt.BindBool(2, first)
	stmt.BindInt64(3, streamsPage)
	var page []evstore.Metrics
	for {
		row, err := stmt.Step()
		if err != nil {
			return page, errs.Wrap("evstore/sqlite", "list streams", interrupted(ctx, err))
		}
		if !row {
			return page, nil
		}
		m := evstore.Metrics{StreamID: stmt.ColumnText(0), EventCount: stmt.ColumnInt64(1), Version: stmt.ColumnInt64(2)}
		if m.LastTimestamp, err = parseTimestamp(stmt.ColumnText(3)); err != nil {
			return page, fmt.Errorf("%w: stream %s: %w", evstore.ErrCorrupt, m.StreamID, err)
		}
		page = append(page, m)
	}
}
