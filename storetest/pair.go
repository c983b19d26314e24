package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"go.uber.org/goleak"
)

// A PairFunc opens two Stores on one new database, as two processes
// would: b learns of a's commits only through its Backend (Changes), and
// should within tens of milliseconds (a short poll interval). The kit
// closes both.
type PairFunc func(tb testing.TB) (a, b *evstore.Store)

// RunPair runs the tests of two Stores on one database against the pairs
// open returns: what one Store removes, the other stops delivering once
// it has learned of the commit.
func RunPair(t *testing.T, open PairFunc) {
	k := &pairKit{open: open}
	tests := map[string]func(*testing.T){
		"DeleteReachesOtherStore": k.testDeleteOtherStore,
		"DeleteReachesOtherRing":  k.testDeleteOtherStoreRing,
	}
	names := make([]string, 0, len(tests))
	for name := range tests {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, tests[name])
	}
}

type pairKit struct{ open PairFunc }

// stores opens a pair that is closed, and checked for leaked goroutines,
// when the test ends.
func (k *pairKit) stores(t *testing.T) (a, b *evstore.Store) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	a, b = k.open(t)
	t.Cleanup(func() {
		for _, s := range []*evstore.Store{b, a} {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("goroutines left after Close: %v", err)
		}
	})
	return a, b
}

// await returns the next event from ch that match accepts, failing the
// test after 30 seconds; others, it passes to skipped (if not nil).
func await(t *testing.T, what string, ch <-chan evstore.StoredEvent, match func(evstore.StoredEvent) bool, skipped func(evstore.StoredEvent)) evstore.StoredEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-ch:
			if match(e) {
				return e
			}
			if skipped != nil {
				skipped(e)
			}
		case <-timeout:
			t.Fatalf("%s: not delivered in 30s", what)
		}
	}
}

// Store a deletes a stream whose events Store b had read into its ring
// of recent batches. Once b has learned of the Delete (its live watcher
// got the tombstone), no Read or Watch that b starts yields a removed
// event, and its live watcher gets nothing of the stream after the
// tombstone.
func (k *pairKit) testDeleteOtherStore(t *testing.T) {
	k.deleteOtherStore(t, false)
}

// As DeleteReachesOtherStore, with a watcher of b that had not taken the
// batch holding the removed events yet when b learned of the Delete: b's
// ring must not give them to it after that (the notifier takes a stream's
// removed events out of its ring when it reads the stream's tombstone).
func (k *pairKit) testDeleteOtherStoreRing(t *testing.T) {
	k.deleteOtherStore(t, true)
}

func (k *pairKit) deleteOtherStore(t *testing.T, withSlow bool) {
	a, b := k.stores(t)
	c, cancel := context.WithCancel(ctx(t))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	bAll := stream(t, b, evstore.All)
	// live follows b as it goes; slow stops in its loop body on its first
	// event until release, with b's later batches waiting in the ring.
	live, slow := make(chan evstore.StoredEvent, 64), make(chan evstore.StoredEvent, 64)
	release := make(chan struct{})
	watch := func(ch chan<- evstore.StoredEvent, wait <-chan struct{}) {
		defer wg.Done()
		for e, err := range bAll.Watch(c, evstore.After(0)) {
			if err != nil {
				return
			}
			select {
			case ch <- e:
			case <-c.Done():
				return
			}
			if wait != nil {
				select {
				case <-wait:
				case <-c.Done():
					return
				}
				wait = nil
			}
		}
	}
	wg.Add(1)
	go watch(live, nil)
	if withSlow {
		wg.Add(1)
		go watch(slow, release)
	}
	in := func(id string) func(evstore.StoredEvent) bool {
		return func(e evstore.StoredEvent) bool { return e.StreamID == id }
	}
	write(t, stream(t, a, "gate"), events("G", 1))
	await(t, "the live watcher's first event", live, in("gate"), nil)
	if withSlow {
		await(t, "the slow watcher's first event", slow, in("gate"), nil)
	}

	person := stream(t, a, "person")
	write(t, person, keyedWithMetadata(3))
	for v := int64(1); v <= 3; v++ {
		// b has read it into its ring.
		e := await(t, "person's events to b's live watcher", live, in("person"), nil)
		if e.Version != v {
			t.Fatalf("b's live watcher got person's version %d, want %d", e.Version, v)
		}
	}
	removed := func(e evstore.StoredEvent) bool { return e.StreamID == "person" && e.Type != evstore.Deleted }
	deleted := time.Now()
	if v, err := person.Delete(ctx(t)); err != nil || v != 4 {
		t.Fatalf("Delete through a: got %d, %v; want 4, nil", v, err)
	}
	tomb := await(t, "the tombstone to b's live watcher", live, in("person"), func(e evstore.StoredEvent) {
		t.Errorf("b's live watcher got %+v before the tombstone", e)
	})
	checkTombstone(t, tomb, 4)
	t.Logf("b delivered the tombstone %v after a's Delete returned", time.Since(deleted))
	time.Sleep(100 * time.Millisecond) // a margin: b has learned of the Delete

	if withSlow {
		// The slow watcher goes on: b's ring must not give it what it held
		// of person before the Delete.
		close(release)
		await(t, "the tombstone to b's slow watcher", slow, func(e evstore.StoredEvent) bool { return e.Sequence >= tomb.Sequence }, func(e evstore.StoredEvent) {
			if removed(e) {
				t.Errorf("b's slow watcher, going on after b had learned of the Delete, got a removed event from b's ring: %+v", e)
			}
		})
	} else {
		// Reads and Watches b starts now.
		if got := readAll(t, stream(t, b, "person")); len(got) != 1 || got[0].Type != evstore.Deleted {
			t.Errorf("a Read of person through b: %+v, want the tombstone alone", got)
		}
		for _, e := range readAll(t, bAll) {
			if removed(e) {
				t.Errorf("a Read of %s through b yielded a removed event: %+v", evstore.All, e)
			}
		}
		for _, id := range []string{"person", evstore.All} {
			w, stop := context.WithTimeout(c, 30*time.Second)
			for e, err := range stream(t, b, id).Watch(w, evstore.After(0)) {
				if err != nil {
					t.Errorf("a Watch of %s through b: %v", id, err)
					break
				}
				if removed(e) {
					t.Errorf("a Watch of %s started through b after it learned of the Delete yielded a removed event: %+v", id, e)
				}
				if e.Sequence >= tomb.Sequence {
					break
				}
			}
			stop()
		}
	}

	// Nothing of person comes after the tombstone.
	write(t, stream(t, a, "after"), events("A", 1))
	watchers := map[string]<-chan evstore.StoredEvent{"live": live}
	if withSlow {
		watchers["slow"] = slow
	}
	for name, ch := range watchers {
		await(t, "a later event to b's "+name+" watcher", ch, in("after"), func(e evstore.StoredEvent) {
			t.Errorf("b's %s watcher got %+v after the tombstone", name, e)
		})
	}
}
