package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/postgres"
	"github.com/go-event-sourcing/evstore/storetest"
	"github.com/jackc/pgx/v5"
)

// dsn returns the test server's address, or skips the test saying how to
// run it.
func dsn(tb testing.TB) string {
	tb.Helper()
	d := os.Getenv("EVSTORE_POSTGRES_DSN")
	if d == "" {
		tb.Skip("PostgreSQL tests need a server: set EVSTORE_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return d
}

var schemas atomic.Int64

// freshSchema returns the name of a new schema, dropped when the test ends.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("evstore_test_%d_%d", os.Getpid(), schemas.Add(1))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn(tb))
		if err != nil {
			tb.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	return name
}

func open(tb testing.TB, schema string, opts ...postgres.Option) *evstore.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), dsn(tb), append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	dsn(t)
	storetest.Run(t, func(tb testing.TB) *evstore.Store { return open(tb, freshSchema(tb)) })
}

func BenchmarkStore(b *testing.B) {
	dsn(b)
	storetest.Bench(b, func(tb testing.TB) *evstore.Store { return open(tb, freshSchema(tb)) })
}
