package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/sqlite"
	"github.com/go-event-sourcing/evstore/storetest"
)

func TestConformanceFile(t *testing.T) {
	storetest.Run(t, func(t testing.TB) *evstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t testing.TB) *evstore.Store {
		s, err := sqlite.Open(context.Background(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformancePair: two Stores on one file, the second polling it
// every 20ms.
func TestConformancePair(t *testing.T) {
	storetest.RunPair(t, func(tb testing.TB) (*evstore.Store, *evstore.Store) {
		path := filepath.Join(tb.TempDir(), "events.db")
		a, err := sqlite.Open(context.Background(), path)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := sqlite.Open(context.Background(), path, sqlite.WithPollInterval(20*time.Millisecond))
		if err != nil {
			a.Close()
			tb.Fatal(err)
		}
		return a, b
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) *evstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "bench.db"))
		if err != nil {
			tb.Fatal(err)
		}
		return s
	})
}
