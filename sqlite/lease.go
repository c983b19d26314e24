package sqlite

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"zombiezen.com/go/sqlite"
)

// Consumers' checkpoints and leases live in the table evstore_consumers
// (schema version 1, see SchemaVersion), one row per consumer key (name,
// members, partition):
//
//   - position, found: the checkpoint, and whether the key has one of its
//     own (a row that was only leased has found = 0);
//   - external: a Positioner keeps the position, this is what it reported;
//   - updated: when position last moved, naive UTC text as the events'
//     timestamps, NULL before the first checkpoint;
//   - generation: counts the acquisitions of the key, to fence a holder
//     that lost its lease;
//   - lease_until: when the lease expires, in Unix milliseconds; 0 for
//     none. A lease is held while lease_until is after the current time.
//
// Leases compare lease_until with the clock of the process that asks
// (time.Now), so every process on the file must share one clock, as they
// do on one machine. An SQLite file shared across machines (a network file
// system) would need synchronised clocks, and is not supported by SQLite's
// locking anyway.
//
// A paused holder cannot save over its successor: Save and Renew write
// only while the row's generation is still the one AcquireLease gave
// (AcquireLease and ResetConsumer move it), and while no instance holds
// the name under another Members (which a paused holder's expired lease
// let in).

// AcquireLease implements evstore.ConsumerBackend, in one IMMEDIATE
// transaction on the writer connection.
func (b *backend) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	if err := checkLease(key, ttl); err != nil {
		return nil, err
	}
	conn, err := take(ctx, b.writer)
	if err != nil {
		return nil, err
	}
	defer put(b.writer, conn)
	var l *lease
	err = b.commit(ctx, conn, func() error {
		now := time.Now()
		held, err := queryInt(conn, `SELECT count(*) FROM evstore_consumers
			WHERE name = ?1 AND lease_until > ?2 AND (members <> ?3 OR partition = ?4)`,
			key.Name, now.UnixMilli(), int64(key.Members), int64(key.Partition))
		if err != nil || held > 0 {
			return err
		}
		stmt, err := conn.Prepare(`INSERT INTO evstore_consumers (name, partition, members, generation, lease_until)
			VALUES (?1, ?2, ?3, 1, ?4)
			ON CONFLICT (name, members, partition) DO UPDATE SET
			generation = generation + 1, lease_until = excluded.lease_until
			RETURNING generation, position, found`)
		if err != nil {
			return err
		}
		defer stmt.Reset()
		bind(stmt, []any{key.Name, int64(key.Partition), int64(key.Members), now.Add(ttl).UnixMilli()})
		if _, err := stmt.Step(); err != nil {
			return err
		}
		l = &lease{b: b, key: key, ttl: ttl, generation: stmt.ColumnInt64(0), position: stmt.ColumnInt64(1), found: stmt.ColumnInt64(2) != 0}
		if err := stmt.Reset(); err != nil {
			return err
		}
		if !l.found {
			// A key without a checkpoint of its own starts where another
			// split of the name got to.
			others, err := otherSplits(conn, key)
			if err != nil {
				return err
			}
			l.position, l.found = evstore.InheritCheckpoint(others)
		}
		return nil
	})
	if err != nil {
		return nil, errs.Wrapf("evstore/sqlite", err, "acquire the lease of consumer %s", keyName(key))
	}
	if l == nil {
		return nil, nil // another instance holds it
	}
	return l, nil
}

// checkLease checks AcquireLease's arguments.
func checkLease(key evstore.ConsumerKey, ttl time.Duration) error {
	switch {
	case key.Name == "":
		return fmt.Errorf("%w: empty consumer name", evstore.ErrInvalidArgument)
	case key.Members < 0 || key.Partition < 0 || key.Partition >= max(key.Members, 1):
		return fmt.Errorf("%w: consumer %q: partition %d of %d", evstore.ErrInvalidArgument, key.Name, key.Partition, key.Members)
	case ttl < time.Millisecond:
		return fmt.Errorf("%w: consumer %q: lease time %v is under a millisecond", evstore.ErrInvalidArgument, key.Name, ttl)
	}
	return nil
}

// keyName names a consumer key in errors.
func keyName(key evstore.ConsumerKey) string {
	if key.Members == 0 {
		return fmt.Sprintf("%q", key.Name)
	}
	return fmt.Sprintf("%q (partition %d of %d)", key.Name, key.Partition, key.Members)
}

// lease is the evstore.Lease of an SQLite backend.
type lease struct {
	b          *backend
	key        evstore.ConsumerKey
	ttl        time.Duration
	generation int64
	position   int64 // the checkpoint when the lease was taken
	found      bool
}

// Checkpoint implements evstore.Lease.
func (l *lease) Checkpoint() (int64, bool) { return l.position, l.found }

