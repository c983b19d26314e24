package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/filtertext"
	"github.com/go-event-sourcing/evstore/open"
	"github.com/go-event-sourcing/evstore/postgres"
)

// storeFlags select the store a command works on: --db (an SQLite file;
// default $EVSTORE_DB, else ./events.db) or --store (any string package
// open takes: a postgres:// URL, a file: URL, memory:, a path, ...).
type storeFlags struct {
	db, dsn, schema string
	fs              *flag.FlagSet // to tell whether --schema was given
}

// addStoreFlags adds --db and --store to fs, defaulting to those given
// before the command name, and --schema.
func addStoreFlags(g globals, fs *flag.FlagSet) *storeFlags {
	sf := &storeFlags{fs: fs}
	fs.StringVar(&sf.db, "db", g.db, "SQLite database file (default $EVSTORE_DB, else ./events.db)")
	fs.StringVar(&sf.dsn, "store", g.dsn, "store URL instead of --db: postgres://..., file:PATH, memory:, ...")
	fs.StringVar(&sf.schema, "schema", "public", "PostgreSQL schema of the tables, with --store postgres://... (overrides evstore_schema)")
	return sf
}

// An access says what a command does with the store.
type access int

const (
	// readWrite: the command writes; a missing SQLite file is created.
	readWrite access = iota
	// readOnly: the command only reads. The SQLite file must exist and is
	// opened read-only (sqlite.ReadOnly): the command changes nothing in
	// it, and a file that is not an event store is an error, not one that
	// gets evstore's tables.
	readOnly
)

// open opens the selected store for what the command does, with extra
// options (a logger, a tracer). Once it has opened an SQLite file, sf.db
// holds its path and sf.dsn is empty, whichever flag named it, so that
// sf.path() is that file.
func (sf *storeFlags) open(ctx context.Context, mode access, extra ...open.Option) (*evstore.Store, error) {
	cfg, err := sf.config()
	if err != nil {
		return nil, err
	}
	opts := extra
	if sf.schemaGiven() {
		opts = append(opts, open.WithPostgres(postgres.WithSchema(sf.schema)))
	}
	file := cfg.Kind == open.SQLite && cfg.Path != ":memory:"
	if file && mode == readOnly {
		if _, err := os.Stat(cfg.Path); err != nil {
			return nil, fmt.Errorf("no database at %s (give --db FILE or set EVSTORE_DB)", cfg.Path)
		}
		opts = append(opts, open.ReadOnly())
	}
	store, err := cfg.Open(ctx, opts...)
	if err == nil && file {
		sf.db, sf.dsn = cfg.Path, ""
	}
	return store, err
}

// config returns the store the flags select: --store as package open
// reads it, else --db, $EVSTORE_DB or ./events.db, each a file path
// taken as it is.
func (sf *storeFlags) config() (open.Config, error) {
	if sf.dsn == "" {
		return open.Config{Kind: open.SQLite, Path: sf.path()}, nil
	}
	if sf.db != "" {
		return open.Config{}, errors.New("give --db or --store, not both")
	}
	cfg, err := open.Parse(sf.dsn)
	if err != nil {
		return open.Config{}, fmt.Errorf("--store: %w", err)
	}
	return cfg, nil
}

// schemaGiven reports whether --schema was given.
func (sf *storeFlags) schemaGiven() bool {
	given := false
	if sf.fs != nil {
		sf.fs.Visit(func(f *flag.Flag) { given = given || f.Name == "schema" })
	}
	return given
}

// isPostgres reports whether dsn is a PostgreSQL address.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// path returns the SQLite file: --db, else $EVSTORE_DB, else ./events.db.
func (sf *storeFlags) path() string {
	switch {
	case sf.db != "":
		return sf.db
	case os.Getenv("EVSTORE_DB") != "":
		return os.Getenv("EVSTORE_DB")
	}
	return "events.db"
}

// stream opens the selected store and a handle on stream id. The caller
// closes the store.
func (sf *storeFlags) stream(ctx context.Context, id string, mode access) (*evstore.Store, *evstore.Stream, error) {
	store, err := sf.open(ctx, mode)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Stream(ctx, id)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, st, nil
}

// filterFlags collects repeated --filter flags.
type filterFlags []string

func (f *filterFlags) String() string     { return strings.Join(*f, " ") }
func (f *filterFlags) Set(s string) error { *f = append(*f, s); return nil }

// listFlag collects a repeated flag's values, in order.
type listFlag []string

func (f *listFlag) String() string     { return strings.Join(*f, " ") }
func (f *listFlag) Set(s string) error { *f = append(*f, s); return nil }

// build returns the filter the flags and an optional --type make.
func (f filterFlags) build(typ string) (evstore.Filter, error) {
	var filter evstore.Filter
	if typ != "" {
		filter = append(filter, evstore.Equals("event_type", typ))
	}
	clauses, err := filtertext.Build(f)
	if err != nil {
		return nil, err
	}
	filter = append(filter, clauses...)
	return filter, filter.Validate()
}

// human formats a time for people: local time to the millisecond.
func human(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

// humanBytes formats a size for people.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// parseStream parses args that hold one stream id (or @all) among flags.
func parseStream(fs *flag.FlagSet, args []string) (string, error) {
	positional, err := parseMixed(fs, args)
	if err != nil {
		return "", err
	}
	if len(positional) != 1 {
		fmt.Fprintln(fs.Output(), "need one stream id (or @all)")
		fs.Usage()
		return "", errUsage
	}
	return positional[0], nil
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
