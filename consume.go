package evstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// A Handler processes the events of a consumer (see Store.Consume).
type Handler interface {
	// Handle processes events: at least one, in Sequence order. When it
	// returns nil they count as processed. An error makes Consume retry the
	// same events later, from the first: it never moves past them.
	Handle(ctx context.Context, events []StoredEvent) error
}

// HandlerFunc turns a function into a Handler.
type HandlerFunc func(ctx context.Context, events []StoredEvent) error

// Handle calls f(ctx, events).
func (f HandlerFunc) Handle(ctx context.Context, events []StoredEvent) error { return f(ctx, events) }

// A Positioner is a Handler that keeps its own position (the Sequence of the
// last event it processed; 0 for none), normally in the same transaction as
// its changes, which makes processing exactly-once. Consume starts it after
// Position, asks again after a failed Handle, and keeps no checkpoint for it
// (Store.Consumers lists the position it last reached, as External).
type Positioner interface {
	Handler
	Position(ctx context.Context) (int64, error)
}

// ErrHandlerPanic means that a Handler panicked. Consume recovers the
// panic, returns an error wrapping ErrHandlerPanic with the panic's value
// and stack, and keeps the checkpoint before the batch: a panic is a bug,
// which retrying would only repeat.
var ErrHandlerPanic = errors.New("evstore: consumer handler panicked")

// A ConsumeOption configures Store.Consume.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	filter             Filter
	batch              int
	member, members    int
	start              int64
	lease              time.Duration
	retryMin, retryMax time.Duration
	attempts           int
}

const (
	// DefaultBatchSize is the most events one Handle gets by default.
	DefaultBatchSize = 256
	// DefaultLeaseTime is how long a consumer's lease lasts unless renewed:
	// how soon a standby takes over from an instance that died.
	DefaultLeaseTime = 5 * time.Second
	// maxBatchSize bounds BatchSize.
	maxBatchSize = 100_000
	// standbyPoll is how often a standby tries to take a lease held by
	// another process; releases within the process wake standbys at once.
	standbyPoll = 100 * time.Millisecond
	// filteredSaveInterval bounds how often a consumer saves a checkpoint
	// that only moved past events its filter or partition dropped.
	filteredSaveInterval = time.Second
)

// ConsumeFilter makes only the events that match f reach the Handler. The
// checkpoint still moves past the others (at the latest once the consumer
// has caught up), so that a restart does not scan them again.
func ConsumeFilter(f Filter) ConsumeOption {
	return func(c *consumeConfig) { c.filter = append(c.filter, f...) }
}

// BatchSize sets the most events one Handle gets: 1 to 100,000; default
// DefaultBatchSize.
func BatchSize(n int) ConsumeOption { return func(c *consumeConfig) { c.batch = n } }

// Partition makes this instance member m of n (0 <= m < n) of the
// consumer: it gets only the events whose stream PartitionOf assigns to m,
// so that n instances share the work, each stream's events in order. Each
// partition has its own checkpoint and lease.
//
// Changing n: instances with another n of the same name wait until every
// instance of the old n has stopped (their leases exclude each other), and
// a partition of the new n with no checkpoint of its own starts after the
// lowest checkpoint of the old ones, so no event is skipped; events
// between that and each old partition's checkpoint are delivered again.
func Partition(member, members int) ConsumeOption {
	return func(c *consumeConfig) { c.member, c.members = member, members }
}

// StartFrom sets where a consumer with no checkpoint starts: after
// Sequence position (default 0, the beginning). A Positioner starts from
// its own Position instead.
func StartFrom(position int64) ConsumeOption { return func(c *consumeConfig) { c.start = position } }

// LeaseTime sets how long an instance's lease lasts without renewal
// (default DefaultLeaseTime, at least 100ms): after the active instance
// dies, a standby takes over within it. The active instance renews it
// every third of that.
func LeaseTime(d time.Duration) ConsumeOption { return func(c *consumeConfig) { c.lease = d } }

