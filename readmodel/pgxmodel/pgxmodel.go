// Package pgxmodel keeps read models exactly once in PostgreSQL through
// pgx: package readmodel's Projector, with a pgx.Tx in the ApplyFunc and a
// pgxpool.Pool (or a pgx.Conn) instead of a *sql.DB. It suits a read model
// in the event store's own PostgreSQL database, next to its events.
//
// Everything package readmodel says holds here: the position commits in the
// same transaction as the model's changes, a stale instance gets a
// conflict and applies nothing, Rebuild starts the model again from 0,
// each transaction bounds its lock waits by readmodel.LockTimeout and its
// idle time by readmodel.IdleTimeout (so that an instance frozen inside a
// batch does not stall its successor), and under Store.Consume a
// projector serves one partition of its consumer only (give each
// partition its own name).
// Both packages use the same position table, readmodel.PositionTable, in
// the first schema of the search_path: set it in the pool's configuration
// (config.ConnConfig.RuntimeParams["search_path"], or search_path in the
// DSN) to keep the positions in the store's schema. A name is one model,
// whichever package runs it.
//
//	pool, err := pgxpool.New(ctx, dsn)
//	...
//	p, err := pgxmodel.New(ctx, pool, "balances", func(ctx context.Context, tx pgx.Tx, e evstore.StoredEvent) error {
//		_, err := tx.Exec(ctx, `UPDATE balances SET ... WHERE account = $1`, e.StreamID)
//		return err
//	})
//	...
//	err = store.Consume(ctx, "balances", p)
//
// The default isolation level, READ COMMITTED, is right (see package
// readmodel).
package pgxmodel

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel/internal/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// An ApplyFunc applies one event to the read model, through tx only: the
// transaction that also moves the Projector's position. It must not commit
// or roll back tx. An error rolls the whole batch back.
type ApplyFunc func(ctx context.Context, tx pgx.Tx, e evstore.StoredEvent) error

// DB is what a Projector needs of its database: *pgxpool.Pool has it, and
// so has *pgx.Conn (which must then serve nothing else at the same time).
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// A Projector keeps a read model exactly once, as readmodel.Projector
// does. It is an evstore.Positioner, for Store.Consume. Its methods may be
// called from several goroutines; they run one at a time.
type Projector struct {
	p *core.Projector
}

var _ evstore.Positioner = (*Projector)(nil)

// New returns the Projector called name on db. It creates the position
// table and the projector's row (at position 0) if missing, and reads the
// position, as readmodel.New does: when both exist it only reads, and
// replicas starting at once on a fresh database all succeed. The name is 1 to readmodel.MaxNameLen bytes of UTF-8 text
// without NUL bytes; a bad name, a nil db or a nil apply is an error
// wrapping evstore.ErrInvalidArgument.
func New(ctx context.Context, db DB, name string, apply ApplyFunc) (*Projector, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: pgxmodel: nil DB", evstore.ErrInvalidArgument)
	}
	if apply == nil {
		return nil, fmt.Errorf("%w: pgxmodel: nil ApplyFunc", evstore.ErrInvalidArgument)
	}
	if err := core.CheckName(name); err != nil {
		return nil, err
	}
	p, err := core.New(ctx, pgxDB{db, apply}, &core.Postgres, name)
	if err != nil {
		return nil, err
	}
	return &Projector{p: p}, nil
}

// Name returns the Projector's name.
func (p *Projector) Name() string { return p.p.Name() }

// Handle applies events in one transaction that also moves the position,
// as readmodel.Projector.Handle does: a stale instance gets an error
// wrapping a *evstore.ConflictError and applies nothing, events at or below
// the known position are skipped, an ApplyFunc's error rolls the whole
// batch back, and under Store.Consume a Handle from another partition of
// the consumer than the projector's is refused with an error wrapping
// evstore.ErrInvalidArgument.
func (p *Projector) Handle(ctx context.Context, events []evstore.StoredEvent) error {
	return p.p.Handle(ctx, events)
}

// Position reads the stored position and adopts it: the next Handle
// expects the events after it. Under Store.Consume it records or checks
// the consumer partition, as readmodel.Projector.Position does.
func (p *Projector) Position(ctx context.Context) (int64, error) {
	return p.p.Position(ctx)
}

// Rebuild drops the read model's state (drop deletes or truncates its
// tables through tx) and sets the position to 0, in one transaction, as
// readmodel.Projector.Rebuild does (which also forgets the consumer
// partition). A nil drop is an error wrapping
// evstore.ErrInvalidArgument.
func (p *Projector) Rebuild(ctx context.Context, drop func(ctx context.Context, tx pgx.Tx) error) error {
	if drop == nil {
		return fmt.Errorf("%w: pgxmodel %q: Rebuild with a nil drop function", evstore.ErrInvalidArgument, p.Name())
	}
	return p.p.Rebuild(ctx, func(ctx context.Context, tx core.Tx) error {
		return drop(ctx, tx.(*pgxTx).tx)
	})
}

// pgxDB adapts a DB to core.DB.
type pgxDB struct {
	db    DB
	apply ApplyFunc
}

func (d pgxDB) Begin(ctx context.Context) (core.Tx, error) {
	tx, err := d.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pgxTx{tx: tx, apply: d.apply}, nil
}

func (d pgxDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.db.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d pgxDB) QueryRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	return scan(d.db.QueryRow(ctx, query, args...), dest)
}

func scan(row pgx.Row, dest []any) (bool, error) {
	switch err := row.Scan(dest...); {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// pgxTx adapts a pgx.Tx to core.Tx.
type pgxTx struct {
	tx    pgx.Tx
	apply ApplyFunc
}

func (t *pgxTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (t *pgxTx) QueryRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	return scan(t.tx.QueryRow(ctx, query, args...), dest)
}

func (t *pgxTx) Apply(ctx context.Context, e evstore.StoredEvent) error { return t.apply(ctx, t.tx, e) }
func (t *pgxTx) Commit(ctx context.Context) error                       { return t.tx.Commit(ctx) }
func (t *pgxTx) Rollback(ctx context.Context) error                     { return t.tx.Rollback(ctx) }
