package open

import (
	"log/slog"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/postgres"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// An Option configures Store and Config.Open. Options are applied after
// the string's parameters: where both set something, the option wins.
type Option func(*options)

type options struct {
	readOnly bool
	poll     time.Duration
	pollSet  bool
	sqlite   []sqlite.Option
	postgres []postgres.Option
	memory   []memory.Option
}

// ReadOnly opens an SQLite file for reading only (sqlite.ReadOnly): the
// file must exist and be an event store, nothing in it changes, and
// writes fail with evstore.ErrReadOnly. It is refused, with an error
// wrapping evstore.ErrInvalidArgument, for the stores that cannot be
// opened read-only: PostgreSQL, memory: and :memory:. The URL parameter
// is "readonly".
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithPollInterval sets how often the store looks for writes made by
// other processes or Stores (sqlite.WithPollInterval, default 50ms;
// postgres.WithPollInterval, default 1s). d must be positive. The memory
// store has no other writers to look for, and ignores it. The URL
// parameter is "poll" ("evstore_poll" on PostgreSQL).
func WithPollInterval(d time.Duration) Option {
	return func(o *options) { o.poll, o.pollSet = d, true }
}

// WithLogger gives every kind of store the logger l
// (sqlite.WithLogger, postgres.WithLogger, memory.WithLogger; see
// evstore.LoggingBackend).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		o.sqlite = append(o.sqlite, sqlite.WithLogger(l))
		o.postgres = append(o.postgres, postgres.WithLogger(l))
		o.memory = append(o.memory, memory.WithLogger(l))
	}
}

// WithTracer gives every kind of store the Tracer t
// (sqlite.WithTracer, postgres.WithTracer, memory.WithTracer; see
// evstore.TracingBackend).
func WithTracer(t evstore.Tracer) Option {
	return func(o *options) {
		o.sqlite = append(o.sqlite, sqlite.WithTracer(t))
		o.postgres = append(o.postgres, postgres.WithTracer(t))
		o.memory = append(o.memory, memory.WithTracer(t))
	}
}

// WithSQLite passes options to sqlite.Open when the string names an
// SQLite database, and is ignored otherwise. They are applied last, after
// the string's parameters and the common options.
func WithSQLite(opts ...sqlite.Option) Option {
	return func(o *options) { o.sqlite = append(o.sqlite, opts...) }
}

// WithPostgres passes options to postgres.Open when the string names a
// PostgreSQL database, and is ignored otherwise. They are applied last,
// after the string's parameters and the common options:
// WithPostgres(postgres.WithSchema(name)) replaces evstore_schema.
func WithPostgres(opts ...postgres.Option) Option {
	return func(o *options) { o.postgres = append(o.postgres, opts...) }
}

// WithMemory passes options to memory.Open when the string is "memory:",
// and is ignored otherwise.
func WithMemory(opts ...memory.Option) Option {
	return func(o *options) { o.memory = append(o.memory, opts...) }
}
