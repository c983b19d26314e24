package sqlite

import (
	"context"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

// SaveSnapshot implements evstore.Backend. One statement both checks the
// snapshot's version and writes it, so that no write or delete can come
// between the two: it must not be ahead of its stream, nor below the
// stream's tombstone (it would bring deleted state back). A stream's
// tombstone, when it has one, is its oldest event: Delete removes every
// event before it, and Truncate only the oldest ones. (A Truncate past the
// tombstone removes it too, and with it this check.)
func (b *backend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	conn, err := take(ctx, b.writer)
	if err != nil {
		return err
	}
	defer put(b.writer, conn)
	check := `?3 <= (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = +?1)
		AND ?3 >= COALESCE((SELECT CASE event_type WHEN '` + evstore.Deleted + `' THEN version ELSE 0 END
			FROM events WHERE stream_id = +?1 ORDER BY version LIMIT 1), 0)`
	if snap.StreamID == evstore.All {
		check = "?3 <= (SELECT COALESCE(MAX(id), 0) FROM events)"
	}
	stmt, err := conn.Prepare(`INSERT INTO snapshots (stream_id, projection_name, version, state, timestamp)
		SELECT ?1, ?2, ?3, ?4, ?5 WHERE ` + check + `
		ON CONFLICT (stream_id, projection_name) DO UPDATE SET
		version = excluded.version, state = excluded.state, timestamp = excluded.timestamp`)
	if err != nil {
		return errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "save snapshot %s/%s", snap.StreamID, snap.Projection)
	}
	defer stmt.Reset()
	stmt.BindText(1, snap.StreamID)
	stmt.BindText(2, snap.Projection)
	stmt.BindInt64(3, snap.Version)
	stmt.BindBytes(4, snap.State)
	stmt.BindText(5, formatTimestamp(snap.Timestamp))
	if _, err := stmt.Step(); err != nil {
		return errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "save snapshot %s/%s", snap.StreamID, snap.Projection)
	}
	if conn.Changes() == 0 {
		// Which check failed, for the message (the refusal itself was
		// decided by the statement).
		if snap.StreamID != evstore.All {
			if v, typ, err := firstEvent(conn, snap.StreamID); err == nil && typ == evstore.Deleted && snap.Version < v {
				return fmt.Errorf("%w: snapshot %s/%s at version %d is below the stream's tombstone, at %d: it would bring deleted state back",
					evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version, v)
			}
		}
		return fmt.Errorf("%w: snapshot %s/%s at version %d is ahead of the stream", evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version)
	}
	return nil
}

// LoadSnapshot implements evstore.Backend.
func (b *backend) LoadSnapshot(ctx context.Context, streamID, projection string) (*evstore.Snapshot, error) {
	conn, err := take(ctx, b.readers)
	if err != nil {
		return nil, err
	}
	defer put(b.readers, conn)
	stmt, err := conn.Prepare(`SELECT version, state, timestamp FROM snapshots
		WHERE stream_id = +? AND projection_name = +?`)
	if err != nil {
		return nil, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "load snapshot %s/%s", streamID, projection)
	}
	defer stmt.Reset()
	stmt.BindText(1, streamID)
	stmt.BindText(2, projection)
	row, err := stmt.Step()
	if err != nil {
		return nil, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "load snapshot %s/%s", streamID, projection)
	}
	if !row {
		return nil, nil
	}
	snap := &evstore.Snapshot{StreamID: streamID, Projection: projection, Version: stmt.ColumnInt64(0)}
	snap.State = make([]byte, stmt.ColumnLen(1))
	stmt.ColumnBytes(1, snap.State)
	if snap.Timestamp, err = parseTimestamp(stmt.ColumnText(2)); err != nil {
		return nil, fmt.Errorf("%w: snapshot %s/%s: %v", evstore.ErrCorrupt, streamID, projection, err)
	}
	return snap, nil
}

// LookupKey implements evstore.KeyLookup.
func (b *backend) LookupKey(ctx context.Context, streamID, key string) (int64, bool, error) {
	conn, err := take(ctx, b.readers)
	if err != nil {
		return 0, false, err
	}
	defer put(b.readers, conn)
	v, found, err := lookupKey(conn, streamID, key)
	if err != nil {
		return 0, false, errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "look up key %q in %s", key, streamID)
	}
	return v, found, nil
}
