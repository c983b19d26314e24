package main

import (
	"context"
	"fmt"
	"io"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
	"github.com/go-event-sourcing/evstore/internal/filtertext"
)

func runRead(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("read", "read STREAM|@all [flags]", "evstore read order-1 --after 3 --filter metadata.region=EMEA --filter tag=vip", stderr)
	sf := addStoreFlags(g, fs)
	after := fs.Int64("after", 0, "only events after this version (on @all: Sequence)")
	limit := fs.Int("limit", 0, "at most this many events (0: all)")
	backwards := fs.Bool("backwards", false, "newest first")
	typ := fs.String("type", "", "only events of this type")
	asJSON := fs.Bool("json", false, "print JSON lines")
	var filters filterFlags
	fs.Var(&filters, "filter", filtertext.Help)
	id, err := parseStream(fs, args)
	if err != nil {
		return err
	}
	if *limit < 0 || *after < 0 {
		return fmt.Errorf("--limit and --after must not be negative")
	}
	filter, err := filters.build(*typ)
	if err != nil {
		return err
	}
	opts := []evstore.ReadOption{evstore.After(*after), evstore.WithFilter(filter)}
	if *limit > 0 {
		opts = append(opts, evstore.Limit(*limit))
	}
	if *backwards {
		opts = append(opts, evstore.Backwards())
	}
	store, st, err := sf.stream(ctx, id, readOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	return printEvents(stdout, *asJSON, st.Read(ctx, opts...))
}

// printEvents prints a sequence of events as a table or as JSON lines.
// A sequence that fails before its first event prints nothing, not even
// the table's header.
func printEvents(out io.Writer, asJSON bool, events func(func(evstore.StoredEvent, error) bool)) error {
	enc := eventjson.NewEncoder(out)
	var table *eventTable
	if !asJSON {
		table = newEventTable(out) // buffered until flush
	}
	n := 0
	for e, err := range events {
		if err != nil {
			if n > 0 && table != nil {
				table.flush()
			}
			return err
		}
		n++
		if asJSON {
			if err := enc.Encode(eventjson.FromStored(e)); err != nil {
				return err
			}
		} else {
			table.add(e)
		}
	}
	if table != nil {
		table.flush()
	}
	return nil
}
