package sqlite

import (
	"fmt"
	"strings"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// Schema is the DDL of an evstore SQLite file: py-event-sourcing's, statement
// for statement, so that the two libraries share files. Open runs it on every
// file it opens; the statements create only what is missing.
const Schema = `
CREATE TABLE IF NOT EXISTS events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                stream_id TEXT NOT NULL,
                idempotency_key TEXT,
                event_type TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                metadata TEXT,
                data BLOB,
                version INTEGER NOT NULL,
                UNIQUE(stream_id, version),
                UNIQUE(stream_id, idempotency_key)
            );
CREATE TABLE IF NOT EXISTS snapshots (
                stream_id TEXT NOT NULL,
                projection_name TEXT NOT NULL,
                version INTEGER NOT NULL,
                state BLOB NOT NULL,
                timestamp TEXT NOT NULL,
                PRIMARY KEY (stream_id, projection_name)
            );`

// tables maps each table to a query naming the columns evstore reads; a
// file whose tables lack them is not an event store.
var tables = []struct{ name, check string }{
	{"events", "SELECT id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version FROM events LIMIT 0"},
	{"snapshots", "SELECT stream_id, projection_name, version, state, timestamp FROM snapshots LIMIT 0"},
	{"evstore_schema", "SELECT version FROM evstore_schema LIMIT 0"},
	{"evstore_consumers", "SELECT name, partition, members, position, found, external, updated, generation, lease_until FROM evstore_consumers LIMIT 0"},
	{"evstore_tombstones", "SELECT stream_id, version FROM evstore_tombstones LIMIT 0"},
	{"evstore_tags", "SELECT seq, tag FROM evstore_tags LIMIT 0"},
}

// checkSchema returns ErrCorrupt if the file is not an SQLite database or
// has tables that are not an event store's, ErrNewerSchema if a newer
// evstore wrote it, and otherwise the tables of the list that the file
// has. It changes nothing.
func checkSchema(conn *sqlite.Conn) (found map[string]bool, err error) {
	if _, err := schemaVersion(conn); err != nil {
		return nil, err
	}
	found = make(map[string]bool, len(tables))
	for _, tbl := range tables {
		n, err := queryInt(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", tbl.name)
		if err != nil {
			return nil, translate(err)
		}
		if n == 0 {
			continue
		}
		check, _, err := conn.PrepareTransient(tbl.check)
		if err != nil {
			return nil, fmt.Errorf("%w: table %s does not match the event store schema: %s", evstore.ErrCorrupt, tbl.name, missingColumn(err))
		}
		check.Finalize()
		found[tbl.name] = true
	}
	return found, nil
}

// missingColumn describes, without the SQL that found it, why a table's
// check failed.
func missingColumn(err error) string {
	const marker = "no such column: "
	if msg := err.Error(); strings.Contains(msg, marker) {
		return "it has no column " + strings.TrimSpace(msg[strings.LastIndex(msg, marker)+len(marker):])
	}
	return "its columns are not the ones evstore reads"
}

// initSchema creates the tables that are missing.
func initSchema(conn *sqlite.Conn) error {
	return execScript(conn, Schema)
}
