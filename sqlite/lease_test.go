package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// twoBackends opens two backends on one file, as two Stores (or two
// processes) would.
func twoBackends(t *testing.T) (a, b *backend) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "consumers.db")
	for _, p := range []**backend{&a, &b} {
		be, err := open(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { be.Close() })
		*p = be
	}
	return a, b
}

func listConsumers(t *testing.T, cb evstore.ConsumerBackend) []evstore.ConsumerInfo {
	t.Helper()
	var out []evstore.ConsumerInfo
	for c, err := range cb.ListConsumers(context.Background()) {
		if err != nil {
			t.Fatalf("ListConsumers: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// mustAcquire takes the lease of key, failing the test if it is held.
func mustAcquire(t *testing.T, cb evstore.ConsumerBackend, key evstore.ConsumerKey, ttl time.Duration) evstore.Lease {
	t.Helper()
	l, err := cb.AcquireLease(context.Background(), key, ttl)
	if err != nil || l == nil {
		t.Fatalf("AcquireLease(%+v): got %v, %v; want the lease", key, l, err)
	}
	return l
}

// mustBeHeld checks that key cannot be acquired.
func mustBeHeld(t *testing.T, cb evstore.ConsumerBackend, key evstore.ConsumerKey) {
	t.Helper()
	l, err := cb.AcquireLease(context.Background(), key, time.Minute)
	if err != nil || l != nil {
		t.Fatalf("AcquireLease(%+v) while held: got %v, %v; want nil, nil", key, l, err)
	}
}

func checkpoint(t *testing.T, l evstore.Lease, pos int64, found bool) {
	t.Helper()
	if p, f := l.Checkpoint(); p != pos || f != found {
		t.Errorf("Checkpoint: got %d, %v; want %d, %v", p, f, pos, found)
	}
}

// TestLeaseContention: two Stores on one file contend for a consumer: one
// gets it; the other gets it after Release, or after the lease expires,
// and then the first one's Save and Renew fail with ErrLeaseLost.
func TestLeaseContention(t *testing.T) {
	ctx := context.Background()
	a, b := twoBackends(t)
	key := evstore.ConsumerKey{Name: "projector"}

	la := mustAcquire(t, a, key, time.Minute)
	checkpoint(t, la, 0, false)
	mustBeHeld(t, b, key)
	mustBeHeld(t, a, key) // a second instance in the same Store waits too
	if err := la.Save(ctx, 5, false); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}

	lb := mustAcquire(t, b, key, 50*time.Millisecond)
	checkpoint(t, lb, 5, true)
	if err := la.Save(ctx, 6, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Save after Release and takeover: got %v, want ErrLeaseLost", err)
	}
	if err := lb.Renew(ctx); err != nil {
		t.Errorf("Renew: %v", err)
	}
	mustBeHeld(t, a, key)

	// b stops renewing (a GC pause, SIGSTOP): its lease expires and a
	// takes over; b's late writes are fenced off.
	time.Sleep(100 * time.Millisecond)
	la = mustAcquire(t, a, key, time.Minute)
	checkpoint(t, la, 5, true)
	if err := lb.Save(ctx, 9, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Save by the expired holder: got %v, want ErrLeaseLost", err)
	}
	if err := lb.Renew(ctx); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Renew by the expired holder: got %v, want ErrLeaseLost", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Errorf("Release of a lost lease: got %v, want nil", err)
	}
	mustBeHeld(t, b, key) // b's Release did not free a's lease
	if err := la.Save(ctx, 7, false); err != nil {
		t.Errorf("Save by the new holder: %v", err)
	}
	if got := listConsumers(t, b); len(got) != 1 || got[0].Position != 7 {
		t.Errorf("ListConsumers: got %+v, want projector at 7", got)
	}
	if g := la.(*lease).generation; g != 3 {
		t.Errorf("generation after three acquisitions: got %d, want 3", g)
	}
}

// TestLeaseExpiredNotTaken: a holder whose lease expired, but that no one
// took over, saves and renews as usual.
func TestLeaseExpiredNotTaken(t *testing.T) {
	ctx := context.Background()
	a, _ := twoBackends(t)
	l := mustAcquire(t, a, evstore.ConsumerKey{Name: "c"}, 20*time.Millisecond)
	time.Sleep(40 * time.Millisecond)
	if err := l.Save(ctx, 3, false); err != nil {
		t.Errorf("Save after expiry: %v", err)
	}
	mustBeHeld(t, a, evstore.ConsumerKey{Name: "c"})
}

// TestLeasePartitions: the partitions of a consumer are leased apart, and
// an instance that splits the name differently waits for all of them.
func TestLeasePartitions(t *testing.T) {
	ctx := context.Background()
	a, b := twoBackends(t)
	p0 := mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2}, time.Minute)
	p1 := mustAcquire(t, b, evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2}, time.Minute)
	mustBeHeld(t, b, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2})
	for _, k := range []evstore.ConsumerKey{{Name: "c"}, {Name: "c", Members: 1}, {Name: "c", Partition: 2, Members: 3}} {
		mustBeHeld(t, b, k)
	}
	mustAcquire(t, b, evstore.ConsumerKey{Name: "other"}, time.Minute) // names are apart
	if err := p0.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustBeHeld(t, a, evstore.ConsumerKey{Name: "c", Members: 3}) // p1 still holds the name
	if err := p1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 2, Members: 3}, time.Minute)
	mustBeHeld(t, b, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2})
}

