package evstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
)

// panickyPositioner's Position panics.
type panickyPositioner struct{}

func (panickyPositioner) Handle(context.Context, []evstore.StoredEvent) error { return nil }
func (panickyPositioner) Position(context.Context) (int64, error)             { panic("boom") }

// TestConsumePositionPanicUnfollows: a Positioner whose Position panics
// ends Consume with ErrHandlerPanic, and leaves the notifier with no
// follower behind.
func TestConsumePositionPanicUnfollows(t *testing.T) {
	s, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Consume(t.Context(), "c", panickyPositioner{})
	if !errors.Is(err, evstore.ErrHandlerPanic) {
		t.Fatalf("Consume: got %v, want ErrHandlerPanic", err)
	}
	if n := evstore.Followers(s); n != 0 {
		t.Errorf("the notifier has %d followers after Consume returned, want 0", n)
	}
}
