package evstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
)

// These tests reach the watcher's hard paths with tiny limits (SetLimits):
// a ring that evicts batches a stalled watcher still needs, the catch-up
// from the database that fills the gap, and catch-up in many pages.

func openMemory(t *testing.T) *evstore.Store {
	t.Helper()
	s, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustStream(t *testing.T, s *evstore.Store, id string) *evstore.Stream {
	t.Helper()
	st, err := s.Stream(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func writeOne(t *testing.T, st *evstore.Stream, typ string, data []byte) {
	t.Helper()
	if _, err := st.Write(testCtx(t), []evstore.CandidateEvent{{Type: typ, Data: data}}); err != nil {
		t.Fatal(err)
	}
}

// waitRing waits until the ring's newest batch ends at Sequence to.
func waitRing(t *testing.T, s *evstore.Store, to int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, _, _, got := evstore.Ring(s)
		if got >= to {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ring reached Sequence %d in 30s, want %d", got, to)
		}
		time.Sleep(time.Millisecond)
	}
}

// stalledWatch starts a Watch of st that takes its first event, then
// stops taking any until resume is closed; it sends what it yields, and
// then its end, on the returned channels.
func stalledWatch(t *testing.T, ctx context.Context, st *evstore.Stream, resume <-chan struct{}, opts ...evstore.ReadOption) (<-chan evstore.StoredEvent, <-chan error) {
	events, done := make(chan evstore.StoredEvent, 1000), make(chan error, 1)
	go func() {
		first := true
		for e, err := range st.Watch(ctx, opts...) {
			if err != nil {
				done <- err
				return
			}
			events <- e
			if first {
				first = false
				<-resume
			}
		}
		done <- nil
	}()
	return events, done
}

func receive(t *testing.T, events <-chan evstore.StoredEvent, n int) []evstore.StoredEvent {
	t.Helper()
	var out []evstore.StoredEvent
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case e := <-events:
			out = append(out, e)
		case <-timeout:
			t.Fatalf("got %d of %d events in 30s", len(out), n)
		}
	}
	return out
}

