package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SaveSnapshot implements evstore.Backend. One statement both checks that
// the snapshot is not ahead of its stream, nor below the stream's last
// tombstone (evstore_tombstones), and writes it, so that no write or
// delete can come between the two.
func (b *backend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	query := b.sql.saveStreamSnapshot
	if snap.StreamID == evstore.All {
		query = b.sql.saveAllSnapshot
	}
	var tag pgconn.CommandTag
	var err error
	if snap.StreamID == evstore.All {
		tag, err = b.pool.Exec(ctx, query, snap.StreamID, snap.Projection, snap.Version, snap.State, snap.Timestamp)
	} else {
		// Under the stream's lock, shared, in one implicit transaction:
		// a Delete (which holds it exclusively) is either committed, and
		// seen by the INSERT, or not begun (see delete.go).
		batch := &pgx.Batch{}
		batch.Queue(b.sql.streamLockShared, b.streamKey(snap.StreamID))
		batch.Queue(query, snap.StreamID, snap.Projection, snap.Version, snap.State, snap.Timestamp)
		results := b.pool.SendBatch(ctx, batch)
		_, err = results.Exec()
		if err == nil {
			tag, err = results.Exec()
		}
		if cerr := results.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return errs.Wrapf("evstore/postgres", interrupted(ctx, err), "save snapshot %s/%s", snap.StreamID, snap.Projection)
	}
	if tag.RowsAffected() == 0 {
		why := "is ahead of the stream"
		if snap.StreamID != evstore.All {
			why = "is ahead of the stream or below its last tombstone (it would bring deleted state back)"
			var t int64
			if err := b.pool.QueryRow(ctx, b.sql.tombstone, snap.StreamID).Scan(&t); err == nil && snap.Version < t {
				why = fmt.Sprintf("is below the stream's tombstone, at %d: it would bring deleted state back", t)
			}
		}
		return fmt.Errorf("%w: snapshot %s/%s at version %d %s", evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version, why)
	}
	return nil
}

// LoadSnapshot implements evstore.Backend.
func (b *backend) LoadSnapshot(ctx context.Context, streamID, projection string) (*evstore.Snapshot, error) {
	rows, err := b.pool.Query(ctx, b.sql.loadSnapshot, streamID, projection)
	if err != nil {
		return nil, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "load snapshot %s/%s", streamID, projection)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, interrupted(ctx, rows.Err())
	}
	snap := &evstore.Snapshot{StreamID: streamID, Projection: projection}
	if err := rows.Scan(&snap.Version, &snap.State, &snap.Timestamp); err != nil {
		return nil, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "load snapshot %s/%s", streamID, projection)
	}
	snap.Timestamp = snap.Timestamp.UTC()
	if snap.State == nil {
		snap.State = []byte{}
	}
	return snap, nil
}

// LookupKey implements evstore.KeyLookup.
func (b *backend) LookupKey(ctx context.Context, streamID, key string) (int64, bool, error) {
	var v int64
	err := b.pool.QueryRow(ctx, b.sql.lookupKey, streamID, key).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "look up key %q in %s", key, streamID)
	}
	return v, true, nil
}
