// Package readmodel keeps read models exactly once, in a SQLite or
// PostgreSQL database reached through database/sql.
//
// A read model (a projection: balances, an order list, a search index) is
// tables that a Projector keeps up to date from the events of an event
// store. The Projector is an evstore.Positioner, so Store.Consume runs it:
//
//	db, err := sql.Open("sqlite", "file:rm.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
//	...
//	p, err := readmodel.New(db, "balances", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
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
// With Partition(m, n), each partition sees its own subset of the events
// and so has its own position: give each its own Projector name (say
// "balances/0" of n). Store.Consume starts a Positioner from its Position,
// not from StartFrom.
//
// # SQLite settings
//
// Open the read model's database with modernc.org/sqlite's driver
// (import _ "modernc.org/sqlite"; driver name "sqlite") and these DSN
// parameters:
//
//	file:rm.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate
//
// What they do:
//
//   - journal_mode(WAL) lets readers of the model run while a batch is
//     being applied, and makes commits cheap.
//   - busy_timeout(5000) makes a writer wait up to 5 s for another
//     connection's write lock (another Projector, the application, another
//     process) instead of failing at once with SQLITE_BUSY.
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
// Store.ResetConsumer does not move a Projector's position.
//
// To rebuild into new tables while the old ones keep serving, give the new
// model a new Projector name (say "balances-v2") and switch readers over
// once its position has caught up.
package readmodel
