package evstore

import (
	"context"
	"fmt"
	"strings"
)

// This file holds deleting data: a stream's events removed for good, with
// a tombstone that keeps its numbering, and the events before a version
// removed (retention).

// Deleted is the Type of the tombstone that Stream.Delete appends: an
// event with no key, no metadata and empty data that tells readers,
// watchers and consumers that the stream's events before it were
// removed (read models erase what they copied of them when they see it).
// Types that begin with '$' are evstore's: Write refuses them.
const Deleted = "$deleted"

// A Deleter is a Backend that can remove events. Stream.Delete and
// Stream.Truncate need one; Store returns ErrUnsupported without.
type Deleter interface {
	// DeleteStream removes every event of streamID, its snapshots and its
	// idempotency keys, and appends the tombstone (Type Deleted, no key,
	// no metadata, empty data), all in one transaction, as PlanDelete
	// says, which it calls inside the transaction with the stream's
	// version and whether its only event is a tombstone. The tombstone
	// takes a new Sequence, above every one handed out before, also those
	// of the events removed. The report has the stream's version after
	// the call (the tombstone's), Appended 1 and First and Last the
	// tombstone's Sequence; Appended 0 when PlanDelete says there is
	// nothing to do.
	DeleteStream(ctx context.Context, streamID string, expect Expectation) (WriteReport, error)

	// TruncateStream removes the events of streamID with a Version below
	// before, and their keys, and keeps its snapshots. Inside its
	// transaction it refuses, with an error wrapping ErrInvalidArgument,
	// a before outside 1 to the stream's version. It returns how many
	// events it removed.
	TruncateStream(ctx context.Context, streamID string, before int64) (int64, error)
}

// An Eraser is a Backend that can make what was removed unrecoverable
// from its own files: Store.Erase needs one.
type Eraser interface {
	Erase(ctx context.Context) error
}

// PlanDelete is the rule of Stream.Delete, which every Deleter follows:
// given the stream's version head and whether its only event is a
// tombstone, it returns the tombstone's version, or noop when nothing is
// to be done (and then the version the call returns), or the
// *ConflictError of expect.
//
// A stream with no events is left as it is: version 0, or a conflict if
// expect wants it to exist. A stream whose only event is its tombstone is
// left as it is, whatever expect says: Delete is idempotent, and a retry
// of one that went through succeeds. Otherwise expect is checked against
// head, as Write checks it, and the tombstone goes at head + 1.
func PlanDelete(streamID string, expect Expectation, head int64, onlyTombstone bool) (version int64, noop bool, err error) {
	switch {
	case head > 0 && onlyTombstone:
		return head, true, nil
	case head == 0:
		if err := expect.Check(streamID, 0); err != nil {
			return 0, true, err
		}
		return 0, true, nil
	}
	if err := expect.Check(streamID, head); err != nil {
		return 0, false, err
	}
	return head + 1, false, nil
}

// Delete removes every event of the stream, its snapshots and its
// idempotency keys, and in the same transaction appends one tombstone, an
// event of Type Deleted, at the old version + 1, whose version it
// returns. ExpectVersion and ExpectExists are checked as Write checks
// them. A stream with no events is left as it is (0, or a conflict with
// ExpectExists); a stream whose only event is its tombstone is left as it
// is and its version returned, whatever the expectation: Delete is
// idempotent.
//
// The tombstone keeps the numbering: a Write after Delete continues after
// it, so no (stream, version) pair is ever seen twice, and it takes a new
// Sequence. It reaches Read, Watch and consumers like any event, in
// order: read models erase the stream's rows when they see it. Once
// Delete returns, no Read or Watch started after it yields a removed
// event, and this Store's watchers get none from its ring of recent
// batches; a page a Read or a consumer had already fetched, or a batch a
// watcher had already taken, may still hold some. Other Stores on the
// database stop delivering them within their poll interval. Deleting All
// is ErrReadOnly; a backend without the capability, ErrUnsupported.
func (s *Stream) Delete(ctx context.Context, opts ...WriteOption) (int64, error) {
	cfg := newWriteConfig(opts)
	if cfg.report != nil {
		*cfg.report = WriteReport{}
	}
	d, err := s.deleter("delete")
	if err != nil {
		return 0, err
	}
	if cfg.expect.kind == expectExact && cfg.expect.version < 0 {
		return 0, fmt.Errorf("%w: ExpectVersion(%d) is negative", ErrInvalidArgument, cfg.expect.version)
	}
	r, err := traced(s.store, ctx, Trace{Op: TraceDelete, StreamID: s.id}, func(ctx context.Context) (WriteReport, error) {
		return d.DeleteStream(ctx, s.id, cfg.expect)
	}, endWrite)
	if err != nil {
		return 0, err
	}
	if r.Appended > 0 {
		s.store.notifier.purge(s.id, r.Version)
		s.store.notifier.kick(r.Last)
	}
	s.saw(r.Version)
	if cfg.report != nil {
		*cfg.report = r
	}
	return r.Version, nil
}

// Truncate removes the stream's events with a Version below before, and
// their idempotency keys, and keeps its snapshots: keep the snapshot,
// drop what it folds. Versions do not change. before must be 1 to the
// stream's version (the newest event always stays), else the error wraps
// ErrInvalidArgument. A truncated event's key is forgotten: a retried old
// Write appends again.
//
// Truncate is retention, not erasure: this Store's ring of recent batches
// loses the events, but other Stores on the database may still deliver a
// truncated event they had buffered. Truncating All is ErrReadOnly.
func (s *Stream) Truncate(ctx context.Context, before int64) error {
	d, err := s.deleter("truncate")
	if err != nil {
		return err
	}
	if before < 1 {
		return fmt.Errorf("%w: Truncate(%d): want 1 <= before <= the stream's version", ErrInvalidArgument, before)
	}
	if _, err := traced(s.store, ctx, Trace{Op: TraceTruncate, StreamID: s.id}, func(ctx context.Context) (int64, error) {
		return d.TruncateStream(ctx, s.id, before)
	}, func(t *Trace, n int64) { t.Events = int(n) }); err != nil {
		return err
	}
	s.store.notifier.purge(s.id, before)
	return nil
}

// deleter returns the Backend as a Deleter for the stream, or the error
// that refuses what.
func (s *Stream) deleter(what string) (Deleter, error) {
	if s.id == All {
		return nil, fmt.Errorf("%w: cannot %s %s", ErrReadOnly, what, All)
	}
	d, ok := s.store.b.(Deleter)
	if !ok {
		return nil, fmt.Errorf("%w: deleting events", ErrUnsupported)
	}
	return d, nil
}

// Erase makes what Delete and Truncate removed unrecoverable from the
// database's own files. What that takes, and what it cannot reach
// (backups, replicas, free space), depends on the backend: see its
// package's documentation. A backend without the capability returns
// ErrUnsupported.
func (s *Store) Erase(ctx context.Context) error {
	e, ok := s.b.(Eraser)
	if !ok {
		return fmt.Errorf("%w: erasing removed data", ErrUnsupported)
	}
	_, err := traced(s, ctx, Trace{Op: TraceErase}, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, e.Erase(ctx)
	}, nil)
	return err
}

// reserved reports whether an event type is evstore's own.
func reserved(typ string) bool { return strings.HasPrefix(typ, "$") }
