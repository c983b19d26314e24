package evstore

import (
	"context"
	"fmt"
	"iter"
	"sync/atomic"
	"time"
)

// A Stream is a handle on one stream of a Store, or on All. It remembers the
// newest version it has seen; every other fact comes from the database.
// A Stream is safe for concurrent use.
type Stream struct {
	store   *Store
	id      string
	version atomic.Int64
}

// defaultReadPage is how many events Read and a watcher's catch-up fetch
// from the Backend at a time (Store.readPage; tests shrink it).
const defaultReadPage = 4096

// ID returns the stream's id.
func (s *Stream) ID() string { return s.id }

// Version returns the newest version (on All: Sequence) this handle has
// seen: when it was opened, written, read, watched or measured. It is a
// local view; ExpectVersion is always checked against the database.
func (s *Stream) Version() int64 { return s.version.Load() }

// saw raises the handle's version to v.
func (s *Stream) saw(v int64) {
	for {
		cur := s.version.Load()
		if v <= cur || s.version.CompareAndSwap(cur, v) {
			return
		}
	}
}

// position is an event's place in the stream the handle reads.
func (s *Stream) position(e *StoredEvent) int64 {
	if s.id == All {
		return e.Sequence
	}
	return e.Version
}

// Write appends events to the stream, atomically, and returns its new
// version. Events whose ID the stream already has are skipped, and so are
// repeats of an ID within events; if nothing is left, Write succeeds and
// returns the current version whatever the expected version (a retry of a
// write that went through). Otherwise ExpectVersion or ExpectExists, if
// given, is checked in the database and a mismatch returns a *ConflictError;
// then FailIfMatch, if given, and an event matching it returns a
// *ConditionError. An empty events writes nothing, checks nothing and
// returns the current version. Report tells a fresh write from such a
// retry.
func (s *Stream) Write(ctx context.Context, events []CandidateEvent, opts ...WriteOption) (int64, error) {
	cfg := newWriteConfig(opts)
	if cfg.report != nil {
		*cfg.report = WriteReport{}
	}
	if s.id == All {
		return 0, fmt.Errorf("%w: cannot write to %s", ErrReadOnly, All)
	}
	if cfg.expect.kind == expectExact && cfg.expect.version < 0 {
		return 0, fmt.Errorf("%w: ExpectVersion(%d) is negative", ErrInvalidArgument, cfg.expect.version)
	}
	var r WriteReport
	if len(events) == 0 {
		v, err := s.store.head(ctx, s.id)
		if err != nil {
			return 0, err
		}
		r.Version = v
	} else {
		enc, err := encodeEvents(events)
		if err != nil {
			return 0, err
		}
		if cfg.cond != nil {
			return s.writeIf(ctx, enc, cfg)
		}
		r, err = traced(s.store, ctx, Trace{Op: TraceWrite, StreamID: s.id, Events: len(enc)}, func(ctx context.Context) (WriteReport, error) {
			return s.store.b.Append(ctx, AppendRequest{StreamID: s.id, Events: enc, Expect: cfg.expect})
		}, endWrite)
		if err != nil {
			return 0, err
		}
		if r.Appended > 0 {
			s.store.notifier.kick(r.Last)
		}
	}
	s.saw(r.Version)
	if cfg.report != nil {
		*cfg.report = r
	}
	return r.Version, nil
}

// writeIf is a Write with FailIfMatch: a StreamsRequest of one write.
func (s *Stream) writeIf(ctx context.Context, enc []EncodedEvent, cfg writeConfig) (int64, error) {
	cond, err := cfg.cond.check()
	if err != nil {
		return 0, err
	}
	req := StreamsRequest{Writes: []AppendRequest{{StreamID: s.id, Events: enc, Expect: cfg.expect}}, Condition: cond}
	out, err := s.store.appendStreams(ctx, req, s.id)
	if err != nil {
		return 0, err
	}
	s.saw(out[0].Version)
	if cfg.report != nil {
		*cfg.report = out[0]
	}
	return out[0].Version, nil
}

