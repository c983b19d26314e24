package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// Schema versions. py-event-sourcing's tables (Schema) are version 0:
// a file either library created, or evstore before consumers. Each later
// version adds tables of evstore's own, named evstore_*, which the Python
// library never reads, so that both libraries keep working on the file.
// The table evstore_schema holds the file's version in its one row; a file
// without it is at version 0.
//
// Open (without ReadOnly) moves an older file forward to SchemaVersion, in
// one IMMEDIATE transaction: two processes that open the same old file at
// once take turns, and the second finds nothing left to do. A file that is
// already at SchemaVersion is only read. A file at a version above
// SchemaVersion was written by a newer evstore, and Open refuses it with
// ErrNewerSchema rather than write to tables it does not know; so does
// Open with ReadOnly. Open with ReadOnly migrates nothing: it reads older
// files as they are (see ReadOnly).

// SchemaVersion is the version of the file format this package writes.
//
//   - 0: py-event-sourcing's tables events and snapshots (Schema).
//   - 1: evstore_schema, and evstore_consumers: consumers' checkpoints and
//     leases (see the backend's AcquireLease).
//   - 2: evstore_tombstones: the version of a stream's newest tombstone
//     that Truncate removed, so that a snapshot below it is still refused
//     (see delete.go).
//   - 3: evstore_tags: events' tags, one row per (event, tag), indexed
//     both ways; and the index events_event_type, on events (event_type),
//     for Find and FailIfMatch (see tags.go).
const SchemaVersion = 3

// ErrNewerSchema means the file was written by a newer evstore, at a
// schema version this one does not know: Open refuses it, and leaves it
// as it was.
var ErrNewerSchema = errors.New("evstore/sqlite: the database was written by a newer evstore")

// migrations[v] moves a file from version v to version v+1.
var migrations = []string{
	// 0 to 1: consumers.
	`
CREATE TABLE IF NOT EXISTS evstore_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS evstore_consumers (
	name TEXT NOT NULL,
	partition INTEGER NOT NULL,
	members INTEGER NOT NULL,
	position INTEGER NOT NULL DEFAULT 0,
	found INTEGER NOT NULL DEFAULT 0,
	external INTEGER NOT NULL DEFAULT 0,
	updated TEXT,
	generation INTEGER NOT NULL DEFAULT 0,
	lease_until INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (name, members, partition)
);`,
	// 1 to 2: truncated tombstones. None to fill in: a tombstone an older
	// evstore truncated is gone with its event.
	`
CREATE TABLE IF NOT EXISTS evstore_tombstones (
	stream_id TEXT PRIMARY KEY,
	version INTEGER NOT NULL
);`,
	// 2 to 3: tags, and the type index. Events written before have no tags.
	`
CREATE TABLE IF NOT EXISTS evstore_tags (
	seq INTEGER NOT NULL,
	tag TEXT NOT NULL,
	PRIMARY KEY (seq, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS evstore_tags_tag ON evstore_tags (tag, seq);
CREATE INDEX IF NOT EXISTS events_event_type ON events (event_type);`,
}

// schemaVersion returns the file's schema version: 0 without an
// evstore_schema table. A version above SchemaVersion gives ErrNewerSchema.
func schemaVersion(conn *sqlite.Conn) (int64, error) {
	n, err := queryInt(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'evstore_schema'")
	if err != nil || n == 0 {
		return 0, translate(err)
	}
	v, err := queryInt(conn, "SELECT COALESCE(MAX(version), 0) FROM evstore_schema")
	if sqlite.ErrCode(err) == sqlite.ResultError { // no such column, and the like
		return 0, fmt.Errorf("%w: table evstore_schema does not match the event store schema: %v", evstore.ErrCorrupt, err)
	}
	if err != nil {
		return 0, translate(err)
	}
	if v > SchemaVersion {
		return v, fmt.Errorf("%w (schema version %d; this evstore knows up to %d): open it with a newer evstore", ErrNewerSchema, v, SchemaVersion)
	}
	return v, nil
}

// migrate creates the tables a new file needs and moves an older file
// forward to SchemaVersion. found holds the tables checkSchema found.
func migrate(ctx context.Context, conn *sqlite.Conn, found map[string]bool) error {
	v, err := schemaVersion(conn)
	if err != nil {
		return err
	}
	if v == SchemaVersion && found["events"] && found["snapshots"] {
		return nil // nothing to write: the file may even be read-only
	}
	if err := exec(ctx, conn, "BEGIN IMMEDIATE"); err != nil {
		if errors.Is(err, evstore.ErrReadOnly) {
			return fmt.Errorf("the file is at schema version %d and needs migrating to %d, which takes writing it (sqlite.ReadOnly reads it as it is): %w", v, SchemaVersion, err)
		}
		return err
	}
	defer rollback(conn) // after a COMMIT, a no-op
	// Another process may have migrated the file while this one waited
	// for the write lock: look again.
	if v, err = schemaVersion(conn); err != nil {
		return err
	}
	if err := initSchema(conn); err != nil {
		return err
	}
	if v < SchemaVersion {
		for _, m := range migrations[v:] {
			if err := execScript(conn, m); err != nil {
				return fmt.Errorf("migrate from schema version %d: %w", v, err)
			}
		}
		if err := execScript(conn, fmt.Sprintf("DELETE FROM evstore_schema; INSERT INTO evstore_schema (version) VALUES (%d);", SchemaVersion)); err != nil {
			return fmt.Errorf("migrate from schema version %d: %w", v, err)
		}
	}
	conn.SetInterrupt(nil)
	return exec(context.Background(), conn, "COMMIT")
}
