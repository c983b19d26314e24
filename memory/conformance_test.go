package memory_test

import (
	"context"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/storetest"
)

// open is the storetest.OpenFunc of this package: a new, empty store.
func open(tb testing.TB) *evstore.Store {
	s, err := memory.Open(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}
