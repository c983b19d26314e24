package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel/internal/core"
)

// PositionTable is the table, in the read model's database, that holds the
// position of every Projector: one row per name (name TEXT PRIMARY KEY,
// position BIGINT NOT NULL, updated, consumer_partition TEXT, the
// partition of its consumer the projector runs as: NULL until it runs
// under Store.Consume, then "all" or "m/n"; see "Partitions" in the package
// documentation). New creates it if missing, and adds consumer_partition
// to a table created without it. On PostgreSQL it is created in the first
// schema of the search_path.
const PositionTable = core.Table

// MaxNameLen is the longest Projector name, in bytes.
const MaxNameLen = core.MaxNameLen

// The bounds of a Projector's transactions on PostgreSQL, set with SET
// LOCAL in each, unless the session has its own (see "A frozen instance"
// in the package documentation).
const (
	// IdleTimeout is the transactions' idle_in_transaction_session_timeout,
	// evstore.DefaultLeaseTime: the server ends the session of an instance
	// that stops (is frozen) inside a batch's transaction this long after
	// it stopped, rolling the batch back and unlocking the position row,
	// by about when its consumer lease passes to a standby.
	IdleTimeout = core.IdleTimeout
	// LockTimeout is the transactions' lock_timeout, twice
	// evstore.DefaultLeaseTime: a statement that waits longer for a lock
	// fails, and Store.Consume retries the Handle. It outlasts IdleTimeout,
	// so that a successor waiting for a frozen instance's row gets it.
	LockTimeout = core.LockTimeout
)

// An ApplyFunc applies one event to the read model, through tx only: the
// transaction that also moves the Projector's position. It must not commit
// or roll back tx, nor use the *sql.DB (on SQLite that would wait for the
// write lock tx holds). An error rolls the whole batch back.
type ApplyFunc func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error

// A Projector keeps a read model exactly once: it applies each batch of
// events and moves its position in one transaction. It is an
// evstore.Positioner, for Store.Consume.
//
// Its methods may be called from several goroutines; they run one at a
// time.
type Projector struct {
	p     *core.Projector
	apply ApplyFunc
}

var _ evstore.Positioner = (*Projector)(nil)

// New returns the Projector called name on db, whose driver must be
// modernc.org/sqlite's ("sqlite") or pgx's stdlib ("pgx"); any other is an
// error wrapping evstore.ErrUnsupported. It creates PositionTable and the
// projector's row (at position 0) if missing, and reads the position.
//
// When the table and the row exist New only reads: it does not wait for
// SQLite's write lock, nor for a PostgreSQL row lock, which an instance
// frozen inside a batch may hold. Replicas starting at once on a fresh
// database all succeed: one creates the table, the others try again and
// find it. Its waits end with ctx (on PostgreSQL, after LockTimeout at the
// latest; on SQLite, after the busy timeout).
//
// The name is 1 to MaxNameLen bytes of UTF-8 text without NUL bytes; it is
// normally the name given to Store.Consume. A bad name, a nil db or a nil
// apply is an error wrapping evstore.ErrInvalidArgument.
func New(ctx context.Context, db *sql.DB, name string, apply ApplyFunc) (*Projector, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: readmodel: nil *sql.DB", evstore.ErrInvalidArgument)
	}
	if apply == nil {
		return nil, fmt.Errorf("%w: readmodel: nil ApplyFunc", evstore.ErrInvalidArgument)
	}
	if err := core.CheckName(name); err != nil {
		return nil, err
	}
	q, err := dialect(db)
	if err != nil {
		return nil, err
	}
	p, err := core.New(ctx, sqlDB{db, apply}, q, name)
	if err != nil {
		return nil, err
	}
	return &Projector{p: p, apply: apply}, nil
}

// Name returns the Projector's name.
func (p *Projector) Name() string { return p.p.Name() }

