package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// consumeTests are the consumer behaviour every backend with
// evstore.ConsumerBackend must have.
func (k *kit) consumeTests() map[string]func(*testing.T) {
	tests := map[string]func(*testing.T){
		"CatchUpThenLive":  k.testConsumeCatchUpThenLive,
		"Checkpoint":       k.testConsumeCheckpoint,
		"Filter":           k.testConsumeFilter,
		"Retry":            k.testConsumeRetry,
		"HandlerChanges":   k.testConsumeHandlerChanges,
		"GiveUp":           k.testConsumeGiveUp,
		"Panic":            k.testConsumePanic,
		"Close":            k.testConsumeClose,
		"OneActive":        k.testConsumeOneActive,
		"Partitions":       k.testConsumePartitions,
		"Repartition":      k.testConsumeRepartition,
		"RepartitionGap":   k.testConsumeRepartitionGap,
		"PositionFails":    k.testConsumePositionFails,
		"StartFrom":        k.testConsumeStartFrom,
		"Positioner":       k.testConsumePositioner,
		"Reset":            k.testConsumeReset,
		"BadArguments":     k.testConsumeBadArguments,
		"ConsumersListing": k.testConsumersListing,
	}
	maps.Copy(tests, k.consumeInputTests())
	return tests
}

// probeConsumers returns ErrUnsupported if the backend keeps no
// consumers.
func probeConsumers(t *testing.T, s *evstore.Store) error {
	for _, err := range s.Consumers(ctx(t)) {
		return err
	}
	return nil
}

// A recorder is a Handler that records what it is given.
type recorder struct {
	mu      sync.Mutex
	batches [][]evstore.StoredEvent
	got     chan struct{} // receives after each batch, coalesced
	fail    func(events []evstore.StoredEvent) error
	running atomic.Int32 // Handle calls in progress, across instances sharing it
	overlap atomic.Bool  // two Handle calls ran at once
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1)} }

func (r *recorder) Handle(ctx context.Context, events []evstore.StoredEvent) error {
	if r.running.Add(1) > 1 {
		r.overlap.Store(true)
	}
	defer r.running.Add(-1)
	if r.fail != nil {
		if err := r.fail(events); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(events))
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	return nil
}

// events returns every event recorded, in order.
func (r *recorder) events() []evstore.StoredEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []evstore.StoredEvent
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

// waitFor waits until the recorder has n events, failing after a minute.
func (r *recorder) waitFor(t *testing.T, n int) []evstore.StoredEvent {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if got := r.events(); len(got) >= n {
			return got
		}
		select {
		case <-r.got:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("consumer handled %d of %d events in a minute", len(r.events()), n)
		}
	}
}

// running is a Consume on its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func startConsume(t *testing.T, s *evstore.Store, name string, h evstore.Handler, opts ...evstore.ConsumeOption) *running {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Consume(c, name, h, opts...) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// stop cancels the Consume and returns its result, logging how long it
// took to return.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	start := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		t.Logf("Consume returned %v after its ctx was cancelled", time.Since(start).Round(time.Microsecond))
		return err
	case <-time.After(time.Minute):
		t.Fatal("Consume did not return within a minute of its ctx being cancelled")
		return nil
	}
}

// writeSpread writes n events over streams s0..s(streams-1), one per Write,
// typed Odd and Even by turns.
func writeSpread(t *testing.T, s *evstore.Store, n, streams int) {
	t.Helper()
	handles := make([]*evstore.Stream, streams)
	for i := range handles {
		handles[i] = stream(t, s, fmt.Sprintf("s%d", i))
	}
	for i := range n {
		typ := "Odd"
		if i%2 == 1 {
			typ = "Even"
		}
		write(t, handles[i%streams], []evstore.CandidateEvent{{Type: typ, Data: fmt.Appendf(nil, `{"i":%d}`, i)}})
	}
}

