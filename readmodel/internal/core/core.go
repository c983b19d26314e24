// Package core is the projector that readmodel (database/sql) and
// readmodel/pgxmodel (pgx) share: the position row, the conflict check, the
// skipping of redelivered events and the rebuild. The packages above it
// adapt their transactions to Tx and their connections to DB.
package core

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-event-sourcing/evstore"
)

// Table is the position table: one row per projector.
const Table = "evstore_readmodel_positions"

// ClaimColumn is the column of Table that records which partition of its
// consumer a projector runs as (see Claim); NULL until a Handle or
// Position runs under Store.Consume. Tables created before it get it
// added by New.
const ClaimColumn = "consumer_partition"

// MaxNameLen is the longest projector name, in bytes.
const MaxNameLen = 255

// The bounds of a PostgreSQL transaction of a Projector (Queries.Setup).
const (
	// IdleTimeout is how long the server lets a transaction of a
	// Projector sit idle (the client sends nothing) before it ends the
	// session, rolling the transaction back and releasing its locks: a
	// frozen process does not keep the position row locked much longer
	// than its consumer lease lasts.
	IdleTimeout = evstore.DefaultLeaseTime
	// LockTimeout is the longest a statement of a Projector's transaction
	// waits for a lock: a holder that is not ended by IdleTimeout (a
	// session that did not set it) makes the Handle fail, to be retried,
	// instead of waiting for ever. It is longer than IdleTimeout, so that
	// a waiter outlasts a frozen Projector's session.
	LockTimeout = 2 * evstore.DefaultLeaseTime
)

// Queries is one dialect's SQL. Parameters are $1, $2, ... on both SQLite
// (modernc.org/sqlite binds $N to the Nth argument) and PostgreSQL.
type Queries struct {
	// Setup, if not empty, runs first in every transaction: $1 is the
	// lock timeout, $2 the idle-in-transaction timeout, as text ("5000ms"),
	// each set unless the session has one already.
	Setup string
	// InitInTx makes New run its statements in one transaction, after
	// Setup; else each runs on its own.
	InitInTx bool
	// Busy, if not nil, reports an error of the database being busy that
	// New tries again.
	Busy      func(error) bool
	Schema    string // counts Table's columns, and those named ClaimColumn, where Create creates it
	Create    string // creates Table if missing
	AddClaim  string // adds ClaimColumn to a Table created before it
	Insert    string // $1 name, $2 position, $3 claim (nil for none): inserts the row unless it exists
	Advance   string // $1 new position, $2 name, $3 known position: moves the row if it holds the known position
	AdvanceAs string // as Advance, $4 a claim: only if the row has no claim or that one, and records it
	Claim     string // $1 name, $2 claim: records the claim if the row has none
	Read      string // $1 name: selects the position and the claim
	Reset     string // $1 name: sets the position to 0 and drops the claim, inserting the row if missing
}

// Querier runs statements, in a transaction or on their own.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow runs a query of at most one row and scans it into dest;
	// found is false when there is no row.
	QueryRow(ctx context.Context, query string, args []any, dest ...any) (found bool, err error)
}

// Tx is a transaction of the adapter.
type Tx interface {
	Querier
	// Apply calls the user's function with the adapter's transaction.
	Apply(ctx context.Context, e evstore.StoredEvent) error
	Commit(ctx context.Context) error
	// Rollback ends the transaction; it may be called after Commit.
	Rollback(ctx context.Context) error
}

// DB is the adapter's database.
type DB interface {
	Querier
	Begin(ctx context.Context) (Tx, error)
}

