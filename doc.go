// Package evstore is an event store for Go: it appends events to streams
// with optimistic concurrency and idempotency, reads a stream or every stream
// in order (with filters), watches streams live, and keeps snapshots of read
// models. It is the Go counterpart of the Python library py-event-sourcing
// and shares its SQLite file format.
//
// In event sourcing, the state of an application is not stored as rows that
// are updated in place. Instead every change is recorded as an immutable
// event ("OrderPlaced", "ItemAdded"), and the current state is rebuilt by
// replaying the events in order. An event store is the database for that:
// append-only, ordered, and able to tell its readers when something new
// happens.
//
// This package holds the domain types, the Store and Stream API, options,
// filters and errors. Storage lives in backend packages: the embedded
// SQLite store in package sqlite is the default.
//
//	store, err := sqlite.Open(ctx, "events.db")
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//
//	orders, err := store.Stream(ctx, "order-42")
//	if err != nil {
//		return err
//	}
//	v, err := orders.Write(ctx, []evstore.CandidateEvent{
//		{ID: "cmd-7f3a", Type: "OrderPlaced", Data: []byte(`{"total":25}`)},
//	}, evstore.ExpectVersion(0))
//	switch {
//	case errors.Is(err, evstore.ErrConflict):
//		// another writer got there first: reload and decide again
//	case err != nil:
//		return err
//	}
//	fmt.Println("order-42 is at version", v)
//
//	for e, err := range orders.Read(ctx) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(e.Version, e.Type)
//	}
//
// # Streams, versions and sequences
//
// A stream is the ordered history of one thing, usually one aggregate
// ("order-42"). [Store.Stream] returns a handle on it; a stream exists once an
// event is written to it. Stream ids are non-empty and at most
// [MaxStreamIDLen] bytes.
//
// Every event has two positions. Its Version is its place in its own stream:
// 1, 2, 3, ... with no gaps. Its Sequence is its place in the whole store:
// unique and strictly increasing in commit order. The global stream [All]
// ("@all") holds every event of every stream in Sequence order; it can be
// read, watched and snapshotted, but not written to. On All, [After], Version
// and snapshots count in Sequence, and Version is the newest Sequence.
//
// [Stream.Version] is only what the handle last saw: a Write's result, an
// event a Read or Watch loop yielded (a loop that breaks after one event
// leaves it at that event), Metrics, or the head when the handle was
// opened. Facts that matter, such as expected versions, are always checked
// in the database.
//
// # Writing
//
// [Stream.Write] appends a batch of events atomically and returns the stream's
// new version. A [CandidateEvent] may carry an idempotency key in its ID: an
// event whose key the stream already has is skipped, and so is a repeated
// key within one batch (the first wins). A Write whose events all exist
// already succeeds and returns the current version, so retrying a write that
// went through is safe. [Report](&r) tells such a retry (r.Appended == 0) from
// a fresh write, with the Sequences of the events written, and
// [Stream.Lookup] finds the version of the event with a given key through
// the stream's key index. An event is at most [MaxEventSize] bytes of Data
// and metadata.
//
// [ExpectVersion](v) makes a Write succeed only when the stream is at exactly
// v (0: the stream must not exist yet); [ExpectExists] only when it has at
// least one event. Both are checked against the database inside the write
// transaction, never against a cached value. A mismatch returns a
// [*ConflictError], which wraps [ErrConflict].
//
// # Reading and watching
//
// [Stream.Read] and [Stream.Watch] return iterators, iter.Seq2[StoredEvent,
// error], for use with range. Rows are fetched in pages as the loop asks for
// them, and breaking out of the loop releases everything. An error is
// yielded once, as the last pair.
//
// Read sees a consistent view: events committed after it starts are not
// included, however many pages it takes. [After], [Limit], [Backwards] and
// [WithFilter] narrow it.
//
// Watch first replays the events after After(n) from the database (by
// default after the handle's Version, so only new events; After(0) replays
// the whole stream), then yields events as they are committed, by this
// process or by another one using the same database, with no gap and no
// duplicate at the hand-off. One notifier per Store serves every watcher. A
// slow watcher never blocks writers or other watchers, and its buffer is
// bounded: when it falls behind it catches up from the database. A Watch ends
// with no error when its ctx is cancelled or its loop breaks, and with
// [ErrClosed] when the Store closes.
//
// The Data and Metadata of events a Watch yields live may be shared with
// other watchers of the same Store: treat them as read-only, and copy them
// before changing them.
//
// # Snapshots
//
// [Stream.Snapshot] saves a serialized read model under a projection name
// ([DefaultProjection] unless [Projection] is given), at the handle's Version or
// at [AtVersion](v), which is required on All. Each (stream, projection) keeps
// one snapshot; saving replaces it and does not change the handle's Version.
// A snapshot above the stream's version is refused with [ErrInvalidArgument]:
// replaying from it would skip the events written after it.
// [Stream.LoadSnapshot] returns it, or nil, nil when there is none; replay only
// the events After its Version.
//
// # Filters
//
// A [Filter] is a list of clauses that all must hold, built with [Equals], [In] and
// [Like] on the fields "stream_id", "event_type", "version" and
// "metadata.<dotted.path>". A metadata clause matches only a value of the same
// JSON type; Like is SQL LIKE (% and _) with ASCII case folding.
// [Filter.Match] is the definition of what a filter selects, and backends
// never build SQL from user text.
//
// # Metrics
//
// [Stream.Metrics] reports a stream's version, its real event count and the
// time of its newest event, as they are in the database; on All, those of
// the whole store.
//
// # Errors
//
// Errors wrap one of the sentinel errors ([ErrConflict], [ErrReadOnly],
// [ErrInvalidEvent], [ErrInvalidStreamID], [ErrInvalidFilter], [ErrInvalidArgument],
// [ErrClosed], [ErrCorrupt]), so test for them with [errors.Is], and extract a
// [*ConflictError] with [errors.As]. Bad input is rejected before anything is
// written.
//
// # Backends
//
// A [Store] keeps its events in a [Backend], the only seam between this package
// and a database. Package sqlite is the default: one file, no server, no
// cgo. Package postgres keeps the same API on PostgreSQL, for deployments
// that outgrow one machine. Package memory keeps events in the process
// only: a fast store for unit tests, and the plainest implementation of
// Backend to read. To write another backend, implement Backend (calling
// [PlanAppend] for the append rule), wrap it with [NewStore], and run the
// conformance kit in package storetest against it.
package evstore
