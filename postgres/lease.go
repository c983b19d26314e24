package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Consumers' checkpoints are rows of the table evstore_consumers (named
// consumers in schema version 1), one per consumer key. A lease is a
// session advisory lock held on a connection of its own, opened by
// AcquireLease and closed by Release, outside the Store's pool: a
// consumer that runs for days does not keep one of the pool's
// connections. See doc.go, "Consumers", for what it
// means for failover.
//
// Lock keys. Advisory locks are per database, so keys name the schema:
//
//	key(name, members, partition) = hashtextextended('evstore lease ' || S || ' ' || members || '/' || partition || ' ' || name, 0)
//	nameKey(name)                 = hashtextextended('evstore lease name ' || S || ' ' || name, 0)
//
// where S is the schema's name after its length in bytes and a colon
// ("6:public"), so that no two schemas, names and partitions make the same
// text. A lease holds key in a session lock. Acquiring and resetting hold
// nameKey in a transaction lock, so that they happen one at a time per
// name.
//
// Members. A lease on (name, n, p) excludes every lease on name with
// another Members m: acquiring, under nameKey, first takes a transaction
// lock on the key of each row of name with another Members (every key
// that was ever leased has a row, made in the transaction that took its
// lock). If one is held, an instance splitting the consumer differently is
// active, and the acquisition gives up. Instances with the same Members
// take keys of their own partitions and run side by side.
//
// Fencing. Each acquisition adds one to the row's generation, and so does a
// reset; Save updates the row only at the generation its lease was given.
// Save and Renew also run on the lease's connection: while it is open the
// session holds the lock, and once the session has ended (the lock with
// it) they return ErrLeaseLost, whether or not another instance took over.
//
// Overlap. A session can end abruptly while its process runs on (a server
// restart, a connection reset, pg_terminate_backend, a pooler dropping the
// connection): the lock is free at once, but the holder learns of it only
// at its next Save or Renew, and until then, up to three quarters of the
// lease time after its last renewal began (see evstore.LeaseTime), its
// Handle may go on. So the row's lease_until holds, by the database's
// clock, the start of the holder's last renewal plus its lease time: the
// acquisition sets it to now() + ttl, and so does each Save and Renew, in
// the statement it already runs. A renewal's statement starts on the
// server after the holder began it, so the holder's handler ctx has ended
// by lease_until - ttl/4. Release, which the core calls once the handler
// has returned, sets lease_until to NULL before it unlocks, so that a
// clean handover stays immediate. An acquirer that finds lease_until, of
// the key's row or of any row of the name under another Members, after
// now() commits its acquisition (the lock is then held: other standbys
// keep waiting), waits on the server until that time (pg_sleep_until),
// and only then renews (lease_until = now() + ttl again) and returns the
// lease. Meanwhile the row keeps the time it waits for, so that an
// acquirer that gives up its wait leaves its successor the same one.

// consumerStatements holds the SQL of consumers in a schema.
type consumerStatements struct {
	prefix   string // S in the lock keys
	nameLock string
	othersOK string
	lock     string
	upsert   string
	// otherSplits lists the keys of a name under other Members.
	otherSplits string
	wait        string
	renew       string
	save        string
	clear       string
	unlock      string
	held        string
	resetOK     string
	reset       string
	resetNew    string
	list        string
	idleLimit   string
}

// leaseKey is the SQL of key above, of the text expressions given.
func leaseKey(prefix, members, partition, name string) string {
	return "hashtextextended('evstore lease ' || " + prefix + " || ' ' || " + members + "::text || '/' || " +
		partition + "::text || ' ' || " + name + ", 0)"
}

// nameKey is the SQL of nameKey above.
func nameKey(prefix, name string) string {
	return "hashtextextended('evstore lease name ' || " + prefix + " || ' ' || " + name + ", 0)"
}