// Save implements evstore.Lease, in one statement.
func (l *lease) Save(ctx context.Context, position int64, external bool) error {
	if position < 0 {
		return fmt.Errorf("%w: consumer %s: negative position %d", evstore.ErrInvalidArgument, keyName(l.key), position)
	}
	now := time.Now()
	ext := int64(0)
	if external {
		ext = 1
	}
	return l.update(ctx, "save the checkpoint of", `UPDATE evstore_consumers SET
		updated = CASE WHEN found = 0 OR position <> ?7 THEN ?9 ELSE updated END,
		position = ?7, found = 1, external = ?8, lease_until = ?6`, now, position, ext, formatTimestamp(now))
}

// Renew implements evstore.Lease.
func (l *lease) Renew(ctx context.Context) error {
	return l.update(ctx, "renew the lease of", "UPDATE evstore_consumers SET lease_until = ?6", time.Now())
}

// update runs set on the lease's row if the lease still holds, with the
// parameters ?1 to ?6 bound to the row's key, the generation, the time and
// the new lease_until, and ?7 on to args. It returns ErrLeaseLost if the
// lease is gone.
func (l *lease) update(ctx context.Context, what, set string, now time.Time, args ...any) error {
	conn, err := take(ctx, l.b.writer)
	if err != nil {
		return err
	}
	defer put(l.b.writer, conn)
	stmt, err := conn.Prepare(set + `
		WHERE name = ?1 AND members = ?2 AND partition = ?3 AND generation = ?4
		AND NOT EXISTS (SELECT 1 FROM evstore_consumers AS other
			WHERE other.name = ?1 AND other.members <> ?2 AND other.lease_until > ?5)`)
	if err == nil {
		bind(stmt, append([]any{l.key.Name, int64(l.key.Members), int64(l.key.Partition), l.generation,
			now.UnixMilli(), now.Add(l.ttl).UnixMilli()}, args...))
		_, err = stmt.Step()
		if rerr := stmt.Reset(); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "%s consumer %s", what, keyName(l.key))
	}
	if conn.Changes() == 0 {
		return errs.Wrapf("evstore/sqlite", evstore.ErrLeaseLost, "%s consumer %s", what, keyName(l.key))
	}
	return nil
}

// Release implements evstore.Lease. A lease already lost is not an error:
// there is nothing left to give up.
func (l *lease) Release(ctx context.Context) error {
	conn, err := take(ctx, l.b.writer)
	if err != nil {
		return err
	}
	defer put(l.b.writer, conn)
	stmt, err := conn.Prepare(`UPDATE evstore_consumers SET lease_until = 0
		WHERE name = ?1 AND members = ?2 AND partition = ?3 AND generation = ?4`)
	if err == nil {
		bind(stmt, []any{l.key.Name, int64(l.key.Members), int64(l.key.Partition), l.generation})
		_, err = stmt.Step()
		if rerr := stmt.Reset(); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "release the lease of consumer %s", keyName(l.key))
	}
	return nil
}

// ListConsumers implements evstore.ConsumerBackend.
func (b *backend) ListConsumers(ctx context.Context) iter.Seq2[evstore.ConsumerInfo, error] {
	return b.listConsumers(ctx, false)
}

