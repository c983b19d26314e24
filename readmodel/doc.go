// Package readmodel keeps read models exactly once, in a SQLite or
// PostgreSQL database reached through database/sql.
//
// A read model (a projection: balances, an order list, a search index) is
// tables that a Projector keeps up to date from the events of an event
// store. The Projector is an evstore.Positioner, so Store.Consume runs it:
//
//	db, err := sql.Open("sqlite", "file:rm.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
//	...
//	p, err := readmodel.New(ctx, db, "balances", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
//		_, err := tx.ExecContext(ctx, `UPDATE balances SET ... WHERE account = $1`, e.StreamID)
//		return err
//	})
//	...
//	err = store.Consume(ctx, "balances", p)
//
// # Exactly once
//
// A consumer whose checkpoint is kept apart from its read model processes
// events at least once: a crash after the model's changes commit and before
// the checkpoint is saved redelivers the batch, and a model that adds (a
// balance, a counter) counts it twice. A Projector keeps its position (the
// Sequence of the last event applied) in the read model's own database,
// in table PositionTable, and moves it in the same transaction as the
// changes of the batch. Both commit, or neither does: after a crash, power
// loss or kill -9 the model holds exactly the events up to its position,
// and the events after it are applied next. Events of a redelivered batch
// at or below the position are skipped. Each event's changes to the model
// are therefore committed exactly once. (Effects outside the database,
// such as sending a mail, are not: they remain at least once.)
//
// Store.Consume runs one active instance of a consumer name at a time, but
// a paused or partitioned instance can believe it is still active. So each
// batch's transaction starts by moving the position row on the condition
// that it still holds the position this Projector last read or wrote. An
// instance whose position went stale (another one moved it) gets an error
// wrapping a *evstore.ConflictError and applies nothing; Consume then asks
// it for its Position again and restarts after it.
//
// Store.Consume starts a Positioner from its Position, not from
// StartFrom.
//
// # Partitions
//
// With Partition(m, n), each partition of a consumer sees its own subset of
// the events, so it needs a position of its own: give each partition its
// own Projector name (say "balances/0" to "balances/3" for n = 4). Two
// partitions sharing one name would each move the position past the
// other's events, and skip them; so would a projector whose consumer is
// split another way (another n) than when it ran last.
//
// A Projector therefore records, in its row's consumer_partition column,
// which partition it runs as: "all" (no Partition option, or Partition(0,
// 1)) or "m/n". The first Position or Handle that Store.Consume calls
// records it (evstore.ConsumerOf tells which Consume call a ctx belongs
// to); a Position or Handle from another partition, or another n, is
// refused with an error wrapping evstore.ErrInvalidArgument, which ends
// that Consume call with the error. Rebuild drops the record, so that a
// rebuilt projector may run split another way. A Projector called outside
// Store.Consume (no evstore.ConsumerOf in the ctx) neither checks nor
// records it.
//
// # A frozen instance
//
// An instance may stop inside a batch's transaction without dying: a
// process stopped by SIGSTOP or a debugger, a paused VM or container.
// Store.Consume passes its lease to a standby within the lease time
// (evstore.DefaultLeaseTime, 5 s, by default), but the frozen transaction
// still holds the position row, which the standby's first Handle writes.
//
// On PostgreSQL the server ends it. Every transaction of a Projector
// starts with SET LOCAL idle_in_transaction_session_timeout = IdleTimeout
// (5 s, DefaultLeaseTime) and lock_timeout = LockTimeout (10 s, twice
// DefaultLeaseTime); they apply to that transaction only, and the
// session's own settings come back after it. A timeout the session has
// already (set in the DSN, say options=-c lock_timeout=30s, or for the
// role or the database) is kept instead: set one there to change a bound
// below. A frozen instance's session
// is idle in its transaction from the moment it stopped, so the server
// ends it (rolling the batch back, unlocking the row) IdleTimeout later:
// about when its lease expires. A successor whose Handle waits for the row
// gets it then; a holder the server does not end (a session of another
// program, with no idle timeout) makes that Handle fail with
// lock_timeout's error (SQLSTATE 55P03) after LockTimeout, and
// Store.Consume retries it. So with the default lease time the
// successor's first batch commits about IdleTimeout after the freeze,
// when its lease begins (plus the batch's own time), and no Handle waits
// on a lock for more than LockTimeout. (The idle timer runs only while
// the server waits for the client's next statement: a process frozen
// while the server was still sending it a large result is not ended this
// way, and its successor's Handle fails each LockTimeout until that
// connection breaks, as TCP keepalives or tcp_user_timeout make it do.) The bounds hold your
// ApplyFunc to them too: it must not keep its transaction idle (working
// outside the database between two statements) for IdleTimeout, and a
// statement of it that waits for a lock for LockTimeout fails the batch,
// which is then retried. When the frozen instance resumes, its commit
// fails (its session is gone) and it goes on as a stale instance does.
// New only reads when the table and the row exist, and so does Position
// once the projector's partition is recorded: neither waits for the row.
//
// On SQLite nothing can end it. A process stopped inside a batch holds
// the file's write lock (a POSIX lock of a live process, which no other
// process may break) until it is resumed or killed: every writer of the
// file, the successor's Handle included, fails with SQLITE_BUSY after its
// busy timeout, and Store.Consume retries it, until then. Supervise such
// processes (kill one that stays stopped), or keep read models that must
// not stall in PostgreSQL. New in a new process does not wait for that
// lock: when the position table and the row exist it only reads (in WAL
// mode readers never wait for the writer). It takes the write lock only to
// create the table or the row, or to add a column to a table of an older
// version, and then waits for it under the busy timeout and its ctx.
//
// # SQLite settings
//
// Open the read model's database with modernc.org/sqlite's driver
// (import _ "modernc.org/sqlite"; driver name "sqlite") and these DSN
// parameters, in this order:
//
//	file:rm.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate
//
// What they do:
//
//   - busy_timeout(5000) makes a writer wait up to 5 s for another
//     connection's write lock (another Projector, the application, another
//     process) instead of failing at once with SQLITE_BUSY. It comes first
//     so that the journal_mode pragma of a new connection waits too.
//   - journal_mode(WAL) lets readers of the model run while a batch is
//     being applied, and makes commits cheap. It is stored in the file:
//     the first connection to a new file switches it to WAL. A connection
//     that opens the file while another is switching it can still fail at
//     once with SQLITE_BUSY; New tries again when that happens.
//   - _txlock=immediate makes every transaction on the pool begin with
//     BEGIN IMMEDIATE, taking the write lock at once (waiting for it
//     under the busy timeout). In a deferred transaction that reads
//     first, the upgrade to writing fails at once, whatever the busy
//     timeout: with SQLITE_BUSY_SNAPSHOT when another connection
//     committed since the read, with SQLITE_BUSY while another holds the
//     write lock. Handle's first statement is a write, so a Projector is
//     safe without _txlock=immediate; your own read-then-write
//     transactions on the pool are not. Read-only transactions
//     (sql.TxOptions{ReadOnly: true}) still begin deferred.
//
// _pragma=synchronous(NORMAL) may be added: after a power loss the last
// batches may roll back, but the position rolls back with them, so they are
// applied again and nothing is lost or doubled.
//
// A Projector runs one transaction at a time, so it needs one connection.
// The ApplyFunc must use the tx it is given, never the *sql.DB: on SQLite
// that would wait for the write lock the tx holds, and fail after the busy
// timeout (or, with db.SetMaxOpenConns(1), wait for a connection that never
// comes back). Queries of the model may share the pool, as WAL runs them
// alongside the writer; other writers, in this pool or another process,
// take turns with the Projector through the busy timeout, so keep their
// transactions short. db.SetMaxOpenConns(1) suits a *sql.DB that only the
// Projector uses. A private in-memory database (":memory:") is one
// database per connection, so it needs db.SetMaxOpenConns(1).
//
// The read model may live in the event store's own SQLite file: the
// position table is named evstore_*, which py-event-sourcing ignores.
//
// # PostgreSQL settings
//
// Use pgx's database/sql driver (import _ "github.com/jackc/pgx/v5/stdlib";
// sql.Open("pgx", dsn), or stdlib.OpenDB or stdlib.OpenDBFromPool). The
// default isolation level, READ COMMITTED, is right: the position UPDATE
// that begins each batch locks the projector's row, so a second instance
// waits for the first to commit and then finds the position moved. (Under
// REPEATABLE READ or SERIALIZABLE, the instance that waited gets a
// serialization failure, SQLSTATE 40001, instead of a conflict: as safe,
// but not an evstore.ErrConflict.) The position table is created in the first schema
// of the search_path; set search_path in the DSN to place it elsewhere.
// Each transaction of a Projector bounds its lock waits and its idle
// time (see "A frozen instance").
//
// Replicas that start at once on a fresh database race to create the
// position table; PostgreSQL fails the CREATE TABLE IF NOT EXISTS of all
// but one of them (with one of several errors). New tries again once the
// table exists, so every replica's New succeeds. The first New of this
// version on a position table of an older one adds its consumer_partition
// column (ALTER TABLE, which waits for the transactions using the table,
// LockTimeout at most); rows written before keep their positions.
//
// For a read model in PostgreSQL through pgx itself (a pgx.Tx in the
// ApplyFunc, a pgxpool.Pool instead of a *sql.DB), use package
// readmodel/pgxmodel, which shares this package's position table.
//
// # Rebuilding
//
// To rebuild a read model (its code changed, or its state is suspect), drop
// its state and start again from the first event: Projector.Rebuild runs a
// function that deletes or truncates the model's tables and sets the
// position to 0, in one transaction. Running instances of the projector,
// this process's or others', get a conflict on their next batch and start
// again from the beginning after Position, as Store.Consume does; or stop
// them, call Rebuild, and start them again. There is nothing else to
// reset: Store.Consume keeps no checkpoint for a Positioner, and
// Store.ResetConsumer does not move a Projector's position. Rebuild also
// forgets which partition of its consumer the projector ran as.
//
// To rebuild into new tables while the old ones keep serving, give the new
// model a new Projector name (say "balances-v2") and switch readers over
// once its position has caught up.
package readmodel
