package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
	"github.com/go-event-sourcing/evstore/internal/filtertext"
)

func runTail(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tail", "tail STREAM|@all [flags]", "evstore tail @all --after 0", stderr)
	sf := addStoreFlags(g, fs)
	after := fs.Int64("after", -1, "replay the events after this version (on @all: Sequence) first; default: only new events")
	typ := fs.String("type", "", "only events of this type")
	asJSON := fs.Bool("json", false, "print JSON lines")
	var filters filterFlags
	fs.Var(&filters, "filter", filtertext.Help)
	id, err := parseStream(fs, args)
	if err != nil {
		return err
	}
	filter, err := filters.build(*typ)
	if err != nil {
		return err
	}
	opts := []evstore.ReadOption{evstore.WithFilter(filter)}
	if *after >= 0 {
		opts = append(opts, evstore.After(*after))
	}
	store, st, err := sf.stream(ctx, id, readOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	enc := eventjson.NewEncoder(stdout)
	// One line per event, written at once: no table, so nothing waits.
	for e, err := range st.Watch(ctx, opts...) {
		if err != nil {
			return err
		}
		if *asJSON {
			err = enc.Encode(eventjson.FromStored(e))
		} else {
			tags := ""
			if len(e.Tags) > 0 {
				tags = "[" + strings.Join(e.Tags, ",") + "]  "
			}
			_, err = fmt.Fprintf(stdout, "%d  %s  v%d  %s  %s  %s%s\n", e.Sequence, e.StreamID, e.Version, human(e.Timestamp), e.Type, tags, preview(e.Data))
		}
		if err != nil {
			return err
		}
	}
	return nil // interrupted: ctx ended
}
