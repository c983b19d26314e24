package memory_test

import (
	"context"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// The conformance kit holds the behaviour every backend shares; these tests
// hold what is this package's own: nothing it stores or returns shares
// memory with its callers.

func store(t *testing.T) *evstore.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func handle(t *testing.T, s *evstore.Store, id string) *evstore.Stream {
	t.Helper()
	st, err := s.Stream(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readAll(t *testing.T, st *evstore.Stream) []evstore.StoredEvent {
	t.Helper()
	var out []evstore.StoredEvent
	for e, err := range st.Read(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func metadata() map[string]any {
	return map[string]any{"user": "ada", "tags": map[string]any{"prio": 1.0}, "ids": []any{1.0, "two"}}
}

// TestWriteCopies: changing what was written, after Write, changes nothing
// stored.
func TestWriteCopies(t *testing.T) {
	s := store(t)
	st := handle(t, s, "s")
	data, meta := []byte("original"), metadata()
	if _, err := st.Write(context.Background(), []evstore.CandidateEvent{{Type: "E", Data: data, Metadata: meta}}); err != nil {
		t.Fatal(err)
	}
	copy(data, "CHANGED!")
	meta["user"] = "eve"
	meta["tags"].(map[string]any)["prio"] = 9.0
	meta["ids"].([]any)[0] = "changed"
	got := readAll(t, st)[0]
	if string(got.Data) != "original" || !reflect.DeepEqual(got.Metadata, metadata()) {
		t.Errorf("after changing the written event: read back %q %v, want %q %v", got.Data, got.Metadata, "original", metadata())
	}
}

// TestReadCopies: changing an event Read returned changes neither what is
// stored nor what the next Read returns, on a stream or on All.
func TestReadCopies(t *testing.T) {
	s := store(t)
	st := handle(t, s, "s")
	if _, err := st.Write(context.Background(), []evstore.CandidateEvent{{Type: "E", Data: []byte("original"), Metadata: metadata()}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s", evstore.All} {
		e := readAll(t, handle(t, s, id))[0]
		copy(e.Data, "CHANGED!")
		e.Metadata["user"] = "eve"
		e.Metadata["tags"].(map[string]any)["prio"] = 9.0
		e.Metadata["ids"].([]any)[1] = "changed"
		for _, again := range []string{"s", evstore.All} {
			got := readAll(t, handle(t, s, again))[0]
			if string(got.Data) != "original" || !reflect.DeepEqual(got.Metadata, metadata()) {
				t.Errorf("after changing an event read from %s, %s reads %q %v; want %q %v", id, again, got.Data, got.Metadata, "original", metadata())
			}
		}
	}
}

// TestSnapshotCopies: a snapshot's State is copied when saved and when loaded.
func TestSnapshotCopies(t *testing.T) {
	s := store(t)
	st := handle(t, s, "s")
	ctx := context.Background()
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
		t.Fatal(err)
	}
	state := []byte("state")
	if err := st.Snapshot(ctx, state); err != nil {
		t.Fatal(err)
	}
	copy(state, "XXXXX")
	snap, err := st.LoadSnapshot(ctx, "")
	if err != nil || snap == nil {
		t.Fatalf("LoadSnapshot: %v, %v", snap, err)
	}
	if string(snap.State) != "state" {
		t.Errorf("after changing the saved state: loaded %q, want %q", snap.State, "state")
	}
	copy(snap.State, "YYYYY")
	if again, err := st.LoadSnapshot(ctx, ""); err != nil || string(again.State) != "state" {
		t.Errorf("after changing a loaded state: loaded %q, %v; want %q", again.State, err, "state")
	}
}

// TestStreamsByteOrder: streams are listed in the byte order of their ids,
// and the loop may write to the store and break.
func TestStreamsByteOrder(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	ids := []string{"b", "é", "B", "a", "z", "a-1"}
	for _, id := range ids {
		if _, err := handle(t, s, id).Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for m, err := range s.Streams(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.StreamID)
		// A write inside the loop neither blocks nor changes the listing.
		if _, err := handle(t, s, "new-"+m.StreamID).Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"B", "a", "a-1", "b", "z", "é"}
	if !slices.Equal(got, want) {
		t.Errorf("got streams %q, want %q", got, want)
	}
	for range s.Streams(ctx) {
		break
	}
	if _, err := handle(t, s, "after-break").Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
		t.Errorf("write after a broken listing: %v", err)
	}
}

// TestReadBounds: positions far beyond the stream select nothing, and
// fail in no way.
func TestReadBounds(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	st := handle(t, s, "s")
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}, {Type: "E"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s", "empty", evstore.All} {
		for _, opts := range [][]evstore.ReadOption{
			{evstore.After(math.MaxInt64)},
			{evstore.After(math.MaxInt64), evstore.Backwards()},
			{evstore.After(2)},
			{evstore.After(2), evstore.Backwards(), evstore.Limit(math.MaxInt)},
		} {
			for e, err := range handle(t, s, id).Read(ctx, opts...) {
				t.Errorf("%s: got %+v, %v; want nothing", id, e, err)
			}
		}
	}
}