// ConsumeRetry sets the policy for a Handle that fails: it is retried,
// with the same events, after a wait that starts at initial and doubles
// up to max, each wait jittered to between half and all of it. After
// attempts failed calls in a row Consume returns the last error; 0 retries
// forever. The default is ConsumeRetry(100*time.Millisecond, 30*time.Second, 0).
func ConsumeRetry(initial, max time.Duration, attempts int) ConsumeOption {
	return func(c *consumeConfig) { c.retryMin, c.retryMax, c.attempts = initial, max, attempts }
}

func newConsumeConfig(opts []ConsumeOption) (consumeConfig, error) {
	c := consumeConfig{
		batch: DefaultBatchSize, lease: DefaultLeaseTime,
		retryMin: 100 * time.Millisecond, retryMax: 30 * time.Second,
	}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.batch < 1 || c.batch > maxBatchSize:
		return c, fmt.Errorf("%w: BatchSize(%d) is not between 1 and %d", ErrInvalidArgument, c.batch, maxBatchSize)
	case c.members < 0 || (c.members > 0 && (c.member < 0 || c.member >= c.members)) || (c.members == 0 && c.member != 0):
		return c, fmt.Errorf("%w: Partition(%d, %d): want 0 <= m < n", ErrInvalidArgument, c.member, c.members)
	case c.start < 0:
		return c, fmt.Errorf("%w: StartFrom(%d) is negative", ErrInvalidArgument, c.start)
	case c.lease < 100*time.Millisecond:
		return c, fmt.Errorf("%w: LeaseTime(%v) is below 100ms", ErrInvalidArgument, c.lease)
	case c.retryMin <= 0 || c.retryMax < c.retryMin || c.attempts < 0:
		return c, fmt.Errorf("%w: ConsumeRetry(%v, %v, %d): want 0 < initial <= max and attempts >= 0", ErrInvalidArgument, c.retryMin, c.retryMax, c.attempts)
	}
	if err := c.filter.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// PartitionOf returns the partition, of members, that a stream belongs to:
// the 32-bit FNV-1a hash of the stream id's UTF-8 bytes, modulo members.
// Programs in other languages compute the same to split work alike.
func PartitionOf(streamID string, members int) int {
	h := fnv.New32a()
	h.Write([]byte(streamID))
	return int(h.Sum32() % uint32(members))
}

// checkConsumerName refuses a name no backend can store alike.
func checkConsumerName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty consumer name", ErrInvalidArgument)
	case len(name) > 255:
		return fmt.Errorf("%w: consumer name of %d bytes, over the limit of 255", ErrInvalidArgument, len(name))
	case !text(name):
		return fmt.Errorf("%w: consumer name %q is not UTF-8 text without NUL bytes", ErrInvalidArgument, name)
	}
	return nil
}

// consumers returns the Backend as a ConsumerBackend, or ErrUnsupported.
func (s *Store) consumerBackend() (ConsumerBackend, error) {
	cb, ok := s.b.(ConsumerBackend)
	if !ok {
		return nil, fmt.Errorf("%w: consumers (checkpoints and leases)", ErrUnsupported)
	}
	return cb, nil
}

