package memory_test

import (
	"context"
	"fmt"
	"log"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
)

// A store in memory works like any other: here, a write, its retry, a
// conflict and a read.
func Example() {
	ctx := context.Background()
	store, err := memory.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	cart, err := store.Stream(ctx, "cart-1")
	if err != nil {
		log.Fatal(err)
	}
	events := []evstore.CandidateEvent{
		{ID: "add-apple", Type: "ItemAdded", Data: []byte(`{"sku":"apple"}`)},
		{ID: "add-pear", Type: "ItemAdded", Data: []byte(`{"sku":"pear"}`), Metadata: map[string]any{"user": "ada"}},
	}
	v, err := cart.Write(ctx, events, evstore.ExpectVersion(0))
	fmt.Println("written up to version", v, err)

	// A retry whose events are all there appends nothing, whatever it expects.
	var r evstore.WriteReport
	v, err = cart.Write(ctx, events, evstore.ExpectVersion(0), evstore.Report(&r))
	fmt.Println("retry: version", v, "appended", r.Appended, err)

	// A new event with a stale expectation is a conflict.
	_, err = cart.Write(ctx, []evstore.CandidateEvent{{Type: "CheckedOut"}}, evstore.ExpectVersion(1))
	fmt.Println(err)

	for e, err := range cart.Read(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Version, e.ID, e.Type, string(e.Data), e.Metadata)
	}
	// Output:
	// written up to version 2 <nil>
	// retry: version 2 appended 0 <nil>
	// evstore: version conflict on stream "cart-1": expected version 1, actual 2
	// 1 add-apple ItemAdded {"sku":"apple"} map[]
	// 2 add-pear ItemAdded {"sku":"pear"} map[user:ada]
}
