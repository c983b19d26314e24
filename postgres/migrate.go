package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Schema versions. schema.sql creates version 0, the tables evstore had
// before it kept a version: events and snapshots. Each migration takes a
// schema from the version before it to its own, and the table
// evstore_schema holds, in its one row, the version a schema is at; a
// schema without it is at version 0. Open migrates a schema to
// SchemaVersion in the transaction that creates the tables, under the lock
// that serialises Opens, so that concurrent Opens take turns and the later
// ones find nothing to do; a migration that fails changes nothing.
//
// Code from before the versions ignores evstore_schema and the tables
// migrations add, so it keeps working on a migrated schema.

// SchemaVersion is the version of the schema this package writes:
//
//   - 0: events and snapshots;
//   - 1: evstore_schema, and consumers: consumers' checkpoints (see the
//     package documentation, "Consumers");
//   - 2: consumers renamed evstore_consumers, so that evstore's tables are
//     all named evstore_* but events and snapshots, and an application's
//     own table named consumers can share the schema; and its column
//     lease_until, the database's time until which the last holder of a
//     consumer's lease may still be handling events (see lease.go,
//     "Overlap");
//   - 3: evstore_sequence, the last Sequence handed out, so that new
//     events are numbered after it rather than after the newest event
//     left (deleting the newest events must not make a Sequence be handed
//     out twice), and evstore_tombstones, the version of each stream's
//     last tombstone (a snapshot below it is refused). See delete.go;
//   - 4: tags (see tags.go): events.tags, each event's tags as it reads
//     them back, evstore_tags, one row per tag and event, whose B-tree
//     finds a tag's events in Sequence order, and the index
//     evstore_events_type on events (event_type, id), for criteria of
//     types only.
const SchemaVersion = 4

// ErrNewerSchema means the schema was migrated by a newer evstore, to a
// version this one does not know: Open refuses it, and leaves it as it was.
var ErrNewerSchema = errors.New("evstore/postgres: the schema was written by a newer evstore")

// versionTable creates the table that holds a schema's version.
const versionTable = `
CREATE TABLE IF NOT EXISTS {{schema}}.evstore_schema (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  integer NOT NULL
)`

// migrations[v-1] takes a schema from version v-1 to v; there are
// SchemaVersion of them. Each returns its SQL (none: "") given the version
// the schema was at when Open began. Their CREATE statements have no IF
// NOT EXISTS: each runs once, and a table of the same name that something
// else made fails the migration instead of being used.
var migrations = []func(from int) string{
	// 1: consumers' checkpoints and leases (see lease.go). Version 1 named
	// the table consumers, and a schema at 1 has it so; one on its way
	// from 0 gets it under the name version 2 gives it, so that a table
	// of the application's named consumers does not fail the migration.
	func(int) string { return createConsumers },
	// 2: consumers renamed evstore_consumers, with its primary key's
	// index, whose name would otherwise stop the application from making
	// a table named consumers with a primary key; and the column
	// lease_until (NULL in every row: no holder to wait for, as the
	// consumers of older code must be stopped first). A schema that was
	// at 0 got evstore_consumers, with the column, from 1.
	func(from int) string {
		if from != 1 {
			return ""
		}
		return `ALTER TABLE {{schema}}.consumers RENAME TO evstore_consumers;
ALTER TABLE {{schema}}.evstore_consumers RENAME CONSTRAINT consumers_pkey TO evstore_consumers_pkey;
ALTER TABLE {{schema}}.evstore_consumers ADD COLUMN lease_until timestamptz`
	},
	// 3: the counter of Sequences, starting at the newest one handed out
	// so far (no event was ever removed before version 3, so that is the
	// newest event's), and the streams' tombstones (none: older code could
	// not delete; events of type $deleted that an application wrote
	// before Write refused the type are not taken for tombstones).
	func(int) string { return createSequence + ";\n" + createTombstones },
	// 4: tags, and the index of types. No event has tags yet (older code
	// could not write them), and building the index takes a while on a
	// big table, during which appends wait (see the package
	// documentation, "Tables").
	func(int) string { return createTags },
}

