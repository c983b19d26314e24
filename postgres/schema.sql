-- Version 0 of the schema (see migrate.go): what evstore created before
-- it kept a schema version. Later versions are migrations.

CREATE SCHEMA IF NOT EXISTS {{schema}};

-- events.id is the Sequence: appends number it under an advisory lock, so
-- it grows in commit order (from version 3, after evstore_sequence's
-- counter; deleted events leave gaps).
CREATE TABLE IF NOT EXISTS {{schema}}.events (
    id              bigint      PRIMARY KEY,
    stream_id       text        NOT NULL,
    idempotency_key text,
    event_type      text        NOT NULL,
    timestamp       timestamptz NOT NULL,
    metadata        jsonb,
    data            bytea       NOT NULL,
    version         bigint      NOT NULL,
    UNIQUE (stream_id, version),
    UNIQUE (stream_id, idempotency_key)
);

CREATE TABLE IF NOT EXISTS {{schema}}.snapshots (
    stream_id       text        NOT NULL,
    projection_name text        NOT NULL,
    version         bigint      NOT NULL,
    state           bytea       NOT NULL,
    timestamp       timestamptz NOT NULL,
    PRIMARY KEY (stream_id, projection_name)
);
