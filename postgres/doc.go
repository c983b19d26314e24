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
// keeps consumers' checkpoints, and their leases' lease_until (see
// "Consumers"). evstore_sequence holds the last Sequence handed out (see
// "Global order"), and evstore_tombstones the version of each deleted
// stream's last tombstone (see "Deleting data"). Tables that evstore adds
// are named evstore_*, so that an application's own tables may share the
// schema.
//
// # Tags
//
// An event's tags are in events.tags (text[], NULL for none), which reads
// scan, and in evstore_tags (tag, seq), one row per tag and event, whose
// primary key lists a tag's events in Sequence order; evstore_events_type
// indexes events by (event_type, id). Store.Find and FailIfMatch read a
// Criterion with tags from evstore_tags and one with types only from
// evstore_events_type, a page at a time in key order, so their cost does
// not grow with the store; only a Criterion with neither reads All. The
// tag filter of Read, Watch and consumers tests events.tags in the rows the
// read scans, as filters on the other fields do. Delete
// and Truncate remove their events' rows from evstore_tags. A Write's
// FailIfMatch, and Store.Append, join the group commit: the condition is
// checked in the group's transaction, under the append lock, against the
// committed events (one query in the round trip that reads the streams'
// versions) and the events of the group's earlier writes. See tags.go for
// the measurements behind the table.
//
// The table evstore_schema holds the schema's version (SchemaVersion; a
// schema without it, as evstore wrote before consumers, is at version 0).
// Open migrates an older schema forward in the transaction that creates
// the tables, under an advisory lock that makes concurrent Opens take
// turns; a migration that fails leaves the schema as it was. A schema that
// a newer evstore migrated is refused with ErrNewerSchema. Evstore code
// from before version 1 ignores the tables it does not know, and keeps
// working on a migrated schema. Code of version 1 kept checkpoints in a
// table named consumers, which version 2 renames evstore_consumers and
// gives the column lease_until: there is no rolling upgrade from it. Stop
// every process that runs it (its consumers, and its Stores too) before a
// newer evstore opens the schema, and start only newer code after.
//
// Stores of version 2 code already running keep working on a schema at
// version 3 (they number events after the newest id, which newer code
// takes into account), but do not check snapshots against tombstones.
// Version 4 adds tags: Stores of version 3 code keep working on it (their
// events have no tags; rows of evstore_tags whose event their Delete or
// Truncate removed are ignored). Its migration builds evstore_events_type,
// during which appends wait: about a second per million events.
//
// # Global order
//
// With a plain sequence, a transaction that takes Sequence 41 can commit
// after one that took 42, and a reader of All that already moved past 42
// never sees 41. evstore avoids it by serialising appends: every append
// transaction first takes a transaction-scoped advisory lock (one per
// schema), then numbers its events after the last Sequence handed out,
// which the one-row table evstore_sequence holds and the transaction
// moves on (the larger of it and the newest id, should code that does not
// know the counter have appended). The lock is released only once the
// transaction is committed and visible, so Sequences become visible in
// order, and readers never skip one. The counter never goes back: events
// removed by Delete or Truncate leave gaps, and their Sequences are never
// handed out again. Concurrent Writes are group-committed, so one
// transaction, one lock and one commit serve all the writes waiting at
// that moment.
//
// # Deleting data
//
// The backend implements evstore.Deleter and evstore.Eraser. Delete and
// Truncate each run one transaction under the append lock (so appends to
// the schema wait while a long stream is deleted); Delete numbers its
// tombstone like an appended event, and holds the stream's own advisory
// lock, which SaveSnapshot takes shared, so that a snapshot saved
// meanwhile is either removed or refused. Store.Erase runs VACUUM
// (INDEX_CLEANUP ON) on evstore's tables, outside a transaction. VACUUM
// frees the removed rows' space, it does not zero it: bytes can remain in
// a page's free space until overwritten, in the WAL and its archive, on
// replicas until they replay the vacuum, and in backups. See
// docs/postgres.md, "Deleting data".
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
// and a standby takes over at once. A session can also end while its
// holder runs on: the server restarts, the connection is reset, a pooler
// or pg_terminate_backend drops it. The server then frees the lock at
// once, but the holder learns of it only at its next Save or Renew, and
// its Handle in progress may go on until then, or until the holder stops
// trusting its lease, three quarters of the lease time after its last
// renewal began (see evstore.LeaseTime). So that no standby handles
// meanwhile, each renewal (the acquisition, each Save and each Renew)
// sets the row's lease_until to the database's now() plus the lease time,
// and Release, once the handler has returned, sets it to NULL. A standby
// that takes the lock and finds lease_until to come keeps the lock and
// waits, by the database server's clock, until then before it starts: a
// quarter of the lease time at least after the old holder's handler ctx
// ended. It cannot tell a holder whose session was cut from one that
// died, so when the holder's process dies (kill -9, a crash), the server
// frees the lock as soon as it sees the connection close, and a standby
// takes over three quarters to all of a lease time after the death (a
// lease time after the holder's last renewal). Instances of one consumer
// should use one LeaseTime: a standby waits for the lease time of the
// holder before it, and records its own. A step of the server's clock
// (not NTP's slewing) changes the wait by as much; keep the clock of a
// replica that may be promoted in step.
//
// A holder that stops running without closing its connection (SIGSTOP, a
// frozen VM, a network cut the server has not seen) would keep its
// session, and its lock, for ever; so the lease's connection sets
// idle_session_timeout to the lease time: a holder that runs renews its
// lease every quarter of it, and the server ends the session of one that
// has not for a whole lease time, by when its lease_until has passed. A
// stopped holder that comes back finds its session gone, and its next
// Save or Renew returns evstore.ErrLeaseLost. On PostgreSQL before 14,
// which has no idle_session_timeout, standbys of a stopped holder wait
// until it runs again or dies; set the server's TCP keepalive settings
// (tcp_keepalives_idle and friends) to bound what a network cut costs.
//
// Partitions: instances with the same Members lease their own partitions
// side by side. An instance with another Members waits until none of them
// runs: acquiring takes, under a transaction lock on the name, a
// transaction lock on the key of every partition of the name under
// another Members, and gives up if one is held; it also waits for their
// lease_until, as for its own key's. So when n changes, the
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