func newConsumerStatements(schema string) consumerStatements {
	c := pgx.Identifier{schema}.Sanitize() + ".evstore_consumers"
	return consumerStatements{
		prefix:   fmt.Sprintf("%d:%s", len(schema), schema),
		nameLock: "SELECT pg_advisory_xact_lock(" + nameKey("$1::text", "$2::text") + ")",
		// No other Members of the name is active: their keys are free.
		othersOK: "SELECT COALESCE(bool_and(pg_try_advisory_xact_lock(" + leaseKey("$1::text", "members", "partition", "name") + ")), true) " +
			"FROM " + c + " WHERE name = $2 AND members <> $3",
		lock: "SELECT pg_try_advisory_lock(" + leaseKey("$1::text", "$3::int", "$4::int", "$2::text") + ")",
		// The last one to wait for: the latest lease_until still to come
		// of the key's row and of the name's rows under other Members.
		// The row keeps it while the acquirer waits, or gets now() + ttl.
		upsert: "WITH old AS (SELECT max(lease_until) AS lease_until FROM " + c +
			" WHERE name = $1::text AND (members <> $2::int OR partition = $3::int)) " +
			"INSERT INTO " + c + " AS c (name, members, partition, generation, lease_until) " +
			"SELECT $1::text, $2::int, $3::int, 1, CASE WHEN old.lease_until > now() THEN old.lease_until ELSE " + untilSQL("$4") + " END FROM old " +
			"ON CONFLICT (name, members, partition) DO UPDATE SET generation = c.generation + 1, lease_until = EXCLUDED.lease_until " +
			"RETURNING position, found, generation, (SELECT lease_until FROM old WHERE lease_until > now())",
		otherSplits: "SELECT partition, members, position, found, updated FROM " + c + " WHERE name = $1 AND members <> $2",
		// At most the acquirer's own lease time: a predecessor with a
		// longer one, or a server clock stepped back, is not waited for
		// beyond what this instance would make its own successor wait.
		wait: "SELECT pg_sleep_until(least($1, " + untilSQL("$2") + "))",
		renew: "UPDATE " + c + " SET lease_until = " + untilSQL("$4") +
			" WHERE name = $1 AND members = $2 AND partition = $3 AND generation = $5",
		save: "UPDATE " + c + " SET position = $4, external = $5, found = true, " +
			"updated = CASE WHEN found AND position = $4 THEN updated ELSE $6 END, lease_until = " + untilSQL("$8") +
			" WHERE name = $1 AND members = $2 AND partition = $3 AND generation = $7",
		clear:  "UPDATE " + c + " SET lease_until = NULL WHERE name = $1 AND members = $2 AND partition = $3 AND generation = $4",
		unlock: "SELECT pg_advisory_unlock(" + leaseKey("$1::text", "$3::int", "$4::int", "$2::text") + ")",
		// Whether a session holds key, or the key of another Members of
		// the name: pg_locks shows a bigint key as classid (high 32 bits)
		// and objid (low 32 bits) with objsubid 1.
		held: "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 " +
			"AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
			"AND ((classid::int8 << 32) | objid::int8) IN (" +
			"SELECT " + leaseKey("$1::text", "$3::int", "$4::int", "$2::text") + " UNION ALL " +
			"SELECT " + leaseKey("$1::text", "members", "partition", "name") + " FROM " + c + " WHERE name = $2 AND members <> $3))",
		// No instance holds the name's keys, and none whose session
		// ended uncleanly may still be handling (its lease_until has
		// passed, as AcquireLease waits for).
		resetOK: "SELECT COALESCE(bool_and(pg_try_advisory_xact_lock(" + leaseKey("$1::text", "members", "partition", "name") + ")), true) " +
			"AND NOT COALESCE(bool_or(lease_until > now()), false) FROM " + c + " WHERE name = $2",
		reset:    "UPDATE " + c + " SET position = $2, found = true, updated = $3, generation = generation + 1 WHERE name = $1",
		resetNew: "INSERT INTO " + c + " (name, members, partition, position, found, updated, generation) VALUES ($1, 0, 0, $2, true, $3, 1)",
		list:     "SELECT name, partition, members, position, updated, external FROM " + c + ` ORDER BY name COLLATE "C", members, partition`,
		// idle_session_timeout came with PostgreSQL 14. A holder stopped
		// inside its acquiring transaction would hold the name's lock:
		// idle_in_transaction_session_timeout ends that session too.
		idleLimit: "SELECT set_config('idle_in_transaction_session_timeout', $1, false), " +
			"(SELECT set_config('idle_session_timeout', $1, false) WHERE current_setting('server_version_num')::int >= 140000)",
	}
}

