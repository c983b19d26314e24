package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"zombiezen.com/go/sqlite"
)

// Removing events. Delete and Truncate are plain IMMEDIATE transactions on
// the writer connection (not group-committed: they are rare), which keep
// the writer's cache of stream versions (heads) right as Append does.
//
// A stream's tombstone, while it is an event, is its oldest one: Delete
// removes every event before it, and Truncate only the oldest ones. A
// Truncate that removes it keeps its version in evstore_tombstones (the
// newest one it removed, if ever several), so that SaveSnapshot still
// refuses a snapshot below it: the stream's last tombstone is the greater
// of the two (see lastTombstone).
//
// The bytes go with the rows: every connection runs with PRAGMA
// secure_delete=ON, so SQLite overwrites deleted content with zeros in the
// pages it writes (this applies to every delete and overwrite the store
// makes: snapshot replacement, consumer checkpoints). Those pages reach the
// database file at the next checkpoint, and the WAL still holds the pages
// as they were before; so after a Delete or Truncate commits, a
// wal_checkpoint(TRUNCATE) is tried on a connection of its own with no
// busy timeout: it never waits, for readers or writers. If no other
// connection holds a read snapshot, the WAL is emptied and the removed
// payloads are nowhere in the files when the call returns. If one does,
// the checkpoint gives up at once and Store.Erase finishes the job later.

var (
	_ evstore.Deleter = (*backend)(nil)
	_ evstore.Eraser  = (*backend)(nil)
)

// ErrWALInUse means Store.Erase could not empty the WAL before its ctx
// ended because another connection (a read transaction of another Store
// or process, a backup, a replicator such as litestream) still holds a
// snapshot in it: what Delete and Truncate removed may remain in the -wal
// file until that reader moves on.
var ErrWALInUse = errors.New("evstore/sqlite: a reader holds a snapshot of the WAL")

// DeleteStream implements evstore.Deleter.
func (b *backend) DeleteStream(ctx context.Context, streamID string, expect evstore.Expectation) (r evstore.WriteReport, err error) {
	conn, err := take(ctx, b.writer)
	if err != nil {
		return r, err
	}
	err = b.commit(ctx, conn, func() error {
		head, err := b.heads.get(conn, streamID)
		if err != nil {
			return err
		}
		only := false
		if head > 0 {
			first, typ, err := firstEvent(conn, streamID)
			if err != nil {
				return err
			}
			only = first == head && typ == evstore.Deleted
		}
		version, noop, err := evstore.PlanDelete(streamID, expect, head, only)
		if err != nil || noop {
			r.Version = version
			return err
		}
		if err := execArgs(conn, "DELETE FROM evstore_tags WHERE seq IN (SELECT id FROM events WHERE stream_id = +?)", streamID); err != nil {
			return err
		}
		if err := execArgs(conn, "DELETE FROM events WHERE stream_id = +?", streamID); err != nil {
			return err
		}
		if err := execArgs(conn, "DELETE FROM snapshots WHERE stream_id = +?", streamID); err != nil {
			return err
		}
		tomb := []evstore.EncodedEvent{{Type: evstore.Deleted, Data: []byte{}}} // empty, not NULL
		if err := insert(conn, streamID, formatTimestamp(time.Now()), head, tomb); err != nil {
			return err
		}
		b.heads.set(streamID, version)
		seq := conn.LastInsertRowID()
		r = evstore.WriteReport{Version: version, Appended: 1, First: seq, Last: seq}
		return nil
	})
	put(b.writer, conn)
	if err != nil {
		var conflict *evstore.ConflictError
		if errors.As(err, &conflict) {
			return evstore.WriteReport{}, err
		}
		return evstore.WriteReport{}, errs.Wrapf("evstore/sqlite", err, "delete %s", streamID)
	}
	if r.Appended > 0 {
		b.checkpointNow(ctx, "delete")
	}
	return r, nil
}

// TruncateStream implements evstore.Deleter.
func (b *backend) TruncateStream(ctx context.Context, streamID string, before int64) (int64, error) {
	conn, err := take(ctx, b.writer)
	if err != nil {
		return 0, err
	}
	var n int64
	err = b.commit(ctx, conn, func() error {
		head, err := b.heads.get(conn, streamID)
		if err != nil {
			return err
		}
		if before < 1 || before > head {
			return fmt.Errorf("%w: truncate %s before version %d: want 1 to its version, %d", evstore.ErrInvalidArgument, streamID, before, head)
		}
		// A tombstone among the removed events still bounds the stream's
		// snapshots: its version stays in evstore_tombstones.
		if err := execArgs(conn, `INSERT INTO evstore_tombstones (stream_id, version)
			SELECT stream_id, MAX(version) FROM events
			WHERE stream_id = +?1 AND version < +?2 AND event_type = '`+evstore.Deleted+`'
			GROUP BY stream_id
			ON CONFLICT (stream_id) DO UPDATE SET version = max(version, excluded.version)`, streamID, before); err != nil {
			return err
		}
		if err := execArgs(conn, "DELETE FROM evstore_tags WHERE seq IN (SELECT id FROM events WHERE stream_id = +? AND version < +?)", streamID, before); err != nil {
			return err
		}
		if err := execArgs(conn, "DELETE FROM events WHERE stream_id = +? AND version < +?", streamID, before); err != nil {
			return err
		}
		n = int64(conn.Changes())
		return nil
	})
	put(b.writer, conn)
	if err != nil {
		if errors.Is(err, evstore.ErrInvalidArgument) {
			return 0, err
		}
		return 0, errs.Wrapf("evstore/sqlite", err, "truncate %s", streamID)
	}
	if n > 0 {
		b.checkpointNow(ctx, "truncate")
	}
	return n, nil
}

