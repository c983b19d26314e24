package main

import (
	"context"
	"fmt"
	"io"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

func runSnapshot(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("snapshot", "snapshot STREAM|@all [flags]", "evstore snapshot order-1 --projection totals --raw", stderr)
	sf := addStoreFlags(g, fs)
	projection := fs.String("projection", evstore.DefaultProjection, "the projection")
	raw := fs.Bool("raw", false, "print the state itself")
	asJSON := fs.Bool("json", false, "print JSON")
	id, err := parseStream(fs, args)
	if err != nil {
		return err
	}
	store, st, err := sf.stream(ctx, id, readOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	snap, err := st.LoadSnapshot(ctx, *projection)
	if err != nil {
		return err
	}
	if snap == nil {
		return fmt.Errorf("%s has no snapshot for projection %q", id, *projection)
	}
	switch {
	case *raw:
		_, err = stdout.Write(snap.State)
		return err
	case *asJSON:
		return eventjson.NewEncoder(stdout).Encode(map[string]any{
			"stream_id": snap.StreamID, "projection": snap.Projection, "version": snap.Version,
			"timestamp": snap.Timestamp, "state_bytes": len(snap.State),
		})
	}
	fmt.Fprintf(stdout, "stream      %s\nprojection  %s\nversion     %d\ntime        %s\nsize        %s\n",
		snap.StreamID, snap.Projection, snap.Version, human(snap.Timestamp), humanBytes(int64(len(snap.State))))
	return nil
}