// untilSQL is the SQL of now() plus a lease time, the parameter ttl (in
// microseconds, see micros).
func untilSQL(ttl string) string {
	return "now() + " + ttl + "::int8 * interval '1 microsecond'"
}

// micros is ttl in microseconds, rounded up: lease_until is never early.
func micros(ttl time.Duration) int64 {
	return int64((ttl + time.Microsecond - 1) / time.Microsecond)
}

// leaseName is the application_name of lease connections.
const leaseName = "evstore lease"

// AcquireLease implements evstore.ConsumerBackend. It first asks pg_locks,
// through the pool, whether the lease is free, so that standbys polling a
// held lease open no connection; when it is, it opens the lease's
// connection and takes the lock there. If the last holder's session ended
// without a Release, it then holds the lock until the last holder's
// lease time has passed by the database's clock (see "Overlap" above),
// or ctx ends. Instances of one consumer should use one lease time: an
// acquirer waits for the lease time its predecessor had, and renews with
// its own.
func (b *backend) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("%w: lease time %v is not positive", evstore.ErrInvalidArgument, ttl)
	}
	q := &b.sql.consumer
	var held bool
	if err := b.pool.QueryRow(ctx, q.held, q.prefix, key.Name, key.Members, key.Partition).Scan(&held); err != nil {
		return nil, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "lease consumer %q", key.Name)
	}
	if held {
		return nil, nil
	}
	return b.tryLease(ctx, key, ttl)
}

// tryLease opens a lease's connection and tries to take the lease on it.
func (b *backend) tryLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	conn, err := b.leaseConn(ctx, ttl)
	if err != nil {
		return nil, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "lease consumer %q", key.Name)
	}
	life, cancel := context.WithCancel(context.Background())
	l := &lease{b: b, key: key, ttl: ttl, conn: conn, life: life, cancel: cancel}
	ok, wait, err := l.acquire(ctx)
	if err != nil || !ok {
		// Closing the connection releases the lock if acquire took it.
		b.closeConn(conn)
		cancel()
		if err != nil {
			return nil, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "lease consumer %q", key.Name)
		}
		return nil, nil
	}
	if !b.leases.add(l) {
		l.close()
		return nil, evstore.ErrClosed
	}
	if wait != nil {
		if err := l.wait(ctx, *wait); err != nil {
			l.cancel()
			return nil, errs.Wrapf("evstore/postgres", interrupted(ctx, err), "lease consumer %q: wait for the last holder's lease time", key.Name)
		}
	}
	return l, nil
}

// wait waits, holding the lock, until the database's clock reads until,
// then renews the lease. It gives up when ctx ends or the backend closes,
// and then ends the lease (without clearing lease_until, which still says
// until).
func (l *lease) wait(ctx context.Context, until time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return l.ended
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(l.life, cancel)()
	q, k := &l.b.sql.consumer, l.key
	_, err := l.conn.Exec(wctx, q.wait, until, micros(l.ttl))
	if err == nil {
		var tag pgconn.CommandTag
		tag, err = l.conn.Exec(wctx, q.renew, k.Name, k.Members, k.Partition, micros(l.ttl), l.generation)
		if err == nil && tag.RowsAffected() == 0 {
			err = evstore.ErrLeaseLost
		}
	}
	if err != nil {
		l.lost()
		if l.life.Err() != nil {
			return evstore.ErrClosed
		}
		return err
	}
	return nil
}

