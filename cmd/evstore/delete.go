package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
	"golang.org/x/term"
)

// stdin is what delete reads its confirmation from; tests replace it.
var stdin io.Reader = os.Stdin

// stdinIsTerminal reports whether stdin is a terminal a person can answer
// on; tests replace it.
var stdinIsTerminal = func() bool {
	f, ok := stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) // not /dev/null, which is a device too
}

func runDelete(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("delete", "delete STREAM [--yes] [flags]", "evstore delete account-42 --yes", stderr)
	sf := addStoreFlags(g, fs)
	yes := fs.Bool("yes", false, "delete without asking (needed when standard input is not a terminal)")
	expect := fs.Int64("expect", -1, "the version the stream must be at")
	eraseFor := fs.Duration("erase-timeout", 10*time.Second, "how long to try to make the removed bytes unrecoverable (0: do not)")
	id, err := parseStream(fs, args)
	if err != nil {
		return err
	}
	store, st, err := sf.stream(ctx, id, readWrite)
	if err != nil {
		return err
	}
	defer store.Close()
	before, err := st.Metrics(ctx)
	if err != nil {
		return err
	}
	if !*yes {
		if !stdinIsTerminal() {
			return fmt.Errorf("refusing to delete %s without --yes: standard input is not a terminal to confirm on", id)
		}
		fmt.Fprintf(stderr, "Delete %s: %d events, its snapshots and its keys, for good? Type the stream id to confirm: ", id, before.EventCount)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != id {
			return errors.New("not confirmed: nothing deleted")
		}
	}
	var opts []evstore.WriteOption
	if *expect >= 0 {
		opts = append(opts, evstore.ExpectVersion(*expect))
	}
	var r evstore.WriteReport
	opts = append(opts, evstore.Report(&r))
	if _, err := st.Delete(ctx, opts...); err != nil {
		var conflict *evstore.ConflictError
		if errors.As(err, &conflict) {
			return fmt.Errorf("conflict on %s: expected version %d, actual %d", id, conflict.Expected, conflict.Actual)
		}
		return err
	}
	if r.Appended == 0 {
		fmt.Fprintf(stdout, "%s: nothing to delete (version %d)\n", id, r.Version)
		return nil
	}
	fmt.Fprintf(stdout, "deleted %s: removed %d events; its tombstone is version %d (Sequence %d)\n", id, before.EventCount, r.Version, r.Last)
	if *eraseFor > 0 {
		erase(ctx, store, *eraseFor, stdout)
	}
	return nil
}

func runTruncate(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("truncate", "truncate STREAM --before N [flags]", "evstore truncate orders-7 --before 100", stderr)
	sf := addStoreFlags(g, fs)
	before := fs.Int64("before", 0, "remove the events with a version below this (required; 1 to the stream's version)")
	id, err := parseStream(fs, args)
	if err != nil {
		return err
	}
	if *before < 1 {
		return errors.New("--before is required, at least 1")
	}
	store, st, err := sf.stream(ctx, id, readWrite)
	if err != nil {
		return err
	}
	defer store.Close()
	m, err := st.Metrics(ctx)
	if err != nil {
		return err
	}
	if err := st.Truncate(ctx, *before); err != nil {
		return err
	}
	after, err := st.Metrics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "truncated %s: removed %d events below version %d; %d left\n", id, m.EventCount-after.EventCount, *before, after.EventCount)
	return nil
}

func runErase(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("erase", "erase [flags]", "evstore erase --timeout 1m", stderr)
	sf := addStoreFlags(g, fs)
	timeout := fs.Duration("timeout", time.Minute, "how long to keep trying")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := sf.open(ctx, readWrite)
	if err != nil {
		return err
	}
	defer store.Close()
	if !erase(ctx, store, *timeout, stdout) {
		return errors.New("the removed bytes are not erased yet")
	}
	return nil
}

// erase runs Store.Erase for at most timeout, says what came of it, and
// reports whether the bytes are gone.
func erase(ctx context.Context, store *evstore.Store, timeout time.Duration, stdout io.Writer) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch err := store.Erase(ctx); {
	case err == nil:
		fmt.Fprintln(stdout, "erased: the removed bytes are gone from the database's files (backups and replicas keep what they copied)")
		return true
	case errors.Is(err, evstore.ErrUnsupported):
		fmt.Fprintln(stdout, "not erased: this store cannot erase removed bytes itself; see docs/operations.md")
	default:
		fmt.Fprintf(stdout, "not erased yet: %v; run \"evstore erase\" later\n", err)
	}
	return false
}