// Projector keeps the position of one named read model.
type Projector struct {
	db   DB
	q    *Queries
	name string

	mu          sync.Mutex // serialises the calls: one transaction at a time
	known       int64      // the position this Projector last read or wrote
	lockTimeout time.Duration
	idleTimeout time.Duration
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

// initAttempts bounds New's attempts when another replica creates or
// migrates the position table at the same moment.
const initAttempts = 5

// New creates the position table (or adds ClaimColumn to it) and the
// projector's row if missing, and reads the position. The name must have
// passed CheckName.
//
// When the table and the row exist, New only reads: on SQLite it takes no
// write lock, and on PostgreSQL it waits for no lock (a row locked by a
// frozen instance included).
func New(ctx context.Context, db DB, q *Queries, name string) (*Projector, error) {
	p := &Projector{db: db, q: q, name: name, lockTimeout: LockTimeout, idleTimeout: IdleTimeout}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("readmodel %q: %w", name, err)
		}
		ddl, err := p.init(ctx)
		if err == nil {
			return p, nil
		}
		// Replicas starting at once on a fresh database race to create
		// the table: on PostgreSQL the losers fail, with one of several
		// errors (23505 on a catalog index, 42P07 duplicate_table, 42710
		// duplicate_object for the table's row type, ...), once the winner
		// has committed. Whatever the error, an attempt whose DDL failed
		// while the table is now complete tries again. On SQLite, a
		// connection that opens a fresh file while another one turns it to
		// WAL mode fails at once with SQLITE_BUSY, whatever the busy
		// timeout: that is tried again too, after a pause. Any other
		// failure is New's.
		busy := p.q.Busy != nil && p.q.Busy(err)
		retry := busy || (ddl && p.schemaComplete(ctx))
		if !retry || attempt == initAttempts || (busy && !sleep(ctx, time.Duration(attempt)*10*time.Millisecond)) {
			return nil, fmt.Errorf("readmodel %q: opening the position table: %w", name, err)
		}
	}
}

// sleep waits for d, or reports false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// init is one attempt of New. ddl reports that it ran a CREATE or ALTER.
func (p *Projector) init(ctx context.Context) (ddl bool, err error) {
	var q Querier = p.db
	if p.q.InitInTx {
		tx, err := p.begin(ctx)
		if err != nil {
			return false, err
		}
		committed := false
		defer func() {
			if !committed {
				tx.Rollback(ctx)
			}
		}()
		if ddl, err = p.initOn(ctx, tx); err != nil {
			return ddl, err
		}
		if err := tx.Commit(ctx); err != nil {
			return ddl, fmt.Errorf("commit: %w", err)
		}
		committed = true
		return ddl, nil
	}
	return p.initOn(ctx, q)
}

func (p *Projector) initOn(ctx context.Context, q Querier) (ddl bool, err error) {
	var columns, claim int64
	if _, err := q.QueryRow(ctx, p.q.Schema, nil, &columns, &claim); err != nil {
		return false, fmt.Errorf("reading the table's columns: %w", err)
	}
	switch {
	case columns == 0:
		ddl = true
		if _, err := q.Exec(ctx, p.q.Create); err != nil {
			return ddl, fmt.Errorf("creating the table: %w", err)
		}
	case claim == 0:
		ddl = true
		if _, err := q.Exec(ctx, p.q.AddClaim); err != nil {
			return ddl, fmt.Errorf("adding column %s: %w", ClaimColumn, err)
		}
	}
	r, found, err := p.read(ctx, q)
	if err == nil && !found {
		if _, err = q.Exec(ctx, p.q.Insert, p.name, int64(0), nil); err != nil {
			return ddl, fmt.Errorf("inserting the position row: %w", err)
		}
		r, _, err = p.read(ctx, q)
	}
	if err != nil {
		return ddl, err
	}
	p.known = r.pos
	return ddl, nil
}

// schemaComplete reports whether the position table exists with all its
// columns.
func (p *Projector) schemaComplete(ctx context.Context) bool {
	var columns, claim int64
	_, err := p.db.QueryRow(ctx, p.q.Schema, nil, &columns, &claim)
	return err == nil && columns > 0 && claim > 0
}

// SetTimeouts sets the bounds of the Projector's PostgreSQL transactions
// (IdleTimeout and LockTimeout by default), for tests.
func (p *Projector) SetTimeouts(lock, idle time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lockTimeout, p.idleTimeout = lock, idle
}

// begin begins a transaction and runs Setup in it.
func (p *Projector) begin(ctx context.Context) (Tx, error) {
	tx, err := p.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if p.q.Setup != "" {
		if _, err := tx.Exec(ctx, p.q.Setup, millis(p.lockTimeout), millis(p.idleTimeout)); err != nil {
			tx.Rollback(ctx)
			return nil, fmt.Errorf("setting the transaction's timeouts: %w", err)
		}
	}
	return tx, nil
}

// millis is d as a PostgreSQL setting's text.
func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// A row is the projector's row of Table.
type row struct {
	pos   int64
	claim sql.NullString
}

