package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// Example runs the whole tour; the test checks every line it prints.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// --- Example 1: Writing and Reading Events ---
	// Stream 'counter_stream_1' is now at version 3.
	// Reading all events from the stream:
	//   - Event version 1: Increment
	//   - Event version 2: Increment
	//   - Event version 3: Decrement
	//
	// --- Example 2: Reconstructing State from Events (Read Model & Projector) ---
	// Reconstructed state: Counter is 1.
	//
	// --- Example 3: Watching for New Events ---
	// Watching for events (historical and new)...
	//   - Watched event: Increment (version 1)
	//   - Watched event: Increment (version 2)
	//   - Watched event: Decrement (version 3)
	// Writing new events to trigger the watcher...
	//   - Watched event: Increment (version 4)
	//   - Watched event: Increment (version 5)
	//
	// --- Example 4: Using Snapshots for Efficiency ---
	// Snapshot for 'counter' projection saved at version 5 with state: count = 3
	// State for 'counter' projection restored from snapshot at version 5. Count is 3.
	// Replaying events since snapshot...
	//   - Applying event version 6: Increment
	// Final reconstructed state: Counter is 4.
	//
	// --- Example 5: Filtering the Global Stream ---
	// The global stream '@all' holds 9 events.
	// Reading events with metadata region = EMEA from all streams:
	//   - Event sequence 7: OrderPlaced on 'order_1' (version 1)
	//   - Event sequence 9: OrderShipped on 'order_1' (version 2)
}

// TestPostgresSameOutput runs the tour on PostgreSQL: it must print what it
// prints on SQLite.
func TestPostgresSameOutput(t *testing.T) {
	dsn := os.Getenv("EVSTORE_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set EVSTORE_POSTGRES_DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the tour on PostgreSQL")
	}
	var onSQLite, onPostgres bytes.Buffer
	if err := run(context.Background(), &onSQLite); err != nil {
		t.Fatal(err)
	}
	if err := runPostgres(context.Background(), &onPostgres, dsn); err != nil {
		t.Fatal(err)
	}
	if got, want := onPostgres.String(), onSQLite.String(); got != want {
		t.Errorf("on PostgreSQL the tour printed:\n%s\nwant, as on SQLite:\n%s", got, want)
	}
}
