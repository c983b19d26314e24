package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"go.uber.org/goleak"
)

// These tests cut the network between a Store and the server with a proxy
// (proxy_test.go): outages, partitions, and what consumers do through
// them.

// openStore opens a Store on schema through dsn, closed when the test ends
// (Close may come sooner).
func openStore(t *testing.T, dsn, schema string, opts ...Option) *evstore.Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, append([]Option{WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// consume runs s.Consume on a goroutine; its result comes on the channel.
func consume(ctx context.Context, s *evstore.Store, name string, h evstore.Handler, opts ...evstore.ConsumeOption) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Consume(ctx, name, h, opts...) }()
	return done
}

// returned reports whether a Consume has returned, and what.
func returned(done <-chan error) (error, bool) {
	select {
	case err := <-done:
		return err, true
	default:
		return nil, false
	}
}

// wait waits up to timeout for done, failing the test after.
func wait[T any](t *testing.T, what string, done <-chan T, timeout time.Duration) T {
	t.Helper()
	select {
	case v := <-done:
		return v
	case <-time.After(timeout):
		t.Fatalf("%s: still waiting after %v", what, timeout)
		panic("unreachable")
	}
}

// eventually polls cond every 10ms until it holds, failing the test after
// timeout.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, timeout)
		}
	}
}

// write appends n events to stream id.
func write(t *testing.T, s *evstore.Store, id string, n int) {
	t.Helper()
	events := make([]evstore.CandidateEvent, n)
	for i := range events {
		events[i].Type = "E"
	}
	if _, err := mustStream(t, s, id).Write(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

// position returns a consumer's saved checkpoint, -1 if it has none.
func position(t *testing.T, s *evstore.Store, name string) int64 {
	t.Helper()
	for c, err := range s.Consumers(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if c.Name == name {
			return c.Position
		}
	}
	return -1
}

// A sequences records the Sequences handled, by every instance.
type sequences struct {
	mu  sync.Mutex
	got []int64
}

func (q *sequences) Handle(ctx context.Context, events []evstore.StoredEvent) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range events {
		q.got = append(q.got, e.Sequence)
	}
	return nil
}

func (q *sequences) list() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.got)
}

// upTo returns 1, ..., n.
func upTo(n int64) []int64 {
	var s []int64
	for i := int64(1); i <= n; i++ {
		s = append(s, i)
	}
	return s
}

// TestConsumeSurvivesOutage: a database outage of several lease times
// (every connection closed, new ones refused, as when the server restarts)
// ends neither the active consumer nor its standby; once the server is
// back, one of them handles the events written during and after it, each
// once and in order.
func TestConsumeSurvivesOutage(t *testing.T) {
	schema := testSchema(t)
	p, dsn := newProxy(t)
	writer := openStore(t, testDSN(t), schema)
	const lease = 300 * time.Millisecond
	opts := []evstore.ConsumeOption{evstore.LeaseTime(lease), evstore.ConsumeRetry(20*time.Millisecond, 200*time.Millisecond, 0)}
	q := &sequences{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done []<-chan error
	for range 2 {
		s := openStore(t, dsn, schema, WithPollInterval(100*time.Millisecond))
		done = append(done, consume(ctx, s, "outage", q, opts...))
	}
	write(t, writer, "a", 3)
	eventually(t, "the checkpoint at 3", 20*time.Second, func() bool { return position(t, writer, "outage") == 3 })

	p.set(down)
	time.Sleep(lease)
	write(t, writer, "a", 2)
	time.Sleep(2*time.Second - lease)
	for i, d := range done {
		if err, ok := returned(d); ok {
			t.Fatalf("Consume %d returned during a 2s outage (lease time %v): %v", i, lease, err)
		}
	}
	p.set(forward)
	write(t, writer, "b", 2)

	eventually(t, "events 1 to 7 handled", 30*time.Second, func() bool { return len(q.list()) >= 7 })
	eventually(t, "the checkpoint at 7", 20*time.Second, func() bool { return position(t, writer, "outage") == 7 })
	if got, want := q.list(), upTo(7); !slices.Equal(got, want) {
		t.Errorf("handled: got %v, want %v", got, want)
	}
	for i, d := range done {
		if err, ok := returned(d); ok {
			t.Errorf("Consume %d returned after the outage: %v", i, err)
		}
	}
	cancel()
	for i, d := range done {
		if err := wait(t, fmt.Sprint("Consume ", i, " after ctx ended"), d, 15*time.Second); err != nil {
			t.Errorf("Consume %d: got %v, want nil", i, err)
		}
	}
}

// proxyRuns ignores the proxy's goroutines.
var proxyRuns = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/go-event-sourcing/evstore/postgres.(*proxy).pipe"),
	goleak.IgnoreAnyFunction("github.com/go-event-sourcing/evstore/postgres.(*proxy).accept"),
	goleak.IgnoreAnyFunction("github.com/go-event-sourcing/evstore/postgres.(*proxy).connect"),
}

