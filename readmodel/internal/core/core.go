// Package core is the projector that readmodel (database/sql) and
// readmodel/pgxmodel (pgx) share: the position row, the conflict check, the
// skipping of redelivered events and the rebuild. The packages above it
// adapt their transactions to Tx and their connections to DB.
package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-event-sourcing/evstore"
)

// Table is the position table: one row per projector.
const Table = "evstore_readmodel_positions"

// MaxNameLen is the longest projector name, in bytes.
const MaxNameLen = 255

// Queries is one dialect's SQL. Parameters are $1, $2, ... on both SQLite
// (modernc.org/sqlite binds $N to the Nth argument) and PostgreSQL.
type Queries struct {
	Create  string // creates Table if missing
	Insert  string // $1 name, $2 position: inserts the row unless it exists
	Advance string // $1 new position, $2 name, $3 known position: moves the row if it holds the known position
	Read    string // $1 name: selects the position
	Reset   string // $1 name: sets the position to 0, inserting the row if missing
}

// Tx is a transaction of the adapter.
type Tx interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Position runs the Read query; found is false when there is no row.
	Position(ctx context.Context, query, name string) (pos int64, found bool, err error)
	// Apply calls the user's function with the adapter's transaction.
	Apply(ctx context.Context, e evstore.StoredEvent) error
	Commit(ctx context.Context) error
	// Rollback ends the transaction; it may be called after Commit.
	Rollback(ctx context.Context) error
}

// DB is the adapter's database.
type DB interface {
	Begin(ctx context.Context) (Tx, error)
	// Exec runs a statement outside a transaction.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Position runs the Read query outside a transaction.
	Position(ctx context.Context, query, name string) (pos int64, found bool, err error)
}

// Projector keeps the position of one named read model.
type Projector struct {
	db   DB
	q    *Queries
	name string

	mu    sync.Mutex // serialises the calls: one transaction at a time
	known int64      // the position this Projector last read or wrote
}

// CheckName returns an error wrapping evstore.ErrInvalidArgument unless
// name is 1 to MaxNameLen bytes of UTF-8 text without NUL bytes.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: readmodel: empty projector name", evstore.ErrInvalidArgument)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: readmodel: projector name of %d bytes, over the limit of %d", evstore.ErrInvalidArgument, len(name), MaxNameLen)
	case !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: readmodel: projector name %q is not UTF-8 text without NUL bytes", evstore.ErrInvalidArgument, name)
	}
	return nil
}

// New creates the position table and the projector's row if missing, and
// reads the position. The name must have passed
// CheckName.
func New(ctx context.Context, db DB, q *Queries, name string) (*Projector, error) {
	p := &Projector{db: db, q: q, name: name}
	var err error
	for range 3 {
		if err = p.init(ctx); err == nil || !createRace(err) {
			break
		}
		// Another process created the table at the same moment; the next
		// attempt finds it.
	}
	if err != nil {
		return nil, fmt.Errorf("readmodel %q: creating the position table: %w", name, err)
	}
	return p, nil
}

func (p *Projector) init(ctx context.Context) error {
	// Each statement on its own: all three are idempotent, and on SQLite a
	// transaction that began with the CREATE (which only reads the schema
	// when the table exists) could not take the write lock for the INSERT
	// while another connection holds it.
	if _, err := p.db.Exec(ctx, p.q.Create); err != nil {
		return err
	}
	if _, err := p.db.Exec(ctx, p.q.Insert, p.name, int64(0)); err != nil {
		return err
	}
	pos, _, err := p.db.Position(ctx, p.q.Read, p.name)
	if err != nil {
		return err
	}
	p.known = pos
	return nil
}

// createRace reports whether err is PostgreSQL's failure of a CREATE TABLE
// IF NOT EXISTS that raced another (unique_violation on the catalog, or
// duplicate_table).
func createRace(err error) bool {
	var s interface{ SQLState() string }
	if !errors.As(err, &s) {
		return false
	}
	return s.SQLState() == "23505" || s.SQLState() == "42P07"
}

// Name returns the projector's name.
func (p *Projector) Name() string { return p.name }

