package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// slowWatchers writes cfg.Events events (in cfg.Batch batches) twice, on new
// databases: once with nobody watching, once with one watcher that never
// reads after its first event and cfg.Slow watchers that read slowly. It
// reports the write rate with watchers against without, the peak memory,
// and checks that every slow watcher got every event in order.
func slowWatchers(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	alone, err := slowPhase(ctx, cfg, t, "slow-alone", 0)
	if err != nil {
		return err
	}
	resetPeakRSS()
	watched, err := slowPhase(ctx, cfg, t, "slow-watched", cfg.Slow)
	if err != nil {
		return err
	}
	res.SlowWatchers = cfg.Slow
	res.SlowWriteRatio = watched / alone
	res.SlowPeakRSSBytes = peakRSS()
	fmt.Fprintf(out, "\n--- Slow watchers: 1 stalled and %d slow watchers of @all, %s events ---\n", cfg.Slow, Commas(int64(cfg.Events)))
	fmt.Fprintf(out, "Writes without watchers: %s events/sec; with them: %s events/sec (%.2f).\n",
		commasFloat(alone), commasFloat(watched), res.SlowWriteRatio)
	fmt.Fprintf(out, "Every slow watcher received every event in order. Peak memory (RSS): %.1f MiB.\n", float64(res.SlowPeakRSSBytes)/(1<<20))
	return nil
}

// slowPhase returns the write rate with the given number of slow watchers
// (and, if any, one stalled one), after they have all caught up.
func slowPhase(ctx context.Context, cfg Config, t target, phase string, slow int) (float64, error) {
	store, _, done, err := t.openPhase(ctx, phase)
	if err != nil {
		return 0, err
	}
	defer done()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, slow+1)
	release := make(chan struct{})
	if slow > 0 {
		stalled, err := store.Stream(ctx, evstore.All)
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() { // takes one event, then never comes back until the end
			defer wg.Done()
			for range stalled.Watch(wctx, evstore.After(0)) {
				<-release
				return
			}
		}()
	}
	for range slow {
		all, err := store.Stream(ctx, evstore.All)
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var want int64 = 1
			for e, err := range all.Watch(wctx, evstore.After(0)) {
				if err != nil {
					errs <- err
					return
				}
				if e.Sequence != want {
					errs <- fmt.Errorf("slow watcher got sequence %d, want %d", e.Sequence, want)
					return
				}
				if want%1000 == 0 {
					time.Sleep(2 * time.Millisecond) // a slow consumer
				}
				if want++; want > int64(cfg.Events) {
					return
				}
			}
		}()
	}
	st, err := store.Stream(ctx, "slow")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for done := 0; done < cfg.Events; {
		n := min(cfg.Batch, cfg.Events-done)
		if _, err := st.Write(ctx, increments(done, n, cfg.Keys)); err != nil {
			return 0, err
		}
		done += n
	}
	rate := float64(cfg.Events) / time.Since(start).Seconds()
	close(release)
	// Wait for the slow watchers to catch up (the stalled one has left).
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("slow watchers did not catch up in 10 minutes")
	}
	close(errs)
	return rate, <-errs
}
