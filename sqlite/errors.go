package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// ErrBusy means the database stayed locked by another connection (another
// process, or another Store on the same file) for longer than the busy
// timeout (WithBusyTimeout). The call changed nothing; it may be retried.
var ErrBusy = errors.New("evstore/sqlite: database is locked by another writer (busy timeout expired)")

// translate maps driver errors onto evstore's sentinel errors, and ErrBusy,
// where one applies, keeping the driver's message. A write through a
// read-only connection (ReadOnly, or a file the process may not write)
// becomes ErrReadOnly.
func translate(err error) error {
	if err == nil || errors.Is(err, evstore.ErrCorrupt) || errors.Is(err, ErrBusy) || errors.Is(err, evstore.ErrReadOnly) {
		return err
	}
	if sqlite.ErrCode(err) == sqlite.ResultReadOnly { // "attempt to write a readonly database"
		return fmt.Errorf("%w: the database is open read-only (sqlite.ReadOnly, or a file this process may not write): %w", evstore.ErrReadOnly, err)
	}
	switch sqlite.ErrCode(err).ToPrimary() {
	case sqlite.ResultNotADB, sqlite.ResultCorrupt:
		return fmt.Errorf("%w: %w", evstore.ErrCorrupt, err)
	case sqlite.ResultBusy:
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// exec runs one statement that returns no rows, keeping it prepared.
func exec(ctx context.Context, conn *sqlite.Conn, query string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stmt, err := conn.Prepare(query)
	if err != nil {
		return translate(err)
	}
	_, err = stmt.Step()
	if rerr := stmt.Reset(); err == nil {
		err = rerr
	}
	return translate(err)
}

// execScript runs several statements in one savepoint.
func execScript(conn *sqlite.Conn, script string) error {
	return translate(sqlitex.ExecuteScript(conn, script, nil))
}

// interrupted returns ctx's error in place of an SQLite interrupt caused by it.
func interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && sqlite.ErrCode(err) == sqlite.ResultInterrupt {
		return ctx.Err()
	}
	return translate(err)
}
