package main

import (
	"bufio"
	"context"
	"io"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

func runExport(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", "export [flags] > events.jsonl", "evstore --db events.db export --after 1000 > events.jsonl", stderr)
	sf := addStoreFlags(g, fs)
	after := fs.Int64("after", 0, "only events after this Sequence")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, all, err := sf.stream(ctx, evstore.All, readOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	bar := newProgress(stderr, isTerminal(stderr), int(max(all.Version()-*after, 1)))
	defer bar.Done()
	w := bufio.NewWriter(stdout)
	enc := eventjson.NewEncoder(w)
	n := 0
	for e, err := range all.Read(ctx, evstore.After(*after)) {
		if err != nil {
			return err
		}
		if err := enc.Encode(eventjson.FromStored(e)); err != nil {
			return err
		}
		n++
		if n%1024 == 0 {
			bar.Set(n)
		}
	}
	bar.Set(max(n, 1))
	return w.Flush()
}
