package memory

import (
	"context"
	"errors"
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

// TestConsumeRetriesNotifierStart: the first Consume of a Store starts its
// notifier, which reads the head; a failure there is retried like any
// other read, not returned.
func TestConsumeRetriesNotifierStart(t *testing.T) {
	b := &headOnce{backend: newBackend()}
	s := evstore.NewStore(b)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := s.Stream(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "T"}}); err != nil {
		t.Fatal(err)
	}
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
