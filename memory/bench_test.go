package memory_test

import (
	"testing"

	"github.com/go-event-sourcing/evstore/storetest"
)

// BenchmarkStore runs the benchmarks every backend shares, for comparison
// with the database backends (and as a floor: the cost of evstore's core).
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, open)
}