func (k *kit) testConsumeCatchUpThenLive(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 300, 7)
	rec := newRecorder()
	r := startConsume(t, s, "projector", rec, evstore.BatchSize(50))
	got := rec.waitFor(t, 300)
	if seqs := sequences(got); !slices.Equal(seqs, span(1, 300)) {
		t.Fatalf("catch-up: got sequences %v, want 1..300", seqs)
	}
	rec.mu.Lock()
	for i, b := range rec.batches {
		if len(b) == 0 || len(b) > 50 {
			t.Errorf("batch %d has %d events, want 1 to 50", i, len(b))
		}
	}
	rec.mu.Unlock()
	start := time.Now()
	write(t, stream(t, s, "live"), events("Live", 3))
	got = rec.waitFor(t, 303)
	t.Logf("live: Write to Handle in %v", time.Since(start).Round(time.Microsecond))
	if seqs := sequences(got); !slices.Equal(seqs, span(1, 303)) {
		t.Errorf("live: got sequences %v, want 1..303", seqs)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Consume after cancel: got %v, want nil", err)
	}
}

func (k *kit) testConsumeCheckpoint(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 120, 3)
	first := newRecorder()
	r := startConsume(t, s, "c", first, evstore.BatchSize(40))
	first.waitFor(t, 120)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	writeSpread(t, s, 30, 3)
	second := newRecorder()
	r = startConsume(t, s, "c", second, evstore.BatchSize(40))
	got := second.waitFor(t, 30)
	if seqs := sequences(got); !slices.Equal(seqs, span(121, 150)) {
		t.Errorf("after a restart: got sequences %v, want 121..150 (the checkpoint's successors only)", seqs)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if info := consumerInfo(t, s, "c", 0, 0); info.Position != 150 || info.External {
		t.Errorf("Consumers: got %+v, want position 150, not external", info)
	}
}

// consumerInfo returns the listing of one consumer, failing if absent.
func consumerInfo(t *testing.T, s *evstore.Store, name string, partition, members int) evstore.ConsumerInfo {
	t.Helper()
	for info, err := range s.Consumers(ctx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		if info.Name == name && info.Partition == partition && info.Members == members {
			return info
		}
	}
	t.Fatalf("Consumers lists no %q partition %d of %d", name, partition, members)
	return evstore.ConsumerInfo{}
}

func (k *kit) testConsumeFilter(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 40, 2)
	rec := newRecorder()
	r := startConsume(t, s, "evens", rec, evstore.ConsumeFilter(evstore.Filter{evstore.Equals("event_type", "Even")}), evstore.BatchSize(7))
	got := rec.waitFor(t, 20)
	for _, e := range got {
		if e.Type != "Even" {
			t.Fatalf("filtered consumer got a %s event", e.Type)
		}
	}
	if seqs := sequences(got); !slices.IsSorted(seqs) || len(seqs) != 20 {
		t.Errorf("got sequences %v, want the 20 Even ones in order", seqs)
	}
	write(t, stream(t, s, "odd"), []evstore.CandidateEvent{{Type: "Odd"}})
	// The checkpoint moves past the dropped event once caught up, within
	// about a second, and at the latest when the consumer stops.
	deadline := time.Now().Add(30 * time.Second)
	for consumerInfo(t, s, "evens", 0, 0).Position != 41 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if pos := consumerInfo(t, s, "evens", 0, 0).Position; pos != 41 {
		t.Errorf("checkpoint after dropped events: got %d, want 41", pos)
	}
}

func (k *kit) testConsumeRetry(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 10, 2)
	rec := newRecorder()
	var calls atomic.Int32
	var firsts []int64
	var mu sync.Mutex
	rec.fail = func(events []evstore.StoredEvent) error {
		mu.Lock()
		firsts = append(firsts, events[0].Sequence)
		mu.Unlock()
		if calls.Add(1) <= 2 {
			return errors.New("transient")
		}
		return nil
	}
	r := startConsume(t, s, "c", rec, evstore.ConsumeRetry(time.Millisecond, 5*time.Millisecond, 0))
	got := rec.waitFor(t, 10)
	if seqs := sequences(got); !slices.Equal(seqs, span(1, 10)) {
		t.Errorf("after failures: got %v, want 1..10 once each", seqs)
	}
	mu.Lock()
	if len(firsts) < 3 || firsts[0] != 1 || firsts[1] != 1 || firsts[2] != 1 {
		t.Errorf("retries start at Sequence %v, want the failed batch's first (1) each time", firsts)
	}
	mu.Unlock()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// testConsumeHandlerChanges: a handler may append to its batch and change
