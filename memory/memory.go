package memory

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// An Option configures Open.
type Option func(*config)

// config holds Open's settings; see Option.
type config struct {
	logger *slog.Logger
	tracer evstore.Tracer
}

// WithLogger makes the Store log what its background goroutines meet
// (failures retried, consumers' leases taken and lost) through l; see
// evstore.LoggingBackend. Nothing is logged without it.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

var _ evstore.LoggingBackend = (*backend)(nil)

// Logger implements evstore.LoggingBackend.
func (b *backend) Logger() *slog.Logger { return b.logger }

// WithTracer makes the Store trace its writes, reads, deletes, consumer
// batches and watchers, through t (the otelevstore
// package's Tracer gives OpenTelemetry spans and metrics); see
// evstore.TracingBackend. Nothing is traced without it.
func WithTracer(t evstore.Tracer) Option { return func(c *config) { c.tracer = t } }

var _ evstore.TracingBackend = (*backend)(nil)

// Tracer implements evstore.TracingBackend: the Tracer of WithTracer.
func (b *backend) Tracer() evstore.Tracer { return b.tracer }

// System implements evstore.TracingBackend: "memory".
func (b *backend) System() string { return "memory" }

// Open returns a new, empty Store that keeps its events in memory. Every
// call returns a Store of its own: two Stores never share events. Nothing
// is written anywhere, and everything is lost when the Store is closed or
// the process exits.
//
// Open does no I/O and does not fail today; it takes a ctx and returns an
// error like every backend's Open, so that code can switch between them.
func Open(ctx context.Context, opts ...Option) (*evstore.Store, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	b := newBackend()
	b.logger, b.tracer = cfg.logger, cfg.tracer
	return evstore.NewStore(b), nil
}

// backend is the evstore.Backend that keeps everything in maps and
// slices. One lock guards all of it: Append and SaveSnapshot hold it
// exclusively, every other call holds it shared. A call therefore sees
// each write whole or not at all, and what a write checks (a stream's
// version, its keys) cannot change before the write is done, which is
// what a database transaction gives the other backends.
type backend struct {
	mu     sync.RWMutex
	logger *slog.Logger   // from WithLogger; nil for none
	tracer evstore.Tracer // from WithTracer; nil for none

	// events holds every event of the store in Sequence order: the event
	// with Sequence n is events[n-1]. Sequences thus have no gaps here
	// (databases may skip some; evstore promises only that they increase).
	events []record
	// removedEvents counts the records of events that Delete and
	// Truncate removed.
	removedEvents int64
	// streams indexes events by stream: its versions and its keys.
	streams map[string]*stream
	// snapshots holds one snapshot per (stream, projection).
	snapshots map[snapshotKey]evstore.Snapshot

	consumers consumers // checkpoints and leases, under a lock of their own
}

// A record is an event as the backend keeps it: a StoredEvent whose Data
// is the backend's own copy and whose Metadata is nil, with the metadata
// kept as the JSON text the Store encoded. Read decodes that text for
// each event it returns, as a database backend does, so no two reads
// share a map and callers may change what they are given.
type record struct {
	event    evstore.StoredEvent
	metadata []byte // a JSON object, or nil for none
	removed  bool   // by Delete or Truncate: reads skip it
}

// A stream is the index of one stream's events. A stream exists once an
// event has been appended to it; a stream id not in backend.streams has
// version 0 and no keys.
type stream struct {
	// seqs holds the Sequence of each event of the stream: version v has
	// Sequence seqs[v-1], so the stream's version is len(seqs).
	seqs []int64
	// keys maps each idempotency key of the stream to its event's version.
	keys keyIndex
	// removed is the newest version removed (by Delete or Truncate): the
	// versions up to it are gone. tombstone is the version of the
	// stream's last tombstone, 0 for none.
	removed, tombstone int64
}

// version returns the stream's current version: 0 when it has no events.
func (s *stream) version() int64 { return int64(len(s.seqs)) }

// first returns the oldest version the stream still has.
func (s *stream) first() int64 { return s.removed + 1 }

// count returns how many events the stream still has.
func (s *stream) count() int64 { return s.version() - s.removed }

// A keyIndex maps idempotency keys to versions. It is the evstore.KeySet
// that Append hands to evstore.PlanAppend.
type keyIndex map[string]int64

// Has reports whether the stream has an event with key. It implements
// evstore.KeySet.
func (k keyIndex) Has(key string) bool {
	_, ok := k[key]
	return ok
}

type snapshotKey struct{ streamID, projection string }

var (
	_ evstore.Backend      = (*backend)(nil)
	_ evstore.StreamLister = (*backend)(nil)
	_ evstore.KeyLookup    = (*backend)(nil)
	_ evstore.KeySet       = keyIndex(nil)
)

func newBackend() *backend {
	return &backend{
		streams:   make(map[string]*stream),
		snapshots: make(map[snapshotKey]evstore.Snapshot),
		consumers: consumers{rows: make(map[evstore.ConsumerKey]*consumerRow), now: time.Now},
	}
}

// stream returns the index of streamID; for a stream with no events, an
// empty one that is not in b.streams. The caller holds b.mu.
func (b *backend) stream(streamID string) *stream {
	if s := b.streams[streamID]; s != nil {
		return s
	}
	return &stream{}
}

// head returns the version of streamID, or the newest Sequence for All.
// The caller holds b.mu.
func (b *backend) head(streamID string) int64 {
	if streamID == evstore.All {
		return int64(len(b.events))
	}
	return b.stream(streamID).version()
}

// Changes implements evstore.Backend. Only the Store that owns a memory
// backend can write to it, and the Store tells its watchers of its own
// writes, so there are never changes from elsewhere to report: Changes
// returns a channel that never receives. Nothing serves it, so there is
// nothing to stop.
func (b *backend) Changes(ctx context.Context) <-chan struct{} {
	return make(chan struct{})
}

// Close implements evstore.Backend. It drops every event and snapshot, so
// that a closed Store holds no memory for them. The Store makes no call
// after Close: it answers ErrClosed itself.
func (b *backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events, b.streams, b.snapshots = nil, nil, nil
	return nil
}