// listConsumers yields the rows of evstore_consumers, or none if
// mayBeMissing and the file has no such table (a file at schema version
// 0, read through a ReadOnly Store). The connection and its read
// transaction are held until the loop ends.
func (b *backend) listConsumers(ctx context.Context, mayBeMissing bool) iter.Seq2[evstore.ConsumerInfo, error] {
	return func(yield func(evstore.ConsumerInfo, error) bool) {
		fail := func(err error) {
			yield(evstore.ConsumerInfo{}, errs.Wrap("evstore/sqlite", "list consumers", interrupted(ctx, err)))
		}
		conn, err := take(ctx, b.readers)
		if err != nil {
			yield(evstore.ConsumerInfo{}, err)
			return
		}
		defer put(b.readers, conn)
		if mayBeMissing {
			// One read transaction for both statements, so that a
			// migration in between cannot make the table appear half-way.
			if err := exec(ctx, conn, "BEGIN"); err != nil {
				fail(err)
				return
			}
			defer rollback(conn)
			n, err := queryInt(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'evstore_consumers'")
			if err != nil || n == 0 {
				if err != nil {
					fail(err)
				}
				return
			}
		}
		// name is TEXT with SQLite's default BINARY collation: byte order.
		stmt, err := conn.Prepare(`SELECT name, partition, members, position, external, updated
			FROM evstore_consumers ORDER BY name, members, partition`)
		if err != nil {
			fail(err)
			return
		}
		defer stmt.Reset()
		for {
			row, err := stmt.Step()
			if err != nil {
				fail(err)
				return
			}
			if !row {
				return
			}
			c := evstore.ConsumerInfo{Name: stmt.ColumnText(0), Partition: stmt.ColumnInt(1), Members: stmt.ColumnInt(2),
				Position: stmt.ColumnInt64(3), External: stmt.ColumnInt64(4) != 0}
			if stmt.ColumnType(5) != sqlite.TypeNull {
				if c.Updated, err = parseTimestamp(stmt.ColumnText(5)); err != nil {
					yield(evstore.ConsumerInfo{}, fmt.Errorf("%w: consumer %q: %v", evstore.ErrCorrupt, c.Name, err))
					return
				}
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// ResetConsumer implements evstore.ConsumerBackend, in one IMMEDIATE
// transaction. The reset position counts as a checkpoint (Updated is the
// time of the reset); External stays as it was, since it says what kind
// of consumer the name is, and the consumer's next Save sets it anyway.
// A reset moves the generation of every row of the name, so that an
// instance whose lease expired without its knowing gets ErrLeaseLost
// rather than save over the reset.
func (b *backend) ResetConsumer(ctx context.Context, name string, position int64) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty consumer name", evstore.ErrInvalidArgument)
	case position < 0:
		return fmt.Errorf("%w: consumer %q: negative position %d", evstore.ErrInvalidArgument, name, position)
	}
	conn, err := take(ctx, b.writer)
	if err != nil {
		return err
	}
	defer put(b.writer, conn)
	var active error
	err = b.commit(ctx, conn, func() error {
		now := time.Now()
		until, err := queryInt(conn, "SELECT COALESCE(MAX(lease_until), 0) FROM evstore_consumers WHERE name = ?", name)
		if err != nil {
			return err
		}
		if until > now.UnixMilli() {
			active = fmt.Errorf("%w: consumer %q is active (an instance holds its lease until %s): stop it first",
				evstore.ErrConflict, name, time.UnixMilli(until).UTC().Format(time.RFC3339Nano))
			return active // rolls back: nothing was written
		}
		ts := formatTimestamp(now)
		// The new generation fences off a holder whose lease expired
		// unnoticed: its next Save must not overwrite the reset.
		stmt, err := conn.Prepare(`UPDATE evstore_consumers SET position = ?2, found = 1, updated = ?3,
			generation = generation + 1 WHERE name = ?1`)
		if err != nil {
			return err
		}
		defer stmt.Reset()
		bind(stmt, []any{name, position, ts})
		if _, err := stmt.Step(); err != nil {
			return err
		}
		if conn.Changes() > 0 {
			return nil
		}
		ins, err := conn.Prepare(`INSERT INTO evstore_consumers (name, partition, members, position, found, updated)
			VALUES (?1, 0, 0, ?2, 1, ?3)`)
		if err != nil {
			return err
		}
		defer ins.Reset()
		bind(ins, []any{name, position, ts})
		_, err = ins.Step()
		return err
	})
	if active != nil {
		return errs.Wrap("evstore/sqlite", "reset consumer", active)
	}
	if err != nil {
		return errs.Wrapf("evstore/sqlite", err, "reset consumer %q", name)
	}
	return nil
}

// AcquireLease implements evstore.ConsumerBackend: a ReadOnly Store cannot
// take a lease, which is a write.
func (b readOnlyBackend) AcquireLease(_ context.Context, key evstore.ConsumerKey, _ time.Duration) (evstore.Lease, error) {
	return nil, fmt.Errorf("%w: consumer %s cannot run on a store opened with sqlite.ReadOnly", evstore.ErrReadOnly, keyName(key))
}

// ListConsumers implements evstore.ConsumerBackend. A file at schema
// version 0 has no consumers.
func (b readOnlyBackend) ListConsumers(ctx context.Context) iter.Seq2[evstore.ConsumerInfo, error] {
	return b.listConsumers(ctx, true)
}

// ResetConsumer implements evstore.ConsumerBackend: a ReadOnly Store
// refuses it.
func (b readOnlyBackend) ResetConsumer(_ context.Context, name string, _ int64) error {
	return fmt.Errorf("%w: consumer %q cannot be reset through a store opened with sqlite.ReadOnly", evstore.ErrReadOnly, name)
}

// otherSplits returns the keys of key's name under other Members.
func otherSplits(conn *sqlite.Conn, key evstore.ConsumerKey) ([]evstore.CheckpointRow, error) {
	stmt, err := conn.Prepare(`SELECT partition, members, position, found, updated FROM evstore_consumers
		WHERE name = ?1 AND members <> ?2`)
	if err != nil {
		return nil, err
	}
	defer stmt.Reset()
	bind(stmt, []any{key.Name, int64(key.Members)})
	var rows []evstore.CheckpointRow
	for {
		more, err := stmt.Step()
		if err != nil || !more {
			return rows, err
		}
		r := evstore.CheckpointRow{Partition: int(stmt.ColumnInt64(0)), Members: int(stmt.ColumnInt64(1)), Position: stmt.ColumnInt64(2), Found: stmt.ColumnInt64(3) != 0}
		if stmt.ColumnType(4) != sqlite.TypeNull {
			if r.Updated, err = parseTimestamp(stmt.ColumnText(4)); err != nil {
				return nil, fmt.Errorf("%w: consumer %s: %w", evstore.ErrCorrupt, keyName(key), err)
			}
		}
		rows = append(rows, r)
	}
}
