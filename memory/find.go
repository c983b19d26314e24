package memory

import (
	"context"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

var (
	_ evstore.Finder        = (*backend)(nil)
	_ evstore.MultiAppender = (*backend)(nil)
)

// Find implements evstore.Finder. It walks the Sequences q selects and
// keeps the events that q.Criteria match: the memory store has no
// indexes, so this costs time in proportion to the store, which is fine
// for the tests it serves.
func (b *backend) Find(ctx context.Context, q evstore.FindQuery, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	if err := ctx.Err(); err != nil {
		return dst, errs.Wrapf("evstore/memory", err, "find")
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	first, last := q.After+1, int64(len(b.events))
	if q.Before > 0 {
		last = min(last, q.Before-1)
	}
	if q.MaxSequence > 0 {
		last = min(last, q.MaxSequence)
	}
	step, p := int64(1), first
	if q.Backwards {
		step, p = -1, last
	}
	for got := 0; got < q.Limit && first <= p && p <= last; p += step {
		r := &b.events[p-1]
		if r.removed || !q.Criteria.Matches(r.event.Type, r.event.Tags) {
			continue
		}
		e, err := r.stored()
		if err != nil {
			return dst, errs.Wrapf("evstore/memory", err, "find")
		}
		dst = append(dst, e)
		got++
	}
	return dst, nil
}

// firstMatch returns the Sequence of the first event above after that c
// matches, or 0; the lock is held.
func (b *backend) firstMatch(c evstore.Criteria, after int64) int64 {
	for seq := after + 1; seq <= int64(len(b.events)); seq++ {
		r := &b.events[seq-1]
		if !r.removed && c.Matches(r.event.Type, r.event.Tags) {
			return seq
		}
	}
	return 0
}
