package evstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// open returns a store in a private in-memory database.
func open() *evstore.Store {
	store, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	return store
}

func Example() {
	ctx := context.Background()
	store := open()
	defer store.Close()

	orders, err := store.Stream(ctx, "order-42")
	if err != nil {
		log.Fatal(err)
	}
	version, err := orders.Write(ctx, []evstore.CandidateEvent{
		{ID: "cmd-1/created", Type: "OrderCreated", Data: []byte(`{"total":10}`)},
		{ID: "cmd-1/item", Type: "ItemAdded", Data: []byte(`{"sku":"A7"}`)},
	}, evstore.ExpectVersion(0))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", version)

	for e, err := range orders.Read(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Version, e.Type, string(e.Data))
	}
	// Output:
	// version 2
	// 1 OrderCreated {"total":10}
	// 2 ItemAdded {"sku":"A7"}
}

// A retried write whose events are all stored already succeeds and writes
// nothing, whatever its expected version; a write that expects a version the
// stream has left gets a *ConflictError.
func ExampleExpectVersion() {
	ctx := context.Background()
	store := open()
	defer store.Close()
	account, _ := store.Stream(ctx, "account-7")

	deposit := []evstore.CandidateEvent{{ID: "deposit-1", Type: "Deposited"}}
	v1, _ := account.Write(ctx, deposit, evstore.ExpectVersion(0))
	v2, err := account.Write(ctx, deposit, evstore.ExpectVersion(0)) // a retry
	fmt.Println(v1, v2, err)

	_, err = account.Write(ctx, []evstore.CandidateEvent{{Type: "Withdrawn"}}, evstore.ExpectVersion(0))
	var conflict *evstore.ConflictError
	if errors.As(err, &conflict) {
		fmt.Println("conflict: expected", conflict.Expected, "actual", conflict.Actual)
	}
	// Output:
	// 1 1 <nil>
	// conflict: expected 0 actual 1
}

// Filters select events by stream, type, version or metadata; reading All
// with a filter is how a cross-stream read model finds its events.
func ExampleWithFilter() {
	ctx := context.Background()
	store := open()
	defer store.Close()
	for i, region := range []string{"EMEA", "US", "EMEA"} {
		s, _ := store.Stream(ctx, fmt.Sprintf("order-%d", i))
		s.Write(ctx, []evstore.CandidateEvent{{Type: "OrderPlaced", Metadata: map[string]any{"region": region}}})
	}
	all, _ := store.Stream(ctx, evstore.All)
	emea := evstore.Filter{evstore.Equals("metadata.region", "EMEA"), evstore.Like("event_type", "order%")}
	for e, err := range all.Read(ctx, evstore.WithFilter(emea)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Sequence, e.StreamID, e.Metadata["region"])
	}
	// Output:
	// 1 order-0 EMEA
	// 3 order-2 EMEA
}

// Watch replays the events after After(n), then follows new ones as they
// are committed.
func ExampleStream_Watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := open()
	defer store.Close()
	counter, _ := store.Stream(ctx, "counter")
	counter.Write(ctx, []evstore.CandidateEvent{{Type: "Increment"}})

	for e, err := range counter.Watch(ctx, evstore.After(0)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("watched version", e.Version)
		if e.Version == 3 {
			break
		}
		counter.Write(ctx, []evstore.CandidateEvent{{Type: "Increment"}}) // arrives live
	}
	// Output:
	// watched version 1
	// watched version 2
	// watched version 3
}

// A snapshot saves a read model's state at a version, so rebuilding it reads
// only the events after that version.
func ExampleStream_Snapshot() {
	ctx := context.Background()
	store := open()
	defer store.Close()
	counter, _ := store.Stream(ctx, "counter")
	events := []evstore.CandidateEvent{{Type: "Increment"}, {Type: "Increment"}, {Type: "Increment"}}
	counter.Write(ctx, events)
	counter.Snapshot(ctx, []byte("3"), evstore.Projection("count"))
	counter.Write(ctx, events[:1])

	snap, _ := counter.LoadSnapshot(ctx, "count")
	n := 0
	for range counter.Read(ctx, evstore.After(snap.Version)) {
		n++
	}
	fmt.Printf("state %s at version %d, %d event(s) to replay\n", snap.State, snap.Version, n)
	// Output:
	// state 3 at version 3, 1 event(s) to replay
}
