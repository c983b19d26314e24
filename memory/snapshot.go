package memory

import (
	"context"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

// SaveSnapshot implements evstore.Backend. It holds the lock exclusively,
// as Append does, so that no write can come between checking that the
// snapshot is not ahead of its stream and saving it.
func (b *backend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return errs.Wrapf("evstore/memory", err, "save snapshot %s/%s", snap.StreamID, snap.Projection)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if head := b.head(snap.StreamID); snap.Version > head {
		return fmt.Errorf("%w: snapshot %s/%s at version %d is ahead of the stream, at %d",
			evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version, head)
	}
	if t := b.stream(snap.StreamID).tombstone; snap.StreamID != evstore.All && snap.Version < t {
		return fmt.Errorf("%w: snapshot %s/%s at version %d is below the stream's tombstone, at %d: it would bring deleted state back",
			evstore.ErrInvalidArgument, snap.StreamID, snap.Projection, snap.Version, t)
	}
	snap.State = cloneState(snap.State) // not the caller's memory
	b.snapshots[snapshotKey{snap.StreamID, snap.Projection}] = snap
	return nil
}

// LoadSnapshot implements evstore.Backend. It returns a copy, which the
// caller may change.
func (b *backend) LoadSnapshot(ctx context.Context, streamID, projection string) (*evstore.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrapf("evstore/memory", err, "load snapshot %s/%s", streamID, projection)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	snap, ok := b.snapshots[snapshotKey{streamID, projection}]
	if !ok {
		return nil, nil
	}
	snap.State = cloneState(snap.State)
	return &snap, nil
}

// cloneState copies a snapshot's state. Unlike an event's Data, an empty
// state stays a non-nil empty slice, as the database backends read it.
func cloneState(p []byte) []byte {
	return append([]byte{}, p...)
}