// Consume runs the consumer name: it hands every event of All (that
// ConsumeFilter and Partition select) to h, once and in Sequence order, in
// batches of at most BatchSize, reading from the database until it has
// caught up and then following new commits as Watch does.
//
// Unless h is a Positioner, the Store keeps the consumer's checkpoint, saved
// after each successful Handle: a crash between the two delivers that one
// batch again (at-least-once). A failed Handle is retried as ConsumeRetry
// says, never skipped; a panicking one makes Consume return an error
// wrapping ErrHandlerPanic.
//
// At most one Consume of a name (and partition) is active at a time across
// every Store, process and server on the database: the others wait as
// standbys, and one takes over when the active one stops (at once) or dies
// (within LeaseTime; on PostgreSQL, when its session ends). An instance
// that loses its lease (it was paused for longer than LeaseTime, say)
// stops handling, cancels the ctx of a Handle in progress, saves nothing
// over its successor's checkpoint, and becomes a standby.
//
// Consume returns nil when ctx ends, ErrClosed when the Store closes (Close
// waits for it to stop), and the Handler's error when it keeps failing
// beyond the retry policy. A bad name or option returns ErrInvalidArgument;
// a Backend without consumer support, ErrUnsupported.
func (s *Store) Consume(ctx context.Context, name string, h Handler, opts ...ConsumeOption) error {
	if err := checkConsumerName(name); err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("%w: nil Handler", ErrInvalidArgument)
	}
	cfg, err := newConsumeConfig(opts)
	if err != nil {
		return err
	}
	cb, err := s.consumerBackend()
	if err != nil {
		return err
	}
	if err := s.startConsumer(); err != nil {
		return err
	}
	defer s.stopConsumer()
	c := &consumer{s: s, cb: cb, h: h, cfg: cfg, key: ConsumerKey{Name: name, Partition: cfg.member, Members: cfg.members}}
	c.positioner, _ = h.(Positioner)
	return c.run(ctx)
}

// A consumer is the state of one Consume call.
type consumer struct {
	s          *Store
	cb         ConsumerBackend
	h          Handler
	positioner Positioner
	cfg        consumeConfig
	key        ConsumerKey
	ahead      readAhead // the page being handed out
	next       *pageRead // the page after it, being read
}

// run alternates between standing by and being active until ctx ends, the
// Store closes or the handler fails for good.
func (c *consumer) run(ctx context.Context) error {
	for {
		lease, err := c.acquire(ctx)
		if lease == nil {
			return err
		}
		err = c.active(ctx, lease)
		if errors.Is(err, ErrLeaseLost) {
			continue // stand by again
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case c.closed():
			return ErrClosed
		}
		return err
	}
}

func (c *consumer) closed() bool {
	select {
	case <-c.s.done:
		return true
	default:
		return false
	}
}

// acquire waits until this instance holds the consumer's lease. It returns
// nil and nil when ctx ends, or ErrClosed.
//
// A failure to reach the database (a busy SQLite file, a PostgreSQL
// restart) is retried for up to twice the lease time before acquire gives
// up with the error.
func (c *consumer) acquire(ctx context.Context) (Lease, error) {
	var failingSince time.Time
	for {
		released := c.s.leases.wait()
		lease, err := call(c.s, func() (Lease, error) { return c.cb.AcquireLease(ctx, c.key, c.cfg.lease) })
		switch {
		case ctx.Err() != nil:
			if lease != nil {
				c.release(lease)
			}
			return nil, nil
		case errors.Is(err, ErrClosed):
			return nil, ErrClosed
		case err != nil && (permanent(err) || (!failingSince.IsZero() && time.Since(failingSince) > 2*c.cfg.lease)):
			return nil, err // the Backend's error names the consumer
		case err != nil:
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
		case lease != nil:
			return lease, nil
		default:
			failingSince = time.Time{}
		}
		t := time.NewTimer(standbyPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-c.s.done:
			t.Stop()
			return nil, ErrClosed
		case <-released:
			t.Stop()
		case <-t.C:
		}
	}
}

// permanent reports whether an error of the Backend will not go away by
// trying again.
func permanent(err error) bool {
	for _, target := range []error{ErrUnsupported, ErrInvalidArgument, ErrReadOnly, ErrCorrupt} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// release gives up the lease, whatever ctx says, and wakes this Store's
// standbys.
func (c *consumer) release(lease Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = call(c.s, func() (struct{}, error) { return struct{}{}, lease.Release(ctx) })
	c.s.leases.released()
}

// A heldLease serialises the calls on a Lease of the active loop and its
// renewer.
type heldLease struct {
	mu    sync.Mutex
	lease Lease
	s     *Store
}

// save saves a checkpoint. The events before it are handled, so the save
// goes ahead even if ctx has just ended (a lost lease refuses it anyway).
func (l *heldLease) save(ctx context.Context, position int64, external bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := call(l.s, func() (struct{}, error) { return struct{}{}, l.lease.Save(ctx, position, external) })
	return err
}

// saveTimeout bounds a checkpoint's save.
const saveTimeout = 10 * time.Second

func (l *heldLease) renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := call(l.s, func() (struct{}, error) { return struct{}{}, l.lease.Renew(ctx) })
	return err
}

