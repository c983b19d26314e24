// Package consumerlist lists a store's consumers with their lag, as
// "evstore consumers" prints them and "evstore serve" returns them.
package consumerlist

import (
	"context"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// ScanMax is the most events List reads to count the lags, unless told
// otherwise.
const ScanMax = 100_000

// A Consumer is one consumer key (a name, or one partition of it), with
// its lag. Its JSON field names are fixed: scripts read them.
type Consumer struct {
	Name      string `json:"name"`
	Partition int    `json:"partition"`
	Members   int    `json:"members"` // 0 for a consumer without partitions
	Position  int64  `json:"position"`
	// Lag is how many events are left after Position in the consumer's
	// partition: exactly, or, when LagExact is false, at least.
	Lag      int64 `json:"lag"`
	LagExact bool  `json:"lag_exact"`
	// SequencesBehind is the newest Sequence minus Position (0 at or past
	// it): an upper bound on Lag that costs no read.
	SequencesBehind int64     `json:"sequences_behind"`
	Updated         time.Time `json:"updated"`  // when Position last moved
	External        bool      `json:"external"` // a Positioner keeps Position
}

// List returns every consumer of the store, in Store.Consumers' order,
// with its lag, reading at most scanMax events to count the lags.
func List(ctx context.Context, store *evstore.Store, scanMax int) ([]Consumer, error) {
	var infos []evstore.ConsumerInfo
	for c, err := range store.Consumers(ctx) {
		if err != nil {
			return nil, err
		}
		infos = append(infos, c)
	}
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return nil, err
	}
	newest := all.Version()
	lags, err := countLags(ctx, all, infos, scanMax)
	if err != nil {
		return nil, err
	}
	out := make([]Consumer, len(infos))
	for i, c := range infos {
		out[i] = Consumer{
			Name: c.Name, Partition: c.Partition, Members: c.Members, Position: c.Position,
			Lag: lags[i].events, LagExact: lags[i].exact, SequencesBehind: max(newest-c.Position, 0),
			Updated: c.Updated, External: c.External,
		}
	}
	return out, nil
}

// A lag is how many events are left after a consumer's position: exact,
// or, when counting them would have read more than scanMax events, at
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
// scanMax of them; a consumer at 0 without partitions has the store's
// event count (Metrics), which costs no read.
func countLags(ctx context.Context, all *evstore.Stream, infos []evstore.ConsumerInfo, scanMax int) ([]lag, error) {
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
	for e, err := range all.Read(ctx, evstore.After(from), evstore.Limit(scanMax)) {
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
	if read == scanMax && last < newest {
		for _, i := range scan {
			lags[i].exact = false
		}
	}
	return lags, nil
}
