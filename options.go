package evstore

import "fmt"

// A WriteOption sets the condition a Write checks before it appends.
type WriteOption func(*writeConfig)

type writeConfig struct {
	expect Expectation
	report *WriteReport
	cond   *Condition // FailIfMatch's
}

// ExpectVersion makes a Write succeed only if the stream is at exactly
// version v; 0 means the stream must not exist yet. The check is made in the
// database, inside the write's transaction.
func ExpectVersion(v int64) WriteOption {
	return func(c *writeConfig) { c.expect = Expectation{kind: expectExact, version: v} }
}

// ExpectExists makes a Write succeed only if the stream has at least one event.
func ExpectExists() WriteOption {
	return func(c *writeConfig) { c.expect = Expectation{kind: expectExists} }
}

// Report makes a Write fill *r with what it did, so that a retry whose
// events were all present already can be told from a fresh write.
func Report(r *WriteReport) WriteOption {
	return func(c *writeConfig) { c.report = r }
}

// A WriteReport tells what a Write did; see Report.
type WriteReport struct {
	// Version is the stream's version after the write.
	Version int64
	// Appended is how many events the write appended: 0 for a retry whose
	// events the stream had already, or for an empty write.
	Appended int
	// First and Last are the Sequences of the first and last event
	// appended; 0 when none was.
	First, Last int64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectExact
	expectExists
)

// An Expectation is the version condition of a write, as a Backend receives
// it in an AppendRequest. The zero Expectation accepts any version.
type Expectation struct {
	kind    expectKind
	version int64
}

// Expect returns the Expectation that opts describe, as a Write with them
// would hand it to a Backend. Backends' tests use it to build requests.
func Expect(opts ...WriteOption) Expectation { return newWriteConfig(opts).expect }

func newWriteConfig(opts []WriteOption) writeConfig {
	var c writeConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Check returns nil if a stream at version actual meets the expectation,
// and a *ConflictError for streamID otherwise.
func (e Expectation) Check(streamID string, actual int64) error {
	switch {
	case e.kind == expectExact && actual != e.version:
		return &ConflictError{StreamID: streamID, Expected: e.version, Actual: actual}
	case e.kind == expectExists && actual == 0:
		return &ConflictError{StreamID: streamID, Expected: AnyExisting, Actual: actual}
	}
	return nil
}

// Version returns the version e expects, and whether it expects one
// (ExpectVersion); a Backend that checks expectations elsewhere (a server
// over a network) passes it on.
func (e Expectation) Version() (v int64, ok bool) { return e.version, e.kind == expectExact }

// Exists reports whether e expects the stream to have events
// (ExpectExists).
func (e Expectation) Exists() bool { return e.kind == expectExists }

// String describes the expectation, for logs and errors.
func (e Expectation) String() string {
	switch e.kind {
	case expectExact:
		return fmt.Sprintf("version %d", e.version)
	case expectExists:
		return "stream exists"
	}
	return "any version"
}

// A ReadOption narrows what Read and Watch return.
type ReadOption func(*readConfig)

type readConfig struct {
	after     int64
	afterSet  bool
	before    int64
	beforeSet bool
	maxSeq    int64
	maxSeqSet bool
	filter    Filter
	limit     int
	limitSet  bool
	backwards bool
}

// After selects the events after version n of the stream (on All: after
// Sequence n). Read starts at 0 by default; Watch starts at the handle's
// Version, so it yields only new events unless After is given.
func After(n int64) ReadOption {
	return func(c *readConfig) { c.after, c.afterSet = n, true }
}

// WithFilter keeps only the events that match every clause of f.
func WithFilter(f Filter) ReadOption {
	return func(c *readConfig) { c.filter = append(c.filter, f...) }
}

// Limit makes Read return at most n events (n > 0). Watch rejects it.
func Limit(n int) ReadOption {
	return func(c *readConfig) { c.limit, c.limitSet = n, true }
}

// Backwards makes Read return the newest events first. Watch rejects it.
func Backwards() ReadOption {
	return func(c *readConfig) { c.backwards = true }
}

// Before selects the events before version n of the stream (on All:
// before Sequence n), n > 0: with Backwards, the next page of a Read
// made in pages, which goes on from where the previous one ended. Read
// and Find take it; Watch rejects it.
func Before(n int64) ReadOption {
	return func(c *readConfig) { c.before, c.beforeSet = n, true }
}

// MaxSequence selects the events whose Sequence is at most n, n > 0, so
// that a Read or Find made in several calls (pages fetched over a
// network, say) sees the store as the first one did: pass the newest
// Sequence then (All's Version after it). Events committed later are
// left out; events removed since (Delete, Truncate) stay removed. Read
// and Find take it; Watch rejects it.
func MaxSequence(n int64) ReadOption {
	return func(c *readConfig) { c.maxSeq, c.maxSeqSet = n, true }
}

func newReadConfig(opts []ReadOption) (readConfig, error) {
	var c readConfig
	for _, o := range opts {
		o(&c)
	}
	if c.after < 0 {
		return c, fmt.Errorf("%w: After(%d) is negative", ErrInvalidArgument, c.after)
	}
	if c.limitSet && c.limit <= 0 {
		return c, fmt.Errorf("%w: Limit(%d) is not positive", ErrInvalidArgument, c.limit)
	}
	if c.beforeSet && c.before <= 0 {
		return c, fmt.Errorf("%w: Before(%d) is not positive", ErrInvalidArgument, c.before)
	}
	if c.maxSeqSet && c.maxSeq <= 0 {
		return c, fmt.Errorf("%w: MaxSequence(%d) is not positive", ErrInvalidArgument, c.maxSeq)
	}
	if err := c.filter.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// A SnapshotOption sets where Stream.Snapshot files the state.
type SnapshotOption func(*snapshotConfig)

type snapshotConfig struct {
	projection string
	version    int64
	versionSet bool
}

// Projection names the read model a snapshot belongs to; the default is
// DefaultProjection. Each (stream, projection) keeps one snapshot.
func Projection(name string) SnapshotOption {
	return func(c *snapshotConfig) { c.projection = name }
}

// AtVersion records that the state reflects the stream up to version v (on
// All: Sequence v). The default is the handle's Version; on All it is required.
func AtVersion(v int64) SnapshotOption {
	return func(c *snapshotConfig) { c.version, c.versionSet = v, true }
}
