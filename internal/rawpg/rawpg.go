// Package rawpg writes and reads event rows through pgx directly, with none
// of evstore's work: the PostgreSQL baseline of `evstore bench --baseline`.
package rawpg

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Write copies n events of one stream into schema's events table (which
// evstore's Open has created) with COPY, batch rows per transaction.
func Write(ctx context.Context, conn *pgx.Conn, schema, stream string, n, batch int, keys bool) error {
	table := pgx.Identifier{schema, "events"}
	columns := []string{"id", "stream_id", "idempotency_key", "event_type", "timestamp", "metadata", "data", "version"}
	data := []byte(`{"amount": 1}`)
	for done := 0; done < n; {
		size := min(batch, n-done)
		rows := make([][]any, size)
		ts := time.Now().UTC()
		for i := range rows {
			done++
			var key any
			if keys {
				key = fmt.Sprintf("event-%d", done)
			}
			rows[i] = []any{int64(done), stream, key, "Increment", ts, nil, data, int64(done)}
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, table, columns, pgx.CopyFromRows(rows)); err != nil {
			tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// A Row is an event row, decoded into Go values.
type Row struct {
	ID        int64
	StreamID  string
	Key       *string
	Type      string
	Timestamp time.Time
	Metadata  []byte
	Data      []byte
	Version   int64
}

// ReadStream reads one stream's rows in version order with one query and
// calls f with each; the Row is reused between calls.
func ReadStream(ctx context.Context, conn *pgx.Conn, schema, stream string, f func(*Row)) error {
	rows, err := conn.Query(ctx, "SELECT id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version FROM "+
		pgx.Identifier{schema, "events"}.Sanitize()+" WHERE stream_id = $1 ORDER BY version", stream)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r Row
	for rows.Next() {
		if err := rows.Scan(&r.ID, &r.StreamID, &r.Key, &r.Type, &r.Timestamp, &r.Metadata, &r.Data, &r.Version); err != nil {
			return err
		}
		f(&r)
	}
	return rows.Err()
}