// active runs the consumer while it holds lease, and releases it. It
// returns ErrLeaseLost when the lease passed to another instance.
func (c *consumer) active(ctx context.Context, lease Lease) (err error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	held := &heldLease{lease: lease, s: c.s}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.renew(runCtx, held, cancel)
	}()
	defer func() {
		cancel(nil)
		wg.Wait()
		c.release(lease) // also after a loss: the backend frees what it holds
	}()
	err = c.follow(runCtx, held)
	if cause := context.Cause(runCtx); errors.Is(cause, ErrLeaseLost) || errors.Is(err, ErrLeaseLost) {
		cancel(ErrLeaseLost)
		return ErrLeaseLost
	}
	return err
}

// renew keeps the lease alive until ctx ends. When the lease is lost, or
// cannot be renewed for a whole lease time, it cancels ctx with
// ErrLeaseLost; it also cancels it with ErrClosed when the Store closes.
func (c *consumer) renew(ctx context.Context, held *heldLease, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(c.cfg.lease / 3)
	defer tick.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.s.done:
			cancel(ErrClosed)
			return
		case <-tick.C:
		}
		switch err := held.renew(ctx); {
		case err == nil:
			renewed = time.Now()
		case errors.Is(err, ErrLeaseLost) || time.Since(renewed) >= c.cfg.lease:
			cancel(ErrLeaseLost)
			return
		}
	}
}