// its events in place, even when it then fails: the next batch, and the
// retry of the failed one, get the events as stored.
func (k *kit) testConsumeHandlerChanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []evstore.ConsumeOption
	}{
		{"whole", nil},
		{"partition", []evstore.ConsumeOption{evstore.Partition(0, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := k.store(t)
			writeSpread(t, s, 40, 3)
			rec := newRecorder()
			var calls atomic.Int32
			h := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
				failing := calls.Add(1) == 2 // the second batch fails once, after changing it
				if !failing {
					if err := rec.Handle(ctx, events); err != nil {
						return err
					}
				}
				_ = append(events, evstore.StoredEvent{Sequence: 1 << 40, Type: "Appended"})
				slices.Reverse(events)
				for i := range events {
					events[i].Sequence += 1000
					events[i].Type = "Changed"
				}
				if failing {
					return errors.New("failed after changing its batch")
				}
				return nil
			})
			opts := append([]evstore.ConsumeOption{evstore.BatchSize(3), evstore.ConsumeRetry(time.Millisecond, 5*time.Millisecond, 0)}, tc.opts...)
			r := startConsume(t, s, "c", h, opts...)
			got := rec.waitFor(t, 40)
			if seqs := sequences(got); !slices.Equal(seqs, span(1, 40)) {
				t.Errorf("got %v, want 1..40 once each", seqs)
			}
			for _, e := range got {
				if e.Type != "Odd" && e.Type != "Even" {
					t.Errorf("event %d reached Handle as %q, changed by an earlier Handle", e.Sequence, e.Type)
					break
				}
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func (k *kit) testConsumeGiveUp(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 5, 1)
	failure := errors.New("always failing")
	var calls atomic.Int32
	h := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		calls.Add(1)
		return failure
	})
	err := s.Consume(ctx(t), "c", h, evstore.ConsumeRetry(time.Millisecond, time.Millisecond, 3))
	if !errors.Is(err, failure) {
		t.Fatalf("Consume: got %v, want the handler's error", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("Handle was called %d times, want 3", n)
	}
	for info, err := range s.Consumers(ctx(t)) {
		if err == nil && info.Name == "c" && info.Position != 0 {
			t.Errorf("checkpoint moved to %d past events never handled", info.Position)
		}
	}
}

func (k *kit) testConsumePanic(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 5, 1)
	h := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		panic("handler bug")
	})
	err := s.Consume(ctx(t), "c", h)
	if !errors.Is(err, evstore.ErrHandlerPanic) {
		t.Fatalf("Consume with a panicking handler: got %v, want ErrHandlerPanic", err)
	}
	// The store goes on, and a fixed handler starts from the same events.
	rec := newRecorder()
	startConsume(t, s, "c", rec)
	if seqs := sequences(rec.waitFor(t, 5)); !slices.Equal(seqs, span(1, 5)) {
		t.Errorf("after the panic: got %v, want 1..5", seqs)
	}
}

func (k *kit) testConsumeClose(t *testing.T) {
	s := k.open(t)
	writeSpread(t, s, 5, 1)
	rec := newRecorder()
	done := make(chan error, 1)
	go func() { done <- s.Consume(context.Background(), "c", rec) }()
	rec.waitFor(t, 5)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("Consume returned %v after Close", time.Since(start).Round(time.Microsecond))
		if !errors.Is(err, evstore.ErrClosed) {
			t.Errorf("Consume after Close: got %v, want ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Consume did not return after Close")
	}
	if err := s.Consume(context.Background(), "c", rec); !errors.Is(err, evstore.ErrClosed) {
		t.Errorf("Consume on a closed store: got %v, want ErrClosed", err)
	}
}

