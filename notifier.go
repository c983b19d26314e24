package evstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The notifier is the one goroutine per Store that turns commits into
// batches of events for watchers. It wakes when this Store writes (kick) or
// when the Backend reports a change from elsewhere (Backend.Changes), reads
// the new events from the database once, and offers each batch to every
// subscription without ever blocking: a watcher whose buffer is full is
// marked lagged and catches up from the database by itself.
type notifier struct {
	s      *Store
	kickCh chan struct{}

	mu      sync.Mutex
	subs    map[*subscription]struct{}
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

const (
	// batchSize is the most events the notifier puts in one batch.
	batchSize = 256
	// subscriptionBuffer is how many batches a watcher may have pending
	// before it is marked lagged.
	subscriptionBuffer = 16
	// retryDelay is how long the notifier waits after a failed read.
	retryDelay = 100 * time.Millisecond
)

// A batch holds every event with a Sequence in (from, to], in order. It is
// shared by all subscriptions and never modified.
type batch struct {
	from, to int64
	events   []StoredEvent
}

// A subscription is one watcher's place in the notifier.
type subscription struct {
	ch     chan *batch
	wake   chan struct{} // signalled when lagged is set
	lagged atomic.Bool   // a batch was dropped: catch up from the database
}

func newNotifier(s *Store) *notifier {
	return &notifier{s: s, kickCh: make(chan struct{}, 1), subs: make(map[*subscription]struct{})}
}

// kick wakes the notifier after a write by this Store.
func (n *notifier) kick() {
	select {
	case n.kickCh <- struct{}{}:
	default:
	}
}

// subscribe registers a watcher, starting the notifier on first use. The
// notifier's starting point is read before subscribe returns, so it is never
// ahead of the Head the watcher reads next: every later event reaches the
// watcher either from its own replay or in a batch.
func (n *notifier) subscribe(ctx context.Context) (*subscription, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return nil, ErrClosed
	}
	if !n.started {
		last, err := n.s.head(ctx, All)
		if err != nil {
			return nil, err
		}
		n.started = true
		runCtx, cancel := context.WithCancel(context.Background())
		n.cancel = cancel
		n.wg.Add(1)
		go n.run(runCtx, last)
	}
	sub := &subscription{ch: make(chan *batch, subscriptionBuffer), wake: make(chan struct{}, 1)}
	n.subs[sub] = struct{}{}
	return sub, nil
}

func (n *notifier) unsubscribe(sub *subscription) {
	n.mu.Lock()
	delete(n.subs, sub)
	n.mu.Unlock()
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
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kickCh:
		case <-changes:
		case <-retry:
		}
		retry = nil
		if last, err = n.publish(ctx, last); err != nil && ctx.Err() == nil {
			retry = time.After(retryDelay)
		}
	}
}

// publish delivers the events after last and returns the new last Sequence.
func (n *notifier) publish(ctx context.Context, last int64) (int64, error) {
	head, err := n.s.head(ctx, All)
	if err != nil || head <= last {
		return last, err
	}
	n.mu.Lock()
	idle := len(n.subs) == 0
	n.mu.Unlock()
	if idle {
		return head, nil // new watchers replay from the database
	}
	for last < head {
		events, err := n.s.read(ctx, Query{StreamID: All, After: last, MaxSequence: head, Limit: batchSize}, nil)
		if err != nil {
			return last, err
		}
		b := &batch{from: last, to: head, events: events}
		if len(events) == batchSize {
			b.to = events[len(events)-1].Sequence
		}
		n.deliver(b)
		last = b.to
	}
	return last, nil
}

func (n *notifier) deliver(b *batch) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for sub := range n.subs {
		select {
		case sub.ch <- b:
		default:
			if !sub.lagged.Swap(true) {
				select {
				case sub.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}
