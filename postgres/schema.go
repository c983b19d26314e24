package postgres

import (
	"context"
	_ "embed"

	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaSQL creates the tables of schema version 0 (see migrate.go).
//
//go:embed schema.sql
var schemaSQL string

// createSchema creates evstore's tables in schema, or migrates them to the
// version this code knows, idempotently. Concurrent Opens serialise on an
// advisory lock, since CREATE ... IF NOT EXISTS races, and a migration is
// one transaction: it happens entirely or not at all.
func createSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('evstore schema'))"); err != nil {
		return err
	}
	if err := migrate(ctx, tx, schema); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
