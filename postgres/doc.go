// Package postgres is evstore's PostgreSQL store, for deployments that
// outgrow one machine: several application servers, managed databases,
// backups and replicas. It keeps evstore's API and behaviour (it passes the
// same conformance kit as the SQLite store).
//
//	store, err := postgres.Open(ctx, "postgres://user@host/db")
//
// # Tables
//
// Open creates, if missing, a schema (WithSchema; default "public") with
// two tables, events and snapshots, and their unique constraints on
// (stream_id, version) and (stream_id, idempotency_key). Metadata is jsonb,
// payloads bytea, timestamps timestamptz. A third table, evstore_consumers,
// keeps consumers' checkpoints. Tables that evstore adds are named
// evstore_*, so that an application's own tables may share the schema.
//
// The table evstore_schema holds the schema's version (SchemaVersion; a
// schema without it, as evstore wrote before consumers, is at version 0).
// Open migrates an older schema forward in the transaction that creates
// the tables, under an advisory lock that makes concurrent Opens take
// turns; a migration that fails leaves the schema as it was. A schema that
// a newer evstore migrated is refused with ErrNewerSchema. Evstore code
// from before version 1 ignores the tables it does not know, and keeps
// working on a migrated schema; code of version 1 kept checkpoints in a
// table named consumers, which version 2 renames: stop its consumers
// before a newer evstore opens the schema.
//
// # Global order
//
// With a plain sequence, a transaction that takes Sequence 41 can commit
// after one that took 42, and a reader of All that already moved past 42
// never sees 41. evstore avoids it by serialising appends: every append
// transaction first takes a transaction-scoped advisory lock (one per
// schema), then numbers its events after the newest Sequence. The lock is
// released only once the transaction is committed and visible, so
// Sequences become visible in order, with no gaps, and readers never skip
// one. Concurrent Writes are group-committed, so one transaction, one lock
// and one commit serve all the writes waiting at that moment.
//
// # Watching
//
// Appends send a NOTIFY; one listening connection per Store wakes the
// notifier. A timed poll (WithPollInterval) backs it up, so a lost
// notification only delays events, and the listener reconnects after a
// lost connection.
//
// # Consumers
//
// A consumer's lease (see evstore.Store.Consume) is a session advisory
// lock, pg_try_advisory_lock, on a key that hashes the schema, the
// consumer's name and its partition. The lock is held on a connection of
// the lease's own, opened with the pool's settings (application_name
// "evstore lease"), not on one of the Store's pool: a Store runs any number
// of consumers with the pool it has. Checkpoints are saved on that
// connection too, so they are saved only while its session holds the
// lock, and only at the generation the lease was given (each acquisition
// and each reset moves it on).
//
// The lease ends when its session does. A consumer that stops releases it,
// and a standby takes over at once. When the holder's process dies (kill
// -9, a crash), the server closes the session as soon as it sees the
// connection close, and a standby takes over at its next try. A holder
// that stops running without closing its connection (SIGSTOP, a frozen
// VM, a network cut the server has not seen) would keep its session, and
// its lock, for ever; so the lease's connection sets idle_session_timeout
// to the lease time: a holder that runs renews its lease every third of
// it, and the server ends the session of one that has not for a whole
// lease time. A stopped holder that comes back finds its session gone,
// and its next Save or Renew returns evstore.ErrLeaseLost. On PostgreSQL
// before 14, which has no idle_session_timeout, standbys of a stopped
// holder wait until it runs again or dies; set the server's TCP keepalive
// settings (tcp_keepalives_idle and friends) to bound what a network cut
// costs.
//
// Partitions: instances with the same Members lease their own partitions
// side by side. An instance with another Members waits until none of them
// runs: acquiring takes, under a transaction lock on the name, a
// transaction lock on the key of every partition of the name under
// another Members, and gives up if one is held. So when n changes, the
// new partitions start once the old ones have all stopped, each from the
// lowest checkpoint the old ones had reached (events between that and a
// partition's own old checkpoint are delivered again).
//
// ResetConsumer takes the same locks on every partition of the name, in
// its transaction: while one is held it changes nothing and returns an
// error wrapping evstore.ErrConflict.
//
// Lock keys are 64-bit values of hashtextextended over a text that names
// the schema (its length in bytes, a colon, its name), then members,
// partition and name; see lease.go for the exact texts. Applications that
// take advisory locks of their own on the same database should use the
// two-key form, pg_advisory_lock(int, int), which has a space of its own.
// Leases need PostgreSQL 11 or later (hashtextextended), and sessions of
// their own: through a connection pooler such as PgBouncer, use session
// pooling (as LISTEN needs too), not transaction pooling.
package postgres
