package postgres

import "github.com/jackc/pgx/v5"

// statements holds the SQL of a schema, with its identifiers quoted once.
type statements struct {
	events, snapshots  string         // qualified table names
	eventsTable        pgx.Identifier // for COPY
	lock               string
	streamHead         string
	allHead            string
	lookupKey          string
	heads              string
	existingPairs      string
	insert             string
	streamMetrics      string
	allMetrics         string
	saveStreamSnapshot string
	saveAllSnapshot    string
	loadSnapshot       string
	consumer           consumerStatements
}

const eventColumns = "id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version"

func newStatements(name string) statements {
	schema := pgx.Identifier{name}.Sanitize()
	events, snapshots := schema+".events", schema+".snapshots"
	return statements{
		eventsTable: pgx.Identifier{name, "events"},
		events:      events,
		snapshots:   snapshots,
		// One lock per schema serialises appends, so Sequences commit in order.
		lock:       "SELECT pg_advisory_xact_lock(hashtext($1))",
		streamHead: "SELECT COALESCE(MAX(version), 0) FROM " + events + " WHERE stream_id = $1",
		allHead:    "SELECT COALESCE(MAX(id), 0) FROM " + events,
		lookupKey:  "SELECT version FROM " + events + " WHERE stream_id = $1 AND idempotency_key = $2",
		// A subquery per stream, so each MAX uses the index.
		heads: "SELECT s, (SELECT COALESCE(MAX(version), 0) FROM " + events + " WHERE stream_id = s) FROM unnest($1::text[]) AS s",
		existingPairs: "SELECT e.stream_id, e.idempotency_key FROM unnest($1::text[], $2::text[]) AS p(stream_id, key) " +
			"JOIN " + events + " e ON e.stream_id = p.stream_id AND e.idempotency_key = p.key",
		insert: "INSERT INTO " + events + " (" + eventColumns + ") " +
			"SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]::jsonb[], $7::bytea[], $8::bigint[])",
		streamMetrics: "SELECT COUNT(*), COALESCE(MAX(version), 0), " +
			"(SELECT timestamp FROM " + events + " WHERE stream_id = $1 ORDER BY version DESC LIMIT 1) " +
			"FROM " + events + " WHERE stream_id = $1",
		allMetrics: "SELECT COUNT(*), COALESCE(MAX(id), 0), " +
			"(SELECT timestamp FROM " + events + " ORDER BY id DESC LIMIT 1) FROM " + events,
		saveStreamSnapshot: saveSnapshot(snapshots, "SELECT COALESCE(MAX(version), 0) FROM "+events+" WHERE stream_id = $1"),
		saveAllSnapshot:    saveSnapshot(snapshots, "SELECT COALESCE(MAX(id), 0) FROM "+events),
		loadSnapshot:       "SELECT version, state, timestamp FROM " + snapshots + " WHERE stream_id = $1 AND projection_name = $2",
		consumer:           newConsumerStatements(name),
	}
}

// saveSnapshot returns the statement that saves a snapshot unless its
// version is above what head selects.
func saveSnapshot(snapshots, head string) string {
	return "INSERT INTO " + snapshots + " (stream_id, projection_name, version, state, timestamp) " +
		"SELECT $1::text, $2::text, $3::bigint, $4::bytea, $5::timestamptz WHERE $3 <= (" + head + ") " +
		"ON CONFLICT (stream_id, projection_name) DO UPDATE SET " +
		"version = excluded.version, state = excluded.state, timestamp = excluded.timestamp"
}
