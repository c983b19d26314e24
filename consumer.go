package evstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds the state machine of one Consume call: standing by,
// being active, renewing the lease, following the store, saving
// checkpoints.

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
	leasedAt   time.Time // when the acquisition of the lease held began
}

// run alternates between standing by and being active until ctx ends, the
// Store closes or the handler fails for good. ctx also ends when the Store
// closes (see Store.Consume), so that Close ends every call into the
// database.
func (c *consumer) run(ctx context.Context) error {
	for {
		lease, err := c.acquire(ctx)
		if lease != nil {
			err = c.active(ctx, lease)
			if errors.Is(err, ErrLeaseLost) && ctx.Err() == nil {
				c.log(ctx, slog.LevelWarn, "evstore: consumer lease lost; standing by", slog.Any("err", err))
				if sleep(ctx, standbyPoll) {
					continue // stand by again, after giving others a chance
				}
			}
		}
		switch {
		case c.s.closing():
			return ErrClosed
		case ctx.Err() != nil:
			return nil
		}
		c.log(ctx, slog.LevelError, "evstore: consumer stopped", slog.Any("err", err))
		return err
	}
}

// acquire waits until this instance holds the consumer's lease. It returns
// nil and nil when ctx ends or the Store closes, and an error only for a
// permanent one (see permanent): a database that cannot be reached, or is
// busy, is tried again with ConsumeRetry's backoff for as long as it
// takes.
func (c *consumer) acquire(ctx context.Context) (Lease, error) {
	failures := 0
	for {
		released := c.s.leases.wait()
		c.leasedAt = time.Now()
		lease, err := call(c.s, func() (Lease, error) { return c.cb.AcquireLease(ctx, c.key, c.cfg.lease) })
		wait := standbyPoll
		switch {
		case ctx.Err() != nil || errors.Is(err, ErrClosed):
			if lease != nil {
				c.release(lease)
			}
			return nil, nil
		case err != nil && permanent(err):
			return nil, err // the Backend's error names the consumer
		case err != nil:
			failures++
			wait = max(wait, c.backoff(failures))
			c.log(ctx, slog.LevelWarn, "evstore: consumer cannot reach its lease; retrying", slog.Any("err", err), slog.Int("attempt", failures), slog.Duration("retry_in", wait))
		case lease != nil:
			return lease, nil
		default:
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-released:
			t.Stop()
		case <-t.C:
		}
	}
}

// permanent reports whether an error of the Backend will not go away by
// trying again: the backend lacks consumers, refuses an argument, is read
// only, or is not an event store. Any other error (busy, locked,
// connection refused or reset, a server shutting down, a timeout) is
// taken for transient, and retried.
func permanent(err error) bool {
	for _, target := range []error{ErrUnsupported, ErrInvalidArgument, ErrInvalidFilter, ErrReadOnly, ErrCorrupt} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// release gives up the lease, whatever ctx says, and wakes this Store's
// standbys. It waits for the database for a lease time at most (5s at
// most): a lease that was not released expires by then anyway.
func (c *consumer) release(lease Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), min(5*time.Second, c.cfg.lease))
	defer cancel()
	_, _ = call(c.s, func() (struct{}, error) { return struct{}{}, lease.Release(ctx) })
	c.s.leases.released()
}

// A heldLease serialises the calls on a Lease of the active loop and its
// renewer, and says how long the lease can be trusted. A successful Renew
// or Save renews the lease (Lease.Save's contract): either moves the trust
// on, and the timer that ends the handler's ctx with it.
type heldLease struct {
	s      *Store
	ttl    time.Duration // the lease time
	born   time.Time     // a reading of the monotonic clock: until's origin
	until  atomic.Int64  // the lease is trusted until born + until
	mu     sync.Mutex    // held by calls on lease, and by expire's changes
	lease  Lease
	expire *time.Timer // ends the handler's ctx once the trust has passed
}

// trustFor is how long after a successful Renew or Save (or the
// acquisition) began an instance trusts its lease: three quarters of the
// lease time. No other instance can take the lease over before the whole
// lease time has passed since then, so the handler's ctx ends, and no
// Handle starts, at least a quarter of the lease time before a
// successor's Handle can.
func trustFor(lease time.Duration) time.Duration { return lease * 3 / 4 }

