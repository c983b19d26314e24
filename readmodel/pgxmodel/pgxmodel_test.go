package pgxmodel_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
	"github.com/go-event-sourcing/evstore/readmodel/pgxmodel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var schemas atomic.Int64

// testConfig returns a pool configuration on a new schema of the test
// server (first on its search_path), dropped when the test ends; it skips
// the test without a server.
func testConfig(t testing.TB) *pgxpool.Config {
	t.Helper()
	dsn := os.Getenv("EVSTORE_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PostgreSQL tests need a server: set EVSTORE_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable (CI sets it)")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("evstore_pgxmodel_%d_%d", os.Getpid(), schemas.Add(1))
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) })
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	if _, err := admin.Exec(ctx, `CREATE TABLE `+schema+`.applied (projector TEXT NOT NULL, seq BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// pool opens a pool on cfg, closed when the test ends.
func pool(t testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.NewWithConfig(context.Background(), cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// recorder returns an ApplyFunc that inserts (tag, Sequence) into applied,
// and a counter of its calls.
func recorder(tag string) (pgxmodel.ApplyFunc, *atomic.Int64) {
	calls := new(atomic.Int64)
	return func(ctx context.Context, tx pgx.Tx, e evstore.StoredEvent) error {
		calls.Add(1)
		_, err := tx.Exec(ctx, `INSERT INTO applied (projector, seq) VALUES ($1, $2)`, tag, e.Sequence)
		return err
	}, calls
}

func applied(t testing.TB, db *pgxpool.Pool) []int64 {
	t.Helper()
	rows, _ := db.Query(context.Background(), `SELECT seq FROM applied ORDER BY seq`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func events(from, to int64) []evstore.StoredEvent {
	var es []evstore.StoredEvent
	for s := from; s <= to; s++ {
		es = append(es, evstore.StoredEvent{StreamID: fmt.Sprintf("account-%d", s%3), Sequence: s, Version: s/3 + 1, Type: "Deposited", Data: []byte(`{}`)})
	}
	return es
}

func seqs(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func newProjector(t testing.TB, db pgxmodel.DB, name string, apply pgxmodel.ApplyFunc) *pgxmodel.Projector {
	t.Helper()
	p, err := pgxmodel.New(context.Background(), db, name, apply)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func position(t testing.TB, p evstore.Positioner) int64 {
	t.Helper()
	pos, err := p.Position(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func TestNewBadArguments(t *testing.T) {
	db := pool(t, testConfig(t))
	apply, _ := recorder("x")
	tests := []struct {
		name  string
		db    pgxmodel.DB
		pname string
		apply pgxmodel.ApplyFunc
	}{
		{"nil db", nil, "p", apply},
		{"nil apply", db, "p", nil},
		{"empty name", db, "", apply},
		{"name over 255 bytes", db, strings.Repeat("n", 256), apply},
		{"name not UTF-8", db, "p\xff", apply},
		{"name with NUL", db, "p\x00", apply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pgxmodel.New(context.Background(), tt.db, tt.pname, tt.apply); !errors.Is(err, evstore.ErrInvalidArgument) {
				t.Errorf("New: got error %v, want %v", err, evstore.ErrInvalidArgument)
			}
		})
	}
	p := newProjector(t, db, "p", apply)
	if err := p.Rebuild(context.Background(), nil); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("Rebuild(nil): got error %v, want %v", err, evstore.ErrInvalidArgument)
	}
}

// TestExactlyOnce: redelivered batches are skipped, a stale instance gets
// a conflict and applies nothing, and after Position it goes on.
func TestExactlyOnce(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	dbA, dbB := pool(t, cfg), pool(t, cfg)
	applyA, _ := recorder("A")
	applyB, callsB := recorder("B")
	a := newProjector(t, dbA, "balances", applyA)
	b := newProjector(t, dbB, "balances", applyB)
	for _, batch := range [][]evstore.StoredEvent{events(1, 4), events(3, 6), events(1, 6)} {
		if err := a.Handle(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	err := b.Handle(ctx, events(1, 2))
	var ce *evstore.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("stale Handle: got error %v, want a *evstore.ConflictError", err)
	}
	if want := (evstore.ConflictError{StreamID: "balances", Expected: 0, Actual: 6}); *ce != want {
		t.Errorf("conflict: got %+v, want %+v", *ce, want)
	}
	if got := callsB.Load(); got != 0 {
		t.Errorf("stale instance's apply calls: got %d, want 0", got)
	}
	if got := position(t, b); got != 6 {
		t.Fatalf("Position: got %d, want 6", got)
	}
	if err := b.Handle(ctx, events(5, 8)); err != nil {
		t.Fatal(err)
	}
	if got, want := applied(t, dbA), seqs(1, 8); !slices.Equal(got, want) {
		t.Errorf("applied: got %v, want %v", got, want)
	}
}

func TestApplyErrorRollsBack(t *testing.T) {
	ctx := context.Background()
	db := pool(t, testConfig(t))
	record, _ := recorder("p")
	boom := errors.New("boom")
	fail := true
	p := newProjector(t, db, "p", func(ctx context.Context, tx pgx.Tx, e evstore.StoredEvent) error {
		if err := record(ctx, tx, e); err != nil {
			return err
		}
		if fail && e.Sequence == 3 {
			return boom
		}
		return nil
	})
	if err := p.Handle(ctx, events(1, 4)); !errors.Is(err, boom) {
		t.Fatalf("Handle: got error %v, want %v", err, boom)
	}
	if got := applied(t, db); len(got) != 0 {
		t.Errorf("applied after the failure: got %v, want none", got)
	}
	fail = false
	if err := p.Handle(ctx, events(1, 4)); err != nil {
		t.Fatal(err)
	}
	if got, want := applied(t, db), seqs(1, 4); !slices.Equal(got, want) {
		t.Errorf("applied: got %v, want %v", got, want)
	}
}

func TestRebuild(t *testing.T) {
	ctx := context.Background()
	db := pool(t, testConfig(t))
	apply, _ := recorder("p")
	p := newProjector(t, db, "p", apply)
	if err := p.Handle(ctx, events(1, 3)); err != nil {
		t.Fatal(err)
	}
	err := p.Rebuild(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `TRUNCATE applied`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, events(4, 4)); !errors.Is(err, evstore.ErrConflict) {
		t.Fatalf("Handle after Rebuild: got error %v, want %v", err, evstore.ErrConflict)
	}
	if got := position(t, p); got != 0 {
		t.Fatalf("Position after Rebuild: got %d, want 0", got)
	}
	if err := p.Handle(ctx, events(1, 4)); err != nil {
		t.Fatal(err)
	}
	if got, want := applied(t, db), seqs(1, 4); !slices.Equal(got, want) {
		t.Errorf("applied: got %v, want %v", got, want)
	}
}

// TestSharedWithReadmodel: a name is one model, whichever package runs it.
func TestSharedWithReadmodel(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	db := pool(t, cfg)
	sqlDB := stdlib.OpenDBFromPool(pool(t, cfg))
	defer sqlDB.Close()

	apply, _ := recorder("pgx")
	p := newProjector(t, db, "shared", apply)
	q, err := readmodel.New(ctx, sqlDB, "shared", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO applied (projector, seq) VALUES ('sql', $1)`, e.Sequence)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, events(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := q.Handle(ctx, events(1, 3)); !errors.Is(err, evstore.ErrConflict) {
		t.Fatalf("readmodel's Handle: got error %v, want %v", err, evstore.ErrConflict)
	}
	if got := position(t, q); got != 2 {
		t.Fatalf("readmodel's Position: got %d, want 2", got)
	}
	if err := q.Handle(ctx, events(1, 3)); err != nil {
		t.Fatal(err)
	}
	if got, want := applied(t, db), seqs(1, 3); !slices.Equal(got, want) {
		t.Errorf("applied: got %v, want %v", got, want)
	}
}

