package memory

import (
	"context"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// TestChangesNeverFire: nothing but its own Store writes to a memory
// backend, so Changes has nothing to report, even after a write or once
// its ctx is cancelled.
func TestChangesNeverFire(t *testing.T) {
	b := newBackend()
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Changes(ctx)
	if ch == nil {
		t.Fatal("Changes returned nil, want a channel that never receives")
	}
	req := evstore.AppendRequest{StreamID: "s", Events: []evstore.EncodedEvent{{Type: "E"}}}
	if _, err := b.Append(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-ch:
		t.Error("Changes received a value")
	case <-time.After(10 * time.Millisecond):
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