// TestCloseCutOff: Close of a Store that a network partition cut off from
// the server returns (not forever), its Consume returns ErrClosed, and it
// leaves no goroutine behind, whether its consumer was the standby or the
// active instance (the other instance is on a Store connected directly).
func TestCloseCutOff(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cutActive bool
	}{{"Standby", false}, {"Active", true}} {
		t.Run(tt.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			schema := testSchema(t)
			p, dsn := newProxy(t)
			direct := openStore(t, testDSN(t), schema)
			// Its notifier polls often, so that a poll is under way when
			// Close begins.
			cut := openStore(t, dsn, schema, WithPollInterval(100*time.Millisecond))
			t.Cleanup(p.Close) // before the Stores' Close, which it unblocks if the test fails
			const lease = 500 * time.Millisecond
			write(t, direct, "a", 1)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			handled := make(chan *evstore.Store, 16)
			on := func(s *evstore.Store) evstore.Handler {
				return evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
					select {
					case handled <- s:
					default:
					}
					return nil
				})
			}
			first, second := direct, cut
			if tt.cutActive {
				first, second = cut, direct
			}
			firstDone := consume(ctx, first, "cut", on(first), evstore.LeaseTime(lease))
			if got := wait(t, "the first instance handles", handled, 20*time.Second); got != first {
				t.Fatal("the second instance handled, before it started")
			}
			secondDone := consume(ctx, second, "cut", on(second), evstore.LeaseTime(lease))
			time.Sleep(lease) // the standby polls
			cutDone, directDone := secondDone, firstDone
			if tt.cutActive {
				cutDone, directDone = firstDone, secondDone
			}
			if err, ok := returned(cutDone); ok {
				t.Fatalf("Consume on the Store to cut off returned before the partition: %v", err)
			}

			p.set(partition)
			time.Sleep(lease) // its renewals, or its standby's tries, are stuck
			closed := make(chan error, 1)
			go func() { closed <- cut.Close() }()
			if err := wait(t, "Close of the Store cut off", closed, 15*time.Second); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := wait(t, "Consume on the Store cut off, after Close", cutDone, 15*time.Second); !errors.Is(err, evstore.ErrClosed) {
				t.Errorf("Consume on the Store cut off: got %v, want %v", err, evstore.ErrClosed)
			}
			cancel()
			if err := wait(t, "Consume on the direct Store, after ctx ended", directDone, 15*time.Second); err != nil {
				t.Errorf("Consume on the direct Store: got %v, want nil", err)
			}
			direct.Close()
			// pgx's goroutines closing the connections cut off included.
			if err := goleak.Find(append([]goleak.Option{ignore}, proxyRuns...)...); err != nil {
				t.Errorf("goroutines left after Close: %v", err)
			}
			p.Close()
			if err := goleak.Find(ignore); err != nil {
				t.Errorf("goroutines left once the proxy closed: %v", err)
			}
		})
	}
}

// TestCloseCutOffWatch: Close of a Store that a partition cut off while a
// Watch follows it returns (not forever), the Watch ends with ErrClosed,
// and no goroutine is left behind.
func TestCloseCutOffWatch(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	schema := testSchema(t)
	p, dsn := newProxy(t)
	// Its notifier polls often, so that a poll is under way when Close
	// begins.
	cut := openStore(t, dsn, schema, WithPollInterval(100*time.Millisecond))
	t.Cleanup(p.Close) // before the Store's Close, which it unblocks if the test fails
	write(t, cut, "a", 1)
	all := mustStream(t, cut, evstore.All)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan struct{}, 1)
	ended := make(chan error, 1)
	go func() {
		for _, err := range all.Watch(ctx, evstore.After(0)) {
			if err != nil {
				ended <- err
				return
			}
			select {
			case got <- struct{}{}:
			default:
			}
		}
		ended <- nil
	}()
	wait(t, "the Watch gets the first event", got, 20*time.Second)
	// One that only the Store's listener can tell it about: it listens.
	writer := openStore(t, testDSN(t), schema)
	write(t, writer, "b", 1)
	writer.Close()
	wait(t, "the Watch gets the second event", got, 20*time.Second)

	p.set(partition)
	time.Sleep(500 * time.Millisecond) // the notifier's poll is stuck
	closed := make(chan error, 1)
	go func() { closed <- cut.Close() }()
	if err := wait(t, "Close of the Store cut off", closed, 15*time.Second); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := wait(t, "the Watch, after Close", ended, 15*time.Second); !errors.Is(err, evstore.ErrClosed) {
		t.Errorf("Watch: got %v, want %v", err, evstore.ErrClosed)
	}
	if err := goleak.Find(append([]goleak.Option{ignore}, proxyRuns...)...); err != nil {
		t.Errorf("goroutines left after Close: %v", err)
	}
	p.Close()
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left once the proxy closed: %v", err)
	}
}

