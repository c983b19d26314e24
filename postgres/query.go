package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// Head implements evstore.Backend. Appends take Sequences under one lock
// per schema and release it only once they are visible, so the newest id
// is always safe to read up to: no lower Sequence can appear later.
func (b *backend) Head(ctx context.Context, streamID string) (int64, error) {
	var v int64
	var err error
	if streamID == evstore.All {
		err = b.pool.QueryRow(ctx, b.sql.allHead).Scan(&v)
	} else {
		err = b.pool.QueryRow(ctx, b.sql.streamHead, streamID).Scan(&v)
	}
	if err != nil {
		return 0, fmt.Errorf("evstore/postgres: version of %s: %w", streamID, interrupted(ctx, err))
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
		return m, fmt.Errorf("evstore/postgres: metrics of %s: %w", streamID, interrupted(ctx, err))
	}
	if last != nil {
		m.LastTimestamp = last.UTC()
	}
	return m, nil
}

// SaveSnapshot implements evstore.Backend.
func (b *backend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	if _, err := b.pool.Exec(ctx, b.sql.saveSnapshot, snap.StreamID, snap.Projection, snap.Version, snap.State, snap.Timestamp); err != nil {
		return fmt.Errorf("evstore/postgres: save snapshot %s/%s: %w", snap.StreamID, snap.Projection, interrupted(ctx, err))
	}
	return nil
}

// LoadSnapshot implements evstore.Backend.
func (b *backend) LoadSnapshot(ctx context.Context, streamID, projection string) (*evstore.Snapshot, error) {
	rows, err := b.pool.Query(ctx, b.sql.loadSnapshot, streamID, projection)
	if err != nil {
		return nil, fmt.Errorf("evstore/postgres: load snapshot %s/%s: %w", streamID, projection, interrupted(ctx, err))
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, interrupted(ctx, rows.Err())
	}
	snap := &evstore.Snapshot{StreamID: streamID, Projection: projection}
	if err := rows.Scan(&snap.Version, &snap.State, &snap.Timestamp); err != nil {
		return nil, fmt.Errorf("evstore/postgres: load snapshot %s/%s: %w", streamID, projection, interrupted(ctx, err))
	}
	snap.Timestamp = snap.Timestamp.UTC()
	if snap.State == nil {
		snap.State = []byte{}
	}
	return snap, nil
}

// Streams implements evstore.StreamLister.
func (b *backend) Streams(ctx context.Context) ([]evstore.Metrics, error) {
	rows, err := b.pool.Query(ctx, "SELECT stream_id, COUNT(*), MAX(version), MAX(timestamp) FROM "+b.sql.events+" GROUP BY stream_id ORDER BY stream_id")
	if err != nil {
		return nil, fmt.Errorf("evstore/postgres: list streams: %w", interrupted(ctx, err))
	}
	defer rows.Close()
	var out []evstore.Metrics
	for rows.Next() {
		var m evstore.Metrics
		if err := rows.Scan(&m.StreamID, &m.EventCount, &m.Version, &m.LastTimestamp); err != nil {
			return out, fmt.Errorf("evstore/postgres: list streams: %w", interrupted(ctx, err))
		}
		m.LastTimestamp = m.LastTimestamp.UTC()
		out = append(out, m)
	}
	return out, interrupted(ctx, rows.Err())
}