// testConsumeOneActive: two instances of one consumer take turns: one
// handles, the other stands by and takes over, from the checkpoint, when
// the first stops.
func (k *kit) testConsumeOneActive(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 50, 5)
	rec := newRecorder() // shared: it sees every Handle of both
	a := startConsume(t, s, "c", rec, evstore.BatchSize(10))
	rec.waitFor(t, 50)
	b := startConsume(t, s, "c", rec, evstore.BatchSize(10))
	time.Sleep(50 * time.Millisecond) // b stands by
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	writeSpread(t, s, 20, 5)
	got := rec.waitFor(t, 70)
	t.Logf("standby took over and handled new events in %v", time.Since(start).Round(time.Microsecond))
	if seqs := sequences(got); !slices.Equal(seqs, span(1, 70)) {
		t.Errorf("across the takeover: got %v, want 1..70 once each", seqs)
	}
	if rec.overlap.Load() {
		t.Error("two instances of one consumer handled events at the same time")
	}
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
}

func (k *kit) testConsumePartitions(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 200, 13)
	const n = 3
	recs := make([]*recorder, n)
	counts := make([]int, n)
	for i := range 200 {
		counts[evstore.PartitionOf(fmt.Sprintf("s%d", i%13), n)]++
	}
	for m := range n {
		recs[m] = newRecorder()
		startConsume(t, s, "split", recs[m], evstore.Partition(m, n), evstore.BatchSize(16))
	}
	var all []evstore.StoredEvent
	for m, rec := range recs {
		got := rec.waitFor(t, counts[m])
		for _, e := range got {
			if p := evstore.PartitionOf(e.StreamID, n); p != m {
				t.Errorf("partition %d got an event of %s, which belongs to %d", m, e.StreamID, p)
			}
		}
		if !slices.IsSortedFunc(got, func(a, b evstore.StoredEvent) int { return int(a.Sequence - b.Sequence) }) {
			t.Errorf("partition %d: events out of order", m)
		}
		all = append(all, got...)
	}
	seqs := sequences(all)
	slices.Sort(seqs)
	if !slices.Equal(seqs, span(1, 200)) {
		t.Errorf("the partitions together got %d events, want each of 1..200 once", len(seqs))
	}
	for m := range n {
		if info := consumerInfo(t, s, "split", m, n); info.Members != n {
			t.Errorf("listing of partition %d: %+v", m, info)
		}
	}
}

// testConsumeRepartition: partitions of a new split start from the lowest
// checkpoint of the old one, so nothing is skipped.
func (k *kit) testConsumeRepartition(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 30, 4)
	whole := newRecorder()
	r := startConsume(t, s, "c", whole)
	whole.waitFor(t, 30)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	writeSpread(t, s, 10, 4)
	var got []evstore.StoredEvent
	recs := []*recorder{newRecorder(), newRecorder()}
	counts := []int{0, 0}
	for i := range 10 {
		counts[evstore.PartitionOf(fmt.Sprintf("s%d", i%4), 2)]++
	}
	for m, rec := range recs {
		startConsume(t, s, "c", rec, evstore.Partition(m, 2))
		got = append(got, rec.waitFor(t, counts[m])...)
	}
	seqs := sequences(got)
	slices.Sort(seqs)
	if !slices.Equal(seqs, span(31, 40)) {
		t.Errorf("after repartitioning: got %v, want 31..40", seqs)
	}
}

// testConsumeRepartitionGap: a split one of whose partitions never saved
// a checkpoint gives a new split nothing to start from: it starts from
// the beginning rather than skip that partition's events.
func (k *kit) testConsumeRepartitionGap(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 40, 4)
	counts := []int{0, 0}
	for i := range 40 {
		counts[evstore.PartitionOf(fmt.Sprintf("s%d", i%4), 2)]++
	}
	done := newRecorder()
	r0 := startConsume(t, s, "c", done, evstore.Partition(0, 2))
	done.waitFor(t, counts[0])
	failing := newRecorder()
	failing.fail = func([]evstore.StoredEvent) error { return errors.New("never handled") }
	r1 := startConsume(t, s, "c", failing, evstore.Partition(1, 2), evstore.ConsumeRetry(time.Millisecond, time.Millisecond, 0))
	time.Sleep(50 * time.Millisecond)
	for _, r := range []*running{r0, r1} {
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	}
	whole := newRecorder()
	startConsume(t, s, "c", whole)
	got := whole.waitFor(t, 40)
	if seqs := sequences(got); !slices.Equal(seqs[:40], span(1, 40)) {
		t.Errorf("after a split with an unsaved partition: got %v, want 1..40 (nothing skipped)", seqs)
	}
}

