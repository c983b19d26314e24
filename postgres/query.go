package postgres

import (
	"context"
	"iter"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"github.com/jackc/pgx/v5"
)

// Head implements evstore.Backend. Appends take Sequences under one lock
// per schema and release it only once they are visible, so the last
// Sequence handed out (evstore_sequence's, or the newest id if larger) is
// always safe to read up to: no lower Sequence can appear later.
func (b *backend) Head(ctx context.Context, streamID string) (int64, error) {
	var v int64
	var err error
	if streamID == evstore.All {
		err = b.pool.QueryRow(ctx, b.sql.allHead).Scan(&v)
	} else {
		err = b.pool.QueryRow(ctx, b.sql.streamHead, streamID).Scan(&v)
	}
	if err != nil {
		return 0, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "version of %s", streamID)
	}
	return v, nil
}

// Metrics implements evstore.Backend, in one statement.
func (b *backend) Metrics(ctx context.Context, streamID string) (evstore.Metrics, error) {
	m := evstore.Metrics{StreamID: streamID}
	var last *time.Time
	var err error
	if streamID == evstore.All {
		err = b.pool.QueryRow(ctx, b.sql.allMetrics).Scan(&m.EventCount, &m.Version, &last)
	} else {
		err = b.pool.QueryRow(ctx, b.sql.streamMetrics, streamID).Scan(&m.EventCount, &m.Version, &last)
	}
	if err != nil {
		return m, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "metrics of %s", streamID)
	}
	if last != nil {
		m.LastTimestamp = last.UTC()
	}
	return m, nil
}

// Streams implements evstore.StreamLister: a page of streamsPage streams
// per query, ordered by bytes (COLLATE "C"), whatever the database's
// collation, as on SQLite. No connection is held between pages, so the
// loop body may call the Store.
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
				yield(evstore.Metrics{}, errs.Wrap("evstore/postgres", "list streams", interrupted(ctx, err)))
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
// first).
func (b *backend) streamsPage(ctx context.Context, after string, first bool) ([]evstore.Metrics, error) {
	rows, err := b.pool.Query(ctx, "SELECT stream_id, COUNT(*), MAX(version), MAX(timestamp) FROM "+b.sql.events+
		` WHERE $2 OR stream_id COLLATE "C" > $1 GROUP BY stream_id ORDER BY stream_id COLLATE "C" LIMIT $3`, after, first, streamsPage)
	if err != nil {
		return nil, err
	}
	var page []evstore.Metrics
	var m evstore.Metrics
	_, err = pgx.ForEachRow(rows, []any{&m.StreamID, &m.EventCount, &m.Version, &m.LastTimestamp}, func() error {
		m.LastTimestamp = m.LastTimestamp.UTC()
		page = append(page, m)
		return nil
	})
	return page, err
}
