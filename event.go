package evstore

import "time"

// All is the id of the global stream: every event of every stream, in the
// order of their Sequence. It can be read, watched and snapshotted, but not
// written to.
const All = "@all"

// DefaultProjection is the projection name a snapshot gets when none is given.
const DefaultProjection = "default"

// MaxStreamIDLen is the longest stream id, in bytes, that a Store accepts.
const MaxStreamIDLen = 255

// A CandidateEvent is an event to append to a stream.
type CandidateEvent struct {
	// ID is an optional idempotency key. An event whose ID already exists in
	// the stream is skipped, so a retried Write appends nothing twice.
	// The empty string means no key.
	ID string
	// Type names what happened ("OrderPlaced"). It must not be empty.
	Type string
	// Data is the event's payload, stored as given. It may be empty.
	Data []byte
	// Metadata is optional context (correlation ids, user, region, ...). It
	// is stored as a JSON object, so every value must be JSON-encodable.
	// Filters can select events by metadata fields. Nil or empty means none.
	Metadata map[string]any
	// Tags label the event across streams, for Find and FailIfMatch
	// ("course:c1", "student:s7"): each 1 to MaxTagLen bytes of UTF-8
	// text without NUL bytes, at most MaxTags distinct ones. They are
	// stored as a set: repeats are dropped, and they read back sorted.
	Tags []string
}

// A StoredEvent is an event as the store keeps it.
type StoredEvent struct {
	// ID is the event's idempotency key, or "" when it was written without
	// one. (Files written by py-event-sourcing hold a random UUID as the key
	// of a keyless event; it reads back as that key.)
	ID string
	// StreamID is the stream the event belongs to.
	StreamID string
	// Sequence is the event's position in All: unique and strictly
	// increasing in commit order across the whole store, starting at 1.
	Sequence int64
	// Version is the event's position in its stream: 1, 2, 3, ... with no gaps.
	Version int64
	// Timestamp is when the event was stored, in UTC with microsecond precision.
	Timestamp time.Time
	// Type is the event's type, as written.
	Type string
	// Data is the event's payload, as written (nil when it was empty).
	Data []byte
	// Metadata is the decoded JSON metadata, or nil when there was none.
	// JSON numbers decode as float64, as with encoding/json.
	Metadata map[string]any
	// Tags are the event's tags, sorted, or nil when it has none.
	Tags []string
}

// A Snapshot is a saved projection state of a stream at a version, so a read
// model can be rebuilt by loading it and replaying only the later events.
type Snapshot struct {
	// StreamID is the stream (or All) the state was built from.
	StreamID string
	// Projection names the read model the state belongs to.
	Projection string
	// Version is the stream version (or, on All, the Sequence) the state reflects.
	Version int64
	// State is the serialized state, as given to Stream.Snapshot.
	State []byte
	// Timestamp is when the snapshot was saved, in UTC.
	Timestamp time.Time
}

// Metrics describes a stream as it is in the store.
type Metrics struct {
	// StreamID is the stream described.
	StreamID string
	// Version is the stream's current version; on All, the newest Sequence.
	Version int64
	// EventCount is the number of events in the stream (on All, in the store).
	EventCount int64
	// LastTimestamp is the time of the newest event, zero when there is none.
	LastTimestamp time.Time
}

// MaxEventSize is the largest event a Store accepts, in bytes of Data plus
// encoded Metadata: 16 MiB. Write refuses a larger one with ErrInvalidEvent,
// and so does the command-line import, naming the line. Events written by
// other programs may be larger; they read back as they are.
const MaxEventSize = 16 << 20
