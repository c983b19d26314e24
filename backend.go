package evstore

import "context"

// A Backend stores events for a Store. It is the only seam between evstore's
// core and a database: the core validates input, pages reads, runs the
// notifier and serves watchers; a Backend does the I/O. The sqlite,
// postgres and memory packages implement it, and storetest.Run checks that
// an implementation behaves as evstore promises.
//
// Capabilities beyond these methods (listing streams, looking up keys, ...)
// are optional interfaces, such as StreamLister and KeyLookup, that the
// Store finds by type assertion; it returns ErrUnsupported when a Backend
// lacks one.
//
// The Store calls a Backend from many goroutines at once. Arguments have been
// validated: stream ids are valid, filters pass Validate, limits are positive.
type Backend interface {
	// Append writes req's events to the end of req.StreamID, atomically,
	// following the append rule of PlanAppend, which it calls inside its
	// transaction with the stream's version read there (never a cached
	// value that another writer may have moved) and returns the
	// *ConflictError it gives. The report tells the stream's version after
	// the write, how many events were appended, and the Sequences of the
	// first and last of them (zero when none). Once Append returns, every
	// event up to report.Last is visible to readers.
	Append(ctx context.Context, req AppendRequest) (WriteReport, error)

	// Read appends to dst the events q selects, at most q.Limit of them, in
	// the order q asks for, and returns the extended slice.
	Read(ctx context.Context, q Query, dst []StoredEvent) ([]StoredEvent, error)

	// Head returns the current version of streamID (0 when it has no
	// events). For All it returns the newest Sequence that readers may rely
	// on: every event up to it is committed, and no event with a lower
	// Sequence can appear later.
	Head(ctx context.Context, streamID string) (int64, error)

	// Metrics describes streamID, or the whole store for All.
	Metrics(ctx context.Context, streamID string) (Metrics, error)

	// SaveSnapshot stores snap, replacing the one with the same stream and
	// projection. snap.Timestamp is set by the Store. Inside its
	// transaction it refuses, with an error wrapping ErrInvalidArgument, a
	// snap.Version above the stream's version (on All: the newest
	// Sequence): such a snapshot would hide the events written after it.
	SaveSnapshot(ctx context.Context, snap Snapshot) error

	// LoadSnapshot returns the snapshot of streamID for projection, or
	// nil, nil when there is none.
	LoadSnapshot(ctx context.Context, streamID, projection string) (*Snapshot, error)

	// Changes returns a channel that receives a value, coalesced, whenever
	// events may have been committed by anything other than this Store
	// (another process, another Store on the same database). The Store
	// calls it once, when its first watcher starts, and cancels ctx when it
	// closes; the Backend stops whatever serves the channel by then, or at
	// the latest in Close.
	Changes(ctx context.Context) <-chan struct{}

	// Close releases the Backend's resources. The Store calls it once,
	// after every other call has returned.
	Close() error
}

// A KeyLookup is a Backend that can find an event by its idempotency key.
// Stream.Lookup needs one.
type KeyLookup interface {
	// LookupKey returns the version of the event of streamID whose
	// idempotency key is key, found through the (stream, key) index, or
	// found == false when the stream has no such event.
	LookupKey(ctx context.Context, streamID, key string) (version int64, found bool, err error)
}

// An AppendRequest is a validated Write, as a Backend receives it.
type AppendRequest struct {
	// StreamID is the stream to append to; never All.
	StreamID string
	// Events are the events to append, at least one. Their IDs are unique
	// within the request (the Store drops repeats, first wins).
	Events []EncodedEvent
	// Expect is the version condition to check when some event is new.
	Expect Expectation
}

// An EncodedEvent is a CandidateEvent whose metadata is encoded as JSON.
type EncodedEvent struct {
	ID       string // idempotency key, "" for none
	Type     string // non-empty
	Data     []byte
	Metadata []byte   // a JSON object, or nil for none
	Tags     []string // sorted, without repeats; nil for none
}

// A Query selects events for Backend.Read.
type Query struct {
	// StreamID is the stream to read, or All.
	StreamID string
	// After selects positions above it: Version on a stream, Sequence on All.
	After int64
	// Before, when above zero, selects positions below it.
	Before int64
	// MaxSequence, when above zero, selects events with Sequence at most it,
	// so that pages of one read see one consistent view.
	MaxSequence int64
	// Filter selects events for which Filter.Match holds.
	Filter Filter
	// Limit is the most events to return; always above zero.
	Limit int
	// Backwards orders the events newest first; otherwise oldest first.
	Backwards bool
}
