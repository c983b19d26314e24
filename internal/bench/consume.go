package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// consumeRounds is how many times the consume phase alternates a plain
// Read of @all and a Consume catch-up, for medians measured side by side.
// The ratio is the median of the rounds' ratios, which a machine whose
// speed drifts during the run (a shared VM) moves less than a ratio of
// medians.
const consumeRounds = 5

// consume measures consumers: catch-up through Consume with a no-op
// handler against a plain Read of @all over the same events, the latency
// from Write to Handle, and how long a standby on another Store takes to
// take over after the active one stops.
func consume(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	store, loc, done, err := t.openPhase(ctx, "consume")
	if err != nil {
		return err
	}
	defer done()
	const streams = 100
	handles := make([]*evstore.Stream, streams)
	for i := range handles {
		if handles[i], err = store.Stream(ctx, fmt.Sprintf("account-%d", i)); err != nil {
			return err
		}
	}
	per := min(cfg.Batch, 1000)
	for written, i := 0, 0; written < cfg.Events; i++ {
		n := min(per, cfg.Events-written)
		if _, err := handles[i%streams].Write(ctx, increments(written, n, false)); err != nil {
			return err
		}
		written += n
	}
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	head := all.Version()

	var reads, consumes, ratios []float64
	for round := range consumeRounds {
		start := time.Now()
		n := 0
		for _, err := range all.Read(ctx, evstore.After(0)) {
			if err != nil {
				return err
			}
			n++
		}
		reads = append(reads, float64(n)/time.Since(start).Seconds())
		rate, err := consumeCatchUp(ctx, store, fmt.Sprintf("bench-catch-up-%d", round), head)
		if err != nil {
			return err
		}
		consumes = append(consumes, rate)
		ratios = append(ratios, rate/reads[round])
	}
	res.ReadAllEventsPerSec, res.ConsumeEventsPerSec = median(reads), median(consumes)
	res.ConsumeRatio = median(ratios)

	lat, err := consumeLatency(ctx, store, handles[0])
	if err != nil {
		return err
	}
	res.ConsumeP50Ms, res.ConsumeP99Ms = percentiles(lat)
	cross, err := crossProcessLatency(ctx, store, t, loc, true)
	if err != nil {
		return fmt.Errorf("cross-process consume: %w", err)
	}
	res.ConsumeCrossProcessP50Ms, res.ConsumeCrossProcessP99Ms = percentiles(cross)
	if res.PollIntervalMs == 0 {
		res.PollIntervalMs = ms(pollInterval(t))
	}

	other, err := t.open(ctx, loc)
	if err != nil {
		return err
	}
	defer other.Close()
	takeover, err := consumeTakeover(ctx, store, other, handles[0])
	if err != nil {
		return err
	}
	res.ConsumeTakeoverMs = ms(takeover)
	killed, err := consumeKillTakeover(ctx, store, t, loc, handles[0])
	if err != nil {
		return err
	}
	res.ConsumeKillTakeoverMs, res.ConsumeKillLeaseMs = ms(killed), ms(killLease)
	if res.ReadModelEventsPerSec, err = consumeReadModel(ctx, store, t.dir, head); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n--- Consume: catch-up, live latency, takeover ---")
	fmt.Fprintf(out, "Catch-up through Consume (no-op handler, batches of %d): %s events/s; a plain Read of @all: %s events/s; ratio %.2f (medians of %d rounds, each a Read then a catch-up).\n",
		evstore.DefaultBatchSize, commasFloat(res.ConsumeEventsPerSec), commasFloat(res.ReadAllEventsPerSec), res.ConsumeRatio, consumeRounds)
	fmt.Fprintf(out, "Write to Handle, in-process: p50 %.3f ms, p99 %.3f ms (%d writes).\n", res.ConsumeP50Ms, res.ConsumeP99Ms, len(lat))
	fmt.Fprintf(out, "Write to Handle, consumer in another process (poll interval %v): p50 %.3f ms, p99 %.3f ms (%d writes).\n",
		pollInterval(t), res.ConsumeCrossProcessP50Ms, res.ConsumeCrossProcessP99Ms, len(cross))
	fmt.Fprintf(out, "Standby in this process takes over after SIGKILL of the active one in another (LeaseTime %v): %.1f ms.\n", killLease, res.ConsumeKillTakeoverMs)
	fmt.Fprintf(out, "A readmodel projector, one INSERT per event into a SQLite read model, under Consume: %s events/s.\n", commasFloat(res.ReadModelEventsPerSec))
	fmt.Fprintf(out, "Standby on another Store takes over after a clean stop and handles a new event in %.1f ms.\n", res.ConsumeTakeoverMs)
	return nil
}