// Lookup returns the version of the stream's event whose idempotency key is
// key, or found == false when the stream has none. It is one indexed
// lookup, not a scan. Keys belong to streams, so All has none to look up.
func (s *Stream) Lookup(ctx context.Context, key string) (version int64, found bool, err error) {
	switch {
	case s.id == All:
		return 0, false, fmt.Errorf("%w: %s has no idempotency keys; look a key up in its stream", ErrInvalidArgument, All)
	case key == "":
		return 0, false, fmt.Errorf("%w: empty idempotency key", ErrInvalidArgument)
	case !text(key):
		return 0, false, fmt.Errorf("%w: key %q is not UTF-8 text without NUL bytes", ErrInvalidArgument, key)
	}
	kl, ok := s.store.b.(KeyLookup)
	if !ok {
		return 0, false, fmt.Errorf("%w: looking up idempotency keys", ErrUnsupported)
	}
	if err := s.store.enter(); err != nil {
		return 0, false, err
	}
	defer s.store.leave()
	return kl.LookupKey(ctx, s.id, key)
}

// encodeEvents validates events, encodes their metadata and drops repeated IDs.
func encodeEvents(events []CandidateEvent) ([]EncodedEvent, error) {
	out := make([]EncodedEvent, 0, len(events))
	var seen map[string]struct{}
	for i, e := range events {
		switch {
		case e.Type == "":
			return nil, fmt.Errorf("%w: event %d: empty Type", ErrInvalidEvent, i)
		case !text(e.Type):
			return nil, fmt.Errorf("%w: event %d: Type %q is not UTF-8 text without NUL bytes", ErrInvalidEvent, i, e.Type)
		case reserved(e.Type):
			return nil, fmt.Errorf("%w: event %d: Type %q: types beginning with '$' are evstore's", ErrInvalidEvent, i, e.Type)
		case !text(e.ID):
			return nil, fmt.Errorf("%w: event %d: ID %q is not UTF-8 text without NUL bytes", ErrInvalidEvent, i, e.ID)
		}
		if e.ID != "" && len(events) > 1 {
			if seen == nil {
				seen = make(map[string]struct{}, len(events))
			}
			if _, dup := seen[e.ID]; dup {
				continue
			}
			seen[e.ID] = struct{}{}
		}
		meta, err := encodeMetadata(e.Metadata)
		if err != nil {
			return nil, fmt.Errorf("%w: event %d (%s): metadata: %v", ErrInvalidEvent, i, e.Type, err)
		}
		if size := len(e.Data) + len(meta); size > MaxEventSize {
			return nil, fmt.Errorf("%w: event %d (%s): %d bytes of data and metadata, over MaxEventSize (%d)", ErrInvalidEvent, i, e.Type, size, MaxEventSize)
		}
		tags, err := normalTags(e.Tags)
		if err != nil {
			return nil, fmt.Errorf("%w: event %d (%s): %v", ErrInvalidEvent, i, e.Type, err)
		}
		out = append(out, EncodedEvent{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: meta, Tags: tags})
	}
	return out, nil
}

