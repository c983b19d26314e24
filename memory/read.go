package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

// Read implements evstore.Backend. It walks the positions q selects (the
// versions of a stream, or the Sequences of All), in the order q asks
// for, and keeps the events that q.Filter matches, until it has q.Limit.
// The filter is evstore.Filter.Match itself, applied to the event as Read
// returns it: that is the definition every backend must agree with.
func (b *backend) Read(ctx context.Context, q evstore.Query, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	if err := ctx.Err(); err != nil {
		return dst, errs.Wrapf("evstore/memory", err, "read %s", q.StreamID)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()

	// The positions q selects are q.After+1..last, both included:
	// versions of a stream, or Sequences of All.
	last := b.head(q.StreamID)
	if q.Before > 0 {
		last = min(last, q.Before-1)
	}
	var seqs []int64 // of a stream: seqs[v-1] is the Sequence of version v
	if q.StreamID != evstore.All {
		seqs = b.stream(q.StreamID).seqs
	}
	if q.MaxSequence > 0 {
		if q.StreamID == evstore.All {
			last = min(last, q.MaxSequence)
		} else {
			// Versions 1..i have a Sequence of at most q.MaxSequence.
			i, found := slices.BinarySearch(seqs, q.MaxSequence)
			if found {
				i++
			}
			last = min(last, int64(i))
		}
	}
	if q.After >= last {
		return dst, nil // (and q.After+1 cannot overflow below)
	}
	first := q.After + 1
	if q.StreamID != evstore.All {
		first = max(first, b.stream(q.StreamID).first()) // removed versions are gone
	}
	if first > last {
		return dst, nil
	}

	step, p := int64(1), first
	if q.Backwards {
		step, p = -1, last
	}
	for got := 0; got < q.Limit && first <= p && p <= last; p += step {
		seq := p
		if q.StreamID != evstore.All {
			seq = seqs[p-1]
		}
		if b.events[seq-1].removed {
			continue
		}
		e, err := b.events[seq-1].stored()
		if err != nil {
			return dst, errs.Wrapf("evstore/memory", err, "read %s", q.StreamID)
		}
		if q.Filter.Match(e) {
			dst = append(dst, e)
			got++
		}
	}
	return dst, nil
}

// stored returns the event as Read hands it out: a copy that shares no
// memory with the record, so that the caller may change it.
func (r *record) stored() (evstore.StoredEvent, error) {
	e := r.event
	e.Data = clone(e.Data)
	e.Tags = slices.Clone(e.Tags)
	if r.metadata != nil {
		if err := json.Unmarshal(r.metadata, &e.Metadata); err != nil {
			// The Store encoded it; this would be a bug, not bad input.
			return e, fmt.Errorf("%w: event %d: metadata: %v", evstore.ErrCorrupt, e.Sequence, err)
		}
		if len(e.Metadata) == 0 {
			e.Metadata = nil
		}
	}
	return e, nil
}

// Head implements evstore.Backend. Every event is visible as soon as its
// Append returns, so the newest Sequence is always safe to read up to.
func (b *backend) Head(ctx context.Context, streamID string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, errs.Wrapf("evstore/memory", err, "version of %s", streamID)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.head(streamID), nil
}

// Metrics implements evstore.Backend. Events are never deleted, so a
// stream's event count is its version, and the store's is its newest
// Sequence.
func (b *backend) Metrics(ctx context.Context, streamID string) (evstore.Metrics, error) {
	if err := ctx.Err(); err != nil {
		return evstore.Metrics{}, errs.Wrapf("evstore/memory", err, "metrics of %s", streamID)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if streamID == evstore.All {
		return b.metrics(streamID, int64(len(b.events))), nil // the newest event is never removed
	}
	s := b.stream(streamID)
	var newest int64
	if len(s.seqs) > 0 {
		newest = s.seqs[len(s.seqs)-1]
	}
	return b.metrics(streamID, newest), nil
}

// metrics describes streamID, whose newest event has Sequence newest (0
// when it has none). The caller holds b.mu.
func (b *backend) metrics(streamID string, newest int64) evstore.Metrics {
	v := b.head(streamID)
	count := int64(len(b.events)) - b.removedEvents
	if streamID != evstore.All {
		count = b.stream(streamID).count()
	}
	m := evstore.Metrics{StreamID: streamID, Version: v, EventCount: count}
	if newest > 0 {
		m.LastTimestamp = b.events[newest-1].event.Timestamp
	}
	return m
}

// Streams implements evstore.StreamLister: the metrics of every stream,
// ordered by the bytes of their ids. The list is taken under the lock
// when the loop starts, and yielded after the lock is released, so the
// loop sees one consistent view and may itself write to the Store.
func (b *backend) Streams(ctx context.Context) iter.Seq2[evstore.Metrics, error] {
	return func(yield func(evstore.Metrics, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(evstore.Metrics{}, errs.Wrap("evstore/memory", "list streams", err))
			return
		}
		for _, m := range b.streamList() {
			if !yield(m, nil) {
				return
			}
		}
	}
}

// streamList returns the metrics of every stream, ordered by id.
func (b *backend) streamList() []evstore.Metrics {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ids := make([]string, 0, len(b.streams))
	for id := range b.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids) // Go compares strings byte by byte
	list := make([]evstore.Metrics, len(ids))
	for i, id := range ids {
		seqs := b.streams[id].seqs
		list[i] = b.metrics(id, seqs[len(seqs)-1])
	}
	return list
}

// LookupKey implements evstore.KeyLookup with one map lookup in the
// stream's key index.
func (b *backend) LookupKey(ctx context.Context, streamID, key string) (int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, errs.Wrapf("evstore/memory", err, "look up key %q in %s", key, streamID)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	v, found := b.stream(streamID).keys[key]
	return v, found, nil
}
