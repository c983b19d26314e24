package main

import (
	"context"
	"fmt"
	"os"
)

// Example runs the program twice on one directory; the test checks every
// line both runs print. The second run writes nothing new and applies
// nothing twice: its balances are the first run's.
func Example() {
	dir, err := os.MkdirTemp("", "evstore-projector-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for i := range 2 {
		fmt.Printf("=== Run %d ===\n", i+1)
		if err := run(context.Background(), os.Stdout, dir); err != nil {
			panic(err)
		}
	}
	// Output:
	// === Run 1 ===
	// The read model is new: it has applied no event yet.
	//
	// Writing 5 events...
	//   5 new events.
	// Started the consumer "balances"; waiting for the read model to catch up...
	// The read model has caught up: it has applied the events up to Sequence 5, the newest.
	// Balances:
	//   alice    70.00
	//   bob      37.50
	//   carol    20.00
	//
	// Writing 3 more events while the consumer runs...
	//   3 new events.
	// The running consumer applied them live: the read model is at Sequence 8, the newest.
	// Balances:
	//   alice    50.00
	//   bob      37.50
	//   carol    25.00
	//   dave      1.00
	//
	// Stopped the consumer: cancelling its ctx made Consume return nil.
	// Run the program again on the same directory (-dir): it will show the same balances.
	// === Run 2 ===
	// The read model was kept by an earlier run: it has applied the events up to Sequence 8.
	//
	// Writing 5 events...
	//   No new event: the store already had all 5 (by their IDs), so it skipped them.
	// Started the consumer "balances"; waiting for the read model to catch up...
	// The read model has caught up: it has applied the events up to Sequence 8, the newest.
	// Balances:
	//   alice    50.00
	//   bob      37.50
	//   carol    25.00
	//   dave      1.00
	//
	// Writing 3 more events while the consumer runs...
	//   No new event: the store already had all 3 (by their IDs), so it skipped them.
	// The read model is still at Sequence 8, the newest.
	// Balances:
	//   alice    50.00
	//   bob      37.50
	//   carol    25.00
	//   dave      1.00
	//
	// Stopped the consumer: cancelling its ctx made Consume return nil.
	// Nothing was applied twice: this run's writes added no event, and the consumer went on after
	// Sequence 8, where the read model's position said it had stopped. The balances are the earlier run's.
}
