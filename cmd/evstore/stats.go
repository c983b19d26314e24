package main

import (
	"context"
	"fmt"
	"io"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

func runStats(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", "stats [flags]", "evstore --db events.db stats --json", stderr)
	sf := addStoreFlags(g, fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, all, err := sf.stream(ctx, evstore.All, readOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	m, err := all.Metrics(ctx)
	if err != nil {
		return err
	}
	streams := 0
	for _, err := range store.Streams(ctx) {
		if err != nil {
			return err
		}
		streams++
	}
	var size int64 = -1
	if sf.dsn == "" {
		size = fileSize(sf.path())
	}
	if *asJSON {
		out := map[string]any{"streams": streams, "events": m.EventCount, "newest_sequence": m.Version, "last_timestamp": m.LastTimestamp}
		if size >= 0 {
			out["file_bytes"] = size
		}
		return eventjson.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "streams          %d\nevents           %d\nnewest sequence  %d\nlast write       %s\n", streams, m.EventCount, m.Version, human(m.LastTimestamp))
	if size >= 0 {
		fmt.Fprintf(stdout, "file size        %s\n", humanBytes(size))
	}
	return nil
}
