package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/postgres"
	"github.com/go-event-sourcing/evstore/sqlite"
	"github.com/jackc/pgx/v5"
)

// A target is where the phases of Run keep their events: SQLite files in
// a directory, or schemas of a PostgreSQL database.
type target struct {
	dir   string        // SQLite: where the files go
	keep  string        // SQLite: Config.DB, for the reference workload
	dsn   string        // PostgreSQL: Config.Store
	poll  time.Duration // the stores' poll interval
	child []string      // Config.ChildCommand
}

// location names phase's database: a file path or a schema.
func (t target) location(phase string) string {
	switch {
	case t.dsn != "":
		return fmt.Sprintf("evstore_bench_%d_%s", os.Getpid(), phase)
	case phase == "bench" && t.keep != "":
		return t.keep
	}
	return filepath.Join(t.dir, phase+".db")
}

// open opens a Store on a location.
func (t target) open(ctx context.Context, loc string) (*evstore.Store, error) {
	if t.dsn != "" {
		return postgres.Open(ctx, t.dsn, postgres.WithSchema(loc), postgres.WithPollInterval(pollInterval(t)))
	}
	return sqlite.Open(ctx, loc, sqlite.WithPollInterval(pollInterval(t)))
}

// pollInterval is the stores' poll interval on t. On PostgreSQL, watchers
// see other stores' writes through notifications; the poll only backs
// them up, so it is at least a second.
func pollInterval(t target) time.Duration {
	if t.dsn != "" {
		return max(t.poll, time.Second)
	}
	return t.poll
}

// openPhase opens a Store on a new location for phase; done closes it and
// drops the location.
func (t target) openPhase(ctx context.Context, phase string) (store *evstore.Store, loc string, done func(), err error) {
	loc = t.location(phase)
	if store, err = t.open(ctx, loc); err != nil {
		t.drop(loc)
		return nil, "", nil, err
	}
	return store, loc, func() { store.Close(); t.drop(loc) }, nil
}

// size returns the bytes a location takes on disk.
func (t target) size(ctx context.Context, loc string) int64 {
	if t.dsn == "" {
		return fileSize(loc)
	}
	conn, err := pgx.Connect(ctx, t.dsn)
	if err != nil {
		return 0
	}
	defer conn.Close(ctx)
	var n int64
	_ = conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass)",
		pgx.Identifier{loc, "events"}.Sanitize(), pgx.Identifier{loc, "snapshots"}.Sanitize()).Scan(&n)
	return n
}

// drop removes a PostgreSQL location (files go with their directory).
func (t target) drop(loc string) {
	if t.dsn == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, t.dsn)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{loc}.Sanitize()+" CASCADE")
}

// fileSize returns the size of an SQLite file and its WAL.
func fileSize(path string) int64 {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	return total
}
