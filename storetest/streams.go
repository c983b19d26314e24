package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) streamsTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"List":       k.testStreams,
		"ByteOrder":  k.testStreamsByteOrder,
		"Break":      k.testStreamsBreak,
		"CloseWaits": k.testStreamsCloseWaits,
		"Cancelled":  k.testStreamsCancelled,
		"Closed":     k.testStreamsClosed,
		"CallsStore": k.testStreamsCallsStore,
	}
}

// testStreamsCallsStore: the loop body may call the Store, on every
// backend, however few connections it has, and a long listing (past any
// page size) lists every stream once, in byte order.
func (k *kit) testStreamsCallsStore(t *testing.T) {
	s := k.store(t)
	const n = 600
	var want []string
	for i := range n {
		id := fmt.Sprintf("s-%04d", i)
		want = append(want, id)
		write(t, stream(t, s, id), events("E", 1+i%3))
	}
	c, cancel := context.WithTimeout(ctx(t), 30*time.Second)
	defer cancel()
	var got []string
	for m, err := range s.Streams(c) {
		if err != nil {
			t.Fatalf("after %d streams: %v", len(got), err)
		}
		got = append(got, m.StreamID)
		st, err := s.Stream(c, m.StreamID) // a call into the Store
		if err != nil {
			t.Fatalf("Stream(%q) in the loop: %v", m.StreamID, err)
		}
		if st.Version() != m.Version || m.EventCount != m.Version {
			t.Errorf("%s: listed version %d, count %d; the stream is at %d", m.StreamID, m.Version, m.EventCount, st.Version())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %d streams, want the %d written, in order", len(got), n)
	}
}

// streamIDs collects the ids Store.Streams yields, failing on an error.
func streamIDs(t *testing.T, c context.Context, s *evstore.Store) []string {
	t.Helper()
	var ids []string
	for m, err := range s.Streams(c) {
		if err != nil {
			t.Fatalf("Streams after %d streams: %v", len(ids), err)
		}
		ids = append(ids, m.StreamID)
	}
	return ids
}

func (k *kit) testStreams(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "b"), events("E", 3))
	write(t, stream(t, s, "a"), events("E", 1))
	write(t, stream(t, s, "b"), events("E", 2))
	var got []evstore.Metrics
	for m, err := range s.Streams(ctx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("got %d streams, want 2: %+v", len(got), got)
	}
	for i, want := range []struct {
		id      string
		version int64
	}{{"a", 1}, {"b", 5}} {
		m := got[i]
		if m.StreamID != want.id || m.Version != want.version || m.EventCount != want.version {
			t.Errorf("stream %d: got %+v, want %s at version %d with %d events", i, m, want.id, want.version, want.version)
		}
		if metrics(t, stream(t, s, want.id)).LastTimestamp != m.LastTimestamp {
			t.Errorf("%s: LastTimestamp %v differs from Metrics'", want.id, m.LastTimestamp)
		}
	}
}

// testStreamsByteOrder: ids come in byte order (sort.Strings), whatever
// order a database's collation would give them.
func (k *kit) testStreamsByteOrder(t *testing.T) {
	s := k.store(t)
	ids := []string{"B", "a", "_x", "é", "Z9", "a-b", "aB", "ab", "A", "e", "f", "Ω", "~", "0", " x", "a b", "ä"}
	for _, id := range ids {
		write(t, stream(t, s, id), events("E", 1))
	}
	want := slices.Clone(ids)
	sort.Strings(want)
	if got := streamIDs(t, ctx(t), s); !slices.Equal(got, want) {
		t.Errorf("Streams order:\n got %q\nwant %q (byte order)", got, want)
	}
}

// testStreamsBreak: breaking out of the loop releases the listing's
// connection, so that many broken listings leave the store working and
// Close does not wait.
func (k *kit) testStreamsBreak(t *testing.T) {
	s := k.store(t)
	for i := range 5 {
		write(t, stream(t, s, fmt.Sprintf("s%d", i)), events("E", 1))
	}
	// A leaked connection would exhaust a pool, and block, long before 50.
	c, cancel := context.WithTimeout(ctx(t), 20*time.Second)
	defer cancel()
	for i := range 50 {
		n := 0
		for m, err := range s.Streams(c) {
			if err != nil {
				t.Fatalf("listing %d: Streams: %v", i, err)
			}
			if n++; m.StreamID != "s0" {
				t.Fatalf("listing %d: first stream %q, want s0", i, m.StreamID)
			}
			break
		}
		if n != 1 {
			t.Fatalf("listing %d: got %d streams before the break, want 1", i, n)
		}
	}
	if got, want := streamIDs(t, c, s), []string{"s0", "s1", "s2", "s3", "s4"}; !slices.Equal(got, want) {
		t.Errorf("Streams after broken listings: got %q, want %q", got, want)
	}
	write(t, stream(t, s, "s0"), events("E", 1))
	closeWithin(t, s, 20*time.Second)
}

// closeWithin closes s, failing the test if Close takes longer than d.
func closeWithin(t *testing.T, s *evstore.Store, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("Close did not return within %v", d)
	}
}

// testStreamsCloseWaits: a listing is a call in flight, from its first row
// to the end of the loop: Close waits for it.
func (k *kit) testStreamsCloseWaits(t *testing.T) {
	s := k.store(t)
	for _, id := range []string{"a", "b", "c"} {
		write(t, stream(t, s, id), events("E", 1))
	}
	closed := make(chan error, 1)
	var got []string
	for m, err := range s.Streams(ctx(t)) {
		if err != nil {
			t.Fatalf("Streams: %v", err)
		}
		got = append(got, m.StreamID)
		if len(got) == 1 {
			go func() { closed <- s.Close() }()
			select {
			case err := <-closed:
				t.Fatalf("Close returned (%v) while a Streams loop ran", err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Streams while Close waited: got %q, want %q", got, want)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return within 20s of the loop's end")
	}
}

// testStreamsCancelled: a listing with a cancelled context yields, if
// anything, an error wrapping context.Canceled, once and last; the store
// keeps working.
func (k *kit) testStreamsCancelled(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), events("E", 1))
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	var errs []error
	for _, err := range s.Streams(c) {
		if len(errs) > 0 {
			t.Fatalf("Streams went on after error %v", errs[0])
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 && !errors.Is(errs[0], context.Canceled) {
		t.Errorf("Streams with a cancelled context: got error %v, want context.Canceled", errs[0])
	}
	if got, want := streamIDs(t, ctx(t), s), []string{"a"}; !slices.Equal(got, want) {
		t.Errorf("Streams after a cancelled one: got %q, want %q", got, want)
	}
}

// testStreamsClosed: a listing on a closed store yields ErrClosed once.
func (k *kit) testStreamsClosed(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), events("E", 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var errs []error
	n := 0
	for _, err := range s.Streams(ctx(t)) {
		n++
		errs = append(errs, err)
	}
	if n != 1 || !errors.Is(errs[0], evstore.ErrClosed) {
		t.Errorf("Streams after Close: got %d pairs with errors %v, want one with ErrClosed", n, errs)
	}
}