// TestHandlerCtxEndsBeforeTakeover: when a partition cuts the active
// instance off, the ctx of its Handle in progress ends before a standby,
// which the server lets take over once the holder's session has been idle
// for a lease time, handles anything.
func TestHandlerCtxEndsBeforeTakeover(t *testing.T) {
	schema := testSchema(t)
	p, dsn := newProxy(t)
	direct := openStore(t, testDSN(t), schema)
	cut := openStore(t, dsn, schema)
	const lease = 2 * time.Second
	write(t, direct, "a", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		p.Close() // ends whatever the partition left stuck
	}()

	handling := make(chan struct{})
	ended := make(chan time.Time, 1)
	var once sync.Once
	holder := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		first := false
		once.Do(func() { first = true })
		if !first {
			return errors.New("want only one Handle")
		}
		close(handling)
		<-ctx.Done()
		ended <- time.Now()
		return ctx.Err()
	})
	took := make(chan time.Time, 1)
	standby := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		select {
		case took <- time.Now():
		default:
		}
		return nil
	})
	consume(ctx, cut, "c", holder, evstore.LeaseTime(lease))
	wait(t, "the holder handles", handling, 20*time.Second)
	standbyDone := consume(ctx, direct, "c", standby, evstore.LeaseTime(lease))
	time.Sleep(lease / 2) // the standby polls

	p.set(partition)
	cutAt := time.Now()
	end := wait(t, "the holder's handler ctx ends", ended, 30*time.Second)
	start := wait(t, "the standby handles", took, 30*time.Second)
	t.Logf("after the partition: the holder's handler ctx ended at %v, the standby handled at %v (lease time %v)",
		end.Sub(cutAt).Round(time.Millisecond), start.Sub(cutAt).Round(time.Millisecond), lease)
	if !end.Before(start) {
		t.Errorf("the holder's handler ctx ended %v after the standby handled", end.Sub(start))
	}
	if err, ok := returned(standbyDone); ok {
		t.Errorf("the standby's Consume returned: %v", err)
	}
}

// A renewSignal is a backend whose leases tell of each successful Renew
// on renewed (dropped when it is full).
type renewSignal struct {
	*backend
	renewed chan struct{}
}

func (r *renewSignal) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	l, err := r.backend.AcquireLease(ctx, key, ttl)
	if l == nil {
		return nil, err
	}
	return &signalLease{Lease: l, renewed: r.renewed}, err
}

type signalLease struct {
	evstore.Lease
	renewed chan<- struct{}
}

func (l *signalLease) Renew(ctx context.Context) error {
	err := l.Lease.Renew(ctx)
	if err == nil {
		select {
		case l.renewed <- struct{}{}:
		default:
		}
	}
	return err
}