// consumeCatchUp runs a new consumer with a no-op handler until it has
// handled every event up to head, and returns its rate.
func consumeCatchUp(ctx context.Context, store *evstore.Store, name string, head int64) (float64, error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var n atomic.Int64
	caughtUp := make(chan struct{})
	var once sync.Once // batches after head may come before Consume stops
	h := evstore.HandlerFunc(func(_ context.Context, events []evstore.StoredEvent) error {
		n.Add(int64(len(events)))
		if events[len(events)-1].Sequence >= head {
			once.Do(func() { close(caughtUp) })
		}
		return nil
	})
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- store.Consume(cctx, name, h) }()
	select {
	case <-caughtUp:
	case err := <-errc:
		return 0, fmt.Errorf("consume ended before catching up: %v", err)
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(n.Load()) / elapsed.Seconds(), nil
}

// consumeLatency measures, for single-event writes, the time from Write to
// the Handle that gets the event.
func consumeLatency(ctx context.Context, store *evstore.Store, st *evstore.Stream) ([]time.Duration, error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	arrived := make(chan time.Time, 16)
	h := evstore.HandlerFunc(func(_ context.Context, events []evstore.StoredEvent) error {
		for range events {
			arrived <- time.Now()
		}
		return nil
	})
	// The consumer starts after the newest event: it is live at once.
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return nil, err
	}
	if err := store.ResetConsumer(ctx, "bench-latency", all.Version()); err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- store.Consume(cctx, "bench-latency", h) }()
	event := increments(0, 1, false)
	var lat []time.Duration
	for i := range latencySamples + 10 {
		start := time.Now()
		if _, err := st.Write(ctx, event); err != nil {
			return nil, err
		}
		select {
		case at := <-arrived:
			if i >= 10 {
				lat = append(lat, at.Sub(start))
			}
		case err := <-errc:
			return nil, fmt.Errorf("consumer ended: %v", err)
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("consumer did not get event %d", i)
		}
		time.Sleep(200 * time.Microsecond)
	}
	cancel()
	return lat, <-errc
}

// consumeTakeover runs a consumer on active and a standby on standby (two
// Stores on one database), stops the active one, writes an event, and
// returns the time from the stop to the standby's Handle of it.
func consumeTakeover(ctx context.Context, active, standby *evstore.Store, st *evstore.Stream) (time.Duration, error) {
	const name = "bench-takeover"
	all, err := active.Stream(ctx, evstore.All)
	if err != nil {
		return 0, err
	}
	if err := active.ResetConsumer(ctx, name, all.Version()); err != nil {
		return 0, err
	}
	got := make(chan time.Time, 16)
	h := evstore.HandlerFunc(func(_ context.Context, events []evstore.StoredEvent) error {
		got <- time.Now()
		return nil
	})
	actx, stopActive := context.WithCancel(ctx)
	defer stopActive()
	sctx, stopStandby := context.WithCancel(ctx)
	defer stopStandby()
	aerr, serr := make(chan error, 1), make(chan error, 1)
	go func() { aerr <- active.Consume(actx, name, h) }()
	if _, err := st.Write(ctx, increments(0, 1, false)); err != nil {
		return 0, err
	}
	select {
	case <-got: // the active one runs
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("the active consumer handled nothing")
	}
	go func() { serr <- standby.Consume(sctx, name, h) }()
	time.Sleep(200 * time.Millisecond) // the standby waits
	start := time.Now()
	stopActive()
	if err := <-aerr; err != nil {
		return 0, err
	}
	if _, err := st.Write(ctx, increments(0, 1, false)); err != nil {
		return 0, err
	}
	var took time.Duration
	select {
	case at := <-got:
		took = at.Sub(start)
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("the standby did not take over")
	}
	stopStandby()
	return took, <-serr
}