// newHeldLease returns lease, trusted from start.
func newHeldLease(s *Store, lease Lease, ttl time.Duration, start time.Time) *heldLease {
	l := &heldLease{s: s, ttl: ttl, born: time.Now(), lease: lease}
	l.trust(start)
	return l
}

// arm makes the loss of trust cancel ctx with ErrLeaseLost.
func (l *heldLease) arm(cancel context.CancelCauseFunc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire = time.AfterFunc(max(l.left(), 0), func() { cancel(ErrLeaseLost) })
}

// trust records that the lease holds until trustFor after start.
func (l *heldLease) trust(start time.Time) {
	l.until.Store(int64(start.Sub(l.born) + trustFor(l.ttl)))
}

// renewed moves the trust on after a successful call that began at start;
// l.mu is held. An expire timer that has fired already has ended the
// handler's ctx: the trust comes too late for this period.
func (l *heldLease) renewed(start time.Time) {
	l.trust(start)
	if l.expire != nil {
		l.expire.Reset(max(l.left(), 0))
	}
}

// left returns how long the lease is still trusted, on the monotonic
// clock: a process stopped and resumed (SIGSTOP, a frozen VM) finds it
// passed.
func (l *heldLease) left() time.Duration {
	return time.Duration(l.until.Load()) - time.Since(l.born)
}

// stop stops the expire timer.
func (l *heldLease) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expire != nil {
		l.expire.Stop()
	}
}

// save saves a checkpoint. The events before it are handled, so the save
// goes ahead even if ctx has just ended, for as long as the lease is
// trusted (a quarter of the lease time at least, since a save renews it):
// one that hangs on a database cut off must not hold up Close for long.
func (l *heldLease) save(ctx context.Context, position int64, external bool) error {
	return l.call(context.WithoutCancel(ctx), func(ctx context.Context) error { return l.lease.Save(ctx, position, external) })
}

// renew renews the lease, giving up when the trust passes (a quarter of
// the lease time at least).
func (l *heldLease) renew(ctx context.Context) error {
	return l.call(ctx, l.lease.Renew)
}

// call runs f, a Save or a Renew, until the trust passes (a quarter of the
// lease time at least: a Save or Renew may restore it), and moves the trust
// on when it succeeds. The time left is taken once l.mu is held, after a
// call in flight that may have moved it.
func (l *heldLease) call(ctx context.Context, f func(context.Context) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, max(l.left(), l.ttl/4))
	defer cancel()
	start := time.Now()
	_, err := call(l.s, func() (struct{}, error) { return struct{}{}, f(ctx) })
	if err == nil {
		l.renewed(start)
	}
	return err
}

// active runs the consumer while it holds lease, and releases it. It
// returns ErrLeaseLost when the lease passed to another instance, or
// could not be renewed in time.
func (c *consumer) active(ctx context.Context, lease Lease) (err error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	held := newHeldLease(c.s, lease, c.cfg.lease, c.leasedAt)
	var wg sync.WaitGroup
	defer func() {
		cancel(nil)
		wg.Wait()
		held.stop()
		c.release(lease) // also after a loss: the backend frees what it holds
	}()
	// An acquisition that took long (a busy database) leaves little trust:
	// renew at once rather than lose the lease before the first Handle.
	if held.left() < c.cfg.lease/2 {
		if err := held.renew(runCtx); err != nil {
			return fmt.Errorf("%w: renew after a slow acquisition: %w", ErrLeaseLost, err)
		}
	}
	held.arm(cancel)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.renew(runCtx, held, cancel)
	}()
	err = c.follow(runCtx, held)
	if cause := context.Cause(runCtx); errors.Is(cause, ErrLeaseLost) || errors.Is(err, ErrLeaseLost) {
		cancel(ErrLeaseLost)
		return ErrLeaseLost
	}
	return err
}