// TestLeaseFencedAcrossMembers: a paused holder whose lease expired while
// an instance took the name under another Members cannot save, although
// no one acquired its own key.
func TestLeaseFencedAcrossMembers(t *testing.T) {
	ctx := context.Background()
	a, b := twoBackends(t)
	old := mustAcquire(t, a, evstore.ConsumerKey{Name: "c"}, 20*time.Millisecond)
	time.Sleep(40 * time.Millisecond)
	mustAcquire(t, b, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2}, time.Minute)
	if err := old.Save(ctx, 1, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Save while the name is held under other Members: got %v, want ErrLeaseLost", err)
	}
	if err := old.Renew(ctx); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Renew while the name is held under other Members: got %v, want ErrLeaseLost", err)
	}
}

// TestLeaseRepartitionStart: a key without a checkpoint of its own starts
// from the lowest checkpoint of the name under other Members.
func TestLeaseRepartitionStart(t *testing.T) {
	ctx := context.Background()
	a, _ := twoBackends(t)
	save := func(key evstore.ConsumerKey, pos int64) {
		t.Helper()
		l := mustAcquire(t, a, key, time.Minute)
		if pos >= 0 {
			if err := l.Save(ctx, pos, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	save(evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2}, 20)
	save(evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2}, 10)
	save(evstore.ConsumerKey{Name: "only-leased", Partition: 0, Members: 2}, -1) // no checkpoint
	save(evstore.ConsumerKey{Name: "only-leased", Partition: 1, Members: 2}, 4)

	cases := []struct {
		key   evstore.ConsumerKey
		pos   int64
		found bool
	}{
		{evstore.ConsumerKey{Name: "c", Partition: 2, Members: 3}, 10, true},
		{evstore.ConsumerKey{Name: "c"}, 10, true},
		{evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2}, 10, true}, // its own
		{evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2}, 20, true}, // its own, not the lowest
		{evstore.ConsumerKey{Name: "new"}, 0, false},
		{evstore.ConsumerKey{Name: "only-leased"}, 0, false}, // a split with a partition that never saved gives nothing
	}
	for _, c := range cases {
		l := mustAcquire(t, a, c.key, time.Minute)
		if p, f := l.Checkpoint(); p != c.pos || f != c.found {
			t.Errorf("%+v: got Checkpoint %d, %v; want %d, %v", c.key, p, f, c.pos, c.found)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Once the new partitions have checkpoints, they start from their own.
	save(evstore.ConsumerKey{Name: "c", Partition: 2, Members: 3}, 30)
	l := mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 2, Members: 3}, time.Minute)
	checkpoint(t, l, 30, true)
}