// leaseConn opens a lease's connection. On PostgreSQL 14 and later the
// server ends its session once it has been idle for ttl, so that a holder
// that stopped running (SIGSTOP, a frozen VM) loses the lock: the core
// renews every ttl/4 while it runs.
func (b *backend) leaseConn(ctx context.Context, ttl time.Duration) (*pgx.Conn, error) {
	cfg := b.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = leaseName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ms := min((ttl+time.Millisecond-1)/time.Millisecond, math.MaxInt32)
	if _, err := conn.Exec(ctx, b.sql.consumer.idleLimit, fmt.Sprint(int64(ms))); err != nil {
		b.closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// closeConn closes conn, a lease's or the listener's, waiting a second at
// most for the server; Close waits for pgx to finish closing it.
func (b *backend) closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
	b.dialer.closed(conn.PgConn().CleanupDone())
}

// lease is an evstore.Lease: a session advisory lock on conn.
type lease struct {
	b      *backend
	key    evstore.ConsumerKey
	ttl    time.Duration
	life   context.Context // cancelled when the backend closes
	cancel context.CancelFunc

	position   int64
	found      bool
	generation int64

	mu    sync.Mutex // held by calls on conn
	conn  *pgx.Conn  // nil once closed
	ended error      // why conn is nil: ErrLeaseLost or ErrClosed
}

var _ evstore.Lease = (*lease)(nil)

// acquire takes the lock and the row in one transaction on l.conn, and
// reports whether it did, and the lease_until of a holder whose lease
// time has not passed (nil if none): the lease must not be used before.
func (l *lease) acquire(ctx context.Context) (bool, *time.Time, error) {
	q := &l.b.sql.consumer
	k := l.key
	tx, err := l.conn.Begin(ctx)
	if err != nil {
		return false, nil, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, q.nameLock, q.prefix, k.Name); err != nil {
		return false, nil, err
	}
	var ok bool
	if err := tx.QueryRow(ctx, q.othersOK, q.prefix, k.Name, k.Members).Scan(&ok); err != nil || !ok {
		return false, nil, err
	}
	// The lock is the session's from here on, whatever becomes of tx; on
	// failure the caller closes the connection, which releases it.
	if err := tx.QueryRow(ctx, q.lock, q.prefix, k.Name, k.Members, k.Partition).Scan(&ok); err != nil || !ok {
		return false, nil, err
	}
	var wait *time.Time
	if err := tx.QueryRow(ctx, q.upsert, k.Name, k.Members, k.Partition, micros(l.ttl)).Scan(&l.position, &l.found, &l.generation, &wait); err != nil {
		return false, nil, err
	}
	if !l.found {
		// A key without a checkpoint of its own starts where another
		// split of the name got to.
		rows, err := tx.Query(ctx, q.otherSplits, k.Name, k.Members)
		if err != nil {
			return false, nil, err
		}
		var others []evstore.CheckpointRow
		var r evstore.CheckpointRow
		var updated *time.Time
		if _, err := pgx.ForEachRow(rows, []any{&r.Partition, &r.Members, &r.Position, &r.Found, &updated}, func() error {
			r.Updated = time.Time{}
			if updated != nil {
				r.Updated = *updated
			}
			others = append(others, r)
			return nil
		}); err != nil {
			return false, nil, err
		}
		l.position, l.found = evstore.InheritCheckpoint(others)
	}
	return true, wait, tx.Commit(ctx)
}

// Checkpoint implements evstore.Lease.
func (l *lease) Checkpoint() (int64, bool) { return l.position, l.found }

// Save implements evstore.Lease. It runs on the lease's connection, so it
// saves only while the session holds the lock, and at the lease's
// generation. Once started it completes whatever ctx's cancellation says,
// but not beyond ctx's deadline or ttl (see use): if the server has not
// answered by then, the connection is closed and the lease lost.
func (l *lease) Save(ctx context.Context, position int64, external bool) error {
	return l.use(ctx, "save the checkpoint of", l.ttl, func(ctx context.Context, conn *pgx.Conn) error {
		k := l.key
		now := time.Now().UTC().Truncate(time.Microsecond)
		tag, err := conn.Exec(ctx, l.b.sql.consumer.save, k.Name, k.Members, k.Partition, position, external, now, l.generation, micros(l.ttl))
		if err == nil && tag.RowsAffected() == 0 {
			return evstore.ErrLeaseLost
		}
		return err
	})
}

// Renew implements evstore.Lease: the lease lasts while its session does,
// so Renew checks that the session is alive, and that the row is still at
// the lease's generation, as it moves the row's lease_until on (see
// "Overlap" above). Like Save, it ignores ctx's cancellation but not its
// deadline, nor ttl: a Renew the server has not answered by the time the
// core stops trusting the lease loses it. The statement also keeps the
// session from being idle for longer than idle_session_timeout.
func (l *lease) Renew(ctx context.Context) error {
	return l.use(ctx, "renew the lease of", l.ttl, func(ctx context.Context, conn *pgx.Conn) error {
		k := l.key
		tag, err := conn.Exec(ctx, l.b.sql.consumer.renew, k.Name, k.Members, k.Partition, micros(l.ttl), l.generation)
		if err == nil && tag.RowsAffected() == 0 {
			return evstore.ErrLeaseLost
		}
		return err
	})
}

// Release implements evstore.Lease: it clears the row's lease_until (the
// core releases once its handler has returned, so the next holder need
// not wait for this one's lease time), then unlocks the key, so that a
// standby can take it at once, and closes the connection. If the clearing
// fails, the next holder waits for the lease time.
func (l *lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil && !l.conn.IsClosed() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		k := l.key
		l.conn.Exec(cctx, l.b.sql.consumer.clear, k.Name, k.Members, k.Partition, l.generation)
		cancel()
	}
	l.end(ctx, evstore.ErrLeaseLost)
	l.cancel()
	return nil
}

