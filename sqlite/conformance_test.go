package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) *evstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "bench.db"))
		if err != nil {
			tb.Fatal(err)
		}
		return s
	})
}
