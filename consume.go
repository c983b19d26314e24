package evstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"time"
)

// A Handler processes the events of a consumer (see Store.Consume).
type Handler interface {
	// Handle processes events: at least one, in Sequence order. When it
	// returns nil they count as processed. An error makes Consume retry the
	// same events later, from the first: it never moves past them.
	Handle(ctx context.Context, events []StoredEvent) error
}

// HandlerFunc turns a function into a Handler.
type HandlerFunc func(ctx context.Context, events []StoredEvent) error

// Handle calls f(ctx, events).
func (f HandlerFunc) Handle(ctx context.Context, events []StoredEvent) error { return f(ctx, events) }

// A Positioner is a Handler that keeps its own position (the Sequence of the
// last event it processed; 0 for none), normally in the same transaction as
// its changes, which makes processing exactly-once. Consume starts it after
// Position, asks again after a failed Handle, and keeps no checkpoint for it
// (Store.Consumers lists the position it last reached, as External).
type Positioner interface {
	Handler
	Position(ctx context.Context) (int64, error)
}

// ErrHandlerPanic means that a Handler panicked. Consume recovers the
// panic, returns an error wrapping ErrHandlerPanic with the panic's value
// and stack, and keeps the checkpoint before the batch: a panic is a bug,
// which retrying would only repeat.
var ErrHandlerPanic = errors.New("evstore: consumer handler panicked")

// A ConsumeOption configures Store.Consume.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	filter             Filter
	batch              int
	member, members    int
	partitioned        bool // Partition was given
	start              int64
	lease              time.Duration
	retryMin, retryMax time.Duration
	attempts           int
}

const (
	// DefaultBatchSize is the most events one Handle gets by default.
	DefaultBatchSize = 256
	// DefaultLeaseTime is how long a consumer's lease lasts unless renewed:
	// how soon a standby takes over from an instance that died.
	DefaultLeaseTime = 5 * time.Second
	// MaxPartitions is the most members Partition accepts: 65,536.
	MaxPartitions = 1 << 16
	// maxBatchSize bounds BatchSize.
	maxBatchSize = 100_000
	// standbyPoll is how often a standby tries to take a lease held by
	// another process; releases within the process wake standbys at once.
	standbyPoll = 100 * time.Millisecond
	// filteredSaveInterval bounds how often a consumer saves a checkpoint
	// that only moved past events its filter or partition dropped.
	filteredSaveInterval = time.Second
)

// ConsumeFilter makes only the events that match f reach the Handler. The
// checkpoint still moves past the others (at the latest once the consumer
// has caught up), so that a restart does not scan them again.
func ConsumeFilter(f Filter) ConsumeOption {
	return func(c *consumeConfig) { c.filter = append(c.filter, f...) }
}

// BatchSize sets the most events one Handle gets: 1 to 100,000; default
// DefaultBatchSize.
func BatchSize(n int) ConsumeOption { return func(c *consumeConfig) { c.batch = n } }

// Partition makes this instance member m of n (0 <= m < n, n at most
// MaxPartitions) of the consumer: it gets only the events whose stream
// PartitionOf assigns to m, so that n instances share the work, each
// stream's events in order. Each partition has its own checkpoint and
// lease.
//
// Changing n: instances with another n of the same name wait until every
// instance of the old n has stopped (their leases exclude each other), and
// a partition of the new n with no checkpoint of its own starts after the
// lowest checkpoint of the old split (InheritCheckpoint), so no event is
// skipped; events between that and each old partition's checkpoint are
// delivered again. If a partition of the old split never saved a
// checkpoint, the new one starts from StartFrom. Going back to a split
// that ran before (n, then n', then n again) resumes the old split's
// partitions from their own checkpoints: what the other split handled
// since is delivered again, and nothing is skipped.
func Partition(member, members int) ConsumeOption {
	return func(c *consumeConfig) { c.member, c.members, c.partitioned = member, members, true }
}

// StartFrom sets where a consumer with no checkpoint starts: after
// Sequence position (default 0, the beginning). A Positioner starts from
// its own Position instead.
func StartFrom(position int64) ConsumeOption { return func(c *consumeConfig) { c.start = position } }