// createSequence creates the one-row table of the last Sequence handed
// out, and its row.
const createSequence = `CREATE TABLE {{schema}}.evstore_sequence (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last     bigint  NOT NULL
);
INSERT INTO {{schema}}.evstore_sequence (last) SELECT COALESCE(MAX(id), 0) FROM {{schema}}.events`

// createTombstones creates the table of each deleted stream's last
// tombstone's version.
const createTombstones = `CREATE TABLE {{schema}}.evstore_tombstones (
    stream_id text   PRIMARY KEY,
    version   bigint NOT NULL
)`

// createTags adds the tags of events: a column that Read reads them back
// from, and a table that indexes them (see tags.go); and the index of
// events by type.
const createTags = `ALTER TABLE {{schema}}.events ADD COLUMN tags text[];
CREATE TABLE {{schema}}.evstore_tags (
    tag text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (tag, seq)
);
CREATE INDEX evstore_events_type ON {{schema}}.events (event_type, id)`

// createConsumers creates the table of consumers' checkpoints.
const createConsumers = `CREATE TABLE {{schema}}.evstore_consumers (
    name        text COLLATE "C" NOT NULL,
    members     integer     NOT NULL,
    partition   integer     NOT NULL,
    position    bigint      NOT NULL DEFAULT 0,
    found       boolean     NOT NULL DEFAULT false,
    external    boolean     NOT NULL DEFAULT false,
    updated     timestamptz,
    generation  bigint      NOT NULL DEFAULT 0,
    lease_until timestamptz,
    PRIMARY KEY (name, members, partition)
)`

// migrate brings schema to SchemaVersion in tx, which holds the lock that
// serialises Opens: it creates the version 0 tables if the schema has no
// version yet (a new schema, or one written before versions), then runs
// the migrations after the schema's version.
func migrate(ctx context.Context, tx pgx.Tx, schema string) error {
	quoted := pgx.Identifier{schema}.Sanitize()
	expand := func(sql string) string { return strings.ReplaceAll(sql, "{{schema}}", quoted) }
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted); err != nil {
		return fmt.Errorf("create schema %q: %w", schema, err)
	}
	if _, err := tx.Exec(ctx, expand(versionTable)); err != nil {
		return fmt.Errorf("create %s.evstore_schema: %w", quoted, err)
	}
	var version int
	err := tx.QueryRow(ctx, expand("SELECT version FROM {{schema}}.evstore_schema")).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, expand(schemaSQL)); err != nil {
			return fmt.Errorf("create tables in schema %q: %w", schema, err)
		}
		if _, err := tx.Exec(ctx, expand("INSERT INTO {{schema}}.evstore_schema (version) VALUES (0)")); err != nil {
			return fmt.Errorf("set the version of schema %q: %w", schema, err)
		}
	case err != nil:
		return fmt.Errorf("read the version of schema %q: %w", schema, err)
	case version > SchemaVersion:
		return fmt.Errorf("%w: schema %q is at version %d; this evstore knows versions up to %d",
			ErrNewerSchema, schema, version, SchemaVersion)
	}
	for v := version + 1; v <= SchemaVersion; v++ {
		sql := migrations[v-1](version)
		if sql == "" {
			continue
		}
		if _, err := tx.Exec(ctx, expand(sql)); err != nil {
			return fmt.Errorf("migrate schema %q to version %d: %w", schema, v, err)
		}
	}
	if version < SchemaVersion {
		if _, err := tx.Exec(ctx, expand("UPDATE {{schema}}.evstore_schema SET version = $1"), SchemaVersion); err != nil {
			return fmt.Errorf("set the version of schema %q: %w", schema, err)
		}
	}
	return nil
}
