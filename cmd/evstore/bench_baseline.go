package main

import (
	"context"
	"time"

	"github.com/go-event-sourcing/evstore/internal/rawpg"
	"github.com/go-event-sourcing/evstore/internal/rawsqlite"
	"github.com/jackc/pgx/v5"
)

// baselineSQLite writes and reads the reference rows through the raw
// SQLite driver.
func baselineSQLite(cfg benchConfig, path string, res *benchResults) error {
	conn, err := rawsqlite.Open(path)
	if err != nil {
		return err
	}
	defer conn.Close()
	start := time.Now()
	if err := rawsqlite.Write(conn, "counter", cfg.events, cfg.batch, cfg.keys); err != nil {
		return err
	}
	res.RawWriteEventsPerSec = float64(cfg.events) / time.Since(start).Seconds()
	count := func(n *int64) func(*rawsqlite.Row) {
		return func(r *rawsqlite.Row) {
			if r.Type == "Increment" {
				*n++
			}
		}
	}
	start = time.Now()
	var n int64
	if err := rawsqlite.ReadStream(conn, "counter", count(&n)); err != nil {
		return err
	}
	res.RawReadEventsPerSec = float64(n) / time.Since(start).Seconds()
	start = time.Now()
	n = 0
	if err := rawsqlite.Scan(conn, count(&n)); err != nil {
		return err
	}
	res.RawTableScanEventsPerSec = float64(n) / time.Since(start).Seconds()
	return nil
}

// baselinePostgres copies the reference rows in with COPY and reads them
// back with one query, through pgx.
func baselinePostgres(ctx context.Context, cfg benchConfig, target benchTarget, schema string, res *benchResults) error {
	store, err := target.open(ctx, schema) // creates the tables
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, target.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	start := time.Now()
	if err := rawpg.Write(ctx, conn, schema, "counter", cfg.events, cfg.batch, cfg.keys); err != nil {
		return err
	}
	res.RawWriteEventsPerSec = float64(cfg.events) / time.Since(start).Seconds()
	start = time.Now()
	var n int64
	if err := rawpg.ReadStream(ctx, conn, schema, "counter", func(r *rawpg.Row) {
		if r.Type == "Increment" {
			n++
		}
	}); err != nil {
		return err
	}
	res.RawReadEventsPerSec = float64(n) / time.Since(start).Seconds()
	return nil
}
