package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) watchTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"ReplayThenLive":   k.testWatchReplayThenLive,
		"DefaultIsNew":     k.testWatchDefaultIsNew,
		"AllDefaultIsNew":  k.testWatchAllDefaultIsNew,
		"Filter":           k.testWatchFilter,
		"FilterAgrees":     k.testWatchFilterAgrees,
		"HandOff":          k.testWatchHandOff,
		"SlowWatcher":      k.testWatchSlow,
		"StalledWatcher":   k.testWatchStalled,
		"CancelEndsClean":  k.testWatchCancel,
		"CloseEndsWatch":   k.testWatchClose,
		"BreakReleases":    k.testWatchBreak,
		"BadOptions":       k.testWatchBadOptions,
		"ManyWatchers":     k.testWatchMany,
		"WriteInsideWatch": k.testWatchWriteInside,
	}
}

// watcher runs a Watch on its own goroutine and collects what it yields.
type watcher struct {
	events chan evstore.StoredEvent
	done   chan error // the terminal error (nil for a clean end), then closed
	cancel context.CancelFunc
}

func startWatch(t *testing.T, st *evstore.Stream, opts ...evstore.ReadOption) *watcher {
	t.Helper()
	c, cancel := context.WithCancel(ctx(t))
	w := &watcher{events: make(chan evstore.StoredEvent, 100000), done: make(chan error, 1), cancel: cancel}
	go func() {
		defer close(w.done)
		for e, err := range st.Watch(c, opts...) {
			if err != nil {
				w.done <- err
				return
			}
			w.events <- e
		}
		w.done <- nil
	}()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

// next returns the next n events, failing after a timeout.
func (w *watcher) next(t *testing.T, n int) []evstore.StoredEvent {
	t.Helper()
	out := make([]evstore.StoredEvent, 0, n)
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case e := <-w.events:
			out = append(out, e)
		case err := <-w.done:
			t.Fatalf("watch ended after %d of %d events: %v", len(out), n, err)
		case <-timeout:
			t.Fatalf("watch delivered %d of %d events in 30s", len(out), n)
		}
	}
	return out
}

// quiet checks that nothing more arrives for a moment.
func (w *watcher) quiet(t *testing.T) {
	t.Helper()
	select {
	case e := <-w.events:
		t.Errorf("unexpected event: %s v%d seq %d", e.StreamID, e.Version, e.Sequence)
	case <-time.After(100 * time.Millisecond):
	}
}

// end waits for the watch to end and returns its terminal error.
func (w *watcher) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not end within 30s")
		return nil
	}
}

func (k *kit) testWatchReplayThenLive(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("Old", 3))
	write(t, stream(t, s, "other"), events("X", 2))
	w := startWatch(t, st, evstore.After(0))
	if got := versions(w.next(t, 3)); !slices.Equal(got, span(1, 3)) {
		t.Errorf("replay: got %v, want [1 2 3]", got)
	}
	write(t, st, events("New", 2))
	write(t, stream(t, s, "other"), events("X", 1))
	write(t, st, events("New", 1))
	got := w.next(t, 3)
	if !slices.Equal(versions(got), span(4, 6)) {
		t.Errorf("live: got %v, want [4 5 6]", versions(got))
	}
	for _, e := range got {
		if e.StreamID != "s" || e.Type != "New" {
			t.Errorf("live event %+v, want a New event of s", e)
		}
	}
	w.quiet(t)
	if st.Version() != 6 {
		t.Errorf("handle Version after watching: got %d, want 6", st.Version())
	}
}

func (k *kit) testWatchDefaultIsNew(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "s"), events("Old", 3))
	w := startWatch(t, stream(t, s, "s"))
	// Another handle writes: the watch's default start is its own handle's
	// version when it begins, which must stay 3.
	write(t, stream(t, s, "s"), events("New", 1))
	if got := w.next(t, 1); got[0].Version != 4 || got[0].Type != "New" {
		t.Errorf("got %s v%d, want New v4: only events after the handle's version", got[0].Type, got[0].Version)
	}
	w.quiet(t)
}

func (k *kit) testWatchAllDefaultIsNew(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), events("Old", 3))
	all := stream(t, s, evstore.All)
	w := startWatch(t, all)
	write(t, stream(t, s, "b"), events("New", 2))
	got := w.next(t, 2)
	for _, e := range got {
		if e.Type != "New" {
			t.Errorf("@all watch yielded %s seq %d, want only new events", e.Type, e.Sequence)
		}
	}
	w.quiet(t)
	w2 := startWatch(t, stream(t, s, evstore.All), evstore.After(0))
	if got := w2.next(t, 5); got[0].Sequence >= got[4].Sequence || got[0].Type != "Old" {
		t.Errorf("@all After(0): got %v, want the full history in order", sequences(got))
	}
}

