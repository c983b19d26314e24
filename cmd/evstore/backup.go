package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/open"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// runBackup copies a live SQLite store into a new file (sqlite.Backup):
// writers may go on writing meanwhile.
func runBackup(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", "backup --to FILE [flags]", "evstore --db events.db backup --to /backups/events-$(date +%F).db", stderr)
	sf := addStoreFlags(g, fs)
	to := fs.String("to", "", "the file to write the copy to (required; its directory must exist)")
	force := fs.Bool("force", false, "replace the file at --to if it exists (the old one stays whole until the copy is complete)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		fmt.Fprintln(stderr, "need --to FILE")
		fs.Usage()
		return errUsage
	}
	cfg, err := sf.config()
	switch {
	case err != nil:
		return err
	case cfg.Kind == open.Postgres:
		return fmt.Errorf("%w: backup copies an SQLite file; back up PostgreSQL with pg_dump or its continuous archiving (see docs/operations.md)", evstore.ErrUnsupported)
	case cfg.Kind != open.SQLite || cfg.Path == ":memory:":
		return fmt.Errorf("%w: backup copies an SQLite file; an in-memory store has none", evstore.ErrUnsupported)
	}
	src := cfg.Path
	opts := []sqlite.BackupOption{}
	if *force {
		opts = append(opts, sqlite.BackupOverwrite())
	}
	var bar *byteProgress
	if isTerminal(stderr) {
		bar = &byteProgress{w: stderr}
		opts = append(opts, sqlite.BackupProgress(200*time.Millisecond, bar.set))
	}
	start := time.Now()
	err = sqlite.Backup(ctx, src, *to, opts...)
	bar.done()
	if err != nil {
		return err
	}
	elapsed := time.Since(start)

	// Read the copy back, as a check that it opens, and to say what it holds.
	copied, err := sqlite.Open(ctx, *to, sqlite.ReadOnly())
	if err != nil {
		return fmt.Errorf("the copy at %s does not open: %w", *to, err)
	}
	defer copied.Close()
	all, err := copied.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	m, err := all.Metrics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s: %d events, newest sequence %d, %s in %s\n",
		src, *to, m.EventCount, m.Version, humanBytes(fileSize(*to)), elapsed.Round(time.Millisecond))
	return nil
}

// byteProgress draws a backup's progress on a terminal: the bytes of the
// copy written against the size it is expected to reach.
type byteProgress struct {
	w    io.Writer
	drew bool
}

func (p *byteProgress) set(written, total int64) {
	pct := int64(100)
	if total > 0 {
		pct = written * 100 / total
	}
	fmt.Fprintf(p.w, "\rcopying: %s of %s (%d%%)   ", humanBytes(written), humanBytes(total), pct)
	p.drew = true
}

// done ends the progress line, if one was drawn. p may be nil.
func (p *byteProgress) done() {
	if p != nil && p.drew {
		fmt.Fprintln(p.w)
	}
}