// TestHandlerCtxEndsBeforeTakeoverOnReset: when the active instance's
// session ends abruptly while its process runs on (here the proxy goes
// down, as when the server restarts, the connection is reset or a pooler
// drops it), the lock is free at once, but the standby that takes it
// waits until the holder's lease time since its last renewal has passed
// by the database's clock; so the ctx of the holder's Handle in progress
// ends, a quarter of the lease time at least, before the standby handles
// anything. The cut comes just after a renewal, so that the holder learns
// of it at its next one only, a quarter of the lease time later.
func TestHandlerCtxEndsBeforeTakeoverOnReset(t *testing.T) {
	schema := testSchema(t)
	p, dsn := newProxy(t)
	b, err := open(context.Background(), dsn, []Option{WithSchema(schema)})
	if err != nil {
		t.Fatal(err)
	}
	signal := &renewSignal{backend: b, renewed: make(chan struct{}, 1)}
	cut := evstore.NewStore(signal)
	t.Cleanup(func() { cut.Close() })
	direct := openStore(t, testDSN(t), schema)
	const lease = 2 * time.Second
	write(t, direct, "a", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	handling := make(chan struct{})
	ended := make(chan time.Time, 1)
	var once sync.Once
	holder := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		first := false
		once.Do(func() { first = true })
		if !first {
			return errors.New("want only one Handle")
		}
		close(handling)
		<-ctx.Done()
		ended <- time.Now()
		return ctx.Err()
	})
	took := make(chan time.Time, 1)
	standby := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		select {
		case took <- time.Now():
		default:
		}
		return nil
	})
	consume(ctx, cut, "c", holder, evstore.LeaseTime(lease))
	wait(t, "the holder handles", handling, 20*time.Second)
	standbyDone := consume(ctx, direct, "c", standby, evstore.LeaseTime(lease))
	time.Sleep(lease / 8) // the standby polls
	select {
	case <-signal.renewed: // an older one
	default:
	}
	wait(t, "the holder renews", signal.renewed, 10*time.Second)

	p.set(down)
	cutAt := time.Now()
	end := wait(t, "the holder's handler ctx ends", ended, 30*time.Second)
	start := wait(t, "the standby handles", took, 30*time.Second)
	t.Logf("after the holder's connections were reset: its handler ctx ended at %v, the standby handled at %v (lease time %v)",
		end.Sub(cutAt).Round(time.Millisecond), start.Sub(cutAt).Round(time.Millisecond), lease)
	if !end.Before(start) {
		t.Fatalf("the standby handled %v before the holder's handler ctx ended", end.Sub(start).Round(time.Millisecond))
	}
	// The holder's trust ends three quarters of the lease time after its
	// renewal began; the standby waits for the whole lease time.
	if gap := start.Sub(end); gap < lease/8 {
		t.Errorf("the standby handled %v after the holder's handler ctx ended, want a quarter of the lease time (%v) or about", gap.Round(time.Millisecond), lease/4)
	}
	if err, ok := returned(standbyDone); ok {
		t.Errorf("the standby's Consume returned: %v", err)
	}
}

// TestCleanStopHandsOverAtOnce: a consumer that stops (its ctx ends)
// clears its lease time as it releases its lease, so that a standby on
// another Store takes over at once, not a lease time after the stopped
// one's last renewal.
func TestCleanStopHandsOverAtOnce(t *testing.T) {
	schema := testSchema(t)
	a, b := openStore(t, testDSN(t), schema), openStore(t, testDSN(t), schema)
	const lease = 2 * time.Second
	write(t, a, "a", 1)

	// The holder handles event 1, and blocks on event 2 until it stops.
	holderCtx, stop := context.WithCancel(context.Background())
	defer stop()
	first, second := make(chan struct{}), make(chan struct{})
	holder := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		if events[0].Sequence == 1 {
			close(first)
			return nil
		}
		close(second)
		<-ctx.Done()
		return ctx.Err()
	})
	holderDone := consume(holderCtx, a, "c", holder, evstore.LeaseTime(lease), evstore.BatchSize(1))
	wait(t, "the holder handles event 1", first, 20*time.Second)
	eventually(t, "the checkpoint at 1", 20*time.Second, func() bool { return position(t, a, "c") == 1 })
	write(t, a, "a", 1)
	wait(t, "the holder handles event 2", second, 20*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	took := make(chan time.Time, 1)
	standby := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		select {
		case took <- time.Now():
		default:
		}
		return nil
	})
	standbyDone := consume(ctx, b, "c", standby, evstore.LeaseTime(lease))
	time.Sleep(lease / 4) // the standby polls, the holder renews
	if len(took) > 0 {
		t.Fatal("the standby handled while the holder was active")
	}

	stop()
	if err := wait(t, "the holder's Consume after its ctx ended", holderDone, 15*time.Second); err != nil {
		t.Errorf("the holder's Consume: got %v, want nil", err)
	}
	stopped := time.Now()
	start := wait(t, "the standby handles", took, 15*time.Second)
	t.Logf("the standby handled %v after the holder's Consume returned (lease time %v)", start.Sub(stopped).Round(time.Millisecond), lease)
	if d := start.Sub(stopped); d >= lease/2 {
		t.Errorf("the standby handled %v after the holder's Consume returned, want at once (well under the lease time, %v)", d.Round(time.Millisecond), lease)
	}
	if err, ok := returned(standbyDone); ok {
		t.Errorf("the standby's Consume returned: %v", err)
	}
}
