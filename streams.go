package evstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// A StreamLister is a Backend that can list its streams. Both of evstore's
// backends are; Store.Streams needs one.
type StreamLister interface {
	// Streams returns the metrics of every stream, ordered by id, in one
	// query (not one per stream).
	Streams(ctx context.Context) ([]Metrics, error)
}

// ErrUnsupported means the Backend cannot do what was asked.
var ErrUnsupported = errors.New("evstore: not supported by this backend")

// Streams yields the metrics of every stream of the store (not All),
// ordered by id. An error ends the sequence as its last pair.
func (s *Store) Streams(ctx context.Context) iter.Seq2[Metrics, error] {
	return func(yield func(Metrics, error) bool) {
		lister, ok := s.b.(StreamLister)
		if !ok {
			yield(Metrics{}, fmt.Errorf("%w: listing streams", ErrUnsupported))
			return
		}
		list, err := call(s, func() ([]Metrics, error) { return lister.Streams(ctx) })
		for _, m := range list {
			if !yield(m, nil) {
				return
			}
		}
		if err != nil {
			yield(Metrics{}, err)
		}
	}
}
