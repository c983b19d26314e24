package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// writers compares one goroutine writing one event per transaction with
// cfg.Writers goroutines writing cfg.Batch events each: half to streams of
// their own, half contending on one stream with ExpectVersion, retrying
// conflicts. Group commit coalesces their writes.
func writers(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	store, _, done, err := t.openPhase(ctx, "writers")
	if err != nil {
		return err
	}
	defer done()

	single, err := store.Stream(ctx, "single")
	if err != nil {
		return err
	}
	event := increments(0, 1, false)
	var n int64
	start := time.Now()
	for time.Since(start) < cfg.Duration {
		if _, err := single.Write(ctx, event); err != nil {
			return err
		}
		n++
	}
	res.SingleWriterEventsPerSec = float64(n) / time.Since(start).Seconds()

	var written, conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Writers)
	deadline := time.Now().Add(cfg.Duration)
	start = time.Now()
	for w := range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("writer-%d", w)
			contended := w%2 == 1
			if contended {
				id = "contended"
			}
			st, err := store.Stream(ctx, id)
			if err != nil {
				errs <- err
				return
			}
			events := increments(0, cfg.Batch, false)
			expected := st.Version()
			for time.Now().Before(deadline) {
				var opts []evstore.WriteOption
				if contended {
					opts = append(opts, evstore.ExpectVersion(expected))
				}
				v, err := st.Write(ctx, events, opts...)
				var conflict *evstore.ConflictError
				switch {
				case errors.As(err, &conflict):
					conflicts.Add(1)
					expected = conflict.Actual
					continue
				case err != nil:
					errs <- err
					return
				}
				expected = v
				written.Add(int64(len(events)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	res.Writers = cfg.Writers
	res.GroupCommitEventsPerSec = float64(written.Load()) / time.Since(start).Seconds()
	res.Conflicts = conflicts.Load()
	res.GroupCommitSpeedup = res.GroupCommitEventsPerSec / res.SingleWriterEventsPerSec
	fmt.Fprintf(out, "\n--- Group commit: %d writers, %d event(s) per write, %v each ---\n", cfg.Writers, cfg.Batch, cfg.Duration)
	fmt.Fprintf(out, "One writer, one event per transaction: %s events/sec.\n", commasFloat(res.SingleWriterEventsPerSec))
	fmt.Fprintf(out, "%d concurrent writers: %s events/sec (%.2fx), %s conflicts retried.\n",
		cfg.Writers, commasFloat(res.GroupCommitEventsPerSec), res.GroupCommitSpeedup, Commas(res.Conflicts))
	return nil
}
