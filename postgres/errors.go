package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5/pgconn"
)

// interrupted makes an error that ctx ending caused match ctx.Err(): pgx
// may report it as a closed connection instead.
func interrupted(ctx context.Context, err error) error {
	err = translate(err)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// translate maps PostgreSQL errors onto evstore's sentinel errors where one
// applies, keeping the server's message.
func translate(err error) error {
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "22021", "22P05", "54000": // bad text, untranslatable character, too long
		return fmt.Errorf("%w: %w", evstore.ErrInvalidEvent, err)
	case "57014": // query_canceled: a ctx ended
		return fmt.Errorf("%w: %w", context.Canceled, err)
	case "42P01", "42703": // undefined_table, undefined_column: not the schema evstore made
		return fmt.Errorf("%w: %w", evstore.ErrCorrupt, err)
	}
	return err
}
