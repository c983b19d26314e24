package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/consumerlist"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// runConsumers lists the consumers, or, as "consumers reset NAME --to N",
// moves one's checkpoint.
func runConsumers(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "reset" {
		return runConsumersReset(ctx, g, args[1:], stdout, stderr)
	}
	fs := newFlagSet("consumers", "consumers [flags]\n       evstore consumers reset NAME --to N [flags]", "evstore --db events.db consumers", stderr)
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
	consumers, err := consumerlist.List(ctx, store, lagScanMax)
	if err != nil {
		return err
	}
	enc := eventjson.NewEncoder(stdout)
	table := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(table, "CONSUMER\tPARTITION\tPOSITION\tLAG\tUPDATED")
		defer table.Flush()
	}
	for _, c := range consumers {
		if *asJSON {
			err = enc.Encode(c)
		} else {
			part := "-"
			if c.Members > 0 {
				part = fmt.Sprintf("%d/%d", c.Partition, c.Members)
			}
			pos := strconv.FormatInt(c.Position, 10)
			if c.External {
				pos += " (its own)"
			}
			n := strconv.FormatInt(c.Lag, 10)
			if !c.LagExact {
				n += "+"
			}
			_, err = fmt.Fprintf(table, "%s\t%s\t%s\t%s\t%s\n", c.Name, part, pos, n, human(c.Updated))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lagScanMax is the most events consumers reads to count the lags.
var lagScanMax = consumerlist.ScanMax

func runConsumersReset(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("consumers reset", "consumers reset NAME --to N [flags]", "evstore consumers reset balances --to 0", stderr)
	sf := addStoreFlags(g, fs)
	to := fs.Int64("to", -1, "the Sequence the consumer goes on after (0: from the beginning)")
	create := fs.Bool("create", false, "set where a consumer that has never run will start")
	positional, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 || *to < 0 {
		fmt.Fprintln(stderr, "give one consumer NAME and --to N (N >= 0)")
		fs.Usage()
		return errUsage
	}
	store, err := sf.open(ctx, readWrite)
	if err != nil {
		return err
	}
	defer store.Close()
	name := positional[0]
	if !*create {
		known := false
		for c, err := range store.Consumers(ctx) {
			if err != nil {
				return err
			}
			known = known || c.Name == name
		}
		if !known {
			return fmt.Errorf("no consumer %q has run on this store (give --create to set where a new one starts)", name)
		}
	}
	switch err := store.ResetConsumer(ctx, name, *to); {
	case errors.Is(err, evstore.ErrConflict):
		return fmt.Errorf("consumer %q is running: stop every instance of it, then reset it (%w)", name, err)
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "consumer %s goes on after sequence %d\n", name, *to)
	return nil
}
