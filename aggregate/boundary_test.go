package aggregate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
	"github.com/go-event-sourcing/evstore/memory"
)

// A seat booking: a room has 2 seats, each booking takes one, and the
// bookings of a room may land in any stream (the booker's).

type Booked struct {
	Room string `json:"room"`
	By   string `json:"by"`
}

type Book struct{ Room, By string }

var errFull = errors.New("room full")

func seats(place func(Booked) (string, []string)) aggregate.BoundaryDecider[int, Book, Booked] {
	return aggregate.BoundaryDecider[int, Book, Booked]{
		Query:  func(c Book) evstore.Criteria { return evstore.Criteria{{Tags: []string{"room:" + c.Room}}} },
		Evolve: func(n int, _ Booked) int { return n + 1 },
		Decide: func(n int, c Book) ([]Booked, error) {
			if n >= 2 {
				return nil, errFull
			}
			return []Booked{{Room: c.Room, By: c.By}}, nil
		},
		Place: func(e Booked) (string, []string) {
			if place != nil {
				return place(e)
			}
			return "booker-" + e.By, []string{"room:" + e.Room}
		},
	}
}

func newBoundary(t *testing.T, d aggregate.BoundaryDecider[int, Book, Booked], opts ...aggregate.Option) (*evstore.Store, *aggregate.BoundaryHandler[int, Book, Booked]) {
	t.Helper()
	store, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c, err := codec.NewJSON[Booked](codec.Type[Booked]("Booked"))
	if err != nil {
		t.Fatal(err)
	}
	return store, aggregate.NewBoundary(store, d, c, opts...)
}

func TestBoundaryHandle(t *testing.T) {
	ctx := context.Background()
	store, h := newBoundary(t, seats(nil))
	r, err := h.Handle(ctx, Book{"r1", "ann"})
	if err != nil || r.State != 1 || r.Position != 0 || len(r.Events) != 1 || r.Sequence == 0 || r.Duplicate {
		t.Fatalf("first booking: %+v, %v", r, err)
	}
	r2, err := h.Handle(ctx, Book{"r1", "bob"})
	if err != nil || r2.State != 2 || r2.Position != r.Sequence {
		t.Fatalf("second booking: %+v, %v (want position %d)", r2, err, r.Sequence)
	}
	r3, err := h.Handle(ctx, Book{"r1", "cid"})
	if !errors.Is(err, errFull) || r3.State != 2 || r3.Position != r2.Sequence {
		t.Fatalf("third booking: %+v, %v; want errFull with the state", r3, err)
	}
	// Each event went to its booker's stream, with its tag.
	st, _ := store.Stream(ctx, "booker-bob")
	for e, err := range st.Read(ctx) {
		if err != nil || e.Type != "Booked" || len(e.Tags) != 1 || e.Tags[0] != "room:r1" {
			t.Errorf("booker-bob holds %+v, %v", e, err)
		}
	}
	if state, pos, err := h.Load(ctx, Book{Room: "r1"}); err != nil || state != 2 || pos != r2.Sequence {
		t.Errorf("Load = %d, %d, %v", state, pos, err)
	}
}

func TestBoundaryConcurrent(t *testing.T) {
	ctx := context.Background()
	_, h := newBoundary(t, seats(nil))
	var wg sync.WaitGroup
	var mu sync.Mutex
	booked := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Handle(ctx, Book{"r1", string(rune('a' + i))})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				booked++
			case !errors.Is(err, errFull):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if booked != 2 {
		t.Errorf("%d bookings of a room of 2 seats succeeded", booked)
	}
}

func TestBoundaryCommandID(t *testing.T) {
	ctx := context.Background()
	_, h := newBoundary(t, seats(nil))
	first, err := h.Handle(ctx, Book{"r1", "ann"}, aggregate.CommandID("req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(ctx, Book{"r1", "bob"}); err != nil {
		t.Fatal(err)
	}
	// The room is full now, but the retry is a duplicate, not a refusal.
	again, err := h.Handle(ctx, Book{"r1", "ann"}, aggregate.CommandID("req-1"))
	if err != nil || !again.Duplicate || again.Sequence != first.Sequence || again.State != 2 || again.Events != nil {
		t.Fatalf("retry: %+v, %v; want a Duplicate at Sequence %d", again, err, first.Sequence)
	}
	// Concurrent calls with one id: one appends, the others are duplicates.
	_, h2 := newBoundary(t, seats(nil))
	var wg sync.WaitGroup
	var mu sync.Mutex
	appended := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h2.Handle(ctx, Book{"r9", "zed"}, aggregate.CommandID("same"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
			} else if !r.Duplicate {
				appended++
			}
		}()
	}
	wg.Wait()
	if appended != 1 {
		t.Errorf("%d of 8 calls with one command id appended, want 1", appended)
	}
	if _, err := h.Handle(ctx, Book{"r1", "x"}, aggregate.CommandID(strings.Repeat("x", 250))); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("an id too long for the command tag: %v", err)
	}
}

func TestBoundaryBadInput(t *testing.T) {
	ctx := context.Background()
	d := seats(nil)
	d.Query = func(Book) evstore.Criteria { return nil }
	_, h := newBoundary(t, d)
	if _, err := h.Handle(ctx, Book{"r1", "ann"}); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("empty query: %v", err)
	}
	store, h2 := newBoundary(t, seats(func(Booked) (string, []string) { return evstore.All, nil }))
	if _, err := h2.Handle(ctx, Book{"r1", "ann"}); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("Place naming @all: %v", err)
	}
	all, _ := store.Stream(ctx, evstore.All)
	if all.Version() != 0 {
		t.Errorf("bad input wrote %d events", all.Version())
	}
}

func TestBoundaryMaxAttempts(t *testing.T) {
	ctx := context.Background()
	store, _ := newBoundary(t, seats(nil))
	c, _ := codec.NewJSON[Booked](codec.Type[Booked]("Booked"))
	d := seats(nil)
	// A rival books the room between every load and append.
	decide := d.Decide
	d.Decide = func(n int, cmd Book) ([]Booked, error) {
		st, _ := store.Stream(ctx, "rival")
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Booked", Data: []byte(`{"room":"r1","by":"rival"}`), Tags: []string{"room:r1"}}}); err != nil {
			t.Fatal(err)
		}
		return decide(0, cmd) // never full: it ignores the rival
	}
	h := aggregate.NewBoundary(store, d, c, aggregate.MaxAttempts(3))
	_, err := h.Handle(ctx, Book{"r1", "ann"})
	var ce *evstore.ConditionError
	if !errors.Is(err, evstore.ErrConflict) || !errors.As(err, &ce) {
		t.Errorf("after 3 attempts against a rival: %v; want a ConditionError", err)
	}
}
