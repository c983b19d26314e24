package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/go-event-sourcing/evstore"
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
	var infos []evstore.ConsumerInfo
	for c, err := range store.Consumers(ctx) {
		if err != nil {
			return err
		}
		infos = append(infos, c)
	}
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	newest := all.Version()
	lags, err := countLags(ctx, store, all, infos)
	if err != nil {
		return err
	}
	enc := newEncoder(stdout)
	table := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(table, "CONSUMER\tPARTITION\tPOSITION\tLAG\tUPDATED")
		defer table.Flush()
	}
	for i, c := range infos {
		lag := lags[i]
		if *asJSON {
			err = enc.Encode(map[string]any{
				"name": c.Name, "partition": c.Partition, "members": c.Members, "position": c.Position,
				"lag": lag.events, "lag_exact": lag.exact, "sequences_behind": max(newest-c.Position, 0),
				"updated": c.Updated, "external": c.External,
			})
		} else {
			part := "-"
			if c.Members > 0 {
				part = fmt.Sprintf("%d/%d", c.Partition, c.Members)
			}
			pos := strconv.FormatInt(c.Position, 10)
			if c.External {
				pos += " (its own)"
			}
			n := strconv.FormatInt(lag.events, 10)
			if !lag.exact {
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
var lagScanMax = 100_000

// A lag is how many events are left after a consumer's position: exact,
// or, when counting them would have read more than lagScanMax events, at
// least events.
type lag struct {
	events int64
	exact  bool
}

// countLags counts, for each consumer, the events after its position that
// its partition selects (all of them without partitions): what it has left
// to handle, but for those its ConsumeFilter drops, which the store does
// not record. Sequences are never reused, so the newest Sequence minus the
// position would count the events Delete and Truncate removed as well.
//
// The count reads the events after the lowest position once, at most
// lagScanMax of them; a consumer at 0 without partitions has the store's
// event count (Metrics), which costs no read.
func countLags(ctx context.Context, store *evstore.Store, all *evstore.Stream, infos []evstore.ConsumerInfo) ([]lag, error) {
	lags := make([]lag, len(infos))
	var scan []int // the consumers to count by reading
	from := int64(-1)
	for i, c := range infos {
		lags[i].exact = true
		switch {
		case c.Position == 0 && c.Members == 0:
			m, err := all.Metrics(ctx)
			if err != nil {
				return nil, err
			}
			lags[i].events = m.EventCount
		case c.Position < all.Version():
			scan = append(scan, i)
			if from < 0 || c.Position < from {
				from = c.Position
			}
		} // else at or past the newest event: 0
	}
	if len(scan) == 0 {
		return lags, nil
	}
	newest := all.Version()
	read, last := 0, int64(0)
	partition := map[int]int{} // of the event, by members
	for e, err := range all.Read(ctx, evstore.After(from), evstore.Limit(lagScanMax)) {
		if err != nil {
			return nil, err
		}
		read, last = read+1, e.Sequence
		clear(partition)
		for _, i := range scan {
			c := infos[i]
			if e.Sequence <= c.Position {
				continue
			}
			if c.Members > 0 {
				p, ok := partition[c.Members]
				if !ok {
					p = evstore.PartitionOf(e.StreamID, c.Members)
					partition[c.Members] = p
				}
				if p != c.Partition {
					continue
				}
			}
			lags[i].events++
		}
	}
	if read == lagScanMax && last < newest {
		for _, i := range scan {
			lags[i].exact = false
		}
	}
	return lags, nil
}

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