// testConsumePositionFails: a Positioner whose Position fails (its
// database is out of reach) is retried as Handle is, not given up on.
func (k *kit) testConsumePositionFails(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 10, 2)
	p := &flakyPositioner{memPositioner: &memPositioner{recorder: newRecorder()}, fails: 3}
	r := startConsume(t, s, "flaky", p, evstore.ConsumeRetry(time.Millisecond, 2*time.Millisecond, 0))
	if seqs := sequences(p.waitFor(t, 10)); !slices.Equal(seqs, span(1, 10)) {
		t.Errorf("got %v, want 1..10", seqs)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Consume: %v, want nil after Position recovered", err)
	}
}

// flakyPositioner's Position fails its first fails calls.
type flakyPositioner struct {
	*memPositioner
	fails int
}

func (p *flakyPositioner) Position(ctx context.Context) (int64, error) {
	p.mu.Lock()
	fail := p.fails > 0
	p.fails--
	p.mu.Unlock()
	if fail {
		return 0, errors.New("read model database out of reach")
	}
	return p.memPositioner.Position(ctx)
}

func (k *kit) testConsumeStartFrom(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 10, 2)
	rec := newRecorder()
	r := startConsume(t, s, "late", rec, evstore.StartFrom(7))
	if seqs := sequences(rec.waitFor(t, 3)); !slices.Equal(seqs, span(8, 10)) {
		t.Errorf("StartFrom(7): got %v, want 8..10", seqs)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// With a checkpoint, StartFrom no longer applies.
	writeSpread(t, s, 2, 2)
	rec2 := newRecorder()
	startConsume(t, s, "late", rec2, evstore.StartFrom(0))
	if seqs := sequences(rec2.waitFor(t, 2)); !slices.Equal(seqs, span(11, 12)) {
		t.Errorf("restart with a checkpoint: got %v, want 11..12", seqs)
	}
}

// memPositioner keeps its position in memory, as a read model would in its
// own database, and fails once when told to.
type memPositioner struct {
	*recorder
	mu       sync.Mutex
	position int64
	failOnce bool
}

