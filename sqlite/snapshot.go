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
// stream's last tombstone, even one Truncate removed (it would bring
// deleted state back; see lastTombstone).
func (b *backend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	conn, err := take(ctx, b.writer)
	if err != nil {
		return err
	}
	defer put(b.writer, conn)
	check := `?3 <= (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = +?1)
		AND ?3 >= ` + lastTombstoneSQL
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
			if v, err := lastTombstone(conn, snap.StreamID); err == nil && snap.Version < v {
				return fmt.Errorf("%w: snapshot %s/%s at version %d is below the stream's tombstone, at %d: it would bring deleted state back",
					evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version, v)
			}
		}
		return fmt.Errorf("%w: snapshot %s/%s at version %d is ahead of the stream", evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version)
	}
	return nil
}

// SaveSnapshot implements evstore.Backend: ErrReadOnly. (The check of
// the read-write backend reads evstore_tombstones, which an older file
// opened read-only may not have: refusing there would be a missing table.)
func (b readOnlyBackend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	return fmt.Errorf("%w: save snapshot %s/%s: the Store was opened with sqlite.ReadOnly", evstore.ErrReadOnly, snap.StreamID, snap.Projection)
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
