package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) concurrencyTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"ContendedStream":  k.testContendedStream,
		"ManyStreams":      k.testManyStreams,
		"ConcurrentRetry":  k.testConcurrentRetry,
		"ReadersOnWriters": k.testReadersOnWriters,
	}
}

// testContendedStream: goroutines append to one stream with ExpectVersion,
// retrying conflicts. Every write lands once, versions stay gapless.
func (k *kit) testContendedStream(t *testing.T) {
	s := k.store(t)
	const workers, each = 8, 25
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := stream(t, s, "hot")
			for i := 0; i < each; {
				_, err := st.Write(ctx(t), []evstore.CandidateEvent{{Type: "E", Data: fmt.Appendf(nil, "%d-%d", w, i)}},
					evstore.ExpectVersion(st.Version()))
				var ce *evstore.ConflictError
				switch {
				case errors.As(err, &ce):
					conflicts.Add(1)
					if _, err := st.Metrics(ctx(t)); err != nil { // refresh the handle
						t.Error(err)
						return
					}
				case err != nil:
					t.Errorf("worker %d: %v", w, err)
					return
				default:
					i++
				}
			}
		}()
	}
	wg.Wait()
	got := readAll(t, stream(t, s, "hot"))
	if !slices.Equal(versions(got), span(1, workers*each)) {
		t.Errorf("got versions %v..., want 1..%d with no gap", versions(got)[:min(10, len(got))], workers*each)
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[string(e.Data)] {
			t.Errorf("event %s written twice", e.Data)
		}
		seen[string(e.Data)] = true
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

func (k *kit) testManyStreams(t *testing.T) {
	s := k.store(t)
	const workers, each = 8, 30
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := stream(t, s, fmt.Sprintf("s-%d", w))
			for i := range each {
				if _, err := st.Write(ctx(t), events("E", 1), evstore.ExpectVersion(int64(i))); err != nil {
					t.Errorf("stream %d write %d: %v", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := range workers {
		if got := versions(readAll(t, stream(t, s, fmt.Sprintf("s-%d", w)))); !slices.Equal(got, span(1, each)) {
			t.Errorf("stream %d: got %d events, want versions 1..%d", w, len(got), each)
		}
	}
	all := readAll(t, stream(t, s, evstore.All))
	if len(all) != workers*each || !slices.IsSorted(sequences(all)) {
		t.Errorf("@all: got %d events (sorted: %v), want %d in order", len(all), slices.IsSorted(sequences(all)), workers*each)
	}
}

// testConcurrentRetry: the same keyed batch sent from many goroutines at
// once is written exactly once, and every sender succeeds.
func (k *kit) testConcurrentRetry(t *testing.T) {
	s := k.store(t)
	batch := keyed("a", "b", "c")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := stream(t, s, "s").Write(ctx(t), batch, evstore.ExpectVersion(0))
			if err != nil || v != 3 {
				t.Errorf("got %d, %v; want 3, nil", v, err)
			}
		}()
	}
	wg.Wait()
	if n := len(readAll(t, stream(t, s, "s"))); n != 3 {
		t.Errorf("got %d events, want 3", n)
	}
}

// testReadersOnWriters: reads running alongside writes see whole batches.
func (k *kit) testReadersOnWriters(t *testing.T) {
	s := k.store(t)
	const batches, size = 100, 7
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := stream(t, s, "s")
			for {
				select {
				case <-done:
					return
				default:
				}
				got := readAll(t, st)
				if len(got)%size != 0 {
					t.Errorf("read %d events: part of a batch", len(got))
					return
				}
			}
		}()
	}
	st := stream(t, s, "s")
	for range batches {
		write(t, st, events("E", size))
	}
	close(done)
	wg.Wait()
}
