package codec_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/codec"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// A small event, as a bank would store it.
type Transferred struct {
	Account  string `json:"account"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Note     string `json:"note"`
}

func (Transferred) isEvent() {}

const benchEvents = 20000

// BenchmarkRead reads a stream of small JSON events, untyped (Read only)
// and typed (Read and Decode into a struct), in the same run, as events/s:
//
//	go test -run '^$' -bench Read -count 3 ./codec/
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	c, err := codec.NewJSON[event](codec.Type[Transferred]("Transferred"))
	if err != nil {
		b.Fatal(err)
	}
	for _, store := range []struct {
		name string
		open func() (*evstore.Store, error)
	}{
		{"memory", func() (*evstore.Store, error) { return memory.Open(ctx) }},
		{"sqlite", func() (*evstore.Store, error) { return sqlite.Open(ctx, filepath.Join(b.TempDir(), "events.db")) }},
	} {
		s, err := store.open()
		if err != nil {
			b.Fatal(err)
		}
		st, err := s.Stream(ctx, "account-1")
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]evstore.CandidateEvent, 0, 1000)
		for i := range benchEvents {
			ce, err := c.Encode(Transferred{Account: "account-2", Amount: int64(i), Currency: "EUR", Note: "coffee"})
			if err != nil {
				b.Fatal(err)
			}
			if batch = append(batch, ce); len(batch) == cap(batch) {
				if _, err := st.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		for _, typed := range []bool{false, true} {
			name := store.name + "/untyped"
			if typed {
				name = store.name + "/typed"
			}
			b.Run(name, func(b *testing.B) {
				var sum int64
				for b.Loop() {
					n := 0
					for e, err := range st.Read(ctx) {
						if err != nil {
							b.Fatal(err)
						}
						if typed {
							ev, err := c.Decode(e)
							if err != nil {
								b.Fatal(err)
							}
							sum += ev.(Transferred).Amount
						}
						n++
					}
					if n != benchEvents {
						b.Fatalf("read %d events, want %d", n, benchEvents)
					}
				}
				b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
		s.Close()
	}
}