// follow hands events to the handler while ctx lasts.
func (c *consumer) follow(ctx context.Context, held *heldLease) error {
	if err := c.s.notifier.follow(ctx); err != nil {
		return err
	}
	defer c.s.notifier.unfollow()
	pos, err := c.startPosition(ctx, held.lease)
	if err != nil {
		return err
	}
	head, err := c.s.head(ctx, All)
	if err != nil {
		return err
	}
	sv := &saver{held: held, external: c.positioner != nil, saved: pos, at: time.Now()}
	defer sv.wait(ctx)
	defer func() { c.drop(c.next); c.next, c.ahead = nil, readAhead{} }()
	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		// The read overlaps the previous batch's checkpoint save.
		events, scanned, err := c.fetch(ctx, pos, head)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			// A batch is handled only once the one before is saved, so a
			// crash delivers at most one batch again.
			if err := sv.wait(ctx); err != nil {
				return err
			}
			if err := c.handle(ctx, events); err != nil {
				if errors.Is(err, ErrHandlerPanic) || ctx.Err() != nil {
					return err
				}
				failures++
				if c.cfg.attempts > 0 && failures >= c.cfg.attempts {
					return fmt.Errorf("evstore: consumer %q: Handle failed %d times in a row: %w", c.key.Name, failures, err)
				}
				if !sleep(ctx, c.backoff(failures)) {
					return nil
				}
				if c.positioner != nil {
					if pos, err = c.positioner.Position(ctx); err != nil {
						return fmt.Errorf("evstore: consumer %q: position: %w", c.key.Name, err)
					}
				}
				continue // the same events again, from the first
			}
			failures = 0
			pos = scanned
			sv.start(ctx, pos)
			continue
		}
		pos = scanned
		if pos < head {
			continue
		}
		// Caught up. Save a checkpoint that only moved past dropped
		// events, but not more often than filteredSaveInterval.
		if err := sv.wait(ctx); err != nil {
			return err
		}
		if pos > sv.saved && time.Since(sv.at) >= filteredSaveInterval {
			sv.start(ctx, pos)
			if err := sv.wait(ctx); err != nil {
				return err
			}
		}
		next, changed := c.s.notifier.published()
		if next > head {
			head = next
			continue
		}
		var timer *time.Timer
		var due <-chan time.Time
		if pos > sv.saved {
			timer = time.NewTimer(filteredSaveInterval - time.Since(sv.at))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			if pos > sv.saved { // leave no dropped events to scan again
				sv.start(ctx, pos)
			}
			return nil
		case <-changed:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// A saver saves a consumer's checkpoints on a goroutine of its own, one at
// a time, so that a save overlaps the read of the next batch.
type saver struct {
	held     *heldLease
	external bool
	pending  chan error // the save in flight, if any
	pos      int64      // its position
	saved    int64      // the newest position saved
	at       time.Time  // when a save last ended
}

func (sv *saver) start(ctx context.Context, pos int64) {
	sv.pending, sv.pos = make(chan error, 1), pos
	go func() { sv.pending <- sv.held.save(ctx, pos, sv.external) }()
}

// wait waits for the save in flight. A save that fails for another reason
// than a lost lease is tried again, with a backoff, until it succeeds: no
// further batch is handled before it does, so that a crash delivers at
// most one batch again. (The renewer gives the lease up, which ends ctx,
// if the database stays out of reach.) It returns ErrLeaseLost if the
// lease was lost, and ctx's error if ctx ended first.
func (sv *saver) wait(ctx context.Context) error {
	if sv.pending == nil {
		return nil
	}
	err := <-sv.pending
	sv.pending = nil
	for delay := 10 * time.Millisecond; err != nil && !errors.Is(err, ErrLeaseLost); delay = min(2*delay, time.Second) {
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
		err = sv.held.save(ctx, sv.pos, sv.external)
	}
	sv.at = time.Now()
	if err != nil {
		return err
	}
	sv.saved = sv.pos
	return nil
}

// startPosition is where the consumer goes on from.
func (c *consumer) startPosition(ctx context.Context, lease Lease) (int64, error) {
	if c.positioner != nil {
		pos, err := c.positioner.Position(ctx)
		if err != nil {
			return 0, fmt.Errorf("evstore: consumer %q: position: %w", c.key.Name, err)
		}
		return pos, nil
	}
	if pos, found := lease.Checkpoint(); found {
		return pos, nil
	}
	return c.cfg.start, nil
}

// fetch returns the next events after pos, up to Sequence head, that the
// consumer selects: at most one batch of them. scanned is the Sequence up
// to which every event has been considered. It reads ahead, a page of the
// Store's read size at a time, and hands the page out batch by batch while
// the next page is read on another goroutine.
func (c *consumer) fetch(ctx context.Context, pos, head int64) (events []StoredEvent, scanned int64, err error) {
	if pos < c.ahead.from || pos >= c.ahead.to {
		if pos >= head {
			return nil, pos, nil
		}
		next := c.next
		c.next = nil
		if next == nil || next.from != pos {
			c.drop(next)
			next = c.readAhead(ctx, pos, head)
		}
		r := <-next.done
		if r.err != nil {
			return nil, pos, r.err
		}
		c.ahead = r
		if c.ahead.to < next.head { // a full page: read the next one meanwhile
			c.next = c.readAhead(ctx, c.ahead.to, next.head)
		}
	}
	rest := c.ahead.events
	i, _ := slices.BinarySearchFunc(rest, pos, func(e StoredEvent, seq int64) int { return cmp.Compare(e.Sequence, seq) })
	if i < len(rest) && rest[i].Sequence == pos {
		i++
	}
	rest = rest[i:]
	if c.cfg.members == 0 {
		if len(rest) > c.cfg.batch {
			return rest[:c.cfg.batch], rest[c.cfg.batch-1].Sequence, nil
		}
		return rest, c.ahead.to, nil
	}
	for _, e := range rest {
		if PartitionOf(e.StreamID, c.cfg.members) != c.cfg.member {
			continue
		}
		if len(events) == c.cfg.batch {
			return events, events[len(events)-1].Sequence, nil
		}
		events = append(events, e)
	}
	return events, c.ahead.to, nil
}

// readAhead holds every event the consumer selects with a Sequence in
// (from, to], read from the database but not yet handled.
type readAhead struct {
	from, to int64
	events   []StoredEvent
	err      error
}

// A pageRead is a page being read on a goroutine of its own.
type pageRead struct {
	from, head int64
	done       chan readAhead
}

// readAhead reads, on a goroutine, the page of selected events after from
// and up to head.
func (c *consumer) readAhead(ctx context.Context, from, head int64) *pageRead {
	r := &pageRead{from: from, head: head, done: make(chan readAhead, 1)}
	go func() {
		q := Query{StreamID: All, After: from, MaxSequence: head, Filter: c.cfg.filter, Limit: max(c.cfg.batch, c.s.readPage)}
		// A new slice each time: the handler may keep the batches it got.
		page, err := c.s.read(ctx, q, make([]StoredEvent, 0, q.Limit))
		ra := readAhead{from: from, to: head, events: page, err: err}
		if len(page) == q.Limit {
			ra.to = page[len(page)-1].Sequence
		}
		r.done <- ra
	}()
	return r
}

// drop waits for a page read that is no longer wanted.
func (c *consumer) drop(r *pageRead) {
	if r != nil {
		<-r.done
	}
}

// handle calls the handler, turning a panic into an error.
func (c *consumer) handle(ctx context.Context, events []StoredEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: consumer %q, events %d to %d: %v\n%s", ErrHandlerPanic, c.key.Name, events[0].Sequence, events[len(events)-1].Sequence, p, debug.Stack())
		}
	}()
	return c.h.Handle(ctx, events)
}

