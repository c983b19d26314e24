package evstore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a Store returns for one of these conditions
// wraps the sentinel, so callers test for it with errors.Is.
var (
	// ErrConflict means an expected version did not hold. The error is a
	// *ConflictError, which errors.As extracts.
	ErrConflict = errors.New("evstore: version conflict")
	// ErrReadOnly means a write to All, which only reads, or through a
	// Store opened read-only (sqlite.ReadOnly).
	ErrReadOnly = errors.New("evstore: stream is read-only")
	// ErrInvalidEvent means an event that cannot be stored: an empty Type,
	// text that is not UTF-8 without NUL bytes, or metadata that is not
	// JSON-encodable.
	ErrInvalidEvent = errors.New("evstore: invalid event")
	// ErrInvalidStreamID means an empty stream id, one over MaxStreamIDLen
	// bytes, or one that is not UTF-8 text without NUL bytes.
	ErrInvalidStreamID = errors.New("evstore: invalid stream id")
	// ErrInvalidFilter means a filter with an unknown field, a bad metadata
	// path, an empty In, or a value of the wrong type for its field.
	ErrInvalidFilter = errors.New("evstore: invalid filter")
	// ErrInvalidArgument means any other bad argument: a negative After or
	// Limit, a snapshot of All without AtVersion, an empty database path, ...
	ErrInvalidArgument = errors.New("evstore: invalid argument")
	// ErrClosed means a call on a Store that has been closed, or a Watch
	// ended by Store.Close.
	ErrClosed = errors.New("evstore: store closed")
	// ErrCorrupt means a database file that is not an evstore database or
	// is damaged.
	ErrCorrupt = errors.New("evstore: database is corrupt or not an event store")
)

// AnyExisting is the ConflictError.Expected value of a write made with
// ExpectExists: any version above zero would have done.
const AnyExisting int64 = -1

// A ConflictError reports that a write's expected version did not match the
// stream's version in the database. errors.Is(err, ErrConflict) holds for it.
type ConflictError struct {
	StreamID string
	// Expected is the version the write expected, or AnyExisting for ExpectExists.
	Expected int64
	// Actual is the stream's version when the write was checked.
	Actual int64
}

func (e *ConflictError) Error() string {
	if e.Expected == AnyExisting {
		return fmt.Sprintf("evstore: version conflict on stream %q: expected it to exist, but it has no events", e.StreamID)
	}
	return fmt.Sprintf("evstore: version conflict on stream %q: expected version %d, actual %d", e.StreamID, e.Expected, e.Actual)
}

// Is reports whether target is ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