func seqs(es []evstore.StoredEvent) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Sequence
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestWatchStalledPastTheRing: a watcher that stalls while the ring moves
// on gets, when it resumes, every event once and in order: the batches it
// missed from the database (in pages), then the ring's.
func TestWatchStalledPastTheRing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		filter evstore.Filter
		want   func(seq int64) bool
	}{
		{"all", evstore.All, nil, func(int64) bool { return true }},
		{"stream", "a", nil, func(seq int64) bool { return seq%2 == 1 }},
		{"filtered", evstore.All, evstore.Filter{evstore.Equals("event_type", "Even")}, func(seq int64) bool { return seq%2 == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openMemory(t)
			evstore.SetLimits(s, 3, 2, 4, 1<<20)
			a, b := mustStream(t, s, "a"), mustStream(t, s, "b")
			ctx := testCtx(t)
			resume := make(chan struct{})
			events, done := stalledWatch(t, ctx, mustStream(t, s, tc.stream), resume, evstore.After(0), evstore.WithFilter(tc.filter))
			const n = 40
			write := func(seq int64) {
				if seq%2 == 1 {
					writeOne(t, a, "Odd", nil)
				} else {
					writeOne(t, b, "Even", nil)
				}
			}
			// The first matching event reaches the watcher, which stalls.
			var seq int64
			for seq = 1; !tc.want(seq); seq++ {
				write(seq)
			}
			write(seq)
			first := receive(t, events, 1)
			if first[0].Sequence != seq {
				t.Fatalf("first event: got Sequence %d, want %d", first[0].Sequence, seq)
			}
			for seq++; seq <= n; seq++ {
				write(seq)
				waitRing(t, s, seq)
			}
			evs, _, batches, from, _ := evstore.Ring(s)
			if evs > 4 || from <= first[0].Sequence {
				t.Fatalf("ring holds %d events in %d batches from Sequence %d: want at most 4, past the stalled watcher at %d", evs, batches, from, first[0].Sequence)
			}
			close(resume)
			var want []int64
			for q := first[0].Sequence + 1; q <= n; q++ {
				if tc.want(q) {
					want = append(want, q)
				}
			}
			got := receive(t, events, len(want))
			if !slices.Equal(seqs(got), want) {
				t.Errorf("after resuming: got %v, want %v", seqs(got), want)
			}
			// And it follows live events from here.
			write(n + 1)
			write(n + 2)
			next := receive(t, events, 1)
			if !tc.want(next[0].Sequence) || next[0].Sequence <= n {
				t.Errorf("live after catching up: got Sequence %d", next[0].Sequence)
			}
			select {
			case e := <-events:
				if !tc.want(e.Sequence) {
					t.Errorf("unexpected event %d", e.Sequence)
				}
			case err := <-done:
				t.Fatalf("watch ended: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

// TestRingBoundedByBytes: large events are held by the ring up to its
// byte bound, not its event count, and not at all once no watcher is left.
func TestRingBoundedByBytes(t *testing.T) {
	s := openMemory(t)
	const limit = 300 << 10
	evstore.SetLimits(s, 4096, 1, 1<<16, limit)
	st := mustStream(t, s, "big")
	ctx, cancel := context.WithCancel(testCtx(t))
	events, done := make(chan evstore.StoredEvent, 100), make(chan error, 1)
	go func() {
		for e, err := range st.Watch(ctx) {
			if err != nil {
				done <- err
				return
			}
			events <- e
		}
		done <- nil
	}()
	payload := make([]byte, 100<<10)
	// The watcher has joined once it sees its first event.
	writeOne(t, mustStream(t, s, "big"), "Big", payload)
	receive(t, events, 1)
	for i := 2; i <= 20; i++ {
		writeOne(t, mustStream(t, s, "big"), "Big", payload)
		waitRing(t, s, int64(i))
	}
	receive(t, events, 19)
	evs, bytes, batches, _, _ := evstore.Ring(s)
	if bytes > limit || evs > 3 {
		t.Errorf("ring holds %d events, %d bytes in %d batches; want at most %d bytes (3 events)", evs, bytes, batches, limit)
	}
	if bytes < 100<<10 {
		t.Errorf("ring counts %d bytes for %d events of 100 KiB", bytes, evs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The last watcher has left: the ring lets go of every event.
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, bytes, batches, _, _ := evstore.Ring(s)
		if evs == 0 && bytes == 0 && batches == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ring still holds %d events, %d bytes after the last watcher left", evs, bytes)
		}
		time.Sleep(time.Millisecond)
	}
	// A new watcher replays from the database and goes on live.
	w, stop := context.WithCancel(testCtx(t))
	defer stop()
	var got []int64
	for e, err := range mustStream(t, s, "big").Watch(w, evstore.After(18)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Version)
		if e.Version == 20 {
			writeOne(t, mustStream(t, s, "big"), "Big", nil)
		}
		if e.Version == 21 {
			break
		}
	}
	if !slices.Equal(got, []int64{19, 20, 21}) {
		t.Errorf("a watcher joining later: got versions %v, want [19 20 21]", got)
	}
}

// TestReadPagesVersion: Read in pages of 3 moves Version one event at a
// time, so a loop that breaks mid-page leaves it at that event.
func TestReadPagesVersion(t *testing.T) {
	s := openMemory(t)
	evstore.SetLimits(s, 3, 2, 4, 1<<20)
	for range 10 {
		writeOne(t, mustStream(t, s, "s"), "E", nil)
	}
	for stop := int64(1); stop <= 10; stop++ {
		reader := mustStream(t, s, "s")
		var got []int64
		for e, err := range reader.Read(testCtx(t), evstore.After(0)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.Version)
			if e.Version == stop {
				break
			}
		}
		if !slices.Equal(got, seqRange(1, stop)) {
			t.Errorf("break at %d: read %v", stop, got)
		}
	}
	// Opened before the writes, the handle starts at 0.
	s2 := openMemory(t)
	evstore.SetLimits(s2, 3, 2, 4, 1<<20)
	early := mustStream(t, s2, "s")
	for range 10 {
		writeOne(t, mustStream(t, s2, "s"), "E", nil)
	}
	for want := int64(1); want <= 7; want++ {
		for e, err := range early.Read(testCtx(t), evstore.After(want-1)) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Version != want {
				t.Fatalf("got version %d, want %d", e.Version, want)
			}
			break
		}
		if v := early.Version(); v != want {
			t.Errorf("after breaking at version %d: Version() = %d", want, v)
		}
	}
}

// TestWatchBreaksInGapCatchUp: a loop that breaks while the watcher fills
// a gap the ring left ends the Watch there, and Version is that event's.
func TestWatchBreaksInGapCatchUp(t *testing.T) {
	s := openMemory(t)
	evstore.SetLimits(s, 3, 2, 4, 1<<20)
	st := mustStream(t, s, "s")
	w := mustStream(t, s, "s")
	ctx := testCtx(t)
	resume, got := make(chan struct{}), make(chan int64, 10)
	done := make(chan error, 1)
	go func() {
		for e, err := range w.Watch(ctx) {
			if err != nil {
				done <- err
				return
			}
			got <- e.Version
			if e.Version == 1 {
				<-resume
			}
			if e.Version == 2 {
				break
			}
		}
		done <- nil
	}()
	writeOne(t, st, "E", nil)
	if v := <-got; v != 1 {
		t.Fatalf("first: got version %d", v)
	}
	for i := int64(2); i <= 20; i++ {
		writeOne(t, st, "E", nil)
		waitRing(t, s, i)
	}
	if _, _, _, from, _ := evstore.Ring(s); from <= 2 {
		t.Fatalf("the ring still starts after Sequence %d; the test needs a gap", from)
	}
	close(resume)
	if v := <-got; v != 2 {
		t.Errorf("after resuming: got version %d, want 2", v)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := w.Version(); v != 2 {
		t.Errorf("Version after the break: got %d, want 2", v)
	}
}

// TestRingBoundedByBytesInOneWrite: a single large Write, read by the
// notifier in one go, is cut into batches so that the ring keeps within
// its byte bound, and the watcher still gets every event in order.
func TestRingBoundedByBytesInOneWrite(t *testing.T) {
	s := openMemory(t)
	const limit = 4 << 20
	evstore.SetLimits(s, 4096, 512, 1<<16, limit)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	events := make(chan evstore.StoredEvent, 100)
	st := mustStream(t, s, "big")
	go func() {
		for e, err := range st.Watch(ctx) {
			if err != nil {
				return
			}
			events <- e
		}
	}()
	writeOne(t, mustStream(t, s, "big"), "Small", nil)
	receive(t, events, 1) // the watcher has joined
	big := make([]evstore.CandidateEvent, 40)
	for i := range big {
		big[i] = evstore.CandidateEvent{Type: "Big", Data: make([]byte, 256<<10)}
	}
	if _, err := mustStream(t, s, "big").Write(testCtx(t), big); err != nil {
		t.Fatal(err)
	}
	waitRing(t, s, 41)
	got := receive(t, events, 40)
	if seqs := seqs(got); !slices.Equal(seqs, seqRange(2, 41)) {
		t.Errorf("got %v, want 2..41", seqs)
	}
	evs, bytes, batches, _, _ := evstore.Ring(s)
	if bytes > limit {
		t.Errorf("ring holds %d events, %d bytes in %d batches after one 10 MiB write; want at most %d bytes", evs, bytes, batches, limit)
	}
}