// backoff returns the wait before retrying after the nth failure in a row.
func (c *consumer) backoff(n int) time.Duration {
	d := c.cfg.retryMin
	for i := 1; i < n && d < c.cfg.retryMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.retryMax)
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d, or reports false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Consumers yields every consumer that has run on the store's database,
// each partition on its own, ordered by name (byte order), then members,
// then partition. An error ends the sequence as its last pair.
func (s *Store) Consumers(ctx context.Context) iter.Seq2[ConsumerInfo, error] {
	return func(yield func(ConsumerInfo, error) bool) {
		cb, err := s.consumerBackend()
		if err != nil {
			yield(ConsumerInfo{}, err)
			return
		}
		if err := s.enter(); err != nil {
			yield(ConsumerInfo{}, err)
			return
		}
		defer s.leave()
		for info, err := range cb.ListConsumers(ctx) {
			if !yield(info, err) || err != nil {
				return
			}
		}
	}
}

// ResetConsumer moves the checkpoint of every partition of the consumer
// name to position, so that it goes on after that Sequence: 0 replays
// everything. While an instance of the consumer is active it changes
// nothing and returns an error wrapping ErrConflict: stop the consumer
// first. A Positioner keeps its own position, which this does not change.
func (s *Store) ResetConsumer(ctx context.Context, name string, position int64) error {
	if err := checkConsumerName(name); err != nil {
		return err
	}
	if position < 0 {
		return fmt.Errorf("%w: position %d is negative", ErrInvalidArgument, position)
	}
	cb, err := s.consumerBackend()
	if err != nil {
		return err
	}
	_, err = call(s, func() (struct{}, error) { return struct{}{}, cb.ResetConsumer(ctx, name, position) })
	return err
}

// leaseBoard wakes a Store's standbys when one of its consumers releases a
// lease, so that a standby in the same process takes over at once.
type leaseBoard struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next release.
func (b *leaseBoard) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *leaseBoard) released() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