// TestConsumerList: rows in byte order of name, then Members, then
// Partition; Updated moves only with the position; External as saved.
func TestConsumerList(t *testing.T) {
	ctx := context.Background()
	a, _ := twoBackends(t)
	for _, k := range []evstore.ConsumerKey{
		{Name: "é"}, {Name: "a", Partition: 1, Members: 2}, {Name: "z"}, {Name: "a", Partition: 0, Members: 2}, {Name: "A"}, {Name: "a"}, {Name: "a", Partition: 0, Members: 10},
	} {
		l := mustAcquire(t, a, k, time.Minute)
		if k.Name == "z" {
			if err := l.Save(ctx, 8, true); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		name               string
		partition, members int
		pos                int64
		external, updated  bool
	}
	var got []row
	for _, c := range listConsumers(t, a) {
		got = append(got, row{c.Name, c.Partition, c.Members, c.Position, c.External, !c.Updated.IsZero()})
	}
	want := []row{{"A", 0, 0, 0, false, false}, {"a", 0, 0, 0, false, false}, {"a", 0, 2, 0, false, false}, {"a", 1, 2, 0, false, false},
		{"a", 0, 10, 0, false, false}, {"z", 0, 0, 8, true, true}, {"é", 0, 0, 0, false, false}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListConsumers:\n got %+v\nwant %+v", got, want)
	}

	l := mustAcquire(t, a, evstore.ConsumerKey{Name: "u"}, time.Minute)
	updated := func() time.Time {
		for _, c := range listConsumers(t, a) {
			if c.Name == "u" {
				return c.Updated
			}
		}
		t.Fatal("u is not listed")
		return time.Time{}
	}
	before := time.Now().UTC().Truncate(time.Microsecond)
	if err := l.Save(ctx, 0, false); err != nil {
		t.Fatal(err)
	}
	first := updated()
	if first.Before(before) || first.Location() != time.UTC {
		t.Errorf("first checkpoint at 0: got Updated %v, want a UTC time from %v on", first, before)
	}
	time.Sleep(2 * time.Millisecond)
	if err := l.Save(ctx, 0, false); err != nil {
		t.Fatal(err)
	}
	if got := updated(); !got.Equal(first) {
		t.Errorf("Save of the same position: Updated moved from %v to %v", first, got)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Save(ctx, 4, false); err != nil {
		t.Fatal(err)
	}
	if got := updated(); !got.After(first) {
		t.Errorf("Save of a new position: got Updated %v, want after %v", got, first)
	}
}

// TestResetConsumer: refused while any partition is leased, changing
// nothing; otherwise it sets every partition, or creates the checkpoint.
func TestResetConsumer(t *testing.T) {
	ctx := context.Background()
	a, b := twoBackends(t)
	p0 := mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2}, time.Minute)
	p1 := mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2}, time.Minute)
	for i, l := range []evstore.Lease{p0, p1} {
		if err := l.Save(ctx, int64(10+i), i == 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := p0.Release(ctx); err != nil {
		t.Fatal(err)
	}
	err := b.ResetConsumer(ctx, "c", 3)
	if !errors.Is(err, evstore.ErrConflict) || !strings.Contains(err.Error(), "active") {
		t.Errorf("ResetConsumer while a partition is leased: got %v, want an error wrapping ErrConflict saying the consumer is active", err)
	}
	if got := listConsumers(t, b); len(got) != 2 || got[0].Position != 10 || got[1].Position != 11 {
		t.Errorf("after the refused reset: got %+v, want positions 10 and 11", got)
	}
	if err := p1.Save(ctx, 12, true); err != nil {
		t.Errorf("Save after the refused reset: %v", err)
	}
	if err := p1.Release(ctx); err != nil {
		t.Fatal(err)
	}

	if err := b.ResetConsumer(ctx, "c", 3); err != nil {
		t.Fatalf("ResetConsumer: %v", err)
	}
	for _, c := range listConsumers(t, b) {
		if c.Position != 3 || c.Updated.IsZero() {
			t.Errorf("after reset: got %+v, want position 3", c)
		}
	}
	l := mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2}, time.Minute)
	checkpoint(t, l, 3, true)

	// A name that never ran gets the checkpoint of the consumer without
	// partitions, which partitions then start from.
	if err := b.ResetConsumer(ctx, "fresh", 42); err != nil {
		t.Fatalf("ResetConsumer of a new name: %v", err)
	}
	got := listConsumers(t, b)
	if last := got[len(got)-1]; last.Name != "fresh" || last.Members != 0 || last.Partition != 0 || last.Position != 42 {
		t.Errorf("new name after reset: got %+v, want fresh at 42", last)
	}
	checkpoint(t, mustAcquire(t, a, evstore.ConsumerKey{Name: "fresh", Partition: 1, Members: 4}, time.Minute), 42, true)

	// An expired lease does not stop a reset, and its holder, paused
	// meanwhile, cannot save over the reset.
	short := mustAcquire(t, a, evstore.ConsumerKey{Name: "short"}, 20*time.Millisecond)
	time.Sleep(40 * time.Millisecond)
	if err := b.ResetConsumer(ctx, "short", 1); err != nil {
		t.Errorf("ResetConsumer after the lease expired: %v", err)
	}
	if err := short.Save(ctx, 9, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Save by the expired holder after a reset: got %v, want ErrLeaseLost", err)
	}
	checkpoint(t, mustAcquire(t, a, evstore.ConsumerKey{Name: "short"}, time.Minute), 1, true)
}

