package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// childArgs are the flags RunChild takes: watch (or, with consume, run a
// consumer over) n events of loc on t.
func childArgs(t target, loc string, n int, consume bool) []string {
	args := []string{"--n", strconv.Itoa(n), "--poll", t.poll.String(), "--consume=" + strconv.FormatBool(consume)}
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
	consume := fs.Bool("consume", false, "run a consumer instead of a watch")
	hold := fs.String("hold", "", "run this consumer until killed")
	lease := fs.Duration("lease", evstore.DefaultLeaseTime, "the consumer's lease time, with --hold")
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
	if *hold != "" {
		return childHold(ctx, store, *hold, *lease, bufio.NewWriter(stdout))
	}
	if *consume {
		return childConsume(ctx, store, *n, stdout)
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

// childConsume runs a consumer that starts after the newest event and
// prints, for each event it handles, the nanoseconds since its write time,
// until it has handled n.
func childConsume(ctx context.Context, store *evstore.Store, n int, stdout io.Writer) error {
	const name = "bench-cross-process"
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	if err := store.ResetConsumer(ctx, name, all.Version()); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := 0
	h := evstore.HandlerFunc(func(_ context.Context, events []evstore.StoredEvent) error {
		now := time.Now().UnixNano()
		for _, e := range events {
			stamp, err := strconv.ParseInt(string(e.Data), 10, 64)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, now-stamp)
			if seen++; seen == n {
				cancel()
			}
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- store.Consume(cctx, name, h) }()
	time.Sleep(200 * time.Millisecond) // the consumer takes its lease
	fmt.Fprintln(stdout, "ready")
	if err := <-done; err != nil {
		return err
	}
	if seen < n {
		return ctx.Err()
	}
	return nil
}
