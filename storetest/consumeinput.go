package storetest

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// This file holds the consumer cases of odd input and restarts: positions
// out of range, a Positioner that panics, a consumer that starts from the
// head, and waiting for a consumer (read-your-writes).

// consumeInputTests are added to consumeTests.
func (k *kit) consumeInputTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"StartFromHeadRestart": k.testConsumeStartFromHeadRestart,
		"NegativePosition":     k.testConsumeNegativePosition,
		"PositionPanics":       k.testConsumePositionPanics,
		"BeyondHead":           k.testConsumeBeyondHead,
		"HugePartitions":       k.testConsumeHugePartitions,
		"ResetFreshPositioner": k.testResetFreshPositioner,
		"Wait":                 k.testWaitConsumer,
		"WaitPartitions":       k.testWaitConsumerPartitions,
	}
}

// returns waits for a Consume to return, failing the test after a
// minute.
func (r *running) returns(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(time.Minute):
		t.Fatal("Consume did not return within a minute")
		return nil
	}
}

// A consumer that starts from the head has its start as its checkpoint as
// soon as it is active: a restart goes on from there, also when nothing
// was handled before the stop.
func (k *kit) testConsumeStartFromHeadRestart(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 5, 2)
	rec := newRecorder()
	r := startConsume(t, s, "now", rec, evstore.StartFrom(5))
	deadline := time.Now().Add(20 * time.Second)
	for listedPosition(t, s, "now") != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("Consumers lists position %d, want 5 (its start) once it is active", listedPosition(t, s, "now"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	writeSpread(t, s, 3, 2) // written while it is down: Sequences 6 to 8
	again := newRecorder()
	startConsume(t, s, "now", again, evstore.StartFrom(8)) // "the head" at restart
	if seqs := sequences(again.waitFor(t, 3)); !slices.Equal(seqs, span(6, 8)) {
		t.Errorf("restart: got %v, want 6..8 (what was written while it was down)", seqs)
	}
}

// listedPosition returns the position Consumers lists for the consumer
// name (without partitions), -1 when it lists none.
func listedPosition(t *testing.T, s *evstore.Store, name string) int64 {
	t.Helper()
	for info, err := range s.Consumers(ctx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		if info.Name == name && info.Members == 0 {
			return info.Position
		}
	}
	return -1
}

// listed reports whether Consumers lists the key of want at want's
// position or past it.
func listed(t *testing.T, s *evstore.Store, want evstore.ConsumerInfo) bool {
	t.Helper()
	for info, err := range s.Consumers(ctx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		if info.Name == want.Name && info.Members == want.Members && info.Partition == want.Partition {
			return info.Position >= want.Position
		}
	}
	return false
}

// A positioner that reports whatever its position func says.
type funcPositioner struct {
	*recorder
	mu       sync.Mutex
	position func(calls int) int64
	calls    int
	failures int // Handle fails this many times first
}

func (p *funcPositioner) Handle(ctx context.Context, events []evstore.StoredEvent) error {
	p.mu.Lock()
	fail := p.failures > 0
	p.failures--
	p.mu.Unlock()
	if fail {
		return errors.New("handle failed")
	}
	return p.recorder.Handle(ctx, events)
}

func (p *funcPositioner) Position(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	return p.position(p.calls), nil
}

// A position below 0, at the start or after a failed Handle, ends Consume
// with ErrInvalidArgument.
func (k *kit) testConsumeNegativePosition(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 4, 2)
	cases := []struct {
		name     string
		p        *funcPositioner
		wantSeen int // events handled before the bad position
	}{
		{"at start", &funcPositioner{recorder: newRecorder(), position: func(int) int64 { return -1 }}, 0},
		{"after a failed Handle", &funcPositioner{recorder: newRecorder(), failures: 1, position: func(calls int) int64 {
			if calls == 1 {
				return 0
			}
			return -7
		}}, 0},
	}
	for _, c := range cases {
		r := startConsume(t, s, "negative", c.p, evstore.ConsumeRetry(time.Millisecond, time.Millisecond, 0))
		err := r.returns(t)
		wantErr(t, "Consume of a Positioner at a negative position, "+c.name, err, evstore.ErrInvalidArgument)
		if got := len(c.p.events()); got != c.wantSeen {
			t.Errorf("%s: %d events handled, want %d", c.name, got, c.wantSeen)
		}
	}
}

// panicPositioner's Position panics.
type panicPositioner struct{ *recorder }

func (panicPositioner) Position(context.Context) (int64, error) { panic("position exploded") }

// A Positioner whose Position panics ends Consume with ErrHandlerPanic,
// and the Store goes on serving other consumers.
func (k *kit) testConsumePositionPanics(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 3, 1)
	r := startConsume(t, s, "panics", panicPositioner{newRecorder()})
	wantErr(t, "Consume of a Positioner whose Position panics", r.returns(t), evstore.ErrHandlerPanic)
	rec := newRecorder()
	startConsume(t, s, "after", rec)
	rec.waitFor(t, 3)
}

// StartFrom and ResetConsumer refuse a position beyond the newest
// Sequence: the consumer would skip the events written up to it.
func (k *kit) testConsumeBeyondHead(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 10, 2)
	r := startConsume(t, s, "far", newRecorder(), evstore.StartFrom(11))
	wantErr(t, "Consume with StartFrom beyond the head", r.returns(t), evstore.ErrInvalidArgument)
	wantErr(t, "ResetConsumer beyond the head", s.ResetConsumer(ctx(t), "far", 11), evstore.ErrInvalidArgument)
	if err := s.ResetConsumer(ctx(t), "far", 10); err != nil {
		t.Errorf("ResetConsumer to the head: %v", err)
	}
	rec := newRecorder()
	startConsume(t, s, "near", rec, evstore.StartFrom(10))
	writeSpread(t, s, 1, 1)
	if seqs := sequences(rec.waitFor(t, 1)); !slices.Equal(seqs, []int64{11}) {
		t.Errorf("StartFrom(head): got %v, want [11]", seqs)
	}
}

