-- What evstore added to a schema at version 0 (schema_v0.sql) to bring it
-- to version 1, before version 2 renamed consumers evstore_consumers.

CREATE TABLE {{schema}}.evstore_schema (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  integer NOT NULL
);
INSERT INTO {{schema}}.evstore_schema (version) VALUES (1);

CREATE TABLE {{schema}}.consumers (
    name       text COLLATE "C" NOT NULL,
    members    integer     NOT NULL,
    partition  integer     NOT NULL,
    position   bigint      NOT NULL DEFAULT 0,
    found      boolean     NOT NULL DEFAULT false,
    external   boolean     NOT NULL DEFAULT false,
    updated    timestamptz,
    generation bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (name, members, partition)
);
