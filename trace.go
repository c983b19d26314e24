package evstore

import (
	"context"
	"errors"
	"time"
)

// This file holds the hook through which a Store tells telemetry what it
// does: the otelevstore package turns it into OpenTelemetry spans and
// metrics, and the root package keeps importing only the standard library.

// A Tracer observes a Store's operations, as pgx's QueryTracer observes a
// connection's queries. Give one at Open (sqlite.WithTracer,
// postgres.WithTracer, memory.WithTracer, open.WithTracer); without one
// the Store traces nothing and pays one nil check an operation.
//
// TraceStart is called when an operation starts, and returns the context
// the operation goes on with (a span's, say); TraceEnd is called with that
// context when it ends, with the same Trace and its outcome filled in.
// Both are called on the operation's goroutine, from many goroutines at
// once, and must not block: they run on the paths of Write and Read.
type Tracer interface {
	TraceStart(ctx context.Context, t Trace) context.Context
	TraceEnd(ctx context.Context, t Trace)
}

// A TracingBackend is a Backend given a Tracer at Open. Its Store traces
// Write, Read (one Backend.Read: a page), Delete, Truncate, Erase,
// consumer batches and watchers; the Backend traces its own work (a group
// commit, say).
type TracingBackend interface {
	Backend
	// Tracer returns the Tracer given at Open; nil for none.
	Tracer() Tracer
	// System names the database, as OpenTelemetry's db.system.name does:
	// "sqlite", "postgresql", or "memory".
	System() string
}

// A TraceOp names what a traced operation does.
type TraceOp string

// The operations a Store and its Backends trace.
const (
	TraceWrite    TraceOp = "write"    // Stream.Write
	TraceCommit   TraceOp = "commit"   // one transaction of a group commit (traced by the Backend)
	TraceRead     TraceOp = "read"     // one Backend.Read: a page of Read, Watch or a consumer
	TraceDelete   TraceOp = "delete"   // Stream.Delete
	TraceTruncate TraceOp = "truncate" // Stream.Truncate
	TraceErase    TraceOp = "erase"    // Store.Erase
	TraceConsume  TraceOp = "consume"  // one batch of a consumer: Handle and what it does
	TraceWatch    TraceOp = "watch"    // a watcher's life: from its start to its end
)

// Outcomes of a traced write, in Trace.Outcome.
const (
	OutcomeAppended  = "appended"  // the write appended events
	OutcomeDuplicate = "duplicate" // every event was there already (a retry): nothing appended
	OutcomeConflict  = "conflict"  // the expected version did not hold (ErrConflict)
	OutcomeError     = "error"     // any other error
)

// A Trace describes one traced operation. TraceStart sees the fields
// marked "at start"; TraceEnd sees them all.
type Trace struct {
	Op       TraceOp   // at start
	System   string    // at start: the Backend's System
	Start    time.Time // at start: when the operation started
	StreamID string    // at start: the stream, All for @all ("" for Erase, a commit or a consumer batch)

	// Events, at start: the events given (a write, a commit group, a
	// consumer batch). At end: the events appended, read, or handled.
	Events int
	// Writes, at start of a commit: the writes of the group; of a write
	// through Store.Append: its streams (StreamID is then "").
	Writes int

	Consumer  string // at start of a consumer batch: its name
	Partition int    // and partition
	Members   int    // and how many partitions its group has

	Err     error  // at end: the operation's error, nil on success
	Outcome string // at end of a write, delete or commit: one of the Outcome constants
	// Version, at end of a write or delete: the stream's version after
	// it. At end of a consumer batch: the consumer's position after it.
	Version int64
	// Lag, at end of a consumer batch: how far the newest Sequence the
	// Store knows of is ahead of the consumer's position.
	Lag int64
}

// tracerOf returns b's Tracer and System, or nil.
func tracerOf(b Backend) (Tracer, string) {
	if tb, ok := b.(TracingBackend); ok {
		if t := tb.Tracer(); t != nil {
			return t, tb.System()
		}
	}
	return nil, ""
}

// outcome classifies the end of a write.
func outcome(r WriteReport, err error) string {
	switch {
	case err == nil && r.Appended > 0:
		return OutcomeAppended
	case err == nil:
		return OutcomeDuplicate
	case errors.Is(err, ErrConflict):
		return OutcomeConflict
	}
	return OutcomeError
}

// traced runs f, a call into the Backend (between enter and leave), and
// between the Tracer's start and end when the Store has one; end fills in
// the outcome. f and end are only called, never kept, so that the
// closures a caller passes stay on its stack: without a Tracer a traced
// call allocates nothing more than an untraced one.
func traced[T any](s *Store, ctx context.Context, t Trace, f func(context.Context) (T, error), end func(*Trace, T)) (T, error) {
	if err := s.enter(); err != nil {
		var zero T
		return zero, err
	}
	defer s.leave()
	if s.tracer == nil {
		return f(ctx)
	}
	// tr, not t, goes to end by address: declared here, only a traced
	// call pays its allocation.
	tr := t
	tr.System, tr.Start = s.system, time.Now()
	ctx = s.tracer.TraceStart(ctx, tr)
	v, err := f(ctx)
	tr.Err = err
	if end != nil {
		end(&tr, v)
	}
	s.tracer.TraceEnd(ctx, tr)
	return v, err
}

// endWrite fills in the end of a write's or a delete's Trace.
func endWrite(t *Trace, r WriteReport) {
	t.Outcome = outcome(r, t.Err)
	t.Events = r.Appended
	t.Version = r.Version
}

// batch hands a batch of events to the consumer's Handler, traced when
// the Store has a Tracer; to is the position the batch takes it to.
func (c *consumer) batch(ctx context.Context, events []StoredEvent, to int64) error {
	t := c.s.tracer
	if t == nil {
		return c.handle(ctx, events)
	}
	tr := Trace{Op: TraceConsume, System: c.s.system, Start: time.Now(), Events: len(events), Consumer: c.key.Name, Partition: c.key.Partition, Members: c.key.Members}
	ctx = t.TraceStart(ctx, tr)
	tr.Err = c.handle(ctx, events)
	if tr.Err == nil {
		tr.Version = to
		head, _ := c.s.notifier.published()
		tr.Lag = max(head-to, 0)
	}
	t.TraceEnd(ctx, tr)
	return tr.Err
}