// LeaseTime sets how long an instance's lease lasts without renewal
// (default DefaultLeaseTime, at least 100ms): after the active instance
// dies, a standby takes over within it. The active instance renews it a
// quarter of that after its last renewal (a checkpoint's save renews it
// too), and soon again when that fails. It trusts its lease for three
// quarters of the lease time after the last successful renewal began,
// measured on the monotonic clock: past that (the database does not answer, or the
// process was stopped), the ctx of a Handle in progress ends, no further
// Handle starts, and the instance stands by again. That is a quarter of
// the lease time (1.25s by default) before any other instance can take
// over, whatever the backend. So a lease time must be well above the
// longest a write waits on the database under load: on an SQLite file
// that 8 writers keep busy with megabyte transactions, LeaseTime(100ms)
// loses its trust again and again and handles little, while 1s runs
// steadily.
//
// On SQLite a lease expires at a wall-clock time written in the file, and
// instances compare it with their own clocks: a clock stepped forward
// (by more than that quarter) lets a standby take over while the holder
// still trusts its lease, and one stepped back keeps standbys waiting for
// longer. Run NTP in slewing mode, as is usual, on machines that share a
// file. PostgreSQL's leases are database sessions, and a standby that
// takes over from a session that ended uncleanly waits out the old
// holder's lease by the server's one clock: only a step of that clock (a
// promoted replica's, say) matters there.
func LeaseTime(d time.Duration) ConsumeOption { return func(c *consumeConfig) { c.lease = d } }

// ConsumeRetry sets the policy for a Handle that fails: it is retried,
// with the same events, after a wait that starts at initial and doubles
// up to max, each wait jittered to between half and all of it. A failed
// Position of a Positioner is retried the same way. After attempts
// failures in a row Consume returns the last error; 0 retries forever. A
// failed read of the store, or of its consumer table, waits the same
// backoff but is retried forever, whatever attempts says (see Consume). The default is ConsumeRetry(100*time.Millisecond, 30*time.Second, 0).
func ConsumeRetry(initial, max time.Duration, attempts int) ConsumeOption {
	return func(c *consumeConfig) { c.retryMin, c.retryMax, c.attempts = initial, max, attempts }
}

func newConsumeConfig(opts []ConsumeOption) (consumeConfig, error) {
	c := consumeConfig{
		batch: DefaultBatchSize, lease: DefaultLeaseTime,
		retryMin: 100 * time.Millisecond, retryMax: 30 * time.Second,
	}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.batch < 1 || c.batch > maxBatchSize:
		return c, fmt.Errorf("%w: BatchSize(%d) is not between 1 and %d", ErrInvalidArgument, c.batch, maxBatchSize)
	case c.partitioned && (c.members < 1 || c.members > MaxPartitions || c.member < 0 || c.member >= c.members):
		return c, fmt.Errorf("%w: Partition(%d, %d): want 0 <= m < n <= %d", ErrInvalidArgument, c.member, c.members, MaxPartitions)
	case c.start < 0:
		return c, fmt.Errorf("%w: StartFrom(%d) is negative", ErrInvalidArgument, c.start)
	case c.lease < 100*time.Millisecond:
		return c, fmt.Errorf("%w: LeaseTime(%v) is below 100ms", ErrInvalidArgument, c.lease)
	case c.retryMin <= 0 || c.retryMax < c.retryMin || c.attempts < 0:
		return c, fmt.Errorf("%w: ConsumeRetry(%v, %v, %d): want 0 < initial <= max and attempts >= 0", ErrInvalidArgument, c.retryMin, c.retryMax, c.attempts)
	}
	if err := c.filter.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// PartitionOf returns the partition, of members, that a stream belongs to:
// the 32-bit FNV-1a hash of the stream id's UTF-8 bytes, modulo members.
// Programs in other languages compute the same to split work alike.
// members must be 1 to math.MaxUint32 (Partition takes at most
// MaxPartitions); PartitionOf panics otherwise.
func PartitionOf(streamID string, members int) int {
	if members < 1 || uint64(members) > math.MaxUint32 {
		panic(fmt.Sprintf("evstore: PartitionOf(%q, %d): members not between 1 and %d", streamID, members, uint64(math.MaxUint32)))
	}
	h := fnv.New32a()
	h.Write([]byte(streamID))
	return int(h.Sum32() % uint32(members))
}

// checkConsumerName refuses a name no backend can store alike.
func checkConsumerName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty consumer name", ErrInvalidArgument)
	case len(name) > 255:
		return fmt.Errorf("%w: consumer name of %d bytes, over the limit of 255", ErrInvalidArgument, len(name))
	case !text(name):
		return fmt.Errorf("%w: consumer name %q is not UTF-8 text without NUL bytes", ErrInvalidArgument, name)
	}
	return nil
}

// consumers returns the Backend as a ConsumerBackend, or ErrUnsupported.
func (s *Store) consumerBackend() (ConsumerBackend, error) {
	cb, ok := s.b.(ConsumerBackend)
	if !ok {
		return nil, fmt.Errorf("%w: consumers (checkpoints and leases)", ErrUnsupported)
	}
	return cb, nil
}

