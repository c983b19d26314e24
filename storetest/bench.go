package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// Bench runs the benchmarks every backend shares, so that backends are
// compared on the same code:
//
//	func BenchmarkStore(b *testing.B) { storetest.Bench(b, open) }
//
// Write/batch=N appends batches of N keyed events to one stream;
// WriteParallel has many goroutines append single events, to streams of
// their own or all to one (group commit); Read reads a 100,000-event stream; Watch measures
// the time from a write to its delivery to a watcher of All. Each reports
// events/s besides ns/op.
func Bench(b *testing.B, open OpenFunc) {
	for _, n := range []int{1, 10, 100, 10000} {
		b.Run(fmt.Sprintf("Write/batch=%d", n), func(b *testing.B) { benchWrite(b, open, n) })
	}
	b.Run("WriteParallel/streams=own", func(b *testing.B) { benchWriteParallel(b, open, false) })
	b.Run("WriteParallel/streams=one", func(b *testing.B) { benchWriteParallel(b, open, true) })
	b.Run("Read", func(b *testing.B) { benchRead(b, open) })
	b.Run("Watch", func(b *testing.B) { benchWatch(b, open) })
	b.Run("ReadAll", func(b *testing.B) { benchConsume(b, open, false) })
	b.Run("Consume", func(b *testing.B) { benchConsume(b, open, true) })
}

// benchConsume reads 100,000 events of 100 streams from All: with a plain
// Read, or by catching up a new consumer with a no-op handler and the
// default BatchSize (when the backend keeps consumers).
func benchConsume(b *testing.B, open OpenFunc, consume bool) {
	s := benchStore(b, open)
	ctx := context.Background()
	const total, streams = 100000, 100
	for i := 0; i < total; i += 1000 {
		st, err := s.Stream(ctx, fmt.Sprintf("s%d", i/1000%streams))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Write(ctx, batch(i, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	all, err := s.Stream(ctx, evstore.All)
	if err != nil {
		b.Fatal(err)
	}
	if consume {
		if err := probeConsumerBench(ctx, s); err != nil {
			b.Skip(err)
		}
	}
	read, round := 0, 0
	for b.Loop() {
		if !consume {
			for _, err := range all.Read(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				read++
			}
			continue
		}
		round++
		cctx, cancel := context.WithCancel(ctx)
		caughtUp := make(chan struct{})
		h := evstore.HandlerFunc(func(_ context.Context, events []evstore.StoredEvent) error {
			read += len(events)
			if events[len(events)-1].Sequence == total {
				close(caughtUp)
			}
			return nil
		})
		done := make(chan error, 1)
		go func() { done <- s.Consume(cctx, fmt.Sprintf("bench-%d", round), h) }()
		select {
		case <-caughtUp:
		case err := <-done:
			b.Fatalf("Consume ended before catching up: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, read)
}

// probeConsumerBench returns an error if the store keeps no consumers.
func probeConsumerBench(ctx context.Context, s *evstore.Store) error {
	for _, err := range s.Consumers(ctx) {
		return err
	}
	return nil
}

func benchStore(b *testing.B, open OpenFunc) *evstore.Store {
	s := open(b)
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

// batch returns n keyed events, the keys starting at from.
func batch(from, n int) []evstore.CandidateEvent {
	out := make([]evstore.CandidateEvent, n)
	for i := range out {
		out[i] = evstore.CandidateEvent{ID: fmt.Sprintf("key-%d", from+i), Type: "Increment", Data: []byte(`{"amount":1}`)}
	}
	return out
}

func reportRate(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func benchWrite(b *testing.B, open OpenFunc, n int) {
	s := benchStore(b, open)
	ctx := context.Background()
	st, err := s.Stream(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	written := 0
	for b.Loop() {
		b.StopTimer()
		events := batch(written, n)
		b.StartTimer()
		if _, err := st.Write(ctx, events); err != nil {
			b.Fatal(err)
		}
		written += n
	}
	reportRate(b, written)
}

// benchWriteParallel has 16 goroutines per CPU append single events, each
// to a stream of its own or all to one stream.
func benchWriteParallel(b *testing.B, open OpenFunc, oneStream bool) {
	s := benchStore(b, open)
	ctx := context.Background()
	var streams, written atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("writer-%d", streams.Add(1))
		if oneStream {
			id = "shared"
		}
		st, err := s.Stream(ctx, id)
		if err != nil {
			b.Error(err)
			return
		}
		event := []evstore.CandidateEvent{{Type: "Increment", Data: []byte(`{"amount":1}`)}}
		for pb.Next() {
			if _, err := st.Write(ctx, event); err != nil {
				b.Error(err)
				return
			}
			written.Add(1)
		}
	})
	reportRate(b, int(written.Load()))
}

func benchRead(b *testing.B, open OpenFunc) {
	s := benchStore(b, open)
	ctx := context.Background()
	st, err := s.Stream(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	const total = 100000
	for i := 0; i < total; i += 10000 {
		if _, err := st.Write(ctx, batch(i, 10000)); err != nil {
			b.Fatal(err)
		}
	}
	read := 0
	for b.Loop() {
		for _, err := range st.Read(ctx) {
			if err != nil {
				b.Fatal(err)
			}
			read++
		}
	}
	if read != total*b.N {
		b.Fatalf("read %d events, want %d", read, total*b.N)
	}
	reportRate(b, read)
}

func benchWatch(b *testing.B, open OpenFunc) {
	s := benchStore(b, open)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all, err := s.Stream(ctx, evstore.All)
	if err != nil {
		b.Fatal(err)
	}
	st, err := s.Stream(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan int64)
	go func() {
		for e, err := range all.Watch(ctx) {
			if err != nil {
				return
			}
			got <- e.Version
		}
	}()
	event := []evstore.CandidateEvent{{Type: "Increment"}}
	// Wait for the watcher to start: write until it delivers.
	if _, err := st.Write(ctx, event); err != nil {
		b.Fatal(err)
	}
	<-got
	delivered := 0
	for b.Loop() {
		v, err := st.Write(ctx, event)
		if err != nil {
			b.Fatal(err)
		}
		if w := <-got; w != v {
			b.Fatalf("watcher got version %d, want %d", w, v)
		}
		delivered++
	}
	reportRate(b, delivered)
}