// TestLeaseBadInput: bad keys, lease times and positions are refused.
func TestLeaseBadInput(t *testing.T) {
	ctx := context.Background()
	a, _ := twoBackends(t)
	for _, c := range []struct {
		key evstore.ConsumerKey
		ttl time.Duration
	}{
		{evstore.ConsumerKey{}, time.Second},
		{evstore.ConsumerKey{Name: "c", Partition: 2, Members: 2}, time.Second},
		{evstore.ConsumerKey{Name: "c", Partition: -1, Members: 2}, time.Second},
		{evstore.ConsumerKey{Name: "c", Partition: 1}, time.Second},
		{evstore.ConsumerKey{Name: "c"}, 0},
	} {
		if l, err := a.AcquireLease(ctx, c.key, c.ttl); l != nil || !errors.Is(err, evstore.ErrInvalidArgument) {
			t.Errorf("AcquireLease(%+v, %v): got %v, %v; want ErrInvalidArgument", c.key, c.ttl, l, err)
		}
	}
	if err := a.ResetConsumer(ctx, "c", -1); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("ResetConsumer to -1: got %v, want ErrInvalidArgument", err)
	}
	l := mustAcquire(t, a, evstore.ConsumerKey{Name: "c"}, time.Minute)
	if err := l.Save(ctx, -1, false); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("Save of -1: got %v, want ErrInvalidArgument", err)
	}
	if got := listConsumers(t, a); len(got) != 1 || got[0].Name != "c" {
		t.Errorf("after bad input: got %+v, want only c", got)
	}
}

// TestLeaseContext: a cancelled ctx stops every call.
func TestLeaseContext(t *testing.T) {
	a, _ := twoBackends(t)
	l := mustAcquire(t, a, evstore.ConsumerKey{Name: "c"}, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.AcquireLease(ctx, evstore.ConsumerKey{Name: "d"}, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("AcquireLease: got %v, want context.Canceled", err)
	}
	if err := a.ResetConsumer(ctx, "d", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("ResetConsumer: got %v, want context.Canceled", err)
	}
	if err := l.Save(ctx, 1, false); !errors.Is(err, context.Canceled) {
		t.Errorf("Save: got %v, want context.Canceled", err)
	}
	if err := l.Renew(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Renew: got %v, want context.Canceled", err)
	}
	for _, err := range a.ListConsumers(ctx) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ListConsumers: got %v, want context.Canceled", err)
		}
	}
	if got := listConsumers(t, a); len(got) != 1 || got[0].Position != 0 {
		t.Errorf("after cancelled calls: got %+v, want c at 0 alone", got)
	}
}

// TestLeaseMutualExclusion: Stores on one file that keep trying to take
// one consumer never hold it two at a time.
func TestLeaseMutualExclusion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mutex.db")
	const stores, rounds = 4, 25
	var holders, taken atomic.Int64
	var wg sync.WaitGroup
	for range stores {
		be, err := open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { be.Close() })
		wg.Go(func() {
			for range rounds {
				l, err := be.AcquireLease(ctx, evstore.ConsumerKey{Name: "c"}, time.Minute)
				if err != nil {
					t.Errorf("AcquireLease: %v", err)
					return
				}
				if l == nil {
					time.Sleep(time.Millisecond)
					continue
				}
				if n := holders.Add(1); n != 1 {
					t.Errorf("%d holders at once, want 1", n)
				}
				taken.Add(1)
				pos, _ := l.Checkpoint()
				if err := l.Save(ctx, pos+1, false); err != nil {
					t.Errorf("Save: %v", err)
				}
				holders.Add(-1)
				if err := l.Release(ctx); err != nil {
					t.Errorf("Release: %v", err)
				}
			}
		})
	}
	wg.Wait()
	// Each holder moved the checkpoint by one from where it found it.
	be, err := open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if got := listConsumers(t, be); len(got) != 1 || got[0].Position != taken.Load() {
		t.Errorf("checkpoint after %d holds: got %+v, want position %d", taken.Load(), got, taken.Load())
	}
	t.Logf("%d stores, %d rounds each: the lease was taken %d times", stores, rounds, taken.Load())
}

// TestLeaseInMemory: a private in-memory database, whose one connection
// serves reads and writes, keeps consumers too.
func TestLeaseInMemory(t *testing.T) {
	ctx := context.Background()
	be, err := open(ctx, ":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	l := mustAcquire(t, be, evstore.ConsumerKey{Name: "c"}, time.Minute)
	if err := l.Save(ctx, 2, false); err != nil {
		t.Fatal(err)
	}
	mustBeHeld(t, be, evstore.ConsumerKey{Name: "c"})
	if got := listConsumers(t, be); len(got) != 1 || got[0].Position != 2 {
		t.Errorf("ListConsumers: got %+v, want c at 2", got)
	}
	if _, err := be.Append(ctx, evstore.AppendRequest{StreamID: "s", Events: enc("")}); err != nil {
		t.Errorf("Append while a lease is held: %v", err)
	}
}
