package postgres

import (
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/storetest"
)

func TestConformancePair(t *testing.T) {
	testDSN(t)
	storetest.RunPair(t, func(tb testing.TB) (*evstore.Store, *evstore.Store) {
		schema := testSchema(tb)
		a := openOnly(tb, schema)
		b, err := Open(tb.Context(), testDSN(tb), WithSchema(schema), WithPollInterval(20*time.Millisecond))
		if err != nil {
			a.Close()
			tb.Fatal(err)
		}
		return a, b
	})
}
