package aggregate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
)

// fillAccount writes an open account with n-1 deposits of 1 to stream id,
// in batches, and with snapshot saves the state at version n.
func fillAccount(b *testing.B, s *evstore.Store, id string, n int, snapshot bool) {
	ctx := context.Background()
	st, err := s.Stream(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	batch := []evstore.CandidateEvent{{Type: "Opened", Data: []byte(`{"owner":"ada"}`)}}
	for i := 1; i <= n; i++ {
		if i > 1 {
			batch = append(batch, evstore.CandidateEvent{Type: "Deposited", Data: []byte(`{"amount":1}`)})
		}
		if len(batch) == 1000 || i == n {
			if _, err := st.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if snapshot {
		state, _ := json.Marshal(Account{Open: true, Owner: "ada", Balance: int64(n - 1)})
		if err := st.Snapshot(ctx, state, evstore.AtVersion(int64(n)), evstore.Projection(aggregate.DefaultSnapshotProjection)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandle: the time of one command on a stream of 10, 1,000 and
// 100,000 events, without snapshots and with SnapshotEvery(100). So that
// the stream stays about that long, each stream takes at most n/10
// commands (at least 1), then the benchmark moves to a fresh one, filled
// with the timer stopped.
//
//	go test -run '^$' -bench Handle -count 3 ./aggregate/
func BenchmarkHandle(b *testing.B) {
	for _, be := range []backend{{"memory", openMemory}, {"sqlite", openSQLite}} {
		for _, n := range []int{10, 1000, 100000} {
			for _, every := range []int{0, 100} {
				name := fmt.Sprintf("%s/events=%d/snapshot=%d", be.name, n, every)
				b.Run(name, func(b *testing.B) {
					s := be.open(b)
					var opts []aggregate.Option
					if every > 0 {
						opts = append(opts, aggregate.SnapshotEvery(every))
					}
					h := aggregate.New(s, account, newCodec(b), opts...)
					ctx := context.Background()
					perStream := max(1, n/10)
					var id string
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if i%perStream == 0 {
							b.StopTimer()
							id = fmt.Sprintf("acc-%d", i/perStream)
							fillAccount(b, s, id, n, every > 0)
							b.StartTimer()
						}
						if _, err := h.Handle(ctx, id, Deposit{Amount: 1}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkParallel: commands/s from 32 goroutines, each on its own
// account (32 aggregates) or all on one:
//
//	go test -run '^$' -bench Parallel -count 3 ./aggregate/
func BenchmarkParallel(b *testing.B) {
	backends := []backend{{"memory", openMemory}, {"sqlite", openSQLite}}
	if pg := backendsWithPostgres(); pg != nil {
		backends = append(backends, *pg)
	}
	for _, be := range backends {
		for _, aggregates := range []int{32, 1} {
			b.Run(fmt.Sprintf("%s/aggregates=%d", be.name, aggregates), func(b *testing.B) {
				ctx := context.Background()
				s := be.open(b)
				h := aggregate.New(s, account, newCodec(b), aggregate.MaxAttempts(1000), aggregate.SnapshotEvery(100))
				for i := range aggregates {
					if _, err := h.Handle(ctx, fmt.Sprintf("acc-%d", i), Open{Owner: "ada"}); err != nil {
						b.Fatal(err)
					}
				}
				var next atomic.Int64
				b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					id := fmt.Sprintf("acc-%d", int(next.Add(1))%aggregates)
					for pb.Next() {
						if _, err := h.Handle(ctx, id, Deposit{Amount: 1}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
			})
		}
	}
}

func backendsWithPostgres() *backend {
	for _, be := range backends() {
		if be.name == "postgres" {
			return &be
		}
	}
	return nil
}
