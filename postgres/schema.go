package postgres

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed schema.sql
var schemaSQL string

// createSchema runs schema.sql in schema, idempotently. Concurrent Opens
// serialise on an advisory lock, since CREATE ... IF NOT EXISTS races.
func createSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	sql := strings.ReplaceAll(schemaSQL, "{{schema}}", pgx.Identifier{schema}.Sanitize())
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('evstore schema'))"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create tables in schema %q: %w", schema, err)
	}
	return tx.Commit(ctx)
}
