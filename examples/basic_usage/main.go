// Command basic_usage is the Go counterpart of py-event-sourcing's
// basic_usage.py: a tour of evstore on an embedded SQLite file in a
// temporary directory. It prints the same lines as the reference's sample
// output for the first four examples, then adds a fifth:
//
//  1. writing events to a stream and reading them back;
//  2. rebuilding a read model (a Counter) from the events with a projector;
//  3. watching a stream: historical events first, then new ones as they
//     are written;
//  4. saving a snapshot of the read model and rebuilding from it by
//     replaying only the events written since;
//  5. reading the global stream evstore.All, filtered on event metadata.
//
// Run it with:
//
//	go run ./examples/basic_usage
//
// or, on PostgreSQL:
//
//	go run ./examples/basic_usage -store 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/postgres"
	"github.com/go-event-sourcing/evstore/sqlite"
	"github.com/jackc/pgx/v5"
)

func main() {
	dsn := flag.String("store", "", "run on PostgreSQL at this postgres:// address, in a schema of its own, dropped afterwards")
	flag.Parse()
	ctx := context.Background()
	var err error
	if *dsn != "" {
		err = runPostgres(ctx, os.Stdout, *dsn)
	} else {
		err = run(ctx, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "basic_usage:", err)
		os.Exit(1)
	}
}

// runPostgres runs the examples on PostgreSQL, in a new schema.
func runPostgres(ctx context.Context, w io.Writer, dsn string) (err error) {
	schema := fmt.Sprintf("evstore_example_%d", os.Getpid())
	store, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, store.Close(), dropSchema(ctx, dsn, schema))
	}()
	return runOn(ctx, w, store)
}