// Handle applies events in one transaction whose first statement moves the
// position row from the known position to the new one.
func (p *Projector) Handle(ctx context.Context, events []evstore.StoredEvent) (err error) {
	if len(events) == 0 {
		return nil
	}
	var prev int64
	for i, e := range events {
		if e.Sequence <= prev {
			return fmt.Errorf("%w: readmodel %q: event %d of the batch has Sequence %d, not above %d: a batch must be in increasing Sequence order, from 1",
				evstore.ErrInvalidArgument, p.name, i, e.Sequence, prev)
		}
		prev = e.Sequence
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	known := p.known
	// Events at or below the known position were applied before (a batch
	// redelivered after a crash): they are skipped, and the position never
	// moves back.
	next := max(known, events[len(events)-1].Sequence)

	tx, err := p.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("readmodel %q: begin: %w", p.name, err)
	}
	committed := false
	defer func() {
		// Also on a panic in the user's function: the transaction (and, on
		// SQLite, the write lock) must not outlive the call.
		if !committed {
			tx.Rollback(ctx)
		}
	}()

	n, err := tx.Exec(ctx, p.q.Advance, next, p.name, known)
	if err != nil {
		return fmt.Errorf("readmodel %q: moving the position from %d to %d: %w", p.name, known, next, err)
	}
	if n == 0 {
		if err := p.missingRow(ctx, tx, known, next); err != nil {
			return err
		}
	}
	for _, e := range events {
		if e.Sequence <= known {
			continue
		}
		if err := tx.Apply(ctx, e); err != nil {
			return fmt.Errorf("readmodel %q: applying event %d (%s of %s): %w", p.name, e.Sequence, e.Type, e.StreamID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		// The commit may have happened all the same; the known position
		// stays, so the next Handle finds out (a conflict) instead of
		// guessing.
		return fmt.Errorf("readmodel %q: commit: %w", p.name, err)
	}
	committed = true
	p.known = next
	return nil
}

// missingRow runs when the Advance statement moved no row: the row holds
// another position (a conflict), or it was deleted, which is position 0.
// It returns nil when the row was missing, known is 0, and the row is now
// inserted at next.
func (p *Projector) missingRow(ctx context.Context, tx Tx, known, next int64) error {
	actual, found, err := tx.Position(ctx, p.q.Read, p.name)
	if err != nil {
		return fmt.Errorf("readmodel %q: reading the position: %w", p.name, err)
	}
	if !found && known == 0 {
		n, err := tx.Exec(ctx, p.q.Insert, p.name, next)
		if err != nil {
			return fmt.Errorf("readmodel %q: inserting the position row: %w", p.name, err)
		}
		if n == 1 {
			return nil
		}
		// Another instance inserted it meanwhile.
		if actual, _, err = tx.Position(ctx, p.q.Read, p.name); err != nil {
			return fmt.Errorf("readmodel %q: reading the position: %w", p.name, err)
		}
	}
	return fmt.Errorf("readmodel %q: another instance moved the position; call Position and restart from it: %w",
		p.name, &evstore.ConflictError{StreamID: p.name, Expected: known, Actual: actual})
}

// Position reads the stored position and adopts it as the known one.
func (p *Projector) Position(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, _, err := p.db.Position(ctx, p.q.Read, p.name)
	if err != nil {
		return 0, fmt.Errorf("readmodel %q: reading the position: %w", p.name, err)
	}
	p.known = pos
	return pos, nil
}

// Rebuild runs drop and sets the stored position to 0 in one transaction
// whose first statement writes the position row. The known position does
// not change: the next Handle of this Projector, like that of any other
// instance, gets a conflict unless Position is called first.
func (p *Projector) Rebuild(ctx context.Context, drop func(ctx context.Context, tx Tx) error) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tx, err := p.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("readmodel %q: rebuild: begin: %w", p.name, err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback(ctx)
		}
	}()
	if _, err := tx.Exec(ctx, p.q.Reset, p.name); err != nil {
		return fmt.Errorf("readmodel %q: rebuild: resetting the position: %w", p.name, err)
	}
	if err := drop(ctx, tx); err != nil {
		return fmt.Errorf("readmodel %q: rebuild: dropping the model: %w", p.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("readmodel %q: rebuild: commit: %w", p.name, err)
	}
	committed = true
	return nil
}