func (k *kit) testWatchFilter(t *testing.T) {
	s := k.store(t)
	f := evstore.Filter{evstore.Equals("metadata.region", "EMEA"), evstore.Like("event_type", "order%")}
	emea := map[string]any{"region": "EMEA"}
	us := map[string]any{"region": "US"}
	mix := func(id string) {
		write(t, stream(t, s, id), []evstore.CandidateEvent{
			{Type: "OrderCreated", Metadata: emea}, {Type: "OrderCreated", Metadata: us},
			{Type: "ItemAdded", Metadata: emea}, {Type: "OrderPlaced", Metadata: emea},
		})
	}
	mix("a")
	wAll := startWatch(t, stream(t, s, evstore.All), evstore.After(0), evstore.WithFilter(f))
	wA := startWatch(t, stream(t, s, "a"), evstore.After(0), evstore.WithFilter(f))
	mix("b")
	mix("a")
	checkAll := func(got []evstore.StoredEvent) {
		for _, e := range got {
			if !f.Match(e) {
				t.Errorf("watch yielded %s %v, which the filter rejects", e.Type, e.Metadata)
			}
		}
	}
	gotAll := wAll.next(t, 6)
	checkAll(gotAll)
	if !slices.IsSorted(sequences(gotAll)) {
		t.Errorf("@all filtered watch out of order: %v", sequences(gotAll))
	}
	gotA := wA.next(t, 4)
	checkAll(gotA)
	if got := versions(gotA); !slices.Equal(got, []int64{1, 4, 5, 8}) {
		t.Errorf("filtered watch of a: got versions %v, want [1 4 5 8]", got)
	}
	wAll.quiet(t)
	wA.quiet(t)
}

// testWatchFilterAgrees: every filter case selects the same events live
// (filtered in Go) as on replay and in Read (filtered by the backend).
func (k *kit) testWatchFilterAgrees(t *testing.T) {
	s := k.store(t)
	all := stream(t, s, evstore.All)
	var live []*watcher
	for _, f := range filterCases {
		live = append(live, startWatch(t, stream(t, s, evstore.All), evstore.WithFilter(f)))
	}
	filterCorpus(t, s)
	for i, f := range filterCases {
		want := sequences(readAll(t, all, evstore.WithFilter(f)))
		if got := sequences(live[i].next(t, len(want))); !slices.Equal(got, want) {
			t.Errorf("filter case %d %v: live watch got %v, Read %v", i, describe(f), got, want)
		}
		replay := startWatch(t, stream(t, s, evstore.All), evstore.After(0), evstore.WithFilter(f))
		if got := sequences(replay.next(t, len(want))); !slices.Equal(got, want) {
			t.Errorf("filter case %d %v: replaying watch got %v, Read %v", i, describe(f), got, want)
		}
	}
	time.Sleep(100 * time.Millisecond)
	for i, w := range live {
		if n := len(w.events); n > 0 {
			t.Errorf("filter case %d %v: live watch yielded %d events more than Read", i, describe(filterCases[i]), n)
		}
	}
}

// testWatchHandOff starts watchers while writers write: each must see every
// event exactly once, in order, across the replay-to-live hand-off.
func (k *kit) testWatchHandOff(t *testing.T) {
	s := k.store(t)
	const writers, perWriter = 4, 150
	write(t, stream(t, s, "w0"), events("Before", 20))
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := stream(t, s, fmt.Sprintf("w%d", i))
			for j := range perWriter {
				if _, err := st.Write(ctx(t), events("E", 1+j%3)); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
			}
		}()
	}
	var ws []*watcher
	var streamWs []*watcher
	for i := range 6 {
		ws = append(ws, startWatch(t, stream(t, s, evstore.All), evstore.After(0)))
		streamWs = append(streamWs, startWatch(t, stream(t, s, "w1"), evstore.After(0)))
		time.Sleep(time.Duration(i) * 5 * time.Millisecond)
	}
	wg.Wait()
	every := readAll(t, stream(t, s, evstore.All))
	w1 := readAll(t, stream(t, s, "w1"))
	for i, w := range ws {
		if got := sequences(w.next(t, len(every))); !slices.Equal(got, sequences(every)) {
			t.Errorf("@all watcher %d: sequences differ from Read (got %d events, want %d)", i, len(got), len(every))
		}
		w.quiet(t)
	}
	for i, w := range streamWs {
		if got := versions(w.next(t, len(w1))); !slices.Equal(got, versions(w1)) {
			t.Errorf("w1 watcher %d: versions differ from Read (got %d events, want %d)", i, len(got), len(w1))
		}
	}
}

// testWatchSlow: a watcher that takes its time still sees everything, in
// order, and does not hold up a fast one or the writers.
func (k *kit) testWatchSlow(t *testing.T) {
	s := k.store(t)
	all := stream(t, s, evstore.All)
	const total = 6000
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	slowDone := make(chan []int64, 1)
	go func() {
		var got []int64
		for e, err := range all.Watch(c, evstore.After(0)) {
			if err != nil {
				t.Errorf("slow watcher: %v", err)
				break
			}
			got = append(got, e.Sequence)
			if len(got)%500 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
			if len(got) == total {
				break
			}
		}
		slowDone <- got
	}()
	fast := startWatch(t, stream(t, s, evstore.All), evstore.After(0))
	st := stream(t, s, "s")
	for range total / 10 {
		write(t, st, events("E", 10))
	}
	fastGot := fast.next(t, total)
	var slowGot []int64
	select {
	case slowGot = <-slowDone:
	case <-time.After(60 * time.Second):
		t.Fatal("slow watcher did not finish")
	}
	want := sequences(readAll(t, all))
	if !slices.Equal(sequences(fastGot), want) {
		t.Errorf("fast watcher: got %d events, not the %d of Read in order", len(fastGot), len(want))
	}
	if !slices.Equal(slowGot, want) {
		t.Errorf("slow watcher: got %d events, not the %d of Read in order", len(slowGot), len(want))
	}
}