// renew keeps the lease alive until ctx ends: it renews it when half of
// the lease time is left of its trust (a quarter of the lease time after
// the last Renew or Save), and again after a twelfth of the lease time
// when that fails. The expire timer, not this goroutine, ends the handler's
// ctx when the trust passes, whatever a Renew in flight is waiting for. It
// cancels ctx with ErrLeaseLost when the backend says the lease was lost,
// and with ErrClosed when the Store closes.
func (c *consumer) renew(ctx context.Context, held *heldLease, cancel context.CancelCauseFunc) {
	failed := false
	for {
		wait := held.left() - c.cfg.lease/2
		if failed {
			wait = c.cfg.lease / 12
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.s.done:
			t.Stop()
			cancel(ErrClosed)
			return
		case <-t.C:
		}
		if !failed && held.left() > c.cfg.lease/2 {
			continue // a Save renewed it meanwhile
		}
		err := held.renew(ctx)
		if errors.Is(err, ErrLeaseLost) {
			cancel(ErrLeaseLost)
			return
		}
		failed = err != nil
	}
}

// follow hands events to the handler while ctx lasts.
func (c *consumer) follow(ctx context.Context, held *heldLease) error {
	ctx = withConsumer(ctx, c.key) // for ConsumerOf, in Handle and Position

	failures := 0 // failed attempts in a row of Handle (or Position)
	reads := 0    // failed reads in a row
	var pos, head int64
	for {
		// Starting the notifier reads the store's head.
		err := c.s.notifier.follow(ctx)
		if err == nil {
			if head, err = c.s.head(ctx, All); err == nil {
				break
			}
			c.s.notifier.unfollow()
		}
		if err := c.pause(ctx, &reads, err); err != nil {
			return err
		}
	}
	defer c.s.notifier.unfollow()
	for {
		var err error
		if pos, err = c.startPosition(ctx, held.lease, head); err == nil {
			break
		}
		if err := c.retry(ctx, &failures, err); err != nil {
			return err
		}
	}
	failures = 0
	// Where an active instance starts is its checkpoint at once: a
	// restart goes on from there even if nothing was handled (a consumer
	// that starts from the head misses nothing written while it is down),
	// and a Positioner's consumer is listed as External.
	sv := &saver{c: c, held: held, external: c.positioner != nil, saved: -1}
	sv.start(ctx, pos, false)
	if err := sv.wait(ctx); err != nil {
		return err
	}
	c.log(ctx, slog.LevelInfo, "evstore: consumer active", slog.Int64("position", pos))
	defer sv.wait(ctx)
	defer c.forget()
	defer c.s.progress.leave(c.key)
	published := int64(-1)
	for {
		if pos != published { // for WaitConsumer
			c.s.progress.reach(c.key, pos)
			published = pos
		}
		if ctx.Err() != nil {
			return nil
		}
		// A page read overlaps the previous batch's checkpoint save.
		events, scanned, err := c.fetch(ctx, pos, head)
		if err != nil {
			if err := c.pause(ctx, &reads, err); err != nil {
				return err
			}
			continue
		}
		reads = 0
		if len(events) > 0 {
			// A batch is handled only once the one before is saved, so a
			// crash delivers at most one batch again.
			if err := sv.wait(ctx); err != nil {
				return err
			}
			// The events may have been read before the process was
			// stopped for longer than the lease: look at the clock.
			if held.left() <= 0 {
				return ErrLeaseLost
			}
			if ctx.Err() != nil {
				return nil
			}
			if err := c.batch(ctx, events, scanned); err != nil {
				c.forget()
				if err := c.retry(ctx, &failures, err); err != nil {
					return err
				}
				// The same events again, from the first, read again; a
				// Positioner says where that is.
				for c.positioner != nil {
					p, err := c.position(ctx)
					if err == nil {
						pos = p
						break
					}
					if err := c.retry(ctx, &failures, err); err != nil {
						return err
					}
				}
				continue
			}
			failures = 0
			pos = scanned
			// A Positioner keeps its own position: the store's copy is
			// only what Consumers lists, saved like a filtered one.
			if c.positioner == nil || time.Since(sv.at) >= filteredSaveInterval {
				sv.start(ctx, pos, !c.buffered(pos))
			}
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
			sv.start(ctx, pos, false)
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
				sv.start(ctx, pos, false)
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

// A saver saves a consumer's checkpoints one at a time; a save may run on
// a goroutine of its own, to overlap the wait for the next page of events.
type saver struct {
	c        *consumer
	held     *heldLease
	external bool
	pending  chan error // the save in flight, if any
	pos      int64      // its position
	saved    int64      // the newest position saved
	at       time.Time  // when a save last ended
}

// start saves pos as the checkpoint; wait returns the outcome. With
// overlap the save runs on a goroutine of its own, while the caller goes
// on to wait for the next page of events. Without, it runs at once: when
// the next batch is already read there is nothing to overlap, and handing
// the save to another goroutine and back only adds two wake-ups to each
// batch of a catch-up.
func (sv *saver) start(ctx context.Context, pos int64, overlap bool) {
	sv.pending, sv.pos = make(chan error, 1), pos
	if !overlap {
		sv.pending <- sv.held.save(ctx, pos, sv.external)
		return
	}
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
		sv.c.log(ctx, slog.LevelWarn, "evstore: consumer checkpoint not saved; retrying", slog.Any("err", err), slog.Int64("position", sv.pos), slog.Duration("retry_in", delay))
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

// retry takes a failure of Handle or of a Positioner's Position in the
// retry policy (a failed read goes to pause): after the backoff it returns
// nil, to try again; it returns an error to end Consume with: a panic, an
// error wrapping ErrInvalidArgument, ctx ending, the Store closing, a lost
// lease, or one failure too many.
func (c *consumer) retry(ctx context.Context, failures *int, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrHandlerPanic) || errors.Is(err, ErrClosed) || errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrInvalidArgument):
		return err // retrying cannot mend these
	}
	*failures++
	if c.cfg.attempts > 0 && *failures >= c.cfg.attempts {
		return fmt.Errorf("evstore: consumer %q: failed %d times in a row: %w", c.key.Name, *failures, err)
	}
	wait := c.backoff(*failures)
	c.log(ctx, slog.LevelWarn, "evstore: consumer handler failed; retrying", slog.Any("err", err), slog.Int("attempt", *failures), slog.Duration("retry_in", wait))
	if !sleep(ctx, wait) {
		return ctx.Err()
	}
	return nil
}

// pause takes a failed read of the store: after a backoff (ConsumeRetry's,
// without its limit of attempts: a database that is down or busy is
// waited for) it returns nil, to try again. It returns an error to end
// Consume with when the error is permanent, ctx ended, the Store closed or
// the lease was lost.
func (c *consumer) pause(ctx context.Context, failures *int, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case permanent(err) || errors.Is(err, ErrClosed) || errors.Is(err, ErrLeaseLost):
		return err
	}
	*failures++
	wait := c.backoff(*failures)
	c.log(ctx, slog.LevelWarn, "evstore: consumer cannot read the store; retrying", slog.Any("err", err), slog.Int("attempt", *failures), slog.Duration("retry_in", wait))
	if !sleep(ctx, wait) {
		return ctx.Err()
	}
	return nil
}