// use runs f on the lease's connection, and translates what went wrong:
// the backend closing (ErrClosed), or the lease being lost (ErrLeaseLost).
// A lost lease's connection is closed at once, which ends its lock if the
// session still held it: the caller need not Release it.
//
// f runs whatever ctx's cancellation says, until ctx's deadline or
// timeout (the ttl), whichever comes first (see statementCtx), and until
// the backend closes. Cancellation is ignored since, when a ctx ends
// during a statement, pgx closes the connection, which would end the
// lease, while a checkpoint being saved records a batch already handled:
// a Consume that stops therefore saves its last checkpoint and releases
// its lease, rather than leave a standby to wait for the server to notice
// a closed session. A deadline is kept: it is when the caller stops
// trusting the lease (a standby may take over after it), and a statement
// that runs past it loses the lease.
func (l *lease) use(ctx context.Context, what string, timeout time.Duration, f func(context.Context, *pgx.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return l.ended
	}
	fctx, cancel := statementCtx(ctx, timeout)
	defer cancel()
	defer context.AfterFunc(l.life, cancel)()
	err := f(fctx, l.conn)
	switch {
	case err == nil:
		return nil
	case l.life.Err() != nil:
		return evstore.ErrClosed
	case errors.Is(err, evstore.ErrLeaseLost):
		l.lost()
		return fmt.Errorf("%w: %s consumer %q: another instance took it, or it was reset", evstore.ErrLeaseLost, what, l.key.Name)
	case fctx.Err() != nil:
		// pgx closed the connection if the statement was under way; if
		// the deadline had passed before, it is open, but the lease is
		// not trusted any more either.
		l.lost()
		return fmt.Errorf("%w: %s consumer %q: no answer by the deadline: %v", evstore.ErrLeaseLost, what, l.key.Name, err)
	case l.conn.IsClosed():
		// The session ended, and the lock with it.
		l.lost()
		return fmt.Errorf("%w: %s consumer %q: the session ended: %v", evstore.ErrLeaseLost, what, l.key.Name, err)
	}
	return errs.Wrapf("evstore/postgres", translate(err), "%s consumer %q", what, l.key.Name)
}

