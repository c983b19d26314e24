package open

import (
	"context"
	"fmt"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/postgres"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// A Kind is the kind of store a string names.
type Kind int

// The kinds of store.
const (
	SQLite   Kind = iota + 1 // an SQLite file, or SQLite's private in-memory database
	Postgres                 // a PostgreSQL database
	Memory                   // the memory store (package memory)
)

// String returns "sqlite", "postgres" or "memory".
func (k Kind) String() string {
	switch k {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	case Memory:
		return "memory"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// A Config says which store to open and how: what Parse read in a
// string. A program may also fill one in itself (the evstore command does
// for --db, which is always a file path) and call Open.
type Config struct {
	Kind Kind

	// Path is the SQLite database file as sqlite.Open takes it, or
	// ":memory:" for SQLite's private in-memory database. SQLite only.
	Path string

	// DSN is the PostgreSQL URL handed to postgres.Open (and so to pgx):
	// the string as given, without evstore's own parameters. It may hold
	// a password. Postgres only.
	DSN string

	// Schema is the PostgreSQL schema of evstore's tables (parameter
	// evstore_schema); "" leaves postgres.Open's default, "public".
	// Postgres only.
	Schema string

	// ReadOnly opens an SQLite file read-only (parameter readonly); see
	// the ReadOnly option. SQLite files only.
	ReadOnly bool

	// PollInterval is how often the store looks for other writers
	// (parameter poll, or evstore_poll); 0 leaves the backend's default.
	// Ignored by the memory store.
	PollInterval time.Duration
}

// Store opens the store that s names, as Parse reads it, with opts. On a
// bad string or option it returns an error wrapping
// evstore.ErrInvalidArgument and opens, creates and changes nothing.
// Otherwise it returns what sqlite.Open, postgres.Open or memory.Open
// return.
func Store(ctx context.Context, s string, opts ...Option) (*evstore.Store, error) {
	c, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return c.Open(ctx, opts...)
}

// Open opens the store c describes, with opts applied after c's settings.
// It checks c and opts before anything is opened or created: a bad one
// gives an error wrapping evstore.ErrInvalidArgument.
func (c Config) Open(ctx context.Context, opts ...Option) (*evstore.Store, error) {
	c, o, err := c.with(opts)
	if err != nil {
		return nil, err
	}
	switch c.Kind {
	case SQLite:
		var so []sqlite.Option
		if c.ReadOnly {
			so = append(so, sqlite.ReadOnly())
		}
		if c.PollInterval > 0 {
			so = append(so, sqlite.WithPollInterval(c.PollInterval))
		}
		return sqlite.Open(ctx, c.Path, append(so, o.sqlite...)...)
	case Postgres:
		var po []postgres.Option
		if c.Schema != "" {
			po = append(po, postgres.WithSchema(c.Schema))
		}
		if c.PollInterval > 0 {
			po = append(po, postgres.WithPollInterval(c.PollInterval))
		}
		return postgres.Open(ctx, c.DSN, append(po, o.postgres...)...)
	default: // Memory: with checked that
		return memory.Open(ctx, o.memory...)
	}
}

// with returns c with the common options of opts applied, and opts, after
// checking both.
func (c Config) with(opts []Option) (Config, options, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.readOnly {
		c.ReadOnly = true
	}
	if o.pollSet {
		if o.poll <= 0 {
			return c, o, invalid("poll interval %v is not positive", o.poll)
		}
		c.PollInterval = o.poll
	}
	return c, o, c.check()
}

// check reports what is wrong with c, if anything.
func (c Config) check() error {
	if c.PollInterval < 0 {
		return invalid("poll interval %v is negative", c.PollInterval)
	}
	switch c.Kind {
	case SQLite:
		switch {
		case c.Path == "":
			return invalid("empty SQLite database path")
		case c.DSN != "" || c.Schema != "":
			return invalid("a DSN or schema is for PostgreSQL, not SQLite")
		case c.ReadOnly && c.Path == ":memory:":
			return invalid("readonly: a private in-memory database cannot be opened read-only")
		}
	case Postgres:
		switch {
		case c.DSN == "":
			return invalid("empty PostgreSQL URL")
		case c.Path != "":
			return invalid("a path is for SQLite, not PostgreSQL")
		case c.ReadOnly:
			return invalid("readonly: a PostgreSQL store cannot be opened read-only")
		}
	case Memory:
		switch {
		case c.Path != "" || c.DSN != "" || c.Schema != "":
			return invalid("a path, DSN or schema is not for the memory store")
		case c.ReadOnly:
			return invalid("readonly: the memory store cannot be opened read-only")
		}
	default:
		return invalid("unknown store kind %d", int(c.Kind))
	}
	return nil
}

// invalid returns an error wrapping evstore.ErrInvalidArgument.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", evstore.ErrInvalidArgument, fmt.Sprintf(format, args...))
}
