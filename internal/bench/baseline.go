package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/go-event-sourcing/evstore/internal/rawpg"
	"github.com/go-event-sourcing/evstore/internal/rawsqlite"
	"github.com/jackc/pgx/v5"
)

// baseline runs the same rows through the raw driver.
func baseline(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	loc := t.location("raw")
	defer t.drop(loc)
	var err error
	if t.dsn != "" {
		err = baselinePostgres(ctx, cfg, t, loc, res)
	} else {
		err = baselineSQLite(cfg, loc, res)
	}
	if err != nil {
		return err
	}
	res.WriteRatio = res.WriteEventsPerSec / res.RawWriteEventsPerSec
	res.ReadRatio = res.ReadEventsPerSec / res.RawReadEventsPerSec
	driver := "the raw SQLite driver"
	if t.dsn != "" {
		driver = "raw pgx (COPY, and one query)"
	}
	fmt.Fprintf(out, "\n--- Baseline: %s, same rows, same schema ---\n", driver)
	fmt.Fprintf(out, "Raw write throughput: %s events/sec (evstore/raw = %.2f).\n", commasFloat(res.RawWriteEventsPerSec), res.WriteRatio)
	fmt.Fprintf(out, "Raw read throughput, the stream in version order: %s events/sec (evstore/raw = %.2f).\n", commasFloat(res.RawReadEventsPerSec), res.ReadRatio)
	if res.RawTableScanEventsPerSec > 0 {
		fmt.Fprintf(out, "Raw table scan, every row in table order: %s events/sec.\n", commasFloat(res.RawTableScanEventsPerSec))
	}
	return nil
}

// baselineSQLite writes and reads the reference rows through the raw
// SQLite driver.
func baselineSQLite(cfg Config, path string, res *Results) error {
	conn, err := rawsqlite.Open(path)
	if err != nil {
		return err
	}
	defer conn.Close()
	start := time.Now()
	if err := rawsqlite.Write(conn, "counter", cfg.Events, cfg.Batch, cfg.Keys); err != nil {
		return err
	}
	res.RawWriteEventsPerSec = float64(cfg.Events) / time.Since(start).Seconds()
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
func baselinePostgres(ctx context.Context, cfg Config, t target, schema string, res *Results) error {
	store, err := t.open(ctx, schema) // creates the tables
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, t.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	start := time.Now()
	if err := rawpg.Write(ctx, conn, schema, "counter", cfg.Events, cfg.Batch, cfg.Keys); err != nil {
		return err
	}
	res.RawWriteEventsPerSec = float64(cfg.Events) / time.Since(start).Seconds()
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