// Read returns the stream's events, oldest first unless Backwards is given.
// It sees one consistent view: events committed after Read starts are not
// included. Rows are fetched in pages as the loop asks for them; breaking
// out of the loop releases everything. An error ends the sequence as its
// last pair.
func (s *Stream) Read(ctx context.Context, opts ...ReadOption) iter.Seq2[StoredEvent, error] {
	return func(yield func(StoredEvent, error) bool) {
		cfg, err := newReadConfig(opts)
		if err != nil {
			yield(StoredEvent{}, err)
			return
		}
		horizon, err := s.store.horizon(ctx, cfg)
		if err != nil {
			yield(StoredEvent{}, err)
			return
		}
		if horizon == 0 {
			return // an empty store; 0 would mean "no bound" below
		}
		q := Query{StreamID: s.id, After: cfg.after, Before: cfg.before, MaxSequence: horizon, Filter: cfg.filter, Backwards: cfg.backwards}
		remaining := cfg.limit
		var page []StoredEvent
		for {
			q.Limit = s.store.readPage
			if cfg.limitSet && remaining < q.Limit {
				q.Limit = remaining
			}
			page, err = s.store.read(ctx, q, page[:0])
			if len(page) > 0 {
				if last := s.position(&page[len(page)-1]); q.Backwards {
					q.Before = last
				} else {
					q.After = last
				}
			}
			for i := range page {
				// Version moves only to events the loop has been given.
				s.saw(s.position(&page[i]))
				if !yield(page[i], nil) {
					return
				}
			}
			if err != nil { // after the events read before it
				yield(StoredEvent{}, err)
				return
			}
			remaining -= len(page)
			if len(page) < q.Limit || (cfg.limitSet && remaining == 0) {
				return
			}
			clear(page)
		}
	}
}

// Snapshot saves state as the snapshot of a projection of the stream,
// replacing the previous one. By default it is filed under
// DefaultProjection at the handle's Version; on All, AtVersion is required.
// An AtVersion above the stream's version (on All: the newest Sequence) is
// refused with ErrInvalidArgument, since replaying from such a snapshot
// would skip the events written after it. Projection names are 1 to 255
// bytes of UTF-8 text without NUL bytes. Saving a snapshot does not change
// the handle's Version.
func (s *Stream) Snapshot(ctx context.Context, state []byte, opts ...SnapshotOption) error {
	cfg := snapshotConfig{projection: DefaultProjection}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkProjection(cfg.projection); err != nil {
		return err
	}
	switch {
	case !cfg.versionSet && s.id == All:
		return fmt.Errorf("%w: a snapshot of %s needs AtVersion", ErrInvalidArgument, All)
	case cfg.version < 0:
		return fmt.Errorf("%w: AtVersion(%d) is negative", ErrInvalidArgument, cfg.version)
	}
	if !cfg.versionSet {
		cfg.version = s.Version()
	}
	if state == nil {
		state = []byte{}
	}
	snap := Snapshot{
		StreamID:   s.id,
		Projection: cfg.projection,
		Version:    cfg.version,
		State:      state,
		Timestamp:  time.Now().UTC().Truncate(time.Microsecond),
	}
	if err := s.store.enter(); err != nil {
		return err
	}
	defer s.store.leave()
	return s.store.b.SaveSnapshot(ctx, snap)
}

// checkProjection refuses a projection name no backend can store alike.
func checkProjection(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty projection name", ErrInvalidArgument)
	case len(name) > MaxStreamIDLen:
		return fmt.Errorf("%w: projection name of %d bytes, over the limit of %d", ErrInvalidArgument, len(name), MaxStreamIDLen)
	case !text(name):
		return fmt.Errorf("%w: projection name %q is not UTF-8 text without NUL bytes", ErrInvalidArgument, name)
	}
	return nil
}

// LoadSnapshot returns the stream's snapshot for projection ("" means
// DefaultProjection), or nil, nil when there is none.
func (s *Stream) LoadSnapshot(ctx context.Context, projection string) (*Snapshot, error) {
	if projection == "" {
		projection = DefaultProjection
	}
	if err := checkProjection(projection); err != nil {
		return nil, err
	}
	if err := s.store.enter(); err != nil {
		return nil, err
	}
	defer s.store.leave()
	return s.store.b.LoadSnapshot(ctx, s.id, projection)
}

// Metrics returns the stream's version, event count and newest timestamp,
// as they are in the database (for All: of the whole store).
func (s *Stream) Metrics(ctx context.Context) (Metrics, error) {
	m, err := call(s.store, func() (Metrics, error) { return s.store.b.Metrics(ctx, s.id) })
	if err == nil {
		s.saw(m.Version)
	}
	return m, err
}
