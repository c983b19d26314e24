package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

// Removing events. The events slice keeps a slot for every Sequence ever
// handed out; a removed event's record is emptied and marked removed, so
// that reads skip it and its data is gone. The versions removed from a
// stream are always its oldest ones (Delete removes all before the
// tombstone, Truncate those below a version): a stream keeps the first
// version it still has.

var (
	_ evstore.Deleter = (*backend)(nil)
	_ evstore.Eraser  = (*backend)(nil)
)

// DeleteStream implements evstore.Deleter, holding the lock exclusively
// as Append does.
func (b *backend) DeleteStream(ctx context.Context, streamID string, expect evstore.Expectation) (evstore.WriteReport, error) {
	if err := ctx.Err(); err != nil {
		return evstore.WriteReport{}, errs.Wrapf("evstore/memory", err, "delete %s", streamID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stream(streamID)
	head := s.version()
	only := head > 0 && s.first() == head && b.events[s.seqs[head-1]-1].event.Type == evstore.Deleted
	version, noop, err := evstore.PlanDelete(streamID, expect, head, only)
	if err != nil || noop {
		return evstore.WriteReport{Version: version}, err
	}
	b.remove(s, head+1)
	for k := range b.snapshots {
		if k.streamID == streamID {
			delete(b.snapshots, k)
		}
	}
	seq := int64(len(b.events)) + 1
	b.events = append(b.events, record{event: evstore.StoredEvent{
		StreamID:  streamID,
		Sequence:  seq,
		Version:   version,
		Timestamp: time.Now().UTC().Truncate(time.Microsecond),
		Type:      evstore.Deleted,
	}})
	s.seqs = append(s.seqs, seq)
	s.tombstone = version
	return evstore.WriteReport{Version: version, Appended: 1, First: seq, Last: seq}, nil
}

// TruncateStream implements evstore.Deleter.
func (b *backend) TruncateStream(ctx context.Context, streamID string, before int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, errs.Wrapf("evstore/memory", err, "truncate %s", streamID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stream(streamID)
	if head := s.version(); before < 1 || before > head {
		return 0, fmt.Errorf("%w: truncate %s before version %d: want 1 to its version, %d", evstore.ErrInvalidArgument, streamID, before, head)
	}
	return b.remove(s, before), nil
}

// remove removes the events of s with a version below before, and their
// keys, and returns how many it removed; b.mu is held.
func (b *backend) remove(s *stream, before int64) int64 {
	var n int64
	for v := s.first(); v < before; v++ {
		r := &b.events[s.seqs[v-1]-1]
		*r = record{event: evstore.StoredEvent{Sequence: r.event.Sequence}, removed: true}
		n++
	}
	for k, v := range s.keys {
		if v < before {
			delete(s.keys, k)
		}
	}
	s.removed = max(s.removed, before-1)
	b.removedEvents += n
	return n
}

// Erase implements evstore.Eraser: a removed event's memory is let go
// when it is removed, so there is nothing left to do.
func (b *backend) Erase(ctx context.Context) error { return ctx.Err() }