// statementCtx returns the context of a statement on a lease's connection:
// it keeps ctx's values but not its cancellation, and it ends at ctx's
// deadline or after timeout, whichever comes first.
func statementCtx(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}

// lost ends a lost lease; l.mu is held.
func (l *lease) lost() { l.end(context.Background(), evstore.ErrLeaseLost) }

// close ends the lease when the backend closes. Later calls return
// ErrClosed.
func (l *lease) close() {
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.end(context.Background(), evstore.ErrClosed)
}

// end unlocks the key if the session still holds it and closes the
// connection, so that later calls return why; l.mu is held. Closing the
// connection alone would release the lock too, but only once the server
// has noticed: a standby trying at once could still find it held.
func (l *lease) end(ctx context.Context, why error) {
	if l.conn == nil {
		return
	}
	if !l.conn.IsClosed() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		k, q := l.key, &l.b.sql.consumer
		l.conn.Exec(ctx, q.unlock, q.prefix, k.Name, k.Members, k.Partition)
		cancel()
	}
	l.b.closeConn(l.conn)
	l.conn, l.ended = nil, why
	l.b.leases.remove(l)
}

// leaseSet tracks a backend's open leases, so that Close closes their
// connections.
type leaseSet struct {
	mu     sync.Mutex
	closed bool
	all    map[*lease]struct{}
}

// add adds l, unless the backend has closed.
func (s *leaseSet) add(l *lease) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.all == nil {
		s.all = make(map[*lease]struct{})
	}
	s.all[l] = struct{}{}
	return true
}

func (s *leaseSet) remove(l *lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.all, l)
}

// closeAll closes every lease's connection; later adds fail.
func (s *leaseSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	all := s.all
	s.all = nil
	s.mu.Unlock()
	for l := range all {
		l.close()
	}
}

// ListConsumers implements evstore.ConsumerBackend. The pool's connection
// is held until the loop ends.
func (b *backend) ListConsumers(ctx context.Context) iter.Seq2[evstore.ConsumerInfo, error] {
	return func(yield func(evstore.ConsumerInfo, error) bool) {
		fail := func(err error) {
			yield(evstore.ConsumerInfo{}, errs.Wrap("evstore/postgres", "list consumers", interrupted(ctx, err)))
		}
		rows, err := b.pool.Query(ctx, b.sql.consumer.list)
		if err != nil {
			fail(err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var c evstore.ConsumerInfo
			var updated *time.Time // NULL before the first checkpoint
			if err := rows.Scan(&c.Name, &c.Partition, &c.Members, &c.Position, &updated, &c.External); err != nil {
				fail(err)
				return
			}
			if updated != nil {
				c.Updated = updated.UTC()
			}
			if !yield(c, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			fail(err)
		}
	}
}

// ResetConsumer implements evstore.ConsumerBackend. In one transaction
// through the pool it takes the name's lock, then a transaction lock on
// the key of each of its rows: if one is held, an instance is active and
// nothing changes. Otherwise it sets every row's position (a checkpoint,
// Updated the time of the reset; External stays as it was, as on SQLite),
// and moves its generation on, so that a holder whose session ended
// unnoticed cannot save over the reset.
func (b *backend) ResetConsumer(ctx context.Context, name string, position int64) error {
	q := &b.sql.consumer
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, q.nameLock, q.prefix, name); err != nil {
			return err
		}
		var free bool
		if err := tx.QueryRow(ctx, q.resetOK, q.prefix, name).Scan(&free); err != nil {
			return err
		}
		if !free {
			return fmt.Errorf("an instance of the consumer is active: %w", evstore.ErrConflict)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		tag, err := tx.Exec(ctx, q.reset, name, position, now)
		if err == nil && tag.RowsAffected() == 0 {
			_, err = tx.Exec(ctx, q.resetNew, name, position, now)
		}
		return err
	})
	if err != nil {
		return errs.Wrapf("evstore/postgres", interrupted(ctx, err), "reset consumer %q", name)
	}
	return nil
}
