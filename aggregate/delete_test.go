package aggregate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/memory"
)

// TestLoadAfterDeleteAndTruncate: a tombstone starts the state again from
// Initial; a truncated stream with no snapshot at the cut or after it
// fails with ErrTruncated, and one with a snapshot there loads.
func TestLoadAfterDeleteAndTruncate(t *testing.T) {
	ctx := context.Background()
	store, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events := newCodec(t)
	plain := aggregate.New(store, account, events)
	snapshots := aggregate.New(store, account, events, aggregate.SnapshotEvery(2))

	// Deleted, then opened again: only what follows the tombstone counts.
	mustHandle(t, plain, "a", Open{Owner: "ada"})
	mustHandle(t, plain, "a", Deposit{Amount: 50})
	st, err := store.Stream(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	state, version, err := plain.Load(ctx, "a")
	if err != nil || state.Open || state.Balance != 0 || version != 3 {
		t.Errorf("Load after Delete: got %+v at %d, %v; want the initial state at 3", state, version, err)
	}
	mustHandle(t, plain, "a", Open{Owner: "bob"})
	if state, _, err := plain.Load(ctx, "a"); err != nil || !state.Open || state.Owner != "bob" || state.Balance != 0 {
		t.Errorf("Load after Delete and Open: got %+v, %v; want bob's new account", state, err)
	}

	// Truncated without a snapshot: ErrTruncated.
	mustHandle(t, plain, "b", Open{Owner: "bo"})
	for range 2 {
		mustHandle(t, plain, "b", Deposit{Amount: 1})
	}
	bs, err := store.Stream(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Truncate(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := plain.Load(ctx, "b"); !errors.Is(err, aggregate.ErrTruncated) {
		t.Errorf("Load of a truncated stream without a snapshot: got %v, want ErrTruncated", err)
	}

	// Truncated after a snapshot: it loads from the snapshot.
	mustHandle(t, snapshots, "c", Open{Owner: "cy"})
	mustHandle(t, snapshots, "c", Deposit{Amount: 7}) // snapshot at 2
	mustHandle(t, snapshots, "c", Deposit{Amount: 3})
	cs, err := store.Stream(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Truncate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if state, version, err := snapshots.Load(ctx, "c"); err != nil || state.Balance != 10 || version != 3 {
		t.Errorf("Load of a stream truncated after its snapshot: got %+v at %d, %v; want balance 10 at 3", state, version, err)
	}
}

func mustHandle(t *testing.T, h *aggregate.Handler[Account, Command, Event], id string, cmd Command) {
	t.Helper()
	if _, err := h.Handle(context.Background(), id, cmd); err != nil {
		t.Fatalf("Handle(%s, %+v): %v", id, cmd, err)
	}
}