// Consume runs the consumer name: it hands every event of All (that
// ConsumeFilter and Partition select) to h, once and in Sequence order, in
// batches of at most BatchSize, reading from the database until it has
// caught up and then following new commits as Watch does.
//
// Unless h is a Positioner, the Store keeps the consumer's checkpoint, saved
// after each successful Handle: a crash between the two delivers that one
// batch again (at-least-once). A failed Handle is retried as ConsumeRetry
// says, never skipped; a panicking one makes Consume return an error
// wrapping ErrHandlerPanic.
//
// At most one Consume of a name (and partition) is active at a time across
// every Store, process and server on the database: the others wait as
// standbys, and one takes over when the active one stops (at once) or dies
// (within LeaseTime; on PostgreSQL, when its session ends). An instance
// that loses its lease (it was paused for longer than LeaseTime, say)
// stops handling, cancels the ctx of a Handle in progress, saves nothing
// over its successor's checkpoint, and becomes a standby.
//
// Consume returns nil when ctx ends, ErrClosed when the Store closes (Close
// ends the consumer's calls into the database, also ones that wait on a
// database cut off, and waits for it to stop, so a Handler must not call
// Close), and the Handler's error when it keeps failing beyond the retry
// policy. A Handle or Position error that wraps ErrInvalidArgument (a
// misconfigured handler, which retrying cannot mend), a panic
// (ErrHandlerPanic) and a Positioner's position below 0 end Consume at
// once.
//
// The database failing is not the handler failing: a database that is
// busy, locked, restarting, out of reach or shutting down is waited for,
// with ConsumeRetry's backoff and without its limit of attempts, for as
// long as it takes; the active instance may lose its lease meanwhile and
// stand by. Only errors that trying again cannot mend end Consume: those
// wrapping ErrUnsupported, ErrInvalidArgument, ErrInvalidFilter,
// ErrReadOnly or ErrCorrupt.
//
// A bad name or option returns ErrInvalidArgument, and so does
// StartFrom beyond the newest Sequence when the consumer has no
// checkpoint; a Backend without consumer support, ErrUnsupported. Once an
// instance is active, where it starts is saved as its checkpoint at once,
// so that a restart goes on from there even if nothing was handled.
func (s *Store) Consume(ctx context.Context, name string, h Handler, opts ...ConsumeOption) error {
	if err := checkConsumerName(name); err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("%w: nil Handler", ErrInvalidArgument)
	}
	cfg, err := newConsumeConfig(opts)
	if err != nil {
		return err
	}
	cb, err := s.consumerBackend()
	if err != nil {
		return err
	}
	if err := s.startConsumer(); err != nil {
		return err
	}
	defer s.stopConsumer()
	// Close ends every call of the consumer into the database, also one
	// that waits on a database cut off by a partition.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.life, cancel)()
	c := &consumer{s: s, cb: cb, h: h, cfg: cfg, key: ConsumerKey{Name: name, Partition: cfg.member, Members: cfg.members}}
	c.positioner, _ = h.(Positioner)
	return c.run(ctx)
}

// Consumers yields every consumer that has run on the store's database,
// each partition on its own, ordered by name (byte order), then members,
// then partition. An error ends the sequence as its last pair.
func (s *Store) Consumers(ctx context.Context) iter.Seq2[ConsumerInfo, error] {
	return func(yield func(ConsumerInfo, error) bool) {
		cb, err := s.consumerBackend()
		if err != nil {
			yield(ConsumerInfo{}, err)
			return
		}
		if err := s.enter(); err != nil {
			yield(ConsumerInfo{}, err)
			return
		}
		defer s.leave()
		for info, err := range cb.ListConsumers(ctx) {
			if !yield(info, err) || err != nil {
				return
			}
		}
	}
}

// ResetConsumer moves the checkpoint of every partition of the consumer
// name to position, so that it goes on after that Sequence: 0 replays
// everything. A position beyond the newest Sequence is refused with
// ErrInvalidArgument (the consumer would skip the events written up to
// it). While an instance of the consumer is active it changes nothing and
// returns an error wrapping ErrConflict: stop the consumer first. A
// consumer whose Handler is a Positioner keeps its own position, which
// this cannot change: ResetConsumer refuses it with ErrInvalidArgument (a
// Positioner's consumer is known as one from the moment it first became
// active).
func (s *Store) ResetConsumer(ctx context.Context, name string, position int64) error {
	if err := checkConsumerName(name); err != nil {
		return err
	}
	if position < 0 {
		return fmt.Errorf("%w: position %d is negative", ErrInvalidArgument, position)
	}
	cb, err := s.consumerBackend()
	if err != nil {
		return err
	}
	head, err := s.head(ctx, All)
	if err != nil {
		return err
	}
	if position > head {
		return fmt.Errorf("%w: reset consumer %q to %d, beyond the newest Sequence, %d", ErrInvalidArgument, name, position, head)
	}
	for info, err := range s.Consumers(ctx) {
		if err != nil {
			return err
		}
		if info.Name == name && info.External {
			return fmt.Errorf("%w: consumer %q keeps its own position (a Positioner): reset it where it keeps it (a readmodel.Projector: Rebuild)", ErrInvalidArgument, name)
		}
	}
	_, err = call(s, func() (struct{}, error) { return struct{}{}, cb.ResetConsumer(ctx, name, position) })
	return err
}
