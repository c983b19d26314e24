package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// TestLeaseFencedAcrossMembers: a paused holder whose lease expired while
// an instance took the name under another Members cannot save or renew,
// although no one acquired its own key (as sqlite's test of that name).
func TestLeaseFencedAcrossMembers(t *testing.T) {
	ctx := context.Background()
	b := newBackend()
	now := time.Unix(1_000_000, 0)
	b.consumers.now = func() time.Time { return now }
	old, err := b.AcquireLease(ctx, evstore.ConsumerKey{Name: "c"}, time.Second)
	if err != nil || old == nil {
		t.Fatalf("AcquireLease: %v, %v", old, err)
	}
	now = now.Add(2 * time.Second) // the holder was paused past its lease
	split, err := b.AcquireLease(ctx, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2}, time.Minute)
	if err != nil || split == nil {
		t.Fatalf("AcquireLease under Members 2: %v, %v", split, err)
	}
	if err := old.Save(ctx, 1, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Save while the name is held under other Members: got %v, want ErrLeaseLost", err)
	}
	if err := old.Renew(ctx); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Renew while the name is held under other Members: got %v, want ErrLeaseLost", err)
	}
	if err := split.Save(ctx, 1, false); err != nil {
		t.Errorf("Save by the split that holds the name: %v", err)
	}
}