// testWatchStalled: a watcher whose loop never comes back for more does not
// block writers or other watchers.
func (k *kit) testWatchStalled(t *testing.T) {
	s := k.store(t)
	all := stream(t, s, evstore.All)
	c, cancel := context.WithCancel(ctx(t))
	release := make(chan struct{})
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		for range all.Watch(c, evstore.After(0)) {
			<-release // never read again until the end of the test
		}
	}()
	other := startWatch(t, stream(t, s, evstore.All))
	st := stream(t, s, "s")
	for range 300 {
		write(t, st, events("E", 10))
	}
	if got := other.next(t, 3000); got[2999].Version != 3000 {
		t.Errorf("other watcher: last event v%d, want 3000", got[2999].Version)
	}
	cancel()
	close(release)
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("stalled watcher did not end after its ctx was cancelled")
	}
}

func (k *kit) testWatchCancel(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	w := startWatch(t, st, evstore.After(0))
	write(t, st, events("E", 1))
	w.next(t, 1)
	w.cancel()
	if err := w.end(t); err != nil {
		t.Errorf("cancelled watch: got error %v, want none", err)
	}
	// Cancelled before it starts.
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	for _, err := range st.Watch(c, evstore.After(0)) {
		if err != nil {
			t.Errorf("watch with a cancelled ctx: got error %v, want none", err)
		}
	}
}

func (k *kit) testWatchClose(t *testing.T) {
	s := k.open(t) // closed here, not by the kit
	st := stream(t, s, "s")
	w := startWatch(t, st, evstore.After(0))
	wAll := startWatch(t, stream(t, s, evstore.All))
	write(t, st, events("E", 1))
	w.next(t, 1)
	wAll.next(t, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*watcher{w, wAll} {
		if err := w.end(t); !errors.Is(err, evstore.ErrClosed) {
			t.Errorf("watch after Close: got %v, want ErrClosed", err)
		}
	}
	_, err := collect(st.Watch(ctx(t)))
	wantErr(t, "Watch on a closed store", err, evstore.ErrClosed)
}

func (k *kit) testWatchBreak(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 5))
	for range 20 {
		for e, err := range st.Watch(ctx(t), evstore.After(0)) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Version == 2 {
				break
			}
		}
	}
	if v := write(t, st, events("E", 1)); v != 6 {
		t.Errorf("write after broken watches: got %d, want 6", v)
	}
}

func (k *kit) testWatchBadOptions(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	cases := []struct {
		name   string
		opts   []evstore.ReadOption
		target error
	}{
		{"Limit", []evstore.ReadOption{evstore.Limit(3)}, evstore.ErrInvalidArgument},
		{"Backwards", []evstore.ReadOption{evstore.Backwards()}, evstore.ErrInvalidArgument},
		{"Before", []evstore.ReadOption{evstore.Before(3)}, evstore.ErrInvalidArgument},
		{"MaxSequence", []evstore.ReadOption{evstore.MaxSequence(3)}, evstore.ErrInvalidArgument},
		{"After(-1)", []evstore.ReadOption{evstore.After(-1)}, evstore.ErrInvalidArgument},
		{"bad filter", []evstore.ReadOption{evstore.WithFilter(evstore.Filter{evstore.Equals("x", 1)})}, evstore.ErrInvalidFilter},
	}
	for _, c := range cases {
		_, err := collect(st.Watch(ctx(t), c.opts...))
		wantErr(t, c.name, err, c.target)
	}
}

func (k *kit) testWatchMany(t *testing.T) {
	s := k.store(t)
	var ws []*watcher
	for i := range 50 {
		id := evstore.All
		if i%2 == 1 {
			id = "s"
		}
		ws = append(ws, startWatch(t, stream(t, s, id)))
	}
	st := stream(t, s, "s")
	for range 20 {
		write(t, st, events("E", 5))
	}
	for i, w := range ws {
		if got := versions(w.next(t, 100)); !slices.Equal(got, span(1, 100)) {
			t.Errorf("watcher %d: got %d events out of order", i, len(got))
		}
	}
}

func (k *kit) testWatchWriteInside(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "ping")
	write(t, st, events("Ping", 1))
	n := 0
	for e, err := range st.Watch(ctx(t), evstore.After(0)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if e.Version == 20 {
			break
		}
		write(t, st, events("Ping", 1)) // writing from inside the loop must not deadlock
	}
	if n != 20 {
		t.Errorf("got %d events, want 20", n)
	}
}
