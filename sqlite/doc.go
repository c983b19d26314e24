// Package sqlite is evstore's embedded store: one SQLite file, no server and
// no cgo (the SQLite C library translated to Go, through
// zombiezen.com/go/sqlite's direct API).
//
//	store, err := sqlite.Open(ctx, "events.db")
//	if err != nil { ... }
//	defer store.Close()
//
// The file uses py-event-sourcing's schema and encodings, so a Go service and
// a Python service can share one database: tables events and snapshots,
// events.id as the Sequence, timestamps as naive UTC ISO-8601 text, metadata
// as JSON text. Consumers' checkpoints and leases, the versions of
// tombstones that Stream.Truncate removed, and events' tags live in tables
// of evstore's own (evstore_consumers, evstore_tombstones, evstore_tags,
// and evstore_schema for the file's schema version, see SchemaVersion),
// which the Python library ignores.
// The database runs in WAL mode with synchronous=NORMAL: an acknowledged
// write survives a process crash; after a power loss the last transactions
// may roll back, but the file stays consistent.
//
// A Store holds one writer connection and a small pool of reader connections;
// WAL lets reads run alongside the writer. Several Stores and processes may
// open the same file: writers take turns through SQLite's lock (waiting up
// to the busy timeout), and watchers see each other's writes within the poll
// interval, found by polling PRAGMA data_version. The path ":memory:" gives a
// private in-memory database for one Store, served by a single connection.
//
// The backend implements evstore.Deleter and evstore.Eraser. Every
// connection runs with PRAGMA secure_delete=ON, so what Stream.Delete and
// Stream.Truncate remove is overwritten with zeros in the database file;
// after either commits, a wal_checkpoint(TRUNCATE) that never waits takes
// it out of the WAL unless another connection holds a read snapshot there,
// and Store.Erase retries that checkpoint until it succeeds (or its ctx
// ends, with ErrWALInUse). Backups and replicas keep what they copied.
package sqlite
