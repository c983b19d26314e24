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
// payloads bytea, timestamps timestamptz.
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
package postgres
