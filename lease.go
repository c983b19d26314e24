package evstore

import (
	"context"
	"errors"
	"iter"
	"time"
)

// This file holds what a Backend implements so that consumers can run on
// it: checkpoints and leases, kept in the store's database.

// A ConsumerBackend is a Backend that keeps consumers' checkpoints and
// leases. Store.Consume, Store.Consumers and Store.ResetConsumer need one.
type ConsumerBackend interface {
	// AcquireLease tries, once, to make the caller the active instance of
	// the consumer key. It returns the Lease when it did, and nil, nil
	// when another instance holds the consumer: an unexpired lease on
	// key, or on any partition of key.Name with another key.Members (an
	// instance that splits the consumer differently, see Partition). Each
	// acquisition gets a generation above every earlier one of key, so
	// that a holder that lost its lease cannot save over its successor.
	AcquireLease(ctx context.Context, key ConsumerKey, ttl time.Duration) (Lease, error)

	// ListConsumers yields every consumer that has run (been leased or
	// reset), ordered by name (in byte order), then Members, then
	// Partition.
	ListConsumers(ctx context.Context) iter.Seq2[ConsumerInfo, error]

	// ResetConsumer sets the checkpoint of every partition of the consumer
	// name to position, creating the checkpoint of the consumer without
	// partitions if the name has none. While any of them is leased it
	// changes nothing and returns an error wrapping ErrConflict.
	ResetConsumer(ctx context.Context, name string, position int64) error
}

// A ConsumerKey names one consumer, or one partition of it.
type ConsumerKey struct {
	Name string
	// Partition and Members are those of Partition(m, n); both are 0 for a
	// consumer without partitions.
	Partition, Members int
}

// consumerCtx is the key of ConsumerOf's value in a ctx.
type consumerCtx struct{}

// withConsumer returns ctx carrying key, for ConsumerOf.
func withConsumer(ctx context.Context, key ConsumerKey) context.Context {
	return context.WithValue(ctx, consumerCtx{}, key)
}

// ConsumerOf returns the consumer key a ctx given to Handler.Handle or
// Positioner.Position belongs to: the name of the Consume call and its
// Partition. A Positioner that keeps one position for the whole store
// uses it to refuse running as one of several partitions (it would skip
// the events of the others), as readmodel does.
func ConsumerOf(ctx context.Context) (ConsumerKey, bool) {
	key, ok := ctx.Value(consumerCtx{}).(ConsumerKey)
	return key, ok
}

// A Lease is an instance's hold on a consumer, from AcquireLease. Its
// methods are called by one goroutine at a time.
type Lease interface {
	// Checkpoint returns the consumer's checkpoint when the lease was
	// taken: the Sequence of the last event processed, and whether the
	// consumer had one. A key that never had a checkpoint of its own
	// starts where InheritCheckpoint says, from the name's keys under
	// other Members.
	Checkpoint() (position int64, found bool)

	// Save moves the checkpoint to position and renews the lease; the
	// checkpoint's Updated time changes only if position did. external
	// records that a Positioner keeps the position and this is only what
	// it last reported. If the lease was lost (another instance acquired
	// the key since, the consumer was reset, or an instance with another
	// Members took the name), it saves nothing and returns ErrLeaseLost.
	Save(ctx context.Context, position int64, external bool) error

	// Renew extends the lease by its ttl, or returns ErrLeaseLost.
	Renew(ctx context.Context) error

	// Release gives the lease up, so that a standby can take over at once,
	// and frees what the lease holds (a connection, say). The checkpoint
	// stays. Release is called once, last, also after the lease was lost;
	// it then changes nothing in the database.
	Release(ctx context.Context) error
}

// ErrLeaseLost means that an instance's lease on a consumer passed to
// another instance (it had expired, or its database session ended).
var ErrLeaseLost = errors.New("evstore: consumer lease lost")

// A ConsumerInfo describes a consumer (or one partition of it), as
// Store.Consumers lists them.
type ConsumerInfo struct {
	Name string
	// Partition and Members are those of Partition(m, n); Members is 0 for
	// a consumer without partitions.
	Partition, Members int
	// Position is the Sequence of the last event processed.
	Position int64
	// Updated is when the position last moved, in UTC.
	Updated time.Time
	// External means a Positioner keeps the position; this is the one it
	// last reported.
	External bool
}

// A CheckpointRow is one consumer key of a name, as InheritCheckpoint
// weighs it.
type CheckpointRow struct {
	Partition, Members int
	Position           int64
	Found              bool      // the key has a checkpoint of its own
	Updated            time.Time // when its position last moved
}

// InheritCheckpoint returns where a key of a consumer name that has no
// checkpoint of its own starts, given the name's keys under other Members
// (other ways of splitting it): after the lowest checkpoint of the split
// whose every partition has a checkpoint and that moved most recently.
// found is false when no other split is complete, for then some of its
// events may never have been handled, and only a start from StartFrom
// skips nothing. Backends call it in AcquireLease.
func InheritCheckpoint(rows []CheckpointRow) (position int64, found bool) {
	type split struct {
		have    map[int]bool
		lowest  int64
		updated time.Time
		broken  bool
	}
	splits := map[int]*split{}
	for _, r := range rows {
		sp := splits[r.Members]
		if sp == nil {
			sp = &split{have: map[int]bool{}, lowest: r.Position}
			splits[r.Members] = sp
		}
		if !r.Found {
			sp.broken = true
			continue
		}
		sp.have[r.Partition] = true
		sp.lowest = min(sp.lowest, r.Position)
		if r.Updated.After(sp.updated) {
			sp.updated = r.Updated
		}
	}
	var best *split
	for members, sp := range splits {
		if sp.broken || len(sp.have) != max(members, 1) {
			continue
		}
		if best == nil || sp.updated.After(best.updated) || (sp.updated.Equal(best.updated) && sp.lowest < best.lowest) {
			best = sp
		}
	}
	if best == nil {
		return 0, false
	}
	return best.lowest, true
}
