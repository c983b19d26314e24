package postgres

import "github.com/jackc/pgx/v5"

// statements holds the SQL of a schema, with its identifiers quoted once.
type statements struct {
	events, snapshots  string         // qualified table names
	tags               string         // evstore_tags, qualified
	eventsTable        pgx.Identifier // for COPY
	lock               string
	streamHead         string
	allHead            string
	lookupKey          string
	heads              string
	existingPairs      string
	insert             string
	insertTags         string
	match              string // the conditions' (condition.go)
	streamMetrics      string
	allMetrics         string
	saveStreamSnapshot string
	saveAllSnapshot    string
	loadSnapshot       string
	setLast            string
	streamLock         string // exclusive: Delete; shared: SaveSnapshot
	streamLockShared   string
	deleteHead         string
	deleteStream       string
	deleteSnapshots    string
	insertTombstone    string
	setTombstone       string
	tombstone          string
	truncate           string
	vacuumTables       string // the tables Erase vacuums
	consumer           consumerStatements
}

const eventColumns = "id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version"

// readColumns are the columns a read scans (see scanEvents).
const readColumns = eventColumns + ", tags"

func newStatements(name string) statements {
	schema := pgx.Identifier{name}.Sanitize()
	events, snapshots := schema+".events", schema+".snapshots"
	sequence, tombstones := schema+".evstore_sequence", schema+".evstore_tombstones"
	tags := schema + ".evstore_tags"
	// The last Sequence handed out: evstore_sequence's, which never goes
	// back, or the newest event's, should something that does not know the
	// counter (evstore before schema version 3, a hand-made INSERT) have
	// appended past it.
	last := "SELECT GREATEST((SELECT last FROM " + sequence + "), (SELECT COALESCE(MAX(id), 0) FROM " + events + "))"
	return statements{
		eventsTable: pgx.Identifier{name, "events"},
		events:      events,
		snapshots:   snapshots,
		tags:        tags,
		// One lock per schema serialises appends, so Sequences commit in order.
		lock:       "SELECT pg_advisory_xact_lock(hashtext($1))",
		streamHead: "SELECT COALESCE(MAX(version), 0) FROM " + events + " WHERE stream_id = $1",
		allHead:    last,
		lookupKey:  "SELECT version FROM " + events + " WHERE stream_id = $1 AND idempotency_key = $2",
		// A subquery per stream, so each MAX uses the index.
		heads: "SELECT s, (SELECT COALESCE(MAX(version), 0) FROM " + events + " WHERE stream_id = s) FROM unnest($1::text[]) AS s",
		existingPairs: "SELECT e.stream_id, e.idempotency_key FROM unnest($1::text[], $2::text[]) AS p(stream_id, key) " +
			"JOIN " + events + " e ON e.stream_id = p.stream_id AND e.idempotency_key = p.key",
		// Each event's tags come as the text of an array (see
		// arrayLiteral): unnest would flatten an array of arrays.
		insert: "INSERT INTO " + events + " (" + readColumns + ") " +
			"SELECT id, s, k, t, ts, m, d, v, g::text[] FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], " +
			"$5::timestamptz[], $6::text[]::jsonb[], $7::bytea[], $8::bigint[], $9::text[]) AS u(id, s, k, t, ts, m, d, v, g)",
		insertTags: "INSERT INTO " + tags + " (tag, seq) SELECT * FROM unnest($1::text[], $2::bigint[])",
		match:      matchSQL(events, tags),
		streamMetrics: "SELECT COUNT(*), COALESCE(MAX(version), 0), " +
			"(SELECT timestamp FROM " + events + " WHERE stream_id = $1 ORDER BY version DESC LIMIT 1) " +
			"FROM " + events + " WHERE stream_id = $1",
		allMetrics: "SELECT COUNT(*), (" + last + "), " +
			"(SELECT timestamp FROM " + events + " ORDER BY id DESC LIMIT 1) FROM " + events,
		// A stream's snapshot is refused below its last tombstone too.
		saveStreamSnapshot: saveSnapshot(snapshots, "SELECT COALESCE(MAX(version), 0) FROM "+events+" WHERE stream_id = $1",
			" AND $3 >= COALESCE((SELECT version FROM "+tombstones+" WHERE stream_id = $1), 0)"),
		saveAllSnapshot:  saveSnapshot(snapshots, last, ""),
		loadSnapshot:     "SELECT version, state, timestamp FROM " + snapshots + " WHERE stream_id = $1 AND projection_name = $2",
		setLast:          "UPDATE " + sequence + " SET last = $1",
		streamLock:       "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
		streamLockShared: "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))",
		// The stream's version, its oldest version left and the type of
		// its newest event.
		deleteHead: "SELECT COALESCE(MAX(version), 0), COALESCE(MIN(version), 0), " +
			"(SELECT event_type FROM " + events + " WHERE stream_id = $1 ORDER BY version DESC LIMIT 1) " +
			"FROM " + events + " WHERE stream_id = $1",
		deleteStream:    deleteEvents(events, tags, "stream_id = $1"),
		deleteSnapshots: "DELETE FROM " + snapshots + " WHERE stream_id = $1",
		insertTombstone: "INSERT INTO " + events + " (" + eventColumns + ") " +
			"VALUES ($1, $2, NULL, $3, $4, NULL, ''::bytea, $5)",
		setTombstone: "INSERT INTO " + tombstones + " (stream_id, version) VALUES ($1, $2) " +
			"ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
		tombstone:    "SELECT version FROM " + tombstones + " WHERE stream_id = $1",
		truncate:     deleteEvents(events, tags, "stream_id = $1 AND version < $2"),
		vacuumTables: events + ", " + snapshots + ", " + tombstones + ", " + sequence + ", " + tags,
		consumer:     newConsumerStatements(name),
	}
}

// deleteEvents returns the statement that deletes the events where holds,
// with their rows in evstore_tags, found by the tags the events carry, and
// returns how many events it deleted.
func deleteEvents(events, tags, where string) string {
	return "WITH d AS (DELETE FROM " + events + " WHERE " + where + " RETURNING id, tags), " +
		"g AS (DELETE FROM " + tags + " t USING (SELECT unnest(d.tags) AS tag, d.id FROM d WHERE d.tags IS NOT NULL) x " +
		"WHERE t.tag = x.tag AND t.seq = x.id) " +
		"SELECT count(*) FROM d"
}

// saveSnapshot returns the statement that saves a snapshot unless its
// version is above what head selects, or and does not hold.
func saveSnapshot(snapshots, head, and string) string {
	return "INSERT INTO " + snapshots + " (stream_id, projection_name, version, state, timestamp) " +
		"SELECT $1::text, $2::text, $3::bigint, $4::bytea, $5::timestamptz WHERE $3 <= (" + head + ")" + and + " " +
		"ON CONFLICT (stream_id, projection_name) DO UPDATE SET " +
		"version = excluded.version, state = excluded.state, timestamp = excluded.timestamp"
}
