package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// childArgs are the flags RunChild takes: watch n events of loc on t.
func childArgs(t target, loc string, n int) []string {
	args := []string{"--n", strconv.Itoa(n), "--poll", t.poll.String()}
	if t.dsn != "" {
		return append(args, "--store", t.dsn, "--schema", loc)
	}
	return append(args, "--db", loc)
}

// RunChild is the other process of the cross-process watch latency: Run
// starts Config.ChildCommand with the flags RunChild parses from args.
// It prints "ready" to stdout once it watches the stream Run writes to,
// then, for each event, the nanoseconds since the write time the event
// carries, and returns after the number of events Run writes.
func RunChild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench child", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", "", "SQLite database file")
	dsn := fs.String("store", "", "PostgreSQL address")
	schema := fs.String("schema", "", "PostgreSQL schema")
	n := fs.Int("n", 0, "events to wait for")
	poll := fs.Duration("poll", 50*time.Millisecond, "poll interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t, loc := target{dsn: *dsn, poll: *poll}, *db
	if *dsn != "" {
		loc = *schema
	}
	store, err := t.open(ctx, loc)
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
