package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// benchFanout has cfg.watchers watchers of @all each receive every one of
// cfg.fanoutEvents events, in order, and reports the rate and peak memory.
func benchFanout(ctx context.Context, cfg benchConfig, target benchTarget, res *benchResults, out io.Writer) error {
	store, _, done, err := target.openPhase(ctx, "fanout")
	if err != nil {
		return err
	}
	defer done()
	resetPeakRSS()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.watchers)
	for range cfg.watchers {
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
				if want++; want > int64(cfg.fanoutEvents) {
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
	for done := 0; done < cfg.fanoutEvents; done += batch {
		if _, err := st.Write(ctx, benchEvents(done, min(batch, cfg.fanoutEvents-done), false)); err != nil {
			return err
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	res.FanoutWatchers = cfg.watchers
	res.FanoutEventsPerSec = float64(cfg.fanoutEvents) / elapsed.Seconds()
	res.FanoutDeliveriesPerSec = float64(cfg.fanoutEvents) * float64(cfg.watchers) / elapsed.Seconds()
	res.PeakRSSBytes = peakRSS()
	fmt.Fprintf(out, "\n--- Fan-out: %s watchers of @all, %s events ---\n", commas(int64(cfg.watchers)), commas(int64(cfg.fanoutEvents)))
	fmt.Fprintf(out, "Every watcher received every event in order in %.2f seconds: %s events/sec, %s deliveries/sec.\n",
		elapsed.Seconds(), commasFloat(res.FanoutEventsPerSec), commasFloat(res.FanoutDeliveriesPerSec))
	fmt.Fprintf(out, "Peak memory (RSS): %.1f MiB.\n", float64(res.PeakRSSBytes)/(1<<20))
	return nil
}

// resetPeakRSS starts a new peak for peakRSS, where Linux allows it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak resident memory (Linux), or 0.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
