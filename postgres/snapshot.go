package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"github.com/jackc/pgx/v5"
)

// SaveSnapshot implements evstore.Backend. One statement both checks that
// the snapshot is not ahead of its stream and writes it, so that no write
// or delete can come between the two.
func (b *backend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	query := b.sql.saveStreamSnapshot
	if snap.StreamID == evstore.All {
		query = b.sql.saveAllSnapshot
	}
	tag, err := b.pool.Exec(ctx, query, snap.StreamID, snap.Projection, snap.Version, snap.State, snap.Timestamp)
	if err != nil {
		return errs.Wrapf("evstore/postgres", interrupted(ctx, err), "save snapshot %s/%s", snap.StreamID, snap.Projection)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: snapshot %s/%s at version %d is ahead of the stream", evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version)
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