// BenchmarkProjectorPgx is readmodel's BenchmarkProjectorPostgres through
// pgx directly: one INSERT per event, batches of 256.
func BenchmarkProjectorPgx(b *testing.B) {
	ctx := context.Background()
	db := pool(b, testConfig(b))
	if _, err := db.Exec(ctx, `CREATE TABLE model (seq BIGINT PRIMARY KEY, stream_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT)`); err != nil {
		b.Fatal(err)
	}
	p := newProjector(b, db, "bench", func(ctx context.Context, tx pgx.Tx, e evstore.StoredEvent) error {
		_, err := tx.Exec(ctx, `INSERT INTO model (seq, stream_id, type, data) VALUES ($1, $2, $3, $4)`,
			e.Sequence, e.StreamID, e.Type, string(e.Data))
		return err
	})
	const size = 256
	batch := make([]evstore.StoredEvent, size)
	data := []byte(`{"amount":100,"currency":"EUR"}`)
	var seq int64
	b.ReportAllocs()
	b.ResetTimer()
	for n := b.N; n > 0; {
		k := min(n, size)
		for i := range k {
			seq++
			batch[i] = evstore.StoredEvent{StreamID: fmt.Sprintf("account-%d", seq%64), Sequence: seq, Type: "Deposited", Data: data}
		}
		if err := p.Handle(ctx, batch[:k]); err != nil {
			b.Fatal(err)
		}
		n -= k
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestTimeouts: a Projector's transactions run with readmodel's
// LockTimeout and IdleTimeout, through pgx too.
func TestTimeouts(t *testing.T) {
	db := pool(t, testConfig(t))
	var lock, idle string
	p := newProjector(t, db, "p", func(ctx context.Context, tx pgx.Tx, _ evstore.StoredEvent) error {
		return tx.QueryRow(ctx, `SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')`).Scan(&lock, &idle)
	})
	if err := p.Handle(t.Context(), events(1, 1)); err != nil {
		t.Fatal(err)
	}
	if want := readmodel.LockTimeout.String(); lock != want {
		t.Errorf("lock_timeout: got %q, want %q", lock, want)
	}
	if want := readmodel.IdleTimeout.String(); idle != want {
		t.Errorf("idle_in_transaction_session_timeout: got %q, want %q", idle, want)
	}
}