// startPosition is where the consumer goes on from, given the store's
// head: a Positioner's position, the checkpoint, or StartFrom's position,
// which may not be beyond the head (it would hide the events written up
// to it).
func (c *consumer) startPosition(ctx context.Context, lease Lease, head int64) (int64, error) {
	if c.positioner != nil {
		return c.position(ctx)
	}
	if pos, found := lease.Checkpoint(); found {
		return pos, nil
	}
	if c.cfg.start > head {
		return 0, fmt.Errorf("%w: consumer %q: StartFrom(%d) is beyond the newest Sequence, %d", ErrInvalidArgument, c.key.Name, c.cfg.start, head)
	}
	return c.cfg.start, nil
}

// position asks the Positioner for its position, turning a panic into an
// error, and refuses a negative one.
func (c *consumer) position(ctx context.Context) (pos int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: consumer %q: Position: %v\n%s", ErrHandlerPanic, c.key.Name, p, debug.Stack())
		}
	}()
	pos, err = c.positioner.Position(ctx)
	switch {
	case err != nil:
		return 0, fmt.Errorf("evstore: consumer %q: position: %w", c.key.Name, err)
	case pos < 0:
		return 0, fmt.Errorf("%w: consumer %q: Position returned %d, below 0", ErrInvalidArgument, c.key.Name, pos)
	}
	return pos, nil
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
