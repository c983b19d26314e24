package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// increments returns the events from..from+n-1 of the reference workload:
// "Increment"s of a counter, with idempotency keys if keys.
func increments(from, n int, keys bool) []evstore.CandidateEvent {
	events := make([]evstore.CandidateEvent, n)
	data := []byte(`{"amount": 1}`)
	for i := range events {
		events[i] = evstore.CandidateEvent{Type: "Increment", Data: data}
		if keys {
			events[i].ID = "event-" + strconv.Itoa(from+i)
		}
	}
	return events
}

// reference is the Python library's benchmark: write, rebuild from
// every event, snapshot, write 100 more, rebuild from the snapshot.
func reference(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	store, loc, done, err := t.openPhase(ctx, "bench")
	if err != nil {
		return err
	}
	defer done()
	st, err := store.Stream(ctx, "counter")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "--- Running benchmark with %s events ---\n", Commas(int64(cfg.Events)))
	fmt.Fprintf(out, "Writing %s events...\n", Commas(int64(cfg.Events)))
	bar := cfg.Progress
	if bar == nil {
		bar = noProgress{}
	}
	start := time.Now()
	for done := 0; done < cfg.Events; {
		n := min(cfg.Batch, cfg.Events-done)
		if _, err := st.Write(ctx, increments(done, n, cfg.Keys)); err != nil {
			return err
		}
		done += n
		bar.Set(done)
	}
	elapsed := time.Since(start)
	bar.Done()
	res.WriteSeconds = elapsed.Seconds()
	res.WriteEventsPerSec = float64(cfg.Events) / elapsed.Seconds()
	fmt.Fprintf(out, "\nFinished writing %s events in %.2f seconds.\n", Commas(int64(cfg.Events)), elapsed.Seconds())
	fmt.Fprintf(out, "Write throughput: %s events/sec.\n", commasFloat(res.WriteEventsPerSec))

	fmt.Fprintln(out, "\n--- Benchmark 1: Reconstructing state from all events ---")
	start = time.Now()
	count, err := countIncrements(ctx, st)
	if err != nil {
		return err
	}
	elapsed = time.Since(start)
	res.ReadSeconds = elapsed.Seconds()
	res.ReadEventsPerSec = float64(count) / elapsed.Seconds()
	fmt.Fprintf(out, "Reconstructed state (all events): Counter is %s.\n", Commas(count))
	fmt.Fprintf(out, "Time to reconstruct from all events: %.2f seconds.\n", elapsed.Seconds())
	fmt.Fprintf(out, "Read throughput: %s events/sec.\n", commasFloat(res.ReadEventsPerSec))

	fmt.Fprintln(out, "\n--- Benchmark 2: Reconstructing state using snapshot ---")
	fmt.Fprintln(out, "Creating snapshot...")
	state, _ := json.Marshal(map[string]int64{"count": count})
	if err := st.Snapshot(ctx, state, evstore.Projection("counter"), evstore.AtVersion(count)); err != nil {
		return err
	}
	fmt.Fprintln(out, "Snapshot created.")
	fmt.Fprintln(out, "Writing 100 additional events...")
	if _, err := st.Write(ctx, increments(cfg.Events, 100, cfg.Keys)); err != nil {
		return err
	}
	fmt.Fprintln(out, "Finished writing 100 additional events.")
	// The first rebuild prepares statements; later ones show the steady
	// state. The median of several is reported.
	var rebuilds []time.Duration
	var snap *evstore.Snapshot
	var total int64
	for range snapshotRebuilds {
		start = time.Now()
		var saved int64
		if snap, saved, err = loadCounter(ctx, st); err != nil {
			return err
		}
		more, err := countIncrements(ctx, st, evstore.After(snap.Version))
		if err != nil {
			return err
		}
		rebuilds = append(rebuilds, time.Since(start))
		total = saved + more
	}
	first := rebuilds[0]
	slices.Sort(rebuilds)
	elapsed = rebuilds[len(rebuilds)/2]
	res.SnapshotRebuildSeconds = elapsed.Seconds()
	res.SnapshotRebuildFirstSeconds = first.Seconds()
	fmt.Fprintf(out, "State restored from snapshot at version %s.\n", Commas(snap.Version))
	fmt.Fprintf(out, "Reconstructed state (with snapshot): Counter is %s.\n", Commas(total))
	fmt.Fprintf(out, "Time to reconstruct with snapshot: %.2f seconds (median of %d; the first took %.4f).\n",
		elapsed.Seconds(), snapshotRebuilds, first.Seconds())

	fmt.Fprintln(out, "\n--- Benchmark Summary ---")
	fmt.Fprintf(out, "Time to reconstruct from all %s events: %.2f seconds.\n", Commas(count+100), res.ReadSeconds*float64(count+100)/float64(count))
	fmt.Fprintf(out, "Time to reconstruct with snapshot (after %s events): %.4f seconds.\n", Commas(snap.Version), res.SnapshotRebuildSeconds)
	if err := store.Close(); err != nil {
		return err
	}
	res.DBBytes = t.size(ctx, loc)
	fmt.Fprintf(out, "\nDatabase file size: %.2f MB\n", float64(res.DBBytes)/(1<<20))
	return nil
}

// snapshotRebuilds is how many times the rebuild from the snapshot runs.
const snapshotRebuilds = 9

// loadCounter loads the counter's snapshot and decodes its state.
func loadCounter(ctx context.Context, st *evstore.Stream) (*evstore.Snapshot, int64, error) {
	snap, err := st.LoadSnapshot(ctx, "counter")
	if err != nil || snap == nil {
		return nil, 0, fmt.Errorf("load snapshot: %v", err)
	}
	var saved struct{ Count int64 }
	if err := json.Unmarshal(snap.State, &saved); err != nil {
		return nil, 0, err
	}
	return snap, saved.Count, nil
}

// countIncrements rebuilds the counter from the stream's events.
func countIncrements(ctx context.Context, st *evstore.Stream, opts ...evstore.ReadOption) (int64, error) {
	var n int64
	for e, err := range st.Read(ctx, opts...) {
		if err != nil {
			return 0, err
		}
		if e.Type == "Increment" {
			n++
		}
	}
	return n, nil
}
