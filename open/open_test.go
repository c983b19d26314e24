package open_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/logtest"
	"github.com/go-event-sourcing/evstore/open"
	"github.com/go-event-sourcing/evstore/sqlite"
	"github.com/jackc/pgx/v5"
)

// writeRead writes an event through a store opened from s and reads it
// back, then closes the store.
func writeRead(t *testing.T, s string, opts ...open.Option) {
	t.Helper()
	ctx := context.Background()
	store, err := open.Store(ctx, s, opts...)
	if err != nil {
		t.Fatalf("open.Store(%q): %v", s, err)
	}
	defer store.Close()
	st, err := store.Stream(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "OrderPlaced", Data: []byte(`{"total":10}`)}}); err != nil {
		t.Fatalf("%s: write: %v", s, err)
	}
	var got []string
	for e, err := range st.Read(ctx) {
		if err != nil {
			t.Fatalf("%s: read: %v", s, err)
		}
		got = append(got, fmt.Sprintf("%s %d %s", e.Type, e.Version, e.Data))
	}
	if want := `OrderPlaced 1 {"total":10}`; len(got) != 1 || got[0] != want {
		t.Fatalf("%s: read %q, want [%s]", s, got, want)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStoreOpensEachKind opens every kind of string, writes and reads.
func TestStoreOpensEachKind(t *testing.T) {
	t.Run("relative", func(t *testing.T) {
		for _, s := range []string{"events.db", "./b.db", "file:c.db", "file:./d%20e.db", "sqlite:f.db"} {
			dir := t.TempDir()
			t.Chdir(dir)
			writeRead(t, s)
			file := map[string]string{"./b.db": "b.db", "file:c.db": "c.db", "file:./d%20e.db": "d e.db", "sqlite:f.db": "f.db"}[s]
			if file == "" {
				file = s
			}
			if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
				t.Errorf("%s: %v", s, err)
			}
		}
	})
	t.Run("absolute", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "events.db")
		writeRead(t, path)
		u := "file://" + filepath.ToSlash(path)
		if !strings.HasPrefix(filepath.ToSlash(path), "/") { // Windows: file:///C:/...
			u = "file:///" + filepath.ToSlash(path)
		}
		// A second Store on the same file sees the first one's event.
		store, err := open.Store(context.Background(), u+"?poll=20ms&readonly=1")
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		st, _ := store.Stream(context.Background(), "order-1")
		if _, err := st.Write(context.Background(), []evstore.CandidateEvent{{Type: "T"}}); !errors.Is(err, evstore.ErrReadOnly) {
			t.Errorf("write through %s: %v, want ErrReadOnly", u, err)
		}
		if m, err := st.Metrics(context.Background()); err != nil || m.Version != 1 {
			t.Errorf("metrics through %s: %+v, %v; want version 1", u, m, err)
		}
	})
	t.Run("memory", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		for _, s := range []string{"memory:", "memory:?poll=1ms", ":memory:", "file::memory:", "sqlite::memory:"} {
			writeRead(t, s)
		}
		if names, _ := os.ReadDir(dir); len(names) != 0 {
			t.Errorf("in-memory stores left files: %v", names)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("EVSTORE_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("PostgreSQL tests need a server: set EVSTORE_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		}
		schema := fmt.Sprintf("evstore_opentest_%d", os.Getpid())
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Errorf("drop schema: %v", err)
				return
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		writeRead(t, dsn+sep+"evstore_schema="+schema+"&evstore_poll=20ms")
		// The events went to that schema.
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{schema, "events"}.Sanitize()).Scan(&n); err != nil || n != 1 {
			t.Errorf("events in schema %s: %d, %v; want 1", schema, n, err)
		}
		if _, err := open.Store(context.Background(), dsn, open.ReadOnly()); !errors.Is(err, evstore.ErrInvalidArgument) {
			t.Errorf("PostgreSQL with ReadOnly: %v, want ErrInvalidArgument", err)
		}
	})
}

// TestBadInputCreatesNothing: a bad string or option is refused before
// any file is created.
func TestBadInputCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	u := "file://" + filepath.ToSlash(path)
	if !strings.HasPrefix(filepath.ToSlash(path), "/") {
		u = "file:///" + filepath.ToSlash(path)
	}
	tests := []struct {
		s    string
		opts []open.Option
	}{
		{u + "?poll=-1s", nil},
		{u + "?poll=soon", nil},
		{u + "?bogus=1", nil},
		{u + "?readonly=perhaps", nil},
		{path, []open.Option{open.WithPollInterval(-1)}},
		{u, []open.Option{open.WithPollInterval(0)}},
		{path, []open.Option{open.WithSQLite(sqlite.WithReaders(0))}},
	}
	for _, tt := range tests {
		if _, err := open.Store(context.Background(), tt.s, tt.opts...); !errors.Is(err, evstore.ErrInvalidArgument) {
			t.Errorf("open.Store(%q, %d options): %v, want ErrInvalidArgument", tt.s, len(tt.opts), err)
		}
	}
	// Read-only needs an existing file, and does not make one.
	if _, err := open.Store(context.Background(), path, open.ReadOnly()); err == nil {
		t.Errorf("read-only open of a missing file succeeded")
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("bad input left files: %v", names)
	}
}

// TestWithLogger: the logger reaches every kind of store.
func TestWithLogger(t *testing.T) {
	for _, s := range []string{"memory:", ":memory:", "file:" + filepath.Join(t.TempDir(), "log.db")} {
		var rec logtest.Recorder
		store, err := open.Store(t.Context(), s, open.WithLogger(rec.Logger()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- store.Consume(ctx, "c", evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error { return nil }))
		}()
		if _, ok := rec.Wait(slog.LevelInfo, "consumer active", 20*time.Second); !ok {
			t.Errorf("%s: no record through open.WithLogger's logger", s)
		}
		cancel()
		<-done
		store.Close()
	}
}
