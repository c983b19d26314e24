package memory

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// headOnce is a backend whose next Head fails once armed, as a dropped
// connection would make it.
type headOnce struct {
	*backend
	armed atomic.Bool
}

func (h *headOnce) Head(ctx context.Context, id string) (int64, error) {
	if h.armed.CompareAndSwap(true, false) {
		return 0, errors.New("transient: connection reset")
	}
	return h.backend.Head(ctx, id)
}

// storeWithOneEvent returns a Store on b, closed when the test ends, with
// one event written.
func storeWithOneEvent(t *testing.T, b evstore.Backend) *evstore.Store {
	t.Helper()
	s := evstore.NewStore(b)
	t.Cleanup(func() { s.Close() })
	st, err := s.Stream(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(context.Background(), []evstore.CandidateEvent{{Type: "T"}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConsumeRetriesNotifierStart: the first Consume of a Store starts its
// notifier, which reads the head; a failure there is retried like any
// other read, not returned.
func TestConsumeRetriesNotifierStart(t *testing.T) {
	b := &headOnce{backend: newBackend()}
	s := storeWithOneEvent(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.armed.Store(true) // the Head that starts the notifier fails
	got := make(chan int64, 1)
	h := evstore.HandlerFunc(func(_ context.Context, events []evstore.StoredEvent) error {
		select {
		case got <- events[len(events)-1].Sequence:
		default:
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- s.Consume(ctx, "c", h, evstore.ConsumeRetry(time.Millisecond, time.Millisecond, 3)) }()
	select {
	case seq := <-got:
		if seq != 1 {
			t.Errorf("handled up to %d, want 1", seq)
		}
	case err := <-done:
		t.Fatalf("Consume returned %v before handling the event", err)
	case <-time.After(time.Minute):
		t.Fatal("no event handled in a minute")
	}
	if b.armed.Load() {
		t.Error("no Head failed: the test did not reach the notifier's start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume after cancel: %v", err)
	}
}

// logged is an event as the test wrote it.
type logged struct {
	stream, typ string
}

// eventLog writes events and remembers them, in Sequence order.
type eventLog struct {
	s      *evstore.Store
	mu     sync.Mutex
	events []logged // events[i] has Sequence i+1
}

// write writes n events in Writes of chunk, round robin over 7 streams,
// typed A, A, B by turns.
func (l *eventLog) write(t *testing.T, n, chunk int) {
	t.Helper()
	ctx := context.Background()
	for written := 0; written < n; written += chunk {
		k := min(chunk, n-written)
		id := fmt.Sprintf("s%d", (written/chunk)%7)
		st, err := l.s.Stream(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		batch := make([]evstore.CandidateEvent, k)
		for i := range batch {
			batch[i].Type = "A"
			if (written+i)%3 == 2 {
				batch[i].Type = "B"
			}
		}
		l.mu.Lock() // across the Write: Sequences follow the log's order
		if _, err := st.Write(ctx, batch); err != nil {
			l.mu.Unlock()
			t.Fatal(err)
		}
		for _, e := range batch {
			l.events = append(l.events, logged{id, e.Type})
		}
		l.mu.Unlock()
	}
}

func (l *eventLog) snapshot() []logged {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events
}

// TestConsumeInvariants runs many consumers at once, with batch sizes
// around the read-ahead page, partitions and a filter, over events written
// before and while they run, with a handler that changes its batch and
// fails every fifth call. Each Handle checks that it gets the next selected
// events as stored, at most BatchSize, and that the stored checkpoint is
// past the previous batch but not this one (at most one batch would be
// redelivered; the checkpoint may have moved past dropped events).
func TestConsumeInvariants(t *testing.T) {
	type config struct {
		batch, members, member int
		filter                 bool
	}
	var configs []config
	for _, batch := range []int{7, 4095, 4097} {
		for _, filter := range []bool{false, true} {
			configs = append(configs, config{batch: batch, filter: filter})
			for m := range 3 {
				configs = append(configs, config{batch: batch, members: 3, member: m, filter: filter})
			}
		}
	}
	s := evstore.NewStore(newBackend())
	defer s.Close()
	log := &eventLog{s: s}
	log.write(t, 6000, 37)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type run struct {
		config
		name string
		mu   sync.Mutex
		got  []int64 // Sequences handled
		errs []string
		done chan error
	}
	selects := func(c config, e logged) bool {
		return (!c.filter || e.typ == "A") && (c.members == 0 || evstore.PartitionOf(e.stream, c.members) == c.member)
	}
	checkpoint := func(r *run) int64 {
		for info, err := range s.Consumers(ctx) {
			if err == nil && info.Name == r.name && info.Members == r.members && info.Partition == r.member {
				return info.Position
			}
		}
		return 0
	}
	runs := make([]*run, len(configs))
	for i, c := range configs {
		r := &run{config: c, name: fmt.Sprintf("c%d-%d-%d", c.batch, c.members, btoi(c.filter)), done: make(chan error, 1)}
		runs[i] = r
		calls := 0
		h := evstore.HandlerFunc(func(_ context.Context, events []evstore.StoredEvent) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			calls++
			fail := func(format string, args ...any) {
				if len(r.errs) < 5 {
					r.errs = append(r.errs, fmt.Sprintf("call %d: ", calls)+fmt.Sprintf(format, args...))
				}
			}
			if len(events) == 0 || len(events) > r.batch {
				fail("a batch of %d", len(events))
			}
			stored := log.snapshot()
			last := int64(0)
			if len(r.got) > 0 {
				last = r.got[len(r.got)-1]
			}
			if cp := checkpoint(r); len(r.got) > 0 && (cp < last || cp >= events[0].Sequence) {
				fail("checkpoint %d at the Handle of %d.., after the batch that ended at %d", cp, events[0].Sequence, last)
			}
			want := last
			for _, e := range events {
				for want++; want <= int64(len(stored)) && !selects(r.config, stored[want-1]); want++ {
				}
				if e.Sequence != want {
					fail("Sequence %d, want %d", e.Sequence, want)
					return nil
				}
				if l := stored[want-1]; e.StreamID != l.stream || e.Type != l.typ {
					fail("event %d is %s/%s, stored as %s/%s", e.Sequence, e.StreamID, e.Type, l.stream, l.typ)
				}
			}
			failing := calls%5 == 2
			if !failing {
				for _, e := range events {
					r.got = append(r.got, e.Sequence)
				}
			}
			_ = append(events, evstore.StoredEvent{Sequence: 1 << 40})
			for i := range events {
				events[i].Sequence += 1000
				events[i].Type = "Changed"
			}
			if failing {
				return errors.New("failed after changing its batch")
			}
			return nil
		})
		opts := []evstore.ConsumeOption{evstore.BatchSize(c.batch), evstore.ConsumeRetry(time.Millisecond, time.Millisecond, 0)}
		if c.members > 0 {
			opts = append(opts, evstore.Partition(c.member, c.members))
		}
		if c.filter {
			opts = append(opts, evstore.ConsumeFilter(evstore.Filter{evstore.Equals("event_type", "A")}))
		}
		go func() { r.done <- s.Consume(ctx, r.name, h, opts...) }()
	}
	log.write(t, 2000, 5) // live, while they catch up
	log.write(t, 100, 1)

	stored := log.snapshot()
	deadline := time.Now().Add(time.Minute)
	for _, r := range runs {
		var want []int64
		for i, e := range stored {
			if selects(r.config, e) {
				want = append(want, int64(i+1))
			}
		}
		for {
			r.mu.Lock()
			done := len(r.got) >= len(want) || len(r.errs) > 0
			r.mu.Unlock()
			if done || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		r.mu.Lock()
		if !slices.Equal(r.got, want) {
			t.Errorf("%s %+v: handled %d events, want %d, each once in order", r.name, r.config, len(r.got), len(want))
		}
		for _, e := range r.errs {
			t.Errorf("%s %+v: %s", r.name, r.config, e)
		}
		r.mu.Unlock()
	}
	cancel()
	for _, r := range runs {
		if err := <-r.done; err != nil {
			t.Errorf("%s: Consume: %v", r.name, err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hangingRenew is a backend whose leases' Renew, once armed, hangs until
// its ctx ends, as on a database that stopped answering.
type hangingRenew struct {
	*backend
	armed atomic.Bool
}

func (h *hangingRenew) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	l, err := h.backend.AcquireLease(ctx, key, ttl)
	if l == nil || err != nil {
		return l, err
	}
	return &hangingLease{Lease: l, armed: &h.armed}, nil
}

type hangingLease struct {
	evstore.Lease
	armed *atomic.Bool
}

func (l *hangingLease) Renew(ctx context.Context) error {
	if l.armed.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return l.Lease.Renew(ctx)
}

// TestConsumeRenewHangs: when Renew hangs, the handler's ctx ends once
// the lease would have expired (when another instance may take over), not
// whenever the call comes back.
func TestConsumeRenewHangs(t *testing.T) {
	b := &hangingRenew{backend: newBackend()}
	s := storeWithOneEvent(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const lease = 300 * time.Millisecond
	ended := make(chan time.Duration, 1)
	var once sync.Once
	h := evstore.HandlerFunc(func(hctx context.Context, _ []evstore.StoredEvent) error {
		once.Do(func() {
			start := time.Now()
			b.armed.Store(true)
			select {
			case <-hctx.Done():
				ended <- time.Since(start)
			case <-time.After(time.Minute):
			}
		})
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- s.Consume(ctx, "c", h, evstore.LeaseTime(lease)) }()
	select {
	case d := <-ended:
		t.Logf("the handler's ctx ended %v after Renew began to hang (lease time %v)", d.Round(time.Millisecond), lease)
	case err := <-done:
		t.Fatalf("Consume returned %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the handler's ctx did not end within a minute of Renew hanging")
	}
	b.armed.Store(false)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume after cancel: %v", err)
	}
}

// cutOff is a backend whose consumer calls, once armed, hang until their
// ctx ends: a process cut off from its database by a partition.
type cutOff struct {
	*backend
	armed atomic.Bool
}

func (c *cutOff) hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func (c *cutOff) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	if c.armed.Load() {
		return nil, c.hang(ctx)
	}
	l, err := c.backend.AcquireLease(ctx, key, ttl)
	if l == nil || err != nil {
		return l, err
	}
	return &cutOffLease{Lease: l, c: c}, nil
}

type cutOffLease struct {
	evstore.Lease
	c *cutOff
}

func (l *cutOffLease) Renew(ctx context.Context) error {
	if l.c.armed.Load() {
		return l.c.hang(ctx)
	}
	return l.Lease.Renew(ctx)
}

func (l *cutOffLease) Save(ctx context.Context, position int64, external bool) error {
	if l.c.armed.Load() {
		return l.c.hang(ctx)
	}
	return l.Lease.Save(ctx, position, external)
}

func (l *cutOffLease) Release(ctx context.Context) error {
	if l.c.armed.Load() {
		return l.c.hang(ctx)
	}
	return l.Lease.Release(ctx)
}

// TestConsumeHandlerCtxEndsBeforeTakeover: an instance cut off from its
// database has its handler's ctx ended before a standby on another Store
// can take the lease over and handle events: a quarter of the lease time
// before, by the consumer's rule.
func TestConsumeHandlerCtxEndsBeforeTakeover(t *testing.T) {
	b := &cutOff{backend: newBackend()}
	first := storeWithOneEvent(t, b)
	second := evstore.NewStore(b.backend) // the same database, reached otherwise
	t.Cleanup(func() { second.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const lease = time.Second
	var ctxEnded, standbyHandled atomic.Int64 // UnixNano
	var once sync.Once
	h1 := evstore.HandlerFunc(func(hctx context.Context, _ []evstore.StoredEvent) error {
		once.Do(func() {
			b.armed.Store(true)
			select {
			case <-hctx.Done():
				ctxEnded.Store(time.Now().UnixNano())
			case <-time.After(time.Minute):
			}
		})
		return nil
	})
	handled := make(chan struct{})
	var handledOnce sync.Once
	h2 := evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error {
		standbyHandled.CompareAndSwap(0, time.Now().UnixNano())
		handledOnce.Do(func() { close(handled) })
		return nil
	})
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- first.Consume(ctx, "c", h1, evstore.LeaseTime(lease)) }()
	for !b.armed.Load() {
		time.Sleep(time.Millisecond)
	}
	go func() { done2 <- second.Consume(ctx, "c", h2, evstore.LeaseTime(lease)) }()
	select {
	case <-handled:
	case <-time.After(time.Minute):
		t.Fatal("the standby did not take over within a minute")
	}
	ended, took := ctxEnded.Load(), standbyHandled.Load()
	if ended == 0 || ended >= took {
		t.Fatalf("the cut-off holder's handler ctx ended at %d, the standby handled at %d: want the ctx to end first", ended, took)
	}
	t.Logf("the holder's handler ctx ended %v before the standby's first Handle (lease time %v)", time.Duration(took-ended).Round(time.Millisecond), lease)
	cancel()
	for _, done := range []chan error{done1, done2} {
		if err := <-done; err != nil {
			t.Errorf("Consume after cancel: %v", err)
		}
	}
}

// slowAcquire is a backend whose AcquireLease takes a while, as on a busy
// database.
type slowAcquire struct {
	*backend
	delay time.Duration
}

func (s *slowAcquire) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	time.Sleep(s.delay)
	return s.backend.AcquireLease(ctx, key, ttl)
}

// TestConsumeSlowAcquisition: an acquisition that takes most of the lease
// time leaves the lease with little trust; the consumer renews it at once
// and handles, rather than lose it before its first Handle and acquire it
// again for ever.
func TestConsumeSlowAcquisition(t *testing.T) {
	b := &slowAcquire{backend: newBackend(), delay: 80 * time.Millisecond}
	s := storeWithOneEvent(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	handled := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(ctx, "c", evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error {
			once.Do(func() { close(handled) })
			return nil
		}), evstore.LeaseTime(100*time.Millisecond))
	}()
	select {
	case <-handled:
	case err := <-done:
		t.Fatalf("Consume returned %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("nothing handled in 30s: the lease was never trusted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// countingLister counts ListConsumers calls.
type countingLister struct {
	*backend
	calls atomic.Int64
}

func (c *countingLister) ListConsumers(ctx context.Context) iter.Seq2[evstore.ConsumerInfo, error] {
	c.calls.Add(1)
	return c.backend.ListConsumers(ctx)
}

// TestWaitConsumerPolls: waiters read the database at their poll
// interval, not each time a consumer of the Store moves.
func TestWaitConsumerPolls(t *testing.T) {
	b := &countingLister{backend: newBackend()}
	s := storeWithOneEvent(t, b)
	st, err := s.Stream(t.Context(), "busy")
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		if _, err := st.Write(t.Context(), []evstore.CandidateEvent{{Type: "T"}, {Type: "T"}, {Type: "T"}, {Type: "T"}, {Type: "T"}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(ctx, "busy", evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error {
			time.Sleep(100 * time.Microsecond)
			return nil
		}), evstore.BatchSize(1))
	}()
	const waiters, window = 10, 300 * time.Millisecond
	b.calls.Store(0)
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			wctx, wcancel := context.WithTimeout(t.Context(), window)
			defer wcancel()
			if err := s.WaitConsumer(wctx, "other", 1); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitConsumer of a consumer that never runs: %v", err)
			}
		})
	}
	wg.Wait()
	// Each waiter polls every 20ms: about 15 calls in the window.
	if got, most := b.calls.Load(), int64(waiters*(int(window/(20*time.Millisecond))+1)*2); got > most {
		t.Errorf("%d waiters made %d ListConsumers calls in %v, want at most %d", waiters, got, window, most)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