// ResetConsumer refuses a Positioner's consumer also when it has not
// handled anything yet: it is known as one once it has been active.
func (k *kit) testResetFreshPositioner(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 3, 1)
	p := &memPositioner{recorder: newRecorder(), position: 3} // up to date: nothing to handle
	r := startConsume(t, s, "fresh", p)
	deadline := time.Now().Add(20 * time.Second)
	for !listed(t, s, evstore.ConsumerInfo{Name: "fresh", Position: 3}) {
		if time.Now().After(deadline) {
			t.Fatal("the Positioner's consumer is not listed at its position 3 within 20s of starting")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if info := consumerInfo(t, s, "fresh", 0, 0); !info.External {
		t.Errorf("Consumers lists %+v, want External", info)
	}
	wantErr(t, "ResetConsumer of a Positioner's consumer that handled nothing", s.ResetConsumer(ctx(t), "fresh", 0), evstore.ErrInvalidArgument)
}

// Partition refuses more than MaxPartitions members, however large.
func (k *kit) testConsumeHugePartitions(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 2, 2)
	for _, n := range []int{evstore.MaxPartitions + 1, math.MaxInt32, math.MaxInt32 + 1, 1 << 32, math.MaxInt} {
		c, cancel := context.WithTimeout(ctx(t), 5*time.Second) // a Consume that runs fails
		err := s.Consume(c, "huge", newRecorder(), evstore.Partition(0, n))
		cancel()
		wantErr(t, "Partition(0, huge)", err, evstore.ErrInvalidArgument)
	}
	rec := newRecorder()
	startConsume(t, s, "most", rec, evstore.Partition(evstore.PartitionOf("s0", evstore.MaxPartitions), evstore.MaxPartitions))
	rec.waitFor(t, 1)
}

// WaitConsumer returns once the consumer has handled the position, and
// ctx's error when it does not get there in time.
func (k *kit) testWaitConsumer(t *testing.T) {
	s := k.store(t)
	wantErr(t, "WaitConsumer of an empty name", s.WaitConsumer(ctx(t), "", 0), evstore.ErrInvalidArgument)
	wantErr(t, "WaitConsumer at -1", s.WaitConsumer(ctx(t), "c", -1), evstore.ErrInvalidArgument)
	writeSpread(t, s, 10, 3)
	gate := make(chan struct{})
	rec := newRecorder()
	rec.fail = func(events []evstore.StoredEvent) error {
		if events[len(events)-1].Sequence > 10 {
			<-gate // hold the live events until told
		}
		return nil
	}
	r := startConsume(t, s, "c", rec, evstore.BatchSize(3))
	if err := s.WaitConsumer(ctx(t), "c", 10); err != nil {
		t.Fatalf("WaitConsumer(10): %v", err)
	}
	if got := sequences(rec.events()); len(got) < 10 || got[9] != 10 {
		t.Fatalf("WaitConsumer(10) returned when the consumer had handled %v", got)
	}
	writeSpread(t, s, 2, 1) // Sequences 11 and 12, held at the gate
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitConsumer(short, "c", 12); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitConsumer(12) while 11 and 12 are held: got %v, want context.DeadlineExceeded", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.WaitConsumer(ctx(t), "c", 12) }()
	close(gate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitConsumer(12): %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("WaitConsumer(12) did not return within a minute of the events being handled")
	}
	if n := len(rec.events()); n != 12 {
		t.Errorf("WaitConsumer(12) returned with %d events handled, want 12", n)
	}
	// Stopped and reset, the consumer has processed nothing again.
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetConsumer(ctx(t), "c", 0); err != nil {
		t.Fatal(err)
	}
	short, cancel = context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitConsumer(short, "c", 12); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitConsumer(12) after ResetConsumer(0): got %v, want context.DeadlineExceeded", err)
	}
	// A consumer that has never run is waited for.
	short, cancel = context.WithTimeout(ctx(t), 30*time.Millisecond)
	defer cancel()
	if err := s.WaitConsumer(short, "never", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitConsumer of a consumer that never ran: got %v, want context.DeadlineExceeded", err)
	}
}

// WaitConsumer of a consumer with partitions waits for every partition.
func (k *kit) testWaitConsumerPartitions(t *testing.T) {
	s := k.store(t)
	writeSpread(t, s, 20, 5)
	first := newRecorder()
	startConsume(t, s, "split", first, evstore.Partition(0, 2))
	deadline := time.Now().Add(20 * time.Second)
	for !listed(t, s, evstore.ConsumerInfo{Name: "split", Partition: 0, Members: 2, Position: 20}) {
		if time.Now().After(deadline) {
			t.Fatal("partition 0 of 2 did not get to 20 in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx(t), 100*time.Millisecond)
	defer cancel()
	if err := s.WaitConsumer(short, "split", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitConsumer with one partition of two running: got %v, want context.DeadlineExceeded", err)
	}
	second := newRecorder()
	startConsume(t, s, "split", second, evstore.Partition(1, 2))
	if err := s.WaitConsumer(ctx(t), "split", 20); err != nil {
		t.Fatal(err)
	}
	if n := len(first.events()) + len(second.events()); n != 20 {
		t.Errorf("WaitConsumer(20) returned with %d events handled by the two partitions, want 20", n)
	}
}
