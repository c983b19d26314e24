package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"github.com/jackc/pgx/v5"
)

// Removing events. DeleteStream and TruncateStream run in a transaction
// that takes the schema's append lock, as every append group does: the
// tombstone is numbered like any appended event, from evstore_sequence,
// the last Sequence handed out (which never goes back, whatever was
// removed), so Sequences stay unique and become visible in order; and
// Truncate's range check holds until it commits. A delete or truncate of
// many events makes the schema's appends wait while it runs.
//
// evstore_tombstones keeps the version of each stream's last tombstone,
// even once a Truncate removed the event, so that SaveSnapshot can refuse
// a snapshot below it in its statement. So that no snapshot is saved
// between Delete's removing the stream's snapshots and its commit (read
// committed: the saver's statement would not see the tombstone yet),
// Delete holds the stream's lock (streamKey) exclusively, taken before the
// append lock, and SaveSnapshot holds it shared, in a statement before its
// own in one implicit transaction (one round trip). Appends do not take
// it, and SaveSnapshot takes nothing else, so the locks make no cycle.
//
// The events' rows in evstore_tags go in the statement that deletes the
// events (see deleteEvents), found through the tags each event carries.

var (
	_ evstore.Deleter = (*backend)(nil)
	_ evstore.Eraser  = (*backend)(nil)
)

// DeleteStream implements evstore.Deleter.
func (b *backend) DeleteStream(ctx context.Context, streamID string, expect evstore.Expectation) (evstore.WriteReport, error) {
	var r evstore.WriteReport
	var planErr error
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		r, planErr = evstore.WriteReport{}, nil
		batch := &pgx.Batch{}
		batch.Queue(b.sql.streamLock, b.streamKey(streamID))
		batch.Queue(b.sql.lock, "evstore append "+b.cfg.schema)
		batch.Queue(b.sql.allHead)
		batch.Queue(b.sql.deleteHead, streamID)
		results := tx.SendBatch(ctx, batch)
		var last, head, first int64
		var newest *string
		_, err := results.Exec()
		if err == nil {
			_, err = results.Exec()
		}
		if err == nil {
			err = results.QueryRow().Scan(&last)
		}
		if err == nil {
			err = results.QueryRow().Scan(&head, &first, &newest)
		}
		if cerr := results.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		only := head > 0 && first == head && newest != nil && *newest == evstore.Deleted
		version, noop, err := evstore.PlanDelete(streamID, expect, head, only)
		if err != nil || noop {
			r.Version, planErr = version, err
			return nil // nothing written: the commit is empty
		}
		seq := last + 1
		ts := time.Now().UTC().Truncate(time.Microsecond)
		batch = &pgx.Batch{}
		batch.Queue(b.sql.deleteStream, streamID)
		batch.Queue(b.sql.deleteSnapshots, streamID)
		batch.Queue(b.sql.insertTombstone, seq, streamID, evstore.Deleted, ts, version)
		batch.Queue(b.sql.setLast, seq)
		batch.Queue(b.sql.setTombstone, streamID, version)
		batch.Queue("SELECT pg_notify($1, '')", b.channel)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		r = evstore.WriteReport{Version: version, Appended: 1, First: seq, Last: seq}
		return nil
	})
	if err != nil {
		return evstore.WriteReport{}, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "delete %s", streamID)
	}
	if planErr != nil {
		return r, planErr
	}
	return r, nil
}

// streamKey is the text whose hashtextextended is the key of the stream's
// lock: it names the schema as lease keys do (its length in bytes, a
// colon, its name), then the stream.
func (b *backend) streamKey(streamID string) string {
	return fmt.Sprintf("evstore stream %d:%s %s", len(b.cfg.schema), b.cfg.schema, streamID)
}

// TruncateStream implements evstore.Deleter.
func (b *backend) TruncateStream(ctx context.Context, streamID string, before int64) (int64, error) {
	var n int64
	var rangeErr error
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		n, rangeErr = 0, nil
		batch := &pgx.Batch{}
		batch.Queue(b.sql.lock, "evstore append "+b.cfg.schema)
		batch.Queue(b.sql.streamHead, streamID)
		results := tx.SendBatch(ctx, batch)
		var head int64
		_, err := results.Exec()
		if err == nil {
			err = results.QueryRow().Scan(&head)
		}
		if cerr := results.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if before < 1 || before > head {
			rangeErr = fmt.Errorf("%w: truncate %s before version %d: want 1 to its version, %d", evstore.ErrInvalidArgument, streamID, before, head)
			return nil
		}
		return tx.QueryRow(ctx, b.sql.truncate, streamID, before).Scan(&n)
	})
	if err != nil {
		return 0, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "truncate %s", streamID)
	}
	return n, rangeErr
}

// Erase implements evstore.Eraser: a VACUUM of evstore's tables, on a
// connection of the pool (VACUUM cannot run in a transaction), with index
// cleanup forced (from PostgreSQL 12; by default VACUUM may skip the
// indexes when few rows are dead, leaving removed keys in them). See the
// package documentation, "Deleting data", for what it does not reach.
func (b *backend) Erase(ctx context.Context) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return errs.Wrap("evstore/postgres", "erase", interrupted(ctx, err))
	}
	defer conn.Release()
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return errs.Wrap("evstore/postgres", "erase", interrupted(ctx, err))
	}
	vacuum := "VACUUM (INDEX_CLEANUP ON) "
	if version < 120000 {
		vacuum = "VACUUM "
	}
	if _, err := conn.Exec(ctx, vacuum+b.sql.vacuumTables); err != nil {
		return errs.Wrap("evstore/postgres", "erase: vacuum", interrupted(ctx, err))
	}
	return nil
}
