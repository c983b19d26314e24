package evstore

import (
	"context"
	"fmt"
	"iter"
	"slices"
)

// Criteria select events across the whole store by type and tag: the
// query of the Dynamic Consistency Boundary (dcb.events). An event matches
// Criteria when it matches any one Criterion of them. Find reads the
// events that match; FailIfMatch makes a write fail if one arrived since a
// decision was made. Empty Criteria match no event, and Find and
// FailIfMatch refuse them.
type Criteria []Criterion

// A Criterion matches an event whose Type is one of Types (any type when
// Types is empty) and that carries every one of Tags (any tags when Tags
// is empty). A Criterion with neither matches every event.
type Criterion struct {
	Types []string
	Tags  []string
}

// Matches reports whether an event of type typ with the sorted tags
// matches c. Backends use it for the events of a commit group that are
// not in the database yet.
func (c Criteria) Matches(typ string, tags []string) bool {
	for i := range c {
		if (len(c[i].Types) == 0 || slices.Contains(c[i].Types, typ)) && hasTags(tags, c[i].Tags) {
			return true
		}
	}
	return false
}

// normal returns c checked, each Criterion's tags sorted and without
// repeats (a copy when that changes anything), or an error wrapping
// ErrInvalidArgument that names what is wrong.
func (c Criteria) normal() (Criteria, error) {
	if len(c) == 0 {
		return nil, fmt.Errorf("%w: empty Criteria match no event", ErrInvalidArgument)
	}
	out := c
	for i, cr := range c {
		for _, t := range cr.Types {
			if t == "" || !text(t) {
				return nil, fmt.Errorf("%w: criterion %d: type %q: want non-empty UTF-8 text without NUL bytes", ErrInvalidArgument, i, t)
			}
		}
		tags, err := normalTags(cr.Tags)
		if err != nil {
			return nil, fmt.Errorf("%w: criterion %d: %v", ErrInvalidArgument, i, err)
		}
		if !slices.Equal(tags, cr.Tags) {
			if &out[0] == &c[0] {
				out = slices.Clone(c)
			}
			out[i].Tags = tags
		}
	}
	return out, nil
}

// A Finder is a Backend that can read the events matching Criteria.
// Store.Find and FailIfMatch need one.
type Finder interface {
	// Find appends to dst the events q selects, at most q.Limit of them,
	// in Sequence order (newest first with q.Backwards), and returns the
	// extended slice. It reads through the tag and type indexes: only
	// a Criterion with neither types nor tags reads @all.
	Find(ctx context.Context, q FindQuery, dst []StoredEvent) ([]StoredEvent, error)
}

// A FindQuery is a validated Find, as a Finder receives it.
type FindQuery struct {
	Criteria Criteria // at least one Criterion; tags sorted
	// After selects Sequences above it; Before, when above zero, below it.
	After, Before int64
	// MaxSequence, when above zero, selects Sequences at most it, so that
	// the pages of one Find see one view.
	MaxSequence int64
	Limit       int // above zero
	Backwards   bool
}

// Find returns the events that match c, across every stream, in Sequence
// order; After (a Sequence), Before, MaxSequence, Limit and Backwards
// apply as in Read, and WithFilter is refused with ErrInvalidArgument. Like Read, it sees
// one consistent view, fetched in pages. It reads through indexes: the
// cost of finding one tag's events does not grow with the store.
func (s *Store) Find(ctx context.Context, c Criteria, opts ...ReadOption) iter.Seq2[StoredEvent, error] {
	return func(yield func(StoredEvent, error) bool) {
		cfg, err := newReadConfig(opts)
		if err == nil && len(cfg.filter) > 0 {
			err = fmt.Errorf("%w: Find takes After, Limit and Backwards, not a Filter", ErrInvalidArgument)
		}
		if err == nil {
			c, err = c.normal()
		}
		var f Finder
		if err == nil {
			var ok bool
			if f, ok = s.b.(Finder); !ok {
				err = fmt.Errorf("%w: finding events by Criteria", ErrUnsupported)
			}
		}
		if err != nil {
			yield(StoredEvent{}, err)
			return
		}
		horizon, err := s.horizon(ctx, cfg)
		if err != nil {
			yield(StoredEvent{}, err)
			return
		}
		if horizon == 0 {
			return
		}
		q := FindQuery{Criteria: c, After: cfg.after, Before: cfg.before, MaxSequence: horizon, Backwards: cfg.backwards}
		remaining := cfg.limit
		var page []StoredEvent
		for {
			q.Limit = s.readPage
			if cfg.limitSet && remaining < q.Limit {
				q.Limit = remaining
			}
			page, err = call(s, func() ([]StoredEvent, error) { return f.Find(ctx, q, page[:0]) })
			if len(page) > 0 {
				if last := page[len(page)-1].Sequence; q.Backwards {
					q.Before = last
				} else {
					q.After = last
				}
			}
			for i := range page {
				if !yield(page[i], nil) {
					return
				}
			}
			if err != nil {
				yield(StoredEvent{}, err)
				return
			}
			remaining -= len(page)
			if len(page) < q.Limit || (cfg.limitSet && remaining == 0) {
				return
			}
			clear(page)
		}
	}
}
