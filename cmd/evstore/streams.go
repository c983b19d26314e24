package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

func runStreams(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("streams", "streams [flags]", "evstore --db events.db streams", stderr)
	sf := addStoreFlags(g, fs)
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := sf.open(ctx, readOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	enc := eventjson.NewEncoder(stdout)
	table := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(table, "STREAM\tVERSION\tEVENTS\tLAST WRITE")
		defer table.Flush()
	}
	for m, err := range store.Streams(ctx) {
		if err != nil {
			return err
		}
		if *asJSON {
			err = enc.Encode(map[string]any{"stream_id": m.StreamID, "version": m.Version, "event_count": m.EventCount, "last_timestamp": m.LastTimestamp})
		} else {
			_, err = fmt.Fprintf(table, "%s\t%d\t%d\t%s\n", m.StreamID, m.Version, m.EventCount, human(m.LastTimestamp))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