// firstEvent returns the version and type of the stream's oldest event.
func firstEvent(conn *sqlite.Conn, streamID string) (int64, string, error) {
	stmt, err := conn.Prepare("SELECT version, event_type FROM events WHERE stream_id = +? ORDER BY version LIMIT 1")
	if err != nil {
		return 0, "", err
	}
	defer stmt.Reset()
	stmt.BindText(1, streamID)
	row, err := stmt.Step()
	if err != nil || !row {
		return 0, "", err
	}
	return stmt.ColumnInt64(0), stmt.ColumnText(1), nil
}

// lastTombstoneSQL is an expression, of the stream ?1, for the version of
// its last tombstone (0 if none): its oldest event if that is one, or the
// newest that Truncate removed.
const lastTombstoneSQL = `max(
	COALESCE((SELECT CASE event_type WHEN '` + evstore.Deleted + `' THEN version ELSE 0 END
		FROM events WHERE stream_id = +?1 ORDER BY version LIMIT 1), 0),
	COALESCE((SELECT version FROM evstore_tombstones WHERE stream_id = +?1), 0))`

// lastTombstone returns the version of the stream's last tombstone, or 0.
func lastTombstone(conn *sqlite.Conn, streamID string) (int64, error) {
	return queryInt(conn, "SELECT "+lastTombstoneSQL, streamID)
}

// execArgs runs one statement with arguments that returns no rows.
func execArgs(conn *sqlite.Conn, query string, args ...any) error {
	stmt, err := conn.Prepare(query)
	if err != nil {
		return err
	}
	bind(stmt, args)
	_, err = stmt.Step()
	if rerr := stmt.Reset(); err == nil {
		err = rerr
	}
	return err
}

// checkpoint runs one wal_checkpoint(TRUNCATE) on the checkpoint
// connection, which has no busy timeout: it takes the write lock only if
// it is free, and gives up at once if a reader's snapshot keeps the WAL
// from being emptied. done reports that the WAL was emptied.
func (b *backend) checkpoint(ctx context.Context) (done bool, err error) {
	if b.memory {
		return true, nil // no files, no WAL
	}
	b.ckptMu.Lock()
	defer b.ckptMu.Unlock()
	if b.ckpt == nil {
		conn, err := b.openConn(ctx, false)
		if err != nil {
			return false, err
		}
		conn.SetBusyTimeout(0)
		b.ckpt = conn
	}
	b.ckpt.SetInterrupt(ctx.Done())
	defer b.ckpt.SetInterrupt(nil)
	stmt, err := b.ckpt.Prepare("PRAGMA wal_checkpoint(TRUNCATE)")
	if err != nil {
		return false, interrupted(ctx, err)
	}
	defer stmt.Reset()
	if _, err := stmt.Step(); err != nil {
		if sqlite.ErrCode(err).ToPrimary() == sqlite.ResultBusy || sqlite.ErrCode(err).ToPrimary() == sqlite.ResultLocked {
			return false, nil
		}
		return false, interrupted(ctx, err)
	}
	// Columns: busy (1 if it could not finish), frames in the WAL, frames
	// checkpointed; a finished TRUNCATE leaves an empty WAL.
	return stmt.ColumnInt64(0) == 0 && stmt.ColumnInt64(1) <= 0, nil
}

// checkpointNow tries one checkpoint after what commits removed, and only
// logs if it could not empty the WAL.
func (b *backend) checkpointNow(ctx context.Context, what string) {
	done, err := b.checkpoint(context.WithoutCancel(ctx))
	switch {
	case err != nil:
		b.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "evstore/sqlite: checkpoint after "+what+" failed; Store.Erase takes the removed data out of the WAL", slog.Any("err", err))
	case !done:
		b.cfg.logger.LogAttrs(ctx, slog.LevelInfo, "evstore/sqlite: checkpoint after "+what+" could not empty the WAL (another connection is writing or reading); Store.Erase takes the removed data out of it")
	}
}

// Erase implements evstore.Eraser: a wal_checkpoint(TRUNCATE), retried
// until no other connection keeps it from emptying the WAL, or until ctx
// ends, then an error wrapping ErrWALInUse and ctx's error. Once it
// returns nil, what Delete and Truncate removed before it was called is in
// neither the database file (secure_delete zeroed it) nor the WAL (empty).
func (b *backend) Erase(ctx context.Context) error {
	wait := time.Millisecond
	for {
		done, err := b.checkpoint(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: %s-wal may still hold removed data: %w", ErrWALInUse, b.path, ctx.Err())
			}
			return errs.Wrap("evstore/sqlite", "erase", err)
		}
		if done {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (another Store's or process's read transaction, a backup, litestream): %s-wal may still hold removed data: %w", ErrWALInUse, b.path, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// DeleteStream implements evstore.Deleter: ErrReadOnly.
func (b readOnlyBackend) DeleteStream(ctx context.Context, streamID string, expect evstore.Expectation) (evstore.WriteReport, error) {
	return evstore.WriteReport{}, fmt.Errorf("%w: delete %s: the Store was opened with sqlite.ReadOnly", evstore.ErrReadOnly, streamID)
}

// TruncateStream implements evstore.Deleter: ErrReadOnly.
func (b readOnlyBackend) TruncateStream(ctx context.Context, streamID string, before int64) (int64, error) {
	return 0, fmt.Errorf("%w: truncate %s: the Store was opened with sqlite.ReadOnly", evstore.ErrReadOnly, streamID)
}

// Erase implements evstore.Eraser: ErrReadOnly.
func (b readOnlyBackend) Erase(ctx context.Context) error {
	return fmt.Errorf("%w: erase: the Store was opened with sqlite.ReadOnly", evstore.ErrReadOnly)
}