func (p *memPositioner) Handle(ctx context.Context, events []evstore.StoredEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failOnce {
		p.failOnce = false
		p.position = events[0].Sequence // as if it had applied the first and crashed
		return errors.New("failed after the first event")
	}
	var fresh []evstore.StoredEvent
	for _, e := range events {
		if e.Sequence > p.position {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) > 0 {
		if err := p.recorder.Handle(ctx, fresh); err != nil {
			return err
		}
	}
	p.position = events[len(events)-1].Sequence
	return nil
}

func (p *memPositioner) Position(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.position, nil
}

func (k *kit) testConsumePositioner(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 20, 3)
	p := &memPositioner{recorder: newRecorder(), position: 5, failOnce: true}
	r := startConsume(t, s, "own", p, evstore.BatchSize(4), evstore.ConsumeRetry(time.Millisecond, time.Millisecond, 0))
	got := p.waitFor(t, 14)
	// The failed Handle applied Sequence 6; Consume asked Position again
	// and went on from 6.
	if seqs := sequences(got); !slices.Equal(seqs, span(7, 20)) {
		t.Errorf("positioner: got %v, want 7..20 (it starts after its Position, and after its failure's)", seqs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for consumerInfo(t, s, "own", 0, 0).Position != 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if info := consumerInfo(t, s, "own", 0, 0); info.Position != 20 || !info.External {
		t.Errorf("Consumers: got %+v, want position 20 reported, external", info)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	err := s.ResetConsumer(ctx(t), "own", 0)
	wantErr(t, "ResetConsumer of a Positioner's consumer", err, evstore.ErrInvalidArgument)
	if info := consumerInfo(t, s, "own", 0, 0); info.Position != 20 {
		t.Errorf("a refused reset changed the listing: %+v", info)
	}
}

func (k *kit) testConsumeReset(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 10, 2)
	rec := newRecorder()
	r := startConsume(t, s, "c", rec)
	rec.waitFor(t, 10)
	err := s.ResetConsumer(ctx(t), "c", 0)
	wantErr(t, "ResetConsumer while it runs", err, evstore.ErrConflict)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if pos := consumerInfo(t, s, "c", 0, 0).Position; pos != 10 {
		t.Errorf("a refused reset moved the checkpoint to %d", pos)
	}
	if err := s.ResetConsumer(ctx(t), "c", 4); err != nil {
		t.Fatal(err)
	}
	again := newRecorder()
	startConsume(t, s, "c", again)
	if seqs := sequences(again.waitFor(t, 6)); !slices.Equal(seqs, span(5, 10)) {
		t.Errorf("after ResetConsumer(c, 4): got %v, want 5..10", seqs)
	}
	// A reset of a consumer that never ran sets where it starts.
	if err := s.ResetConsumer(ctx(t), "new", 8); err != nil {
		t.Fatal(err)
	}
	fresh := newRecorder()
	startConsume(t, s, "new", fresh)
	if seqs := sequences(fresh.waitFor(t, 2)); !slices.Equal(seqs, span(9, 10)) {
		t.Errorf("a consumer reset before it ran: got %v, want 9..10", seqs)
	}
}

func (k *kit) testConsumeBadArguments(t *testing.T) {
	s := k.store(t)
	h := newRecorder()
	cases := []struct {
		name, consumer string
		h              evstore.Handler
		opts           []evstore.ConsumeOption
		want           error
	}{
		{"empty name", "", h, nil, evstore.ErrInvalidArgument},
		{"long name", fmt.Sprintf("%0256d", 0), h, nil, evstore.ErrInvalidArgument},
		{"NUL in name", "a\x00b", h, nil, evstore.ErrInvalidArgument},
		{"nil handler", "c", nil, nil, evstore.ErrInvalidArgument},
		{"BatchSize(0)", "c", h, []evstore.ConsumeOption{evstore.BatchSize(0)}, evstore.ErrInvalidArgument},
		{"Partition(3, 3)", "c", h, []evstore.ConsumeOption{evstore.Partition(3, 3)}, evstore.ErrInvalidArgument},
		{"Partition(-1, 2)", "c", h, []evstore.ConsumeOption{evstore.Partition(-1, 2)}, evstore.ErrInvalidArgument},
		{"Partition(0, 0)", "c", h, []evstore.ConsumeOption{evstore.Partition(0, 0)}, evstore.ErrInvalidArgument},
		{"Partition(1, 0)", "c", h, []evstore.ConsumeOption{evstore.Partition(1, 0)}, evstore.ErrInvalidArgument},
		{"StartFrom(-1)", "c", h, []evstore.ConsumeOption{evstore.StartFrom(-1)}, evstore.ErrInvalidArgument},
		{"bad filter", "c", h, []evstore.ConsumeOption{evstore.ConsumeFilter(evstore.Filter{evstore.Equals("nope", 1)})}, evstore.ErrInvalidFilter},
	}
	for _, c := range cases {
		wantErr(t, c.name, s.Consume(ctx(t), c.consumer, c.h, c.opts...), c.want)
	}
	wantErr(t, "ResetConsumer to -1", s.ResetConsumer(ctx(t), "c", -1), evstore.ErrInvalidArgument)
	wantErr(t, "ResetConsumer of an empty name", s.ResetConsumer(ctx(t), "", 0), evstore.ErrInvalidArgument)
	for info, err := range s.Consumers(ctx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("refused calls left a consumer behind: %+v", info)
	}
}

func (k *kit) testConsumersListing(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 4, 2)
	for _, name := range []string{"b", "a", "B"} {
		rec := newRecorder()
		r := startConsume(t, s, name, rec)
		rec.waitFor(t, 4)
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().UTC().Add(-time.Minute)
	var names []string
	for info, err := range s.Consumers(ctx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, info.Name)
		if info.Position != 4 || info.Updated.Before(before) || info.Updated.Location() != time.UTC {
			t.Errorf("%s: got %+v, want position 4, updated now in UTC", info.Name, info)
		}
	}
	if !slices.Equal(names, []string{"B", "a", "b"}) {
		t.Errorf("Consumers: got %q, want byte order [B a b]", names)
	}
}