// read reads the projector's row.
func (p *Projector) read(ctx context.Context, q Querier) (row, bool, error) {
	var r row
	found, err := q.QueryRow(ctx, p.q.Read, []any{p.name}, &r.pos, &r.claim)
	if err != nil {
		return row{}, false, fmt.Errorf("reading the position: %w", err)
	}
	return r, found, nil
}

// Name returns the projector's name.
func (p *Projector) Name() string { return p.name }

// Handle applies events in one transaction whose first statement moves the
// position row from the known position to the new one. Under
// Store.Consume it also checks (and records) the partition claim.
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
	c, keyed := claimOf(ctx)

	p.mu.Lock()
	defer p.mu.Unlock()
	known := p.known
	// Events at or below the known position were applied before (a batch
	// redelivered after a crash): they are skipped, and the position never
	// moves back.
	next := max(known, events[len(events)-1].Sequence)

	tx, err := p.begin(ctx)
	if err != nil {
		return fmt.Errorf("readmodel %q: %w", p.name, err)
	}
	committed := false
	defer func() {
		// Also on a panic in the user's function: the transaction (and, on
		// SQLite, the write lock) must not outlive the call.
		if !committed {
			tx.Rollback(ctx)
		}
	}()

	var n int64
	if keyed {
		n, err = tx.Exec(ctx, p.q.AdvanceAs, next, p.name, known, c.text)
	} else {
		n, err = tx.Exec(ctx, p.q.Advance, next, p.name, known)
	}
	if err != nil {
		return fmt.Errorf("readmodel %q: moving the position from %d to %d: %w", p.name, known, next, err)
	}
	if n == 0 {
		if err := p.missingRow(ctx, tx, known, next, c, keyed); err != nil {
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

// missingRow runs when the Advance statement moved no row: the row is
// claimed by another partition (an error wrapping
// evstore.ErrInvalidArgument), holds another position (a conflict), or was
// deleted, which is position 0. It returns nil when the row was missing,
// known is 0, and the row is now inserted at next.
func (p *Projector) missingRow(ctx context.Context, tx Tx, known, next int64, c claim, keyed bool) error {
	r, found, err := p.read(ctx, tx)
	if err != nil {
		return fmt.Errorf("readmodel %q: %w", p.name, err)
	}
	if keyed && found && r.claim.Valid && r.claim.String != c.text {
		return p.refuse(c, r.claim.String)
	}
	if !found && known == 0 {
		var arg any
		if keyed {
			arg = c.text
		}
		n, err := tx.Exec(ctx, p.q.Insert, p.name, next, arg)
		if err != nil {
			return fmt.Errorf("readmodel %q: inserting the position row: %w", p.name, err)
		}
		if n == 1 {
			return nil
		}
		// Another instance inserted it meanwhile.
		if r, _, err = p.read(ctx, tx); err != nil {
			return fmt.Errorf("readmodel %q: %w", p.name, err)
		}
		if keyed && r.claim.Valid && r.claim.String != c.text {
			return p.refuse(c, r.claim.String)
		}
	}
	return fmt.Errorf("readmodel %q: another instance moved the position; call Position and restart from it: %w",
		p.name, &evstore.ConflictError{StreamID: p.name, Expected: known, Actual: r.pos})
}

// Position reads the stored position and adopts it as the known one.
// Under Store.Consume it also checks the partition claim, and records it
// if the row has none.
func (p *Projector) Position(ctx context.Context) (int64, error) {
	c, keyed := claimOf(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	r, found, err := p.read(ctx, p.db)
	if err != nil {
		return 0, fmt.Errorf("readmodel %q: %w", p.name, err)
	}
	if keyed && !r.claim.Valid {
		if r, err = p.claim(ctx, c, found); err != nil {
			return 0, err
		}
	}
	if keyed && r.claim.String != c.text {
		return 0, p.refuse(c, r.claim.String)
	}
	p.known = r.pos
	return r.pos, nil
}

// Rebuild runs drop and sets the stored position to 0 in one transaction
// whose first statement writes the position row; it also drops the
// partition claim. The known position does not change: the next Handle of
// this Projector, like that of any other instance, gets a conflict unless
// Position is called first.
func (p *Projector) Rebuild(ctx context.Context, drop func(ctx context.Context, tx Tx) error) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tx, err := p.begin(ctx)
	if err != nil {
		return fmt.Errorf("readmodel %q: rebuild: %w", p.name, err)
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
