package evstore

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// The notifier is the one goroutine per Store that turns commits into
// batches of events for watchers. It wakes when this Store writes (kick) or
// when the Backend reports a change from elsewhere (Backend.Changes), reads
// the new events from the database once, and appends them to a ring of
// recent batches that every watcher reads at its own pace. The ring keeps
// at most ringEvents events and about ringBytes bytes, whatever the
// watchers do, and nothing once the last watcher has left: a watcher that
// falls further behind than the ring reaches catches up from the database,
// so a slow or stalled watcher never holds up writers, other watchers or
// memory.
type notifier struct {
	s      *Store
	kickCh chan struct{}
	// written is the newest Sequence this Store's writes have committed:
	// a kick needs no Head query to know how far to read.
	written atomic.Int64

	// The limits; tests shrink them before the first watcher starts.
	batchSize  int // the most events read into one batch
	ringEvents int // the most events the ring keeps
	ringBytes  int // about the most bytes the ring keeps

	mu       sync.Mutex
	ring     []*batch      // recent batches, oldest first; they may have gaps
	events   int           // events in ring
	bytes    int           // their size, as eventSize counts it
	changed  chan struct{} // closed, and replaced, when a batch is added or head moves for followers
	watchers int           // watchers running; none means nothing to publish
	// followers (consumers) need only to know how far the store has
	// committed: head, the newest Sequence published.
	followers int
	head      int64
	started   bool
	stopped   bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

const (
	// defaultBatchSize is the most events the notifier reads into one batch.
	defaultBatchSize = 512
	// defaultRingEvents bounds the events the ring keeps for watchers.
	defaultRingEvents = 64 * 1024
	// defaultRingBytes bounds the bytes the ring keeps for watchers.
	defaultRingBytes = 64 << 20
	// retryDelay is how long the notifier waits after a failed read.
	retryDelay = 100 * time.Millisecond
)

// A batch holds every event with a Sequence in (from, to], in order. It is
// shared by all watchers and never modified.
type batch struct {
	from, to int64
	events   []StoredEvent
	bytes    int
}

func newNotifier(s *Store) *notifier {
	return &notifier{
		s: s, kickCh: make(chan struct{}, 1), changed: make(chan struct{}),
		batchSize: defaultBatchSize, ringEvents: defaultRingEvents, ringBytes: defaultRingBytes,
	}
}

// kick wakes the notifier after a write by this Store that committed every
// event up to Sequence last.
func (n *notifier) kick(last int64) {
	for {
		cur := n.written.Load()
		if last <= cur || n.written.CompareAndSwap(cur, last) {
			break
		}
	}
	select {
	case n.kickCh <- struct{}{}:
	default:
	}
}

// join registers a watcher, starting the notifier on first use. The
// notifier's starting point is read before join returns, and it skips
// publishing only while no watcher is registered, so it is never ahead of
// the Head a watcher reads after joining: every later event reaches the
// watcher from its own replay, the ring or its catch-up.
func (n *notifier) join(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.start(ctx); err != nil {
		return err
	}
	n.watchers++
	return nil
}

// follow registers a follower (a consumer), which learns from published
// how far the store has committed; the same ordering argument as join's
// holds for the Head it reads after follow returns.
func (n *notifier) follow(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.start(ctx); err != nil {
		return err
	}
	n.followers++
	return nil
}

func (n *notifier) unfollow() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.followers--
}

// published returns the newest Sequence the notifier has seen committed,
// and a channel closed when it moves on.
func (n *notifier) published() (int64, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.head, n.changed
}

// start starts the notifier goroutine on first use; n.mu is held.
func (n *notifier) start(ctx context.Context) error {
	if n.stopped {
		return ErrClosed
	}
	if n.started {
		return nil
	}
	last, err := n.s.head(ctx, All)
	if err != nil {
		return err
	}
	n.started, n.head = true, last
	// The Store's lifetime: Close ends a read or poll under way at once,
	// also one stuck on a database cut off.
	runCtx, cancel := context.WithCancel(n.s.life)
	n.cancel = cancel
	n.wg.Add(1)
	go n.run(runCtx, last)
	return nil
}

// leave unregisters a watcher. The last one to leave releases the ring:
// watchers that join later replay from the database.
func (n *notifier) leave() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.watchers--; n.watchers == 0 {
		clear(n.ring)
		n.ring, n.events, n.bytes = nil, 0, 0
	}
}

// next returns the oldest batch in the ring that ends after Sequence
// horizon, or nil and a channel closed when one arrives. Watchers take one
// batch at a time, so a stalled one keeps at most one alive.
func (n *notifier) next(horizon int64) (*batch, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := sort.Search(len(n.ring), func(i int) bool { return n.ring[i].to > horizon })
	if i < len(n.ring) {
		return n.ring[i], nil
	}
	return nil, n.changed
}