func dropSchema(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// counterStream is the stream the first four examples work on.
const counterStream = "counter_stream_1"

// Counter is a read model: the state the Increment and Decrement events of
// a stream add up to. Its JSON form is what Example 4 saves as a snapshot.
type Counter struct {
	Count int `json:"count"`
}

// Apply is the projector: it folds one event into the read model.
func (c *Counter) Apply(e evstore.StoredEvent) {
	switch e.Type {
	case "Increment":
		c.Count++
	case "Decrement":
		c.Count--
	}
}

// run opens an event store in a temporary directory, runs every example
// against it, printing to w, and removes the directory.
func run(ctx context.Context, w io.Writer) (err error) {
	dir, err := os.MkdirTemp("", "evstore-basic-usage-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()

	store, err := sqlite.Open(ctx, filepath.Join(dir, "example.db"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	return runOn(ctx, w, store)
}

// runOn runs every example against store, printing to w.
func runOn(ctx context.Context, w io.Writer, store *evstore.Store) error {
	examples := []func(context.Context, io.Writer, *evstore.Store) error{
		writeAndRead,
		reconstructState,
		watch,
		snapshots,
		filterAll,
	}
	for i, ex := range examples {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := ex(ctx, w, store); err != nil {
			return fmt.Errorf("example %d: %w", i+1, err)
		}
	}
	return nil
}

// writeAndRead is Example 1: append three events, then read them back.
func writeAndRead(ctx context.Context, w io.Writer, store *evstore.Store) error {
	fmt.Fprintln(w, "--- Example 1: Writing and Reading Events ---")
	stream, err := store.Stream(ctx, counterStream)
	if err != nil {
		return err
	}
	version, err := stream.Write(ctx, []evstore.CandidateEvent{
		{Type: "Increment", Data: []byte(`{"amount":1}`)},
		{Type: "Increment", Data: []byte(`{"amount":1}`)},
		{Type: "Decrement", Data: []byte(`{"amount":1}`)},
	}, evstore.ExpectVersion(0)) // the stream must be new
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Stream '%s' is now at version %d.\n", stream.ID(), version)

	fmt.Fprintln(w, "Reading all events from the stream:")
	for e, err := range stream.Read(ctx) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  - Event version %d: %s\n", e.Version, e.Type)
	}
	return nil
}

// reconstructState is Example 2: fold the stream's events into a Counter.
func reconstructState(ctx context.Context, w io.Writer, store *evstore.Store) error {
	fmt.Fprintln(w, "--- Example 2: Reconstructing State from Events (Read Model & Projector) ---")
	stream, err := store.Stream(ctx, counterStream)
	if err != nil {
		return err
	}
	var counter Counter
	for e, err := range stream.Read(ctx) {
		if err != nil {
			return err
		}
		counter.Apply(e)
	}
	fmt.Fprintf(w, "Reconstructed state: Counter is %d.\n", counter.Count)
	return nil
}

// watch is Example 3: replay the stream's history, then follow it live.
// Once the historical events have been seen, the loop itself writes two
// more; the watch yields them as they are committed and stops after
// the last one.
func watch(ctx context.Context, w io.Writer, store *evstore.Store) error {
	fmt.Fprintln(w, "--- Example 3: Watching for New Events ---")
	stream, err := store.Stream(ctx, counterStream)
	if err != nil {
		return err
	}
	historical := stream.Version() // 3
	target := historical + 2

	// A watch runs until its loop breaks or its ctx ends. The timeout only
	// keeps the example from waiting forever should the new events never
	// arrive.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	fmt.Fprintln(w, "Watching for events (historical and new)...")
	// After(0) replays the whole history; without it Watch yields only
	// events written after the handle's Version.
	var seen int64
	for e, err := range stream.Watch(ctx, evstore.After(0)) {
		if err != nil {
			return err
		}
		seen = e.Version
		fmt.Fprintf(w, "  - Watched event: %s (version %d)\n", e.Type, e.Version)
		if e.Version == historical {
			fmt.Fprintln(w, "Writing new events to trigger the watcher...")
			if _, err := stream.Write(ctx, []evstore.CandidateEvent{
				{Type: "Increment", Data: []byte(`{"amount":1}`)},
				{Type: "Increment", Data: []byte(`{"amount":1}`)},
			}); err != nil {
				return err
			}
		}
		if e.Version == target {
			break
		}
	}
	if seen < target {
		// Watch ends without an error when its ctx ends.
		return fmt.Errorf("watch stopped at version %d, before version %d: %w", seen, target, context.Cause(ctx))
	}
	return nil
}

// snapshots is Example 4: save the Counter as a snapshot, write one more
// event, then rebuild from the snapshot and the events after it.
func snapshots(ctx context.Context, w io.Writer, store *evstore.Store) error {
	fmt.Fprintln(w, "--- Example 4: Using Snapshots for Efficiency ---")
	const projection = "counter"
	stream, err := store.Stream(ctx, counterStream)
	if err != nil {
		return err
	}

	// Build the read model from every event, and save it.
	var counter Counter
	for e, err := range stream.Read(ctx) {
		if err != nil {
			return err
		}
		counter.Apply(e)
	}
	state, err := json.Marshal(counter)
	if err != nil {
		return err
	}
	version := stream.Version() // 5: Read moved the handle to the newest event
	if err := stream.Snapshot(ctx, state, evstore.Projection(projection), evstore.AtVersion(version)); err != nil {
		return err
	}
	fmt.Fprintf(w, "Snapshot for '%s' projection saved at version %d with state: count = %d\n",
		projection, version, counter.Count)

	// The stream moves on after the snapshot.
	if _, err := stream.Write(ctx, []evstore.CandidateEvent{{Type: "Increment", Data: []byte(`{"amount":1}`)}}); err != nil {
		return err
	}

	// Later: restore the read model from the snapshot...
	snap, err := stream.LoadSnapshot(ctx, projection)
	if err != nil {
		return err
	}
	if snap == nil {
		return fmt.Errorf("no snapshot for projection %q", projection)
	}
	var restored Counter
	if err := json.Unmarshal(snap.State, &restored); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	fmt.Fprintf(w, "State for '%s' projection restored from snapshot at version %d. Count is %d.\n",
		snap.Projection, snap.Version, restored.Count)

	// ...and replay only the events written since.
	fmt.Fprintln(w, "Replaying events since snapshot...")
	for e, err := range stream.Read(ctx, evstore.After(snap.Version)) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  - Applying event version %d: %s\n", e.Version, e.Type)
		restored.Apply(e)
	}
	fmt.Fprintf(w, "Final reconstructed state: Counter is %d.\n", restored.Count)
	return nil
}

// filterAll is Example 5, which the reference does not have: events of
// several streams carry metadata, and a read of the global stream selects
// them by a metadata field.
func filterAll(ctx context.Context, w io.Writer, store *evstore.Store) error {
	fmt.Fprintln(w, "--- Example 5: Filtering the Global Stream ---")
	writes := []struct {
		stream string
		event  evstore.CandidateEvent
	}{
		{"order_1", evstore.CandidateEvent{Type: "OrderPlaced", Metadata: map[string]any{"region": "EMEA"}}},
		{"order_2", evstore.CandidateEvent{Type: "OrderPlaced", Metadata: map[string]any{"region": "US"}}},
		{"order_1", evstore.CandidateEvent{Type: "OrderShipped", Metadata: map[string]any{"region": "EMEA"}}},
	}
	for _, x := range writes {
		stream, err := store.Stream(ctx, x.stream)
		if err != nil {
			return err
		}
		if _, err := stream.Write(ctx, []evstore.CandidateEvent{x.event}); err != nil {
			return err
		}
	}

	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	m, err := all.Metrics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "The global stream '%s' holds %d events.\n", all.ID(), m.EventCount)

	fmt.Fprintln(w, "Reading events with metadata region = EMEA from all streams:")
	emea := evstore.Filter{evstore.Equals("metadata.region", "EMEA")}
	for e, err := range all.Read(ctx, evstore.WithFilter(emea)) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  - Event sequence %d: %s on '%s' (version %d)\n", e.Sequence, e.Type, e.StreamID, e.Version)
	}
	return nil
}
