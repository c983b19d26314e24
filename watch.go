package evstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// Watch yields the stream's events after After(n) — by default after the
// handle's Version, so only new events — and then every event committed
// later, by this process or another using the same database, in order, with
// no gap and no duplicate. Filters apply as in Read; Limit, Backwards,
// Before and MaxSequence are rejected.
//
// Watch ends without an error when ctx is cancelled or the loop breaks, and
// with ErrClosed when the Store closes. A watcher that falls behind never
// holds up writers or other watchers: it catches up from the database.
//
// Live events are read from the database once and handed to every watcher
// of the Store, so their Data and Metadata are shared: treat them as
// read-only, and copy them before changing them.
func (s *Stream) Watch(ctx context.Context, opts ...ReadOption) iter.Seq2[StoredEvent, error] {
	return func(yield func(StoredEvent, error) bool) {
		cfg, err := newReadConfig(opts)
		if err == nil && (cfg.limitSet || cfg.backwards || cfg.beforeSet || cfg.maxSeqSet) {
			err = fmt.Errorf("%w: Watch does not take Limit, Backwards, Before or MaxSequence", ErrInvalidArgument)
		}
		if err != nil {
			yield(StoredEvent{}, err)
			return
		}
		if !cfg.afterSet {
			cfg.after = s.Version()
		}
		if err := s.store.notifier.join(ctx); err != nil {
			if ctx.Err() == nil {
				yield(StoredEvent{}, err)
			}
			return
		}
		defer s.store.notifier.leave()
		if t := s.store.tracer; t != nil {
			tr := Trace{Op: TraceWatch, System: s.store.system, Start: time.Now(), StreamID: s.id}
			ctx = t.TraceStart(ctx, tr)
			defer func() { t.TraceEnd(ctx, tr) }()
		}
		w := &watcher{s: s, filter: cfg.filter, pos: cfg.after, yield: yield}
		if s.id == All {
			w.horizon = cfg.after
		}
		if err := w.run(ctx); err != nil && ctx.Err() == nil {
			if errors.Is(err, ErrClosed) {
				err = ErrClosed
			}
			yield(StoredEvent{}, err)
		}
	}
}

// A watcher is the state of one Watch loop.
type watcher struct {
	s      *Stream
	filter Filter
	yield  func(StoredEvent, error) bool
	// pos is the position (Version, or Sequence on All) of the newest event
	// yielded or skipped; horizon is the Sequence up to which every event
	// has been considered.
	pos, horizon int64
	stopped      bool // the loop broke
}

// run replays, then follows the notifier's ring. It returns nil when the
// loop breaks or ctx ends.
func (w *watcher) run(ctx context.Context) error {
	head, err := w.s.store.head(ctx, All)
	if err != nil {
		return err
	}
	if err := w.catchUp(ctx, head); err != nil || w.stopped {
		return err
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		b, changed := w.s.store.notifier.next(w.horizon)
		if b != nil {
			if err := w.apply(ctx, b); err != nil || w.stopped {
				return err
			}
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		case <-w.s.store.done:
			return ErrClosed
		}
	}
}

// catchUp yields, from the database, the events up to Sequence upTo.
func (w *watcher) catchUp(ctx context.Context, upTo int64) error {
	if upTo <= w.horizon {
		return nil
	}
	q := Query{StreamID: w.s.id, Filter: w.filter, MaxSequence: upTo, Limit: w.s.store.readPage}
	// The cursor moves past every row read, yielded or not, so a page of
	// rows the watcher skips is never fetched again.
	q.After = w.pos
	if w.s.id == All {
		q.After = max(w.pos, w.horizon)
	}
	var page []StoredEvent
	var err error
	for {
		page, err = w.s.store.read(ctx, q, page[:0])
		for i := range page {
			if w.offer(&page[i], false) {
				return nil
			}
		}
		if err != nil {
			return err
		}
		if len(page) < q.Limit {
			break
		}
		q.After = max(w.pos, w.s.position(&page[len(page)-1]))
		clear(page)
	}
	w.horizon = upTo
	return nil
}

// apply yields the events of a live batch that ends after the watcher's
// horizon, catching up from the database first if the ring has dropped the
// batches between them.
func (w *watcher) apply(ctx context.Context, b *batch) error {
	if b.from > w.horizon {
		if err := w.catchUp(ctx, b.from); err != nil || w.stopped {
			return err
		}
	}
	for i := range b.events {
		if w.offer(&b.events[i], true) {
			return nil
		}
	}
	w.horizon = b.to
	return nil
}

// offer yields e if the watcher wants it, and reports whether the loop broke.
// Events from live batches are not yet filtered by stream or filter.
func (w *watcher) offer(e *StoredEvent, live bool) bool {
	if e.Sequence <= w.horizon {
		return false
	}
	if live && w.s.id != All && e.StreamID != w.s.id {
		return false
	}
	pos := w.s.position(e)
	if pos <= w.pos {
		return false
	}
	if live && len(w.filter) > 0 && !w.filter.Match(*e) {
		return false
	}
	w.pos = pos
	w.s.saw(pos)
	if !w.yield(*e, nil) {
		w.stopped = true
	}
	return w.stopped
}