// stop ends the notifier goroutine and waits for it.
func (n *notifier) stop() {
	n.mu.Lock()
	n.stopped = true
	if n.cancel != nil {
		n.cancel()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// run is the notifier goroutine; last is the Sequence it has published up to.
func (n *notifier) run(ctx context.Context, last int64) {
	defer n.wg.Done()
	changes := n.s.b.Changes(ctx)
	var retry <-chan time.Time
	var err error
	failures := 0 // failed publishes in a row
	for {
		var head int64 // how far to read; 0: ask the Backend
		select {
		case <-ctx.Done():
			return
		case <-n.kickCh:
			if head = n.written.Load(); head <= last {
				continue // published already
			}
		case <-changes:
		case <-retry:
		}
		retry = nil
		last, err = n.publish(ctx, last, head)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			if failures++; logWorthy(failures) {
				n.s.log.LogAttrs(ctx, slog.LevelWarn, "evstore: notifier cannot read new commits; retrying", slog.Any("err", err), slog.Int("failures", failures))
			}
			retry = time.After(retryDelay)
		case failures > 0:
			n.s.log.LogAttrs(ctx, slog.LevelInfo, "evstore: notifier reads new commits again", slog.Int("failures", failures))
			failures = 0
		}
	}
}

// publish adds the events after last, up to Sequence head (0: the
// Backend's Head), to the ring and returns the new last Sequence.
func (n *notifier) publish(ctx context.Context, last, head int64) (int64, error) {
	var err error
	if head == 0 {
		head, err = n.s.head(ctx, All)
	}
	if err != nil || head <= last {
		return last, err
	}
	n.mu.Lock()
	idle := n.watchers == 0
	n.mu.Unlock()
	if idle {
		n.advance(head)
		return head, nil // watchers that join later replay from the database
	}
	for last < head {
		events, err := n.s.read(ctx, Query{StreamID: All, After: last, MaxSequence: head, Limit: n.batchSize}, nil)
		if err != nil {
			return last, err
		}
		// A tombstone read from the database, also one another Store or
		// process appended, takes its stream's removed events out of the
		// ring: watchers that have not taken them yet get none.
		for i := range events {
			if events[i].Type == Deleted {
				n.purge(events[i].StreamID, events[i].Version)
			}
		}
		to := head
		if len(events) == n.batchSize {
			to = events[len(events)-1].Sequence
		}
		// Large events make small batches, so that the ring can drop the
		// older part of a read to keep within its byte bound. A piece of a
		// cut read gets a slice of its own, so that a dropped one is freed.
		b, start := &batch{from: last}, 0
		for i := range events {
			size := eventSize(&events[i])
			if i > start && b.bytes+size > n.ringBytes/ringPieces {
				b.events, b.to = slices.Clone(events[start:i]), events[i-1].Sequence
				n.add(b)
				b, start = &batch{from: b.to}, i
			}
			b.bytes += size
		}
		b.events, b.to = events[start:], to
		if start > 0 {
			b.events = slices.Clone(b.events)
		}
		n.add(b)
		last = to
	}
	return last, nil
}

// ringPieces is how many batches, at least, the ring's byte bound holds:
// a read is cut into batches of at most ringBytes/ringPieces bytes (or one
// event, if larger).
const ringPieces = 8

// add appends b to the ring, drops the oldest batches beyond the ring's
// limits, and wakes the watchers. With no watcher left it keeps nothing.
func (n *notifier) add(b *batch) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.head = max(n.head, b.to)
	if n.watchers == 0 {
		n.wake()
		return
	}
	n.ring = append(n.ring, b)
	n.events += len(b.events)
	n.bytes += b.bytes
	drop := 0
	for (n.events > n.ringEvents || n.bytes > n.ringBytes) && drop < len(n.ring)-1 {
		n.events -= len(n.ring[drop].events)
		n.bytes -= n.ring[drop].bytes
		drop++
	}
	if drop > 0 {
		clear(n.ring[:drop])
		n.ring = append(n.ring[:0], n.ring[drop:]...)
	}
	n.wake()
}

// advance records that the store has committed up to head, for followers.
func (n *notifier) advance(head int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if head > n.head {
		n.head = head
		if n.followers > 0 {
			n.wake()
		}
	}
}

// wake closes and replaces changed; n.mu is held.
func (n *notifier) wake() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// eventOverhead is about what an event costs in memory besides its
// strings, payload and metadata: the StoredEvent and its slice headers.
const eventOverhead = 128

// eventSize estimates the bytes e holds on the heap, for the ring's bound.
func eventSize(e *StoredEvent) int {
	return eventOverhead + len(e.ID) + len(e.StreamID) + len(e.Type) + len(e.Data) + valueSize(e.Metadata)
}

// valueSize estimates the heap size of a decoded JSON value.
func valueSize(v any) int {
	switch x := v.(type) {
	case string:
		return 16 + len(x)
	case map[string]any:
		n := 48
		for k, e := range x {
			n += 16 + len(k) + valueSize(e)
		}
		return n
	case []any:
		n := 24
		for _, e := range x {
			n += valueSize(e)
		}
		return n
	}
	return 16
}

// purge removes from the ring the events of streamID with a Version below
// before, which Delete or Truncate removed: batches that hold some are
// replaced by copies without them. A batch a watcher has already taken is
// its own, and left alone.
func (n *notifier) purge(streamID string, before int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	removed := func(e StoredEvent) bool { return e.StreamID == streamID && e.Version < before }
	for i, b := range n.ring {
		if !slices.ContainsFunc(b.events, removed) {
			continue
		}
		kept := &batch{from: b.from, to: b.to, events: slices.DeleteFunc(slices.Clone(b.events), removed)}
		for j := range kept.events {
			kept.bytes += eventSize(&kept.events[j])
		}
		n.events -= len(b.events) - len(kept.events)
		n.bytes -= b.bytes - kept.bytes
		n.ring[i] = kept
	}
}
