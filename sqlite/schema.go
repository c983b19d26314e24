package sqlite

import (
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// schema is py-event-sourcing's, statement for statement, so that files are
// shared between the two libraries.
const schema = `
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

// checks name the columns evstore reads; a file whose tables lack them is
// not an event store.
var checks = []string{
	"SELECT id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version FROM events LIMIT 0",
	"SELECT stream_id, projection_name, version, state, timestamp FROM snapshots LIMIT 0",
}

// initSchema creates the tables if they are missing and checks them.
func initSchema(conn *sqlite.Conn) error {
	if err := execScript(conn, schema); err != nil {
		return err
	}
	for _, q := range checks {
		stmt, _, err := conn.PrepareTransient(q)
		if err != nil {
			return fmt.Errorf("%w: tables do not match the event store schema: %v", evstore.ErrCorrupt, err)
		}
		stmt.Finalize()
	}
	return nil
}
