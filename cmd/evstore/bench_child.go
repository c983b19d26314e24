package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
)

// benchChildName is the hidden subcommand "bench --watch" runs as the
// other process: it watches @all and prints, for each event, the
// nanoseconds since the write time the event carries.
const benchChildName = "__bench-child"

func runBenchChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(benchChildName, benchChildName+" --db PATH|--store DSN --schema S --n N", "", stderr)
	db := fs.String("db", "", "SQLite database file")
	dsn := fs.String("store", "", "PostgreSQL address")
	schema := fs.String("schema", "", "PostgreSQL schema")
	n := fs.Int("n", 0, "events to wait for")
	poll := fs.Duration("poll", 50*time.Millisecond, "poll interval")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	target, loc := benchTarget{dsn: *dsn, poll: *poll}, *db
	if *dsn != "" {
		loc = *schema
	}
	store, err := target.open(ctx, loc)
	if err != nil {
		return err
	}
	defer store.Close()
	st, err := store.Stream(ctx, "cross")
	if err != nil {
		return err
	}
	seen := 0
	fmt.Fprintln(stdout, "ready")
	for e, err := range st.Watch(ctx) {
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		stamp, err := strconv.ParseInt(string(e.Data), 10, 64)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, now-stamp)
		if seen++; seen == *n {
			return nil
		}
	}
	return ctx.Err()
}