// Handle applies events, in one transaction that also moves the position to
// the last event's Sequence. The transaction's first statement writes the
// position row, on the condition that it still holds the position this
// Projector last read or wrote (on SQLite this takes the write lock at
// once). If it does not, another instance moved it: nothing is applied,
// and the error wraps a *evstore.ConflictError (StreamID the name, Expected
// the position this Projector knew, Actual the stored one); call Position
// and deliver the events after it (Store.Consume does).
//
// Under Store.Consume, Handle also checks that the projector runs as the
// partition of the consumer it ran as before (recording it on first use):
// a Handle from another partition, or from the consumer split into
// another number of partitions, applies nothing and returns an error
// wrapping evstore.ErrInvalidArgument, which ends Consume. See
// "Partitions" in the package documentation.
//
// On PostgreSQL the transaction waits for a lock for LockTimeout at most,
// and the server ends it if it stays idle for IdleTimeout.
//
// Events at or below the known position were applied before, and are
// skipped: a batch redelivered after a crash is not applied twice. Events
// must be in increasing Sequence order, from 1 (else an error wrapping
// evstore.ErrInvalidArgument), and should be the events after Position, as
// Store.Consume delivers them: Handle cannot tell an event that was never
// delivered from one a filter dropped. No events is a no-op.
//
// An error from the ApplyFunc (or a panic in it) rolls the whole batch
// back; the error names the event and wraps the ApplyFunc's error, and the
// position stays where it was.
func (p *Projector) Handle(ctx context.Context, events []evstore.StoredEvent) error {
	return p.p.Handle(ctx, events)
}

// Position reads the stored position (the Sequence of the last event
// applied; 0 for none) and adopts it: the next Handle expects the events
// after it. This is how an instance that lost a conflict, or whose model
// was rebuilt, catches up safely. It only reads, and so waits for no lock
// held by a Handle, except when it records the consumer partition (once,
// see below).
//
// Under Store.Consume, the first Position (or Handle) records the
// partition of the consumer the projector runs as, and a Position from
// another partition, or another partition count, returns an error
// wrapping evstore.ErrInvalidArgument, as Handle does.
func (p *Projector) Position(ctx context.Context) (int64, error) {
	return p.p.Position(ctx)
}

// Rebuild drops the read model's state and sets the position to 0, in one
// transaction: drop deletes (or truncates) the model's tables through tx;
// if it fails, nothing changes. The transaction's first statement writes
// the position row, so it waits for a Handle in progress (here or in
// another instance) and no Handle can slip in between.
//
// Rebuild also drops the record of the consumer partition the projector
// ran as: the next Consume may split it another way.
//
// Every instance, this one included, learns of the rebuild when its next
// Handle gets a conflict, and starts again from the beginning after
// Position; Store.Consume does both. So Rebuild is safe while the projector
// runs. Called before Store.Consume starts, it simply starts from 0. A
// caller that drives Handle itself calls Position after Rebuild.
//
// A nil drop is an error wrapping evstore.ErrInvalidArgument; pass a
// function that does nothing to replay the events over the current state.
func (p *Projector) Rebuild(ctx context.Context, drop func(ctx context.Context, tx *sql.Tx) error) error {
	if drop == nil {
		return fmt.Errorf("%w: readmodel %q: Rebuild with a nil drop function", evstore.ErrInvalidArgument, p.Name())
	}
	return p.p.Rebuild(ctx, func(ctx context.Context, tx core.Tx) error {
		return drop(ctx, tx.(*sqlTx).tx)
	})
}

// sqlDB adapts a *sql.DB to core.DB.
type sqlDB struct {
	db    *sql.DB
	apply ApplyFunc
}

func (d sqlDB) Begin(ctx context.Context) (core.Tx, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlTx{tx: tx, apply: d.apply}, nil
}

func (d sqlDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(d.db.ExecContext(ctx, query, args...))
}

func (d sqlDB) QueryRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	return scan(d.db.QueryRowContext(ctx, query, args...), dest)
}

func scan(row *sql.Row, dest []any) (bool, error) {
	switch err := row.Scan(dest...); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// sqlTx adapts a *sql.Tx to core.Tx.
type sqlTx struct {
	tx    *sql.Tx
	apply ApplyFunc
}

func (t *sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(t.tx.ExecContext(ctx, query, args...))
}

func rowsAffected(r sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *sqlTx) QueryRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	return scan(t.tx.QueryRowContext(ctx, query, args...), dest)
}

func (t *sqlTx) Apply(ctx context.Context, e evstore.StoredEvent) error { return t.apply(ctx, t.tx, e) }
func (t *sqlTx) Commit(context.Context) error                           { return t.tx.Commit() }
func (t *sqlTx) Rollback(context.Context) error                         { return t.tx.Rollback() }
