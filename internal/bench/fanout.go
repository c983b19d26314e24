package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// fanout has cfg.Watchers watchers of @all each receive every one of
// cfg.FanoutEvents events, in order, and reports the rate and peak memory.
func fanout(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	store, _, done, err := t.openPhase(ctx, "fanout")
	if err != nil {
		return err
	}
	defer done()
	resetPeakRSS()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Watchers)
	for range cfg.Watchers {
		all, err := store.Stream(ctx, evstore.All)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var want int64 = 1
			for e, err := range all.Watch(wctx) {
				if err != nil {
					errs <- err
					return
				}
				if e.Sequence != want {
					errs <- fmt.Errorf("watcher got sequence %d, want %d", e.Sequence, want)
					return
				}
				if want++; want > int64(cfg.FanoutEvents) {
					return
				}
			}
		}()
	}
	st, err := store.Stream(ctx, "fanout")
	if err != nil {
		return err
	}
	start := time.Now()
	const batch = 100
	for done := 0; done < cfg.FanoutEvents; done += batch {
		if _, err := st.Write(ctx, increments(done, min(batch, cfg.FanoutEvents-done), false)); err != nil {
			return err
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	res.FanoutWatchers = cfg.Watchers
	res.FanoutEventsPerSec = float64(cfg.FanoutEvents) / elapsed.Seconds()
	res.FanoutDeliveriesPerSec = float64(cfg.FanoutEvents) * float64(cfg.Watchers) / elapsed.Seconds()
	res.PeakRSSBytes = peakRSS()
	fmt.Fprintf(out, "\n--- Fan-out: %s watchers of @all, %s events ---\n", Commas(int64(cfg.Watchers)), Commas(int64(cfg.FanoutEvents)))
	fmt.Fprintf(out, "Every watcher received every event in order in %.2f seconds: %s events/sec, %s deliveries/sec.\n",
		elapsed.Seconds(), commasFloat(res.FanoutEventsPerSec), commasFloat(res.FanoutDeliveriesPerSec))
	fmt.Fprintf(out, "Peak memory (RSS): %.1f MiB.\n", float64(res.PeakRSSBytes)/(1<<20))
	return nil
}
