package evstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// A StreamLister is a Backend that can list its streams. Every backend of
// this module is one; Store.Streams needs one.
type StreamLister interface {
	// Streams yields the metrics of every stream, ordered by id in byte
	// order, from queries that each list many streams (not one query per
	// stream). Rows are opened and closed inside the iterator: breaking out
	// of the loop releases everything. The loop body may call the Store, so
	// the iterator must not hold what such a call needs (the only
	// connection of a pool, say) while it yields. An error is yielded once,
	// as the last pair.
	Streams(ctx context.Context) iter.Seq2[Metrics, error]
}

// ErrUnsupported means the Backend cannot do what was asked.
var ErrUnsupported = errors.New("evstore: not supported by this backend")

// Streams yields the metrics of every stream of the store (not All),
// ordered by id in byte order (as sort.Strings orders them). An error ends
// the sequence as its last pair.
//
// The listing is one call into the backend that lasts until the loop
// ends, and Close waits for it, so the loop body must not call Close (or
// wait for a goroutine that does). It may call the Store: once another
// goroutine has begun to Close it, those calls return ErrClosed. The
// backends of this module read a page of streams per query and hold no
// connection between pages, so the listing is consistent per stream, not
// across the whole list.
func (s *Store) Streams(ctx context.Context) iter.Seq2[Metrics, error] {
	return func(yield func(Metrics, error) bool) {
		lister, ok := s.b.(StreamLister)
		if !ok {
			yield(Metrics{}, fmt.Errorf("%w: listing streams", ErrUnsupported))
			return
		}
		if err := s.enter(); err != nil {
			yield(Metrics{}, err)
			return
		}
		defer s.leave()
		for m, err := range lister.Streams(ctx) {
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}
