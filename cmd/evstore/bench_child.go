package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/go-event-sourcing/evstore/sqlite"
)

// benchChildName is the hidden subcommand "bench --watch" runs as the
// other process: it watches @all and prints, for each event, the
// nanoseconds since the write time the event carries.
const benchChildName = "__bench-child"

func runBenchChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(benchChildName, benchChildName+" --db PATH --n N", "", stderr)
	db := fs.String("db", "", "database file")
	n := fs.Int("n", 0, "events to wait for")
	poll := fs.Duration("poll", 50*time.Millisecond, "poll interval")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	store, err := sqlite.Open(ctx, *db, sqlite.WithPollInterval(*poll))
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
