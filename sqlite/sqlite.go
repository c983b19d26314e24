package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"github.com/go-event-sourcing/evstore/internal/groupcommit"
	"zombiezen.com/go/sqlite"
)

// An Option configures Open.
type Option func(*config)

type config struct {
	logger       *slog.Logger
	tracer       evstore.Tracer
	pollInterval time.Duration
	busyTimeout  time.Duration
	readers      int
	mmapSize     int64
	readOnly     bool
}

// WithLogger makes the Store log what its background goroutines meet
// (failures retried, consumers' leases taken and lost) through l; see
// evstore.LoggingBackend. Nothing is logged without it.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

var _ evstore.LoggingBackend = (*backend)(nil)

// Logger implements evstore.LoggingBackend: the logger of WithLogger, or
// one that discards.
func (b *backend) Logger() *slog.Logger { return b.cfg.logger }

// WithTracer makes the Store trace its writes, reads, deletes, consumer
// batches and watchers, and its group commits, through t (the otelevstore
// package's Tracer gives OpenTelemetry spans and metrics); see
// evstore.TracingBackend. Nothing is traced without it.
func WithTracer(t evstore.Tracer) Option { return func(c *config) { c.tracer = t } }

var _ evstore.TracingBackend = (*backend)(nil)

// Tracer implements evstore.TracingBackend: the Tracer of WithTracer.
func (b *backend) Tracer() evstore.Tracer { return b.cfg.tracer }

// System implements evstore.TracingBackend: "sqlite".
func (b *backend) System() string { return "sqlite" }

// WithPollInterval sets how often watchers look for writes by other
// processes or Stores on the same file (default 50ms). Writes through this
// Store reach its watchers at once, whatever the interval. The check is a
// PRAGMA data_version, which costs next to nothing.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.pollInterval = d } }

// WithBusyTimeout sets how long a write waits for another process's write
// lock before it fails (default 5s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithReaders sets how many connections serve reads at once (default 4).
func WithReaders(n int) Option { return func(c *config) { c.readers = n } }

// WithMmapSize sets how many bytes of the database file each reader
// connection maps into memory (default 256 MiB; 0 turns it off). Reads
// through the map skip a system call per page: a long stream reads about
// 8% faster. The map is set up on a connection's first read, which then
// takes a few milliseconds longer.
func WithMmapSize(n int64) Option { return func(c *config) { c.mmapSize = n } }

// ReadOnly opens the file for reading only (SQLITE_OPEN_READONLY): Open
// changes nothing in it (no journal mode, no tables, not one byte) and
// fails if it does not exist. The file must already be an event store: one
// without an events table, or whose tables lack the columns evstore reads,
// gives ErrCorrupt, where Open without ReadOnly would add the tables. A
// file without a snapshots table reads as having no snapshots.
//
// Through such a Store, Stream.Write and Stream.Snapshot fail with
// ErrReadOnly; reads, metrics, stream listing and Watch work as usual
// (writes by other processes show up within the poll interval).
//
// A file in rollback-journal mode, as another application's database
// usually is, is left exactly as it was. A file in WAL mode, as every file
// evstore or py-event-sourcing writes is, can only be read through its -wal
// and -shm files: SQLite creates them if they are missing (a read-only
// connection then leaves them behind; the next writer to close removes
// them), and reading fails if they are missing and cannot be created (a
// directory without write permission). ":memory:" cannot be opened
// read-only.
//
// A ReadOnly Store migrates nothing (see SchemaVersion): it reads a file
// of an older schema version as it is. Store.Consumers lists the file's
// consumers (none on a file of version 0), while running a consumer or
// resetting one fails with ErrReadOnly.
func ReadOnly() Option { return func(c *config) { c.readOnly = true } }

// backend is the evstore.Backend of an SQLite database.
type backend struct {
	path   string
	cfg    config
	memory bool

	// writer holds the one connection that writes; readers the ones that
	// read. For ":memory:" both hold the same single connection.
	writer  chan *sqlite.Conn
	readers chan *sqlite.Conn
	conns   []*sqlite.Conn

	wg sync.WaitGroup // the Changes poller

	queue groupcommit.Queue[groupcommit.Request] // Appends waiting for the next group commit
	heads heads                                  // stream versions, for the writer connection's holder

	// ckpt is the connection that runs the checkpoints of Delete,
	// Truncate and Erase (see delete.go), opened when first needed, with
	// no busy timeout; ckptMu guards it.
	ckptMu sync.Mutex
	ckpt   *sqlite.Conn

	beforeCommit func() // tests only: runs in each write transaction before COMMIT

	noSnapshots bool // ReadOnly only: the file has no snapshots table
	noTags      bool // ReadOnly only: the file has no evstore_tags table (schema below 3)
}

var (
	_ evstore.Backend         = (*backend)(nil)
	_ evstore.StreamLister    = (*backend)(nil)
	_ evstore.ConsumerBackend = (*backend)(nil)
)

// Open opens (creating it if needed) the SQLite event store at path, or a
// private in-memory one for ":memory:". A file that is not an SQLite
// database, or whose tables are not an event store's, gives ErrCorrupt;
// one written by a newer evstore, ErrNewerSchema. An older file is
// migrated forward (see SchemaVersion). With ReadOnly, Open only reads the
// file, which must exist.
func Open(ctx context.Context, path string, opts ...Option) (*evstore.Store, error) {
	b, err := open(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	if b.cfg.readOnly {
		return evstore.NewStore(readOnlyBackend{b}), nil
	}
	return evstore.NewStore(b), nil
}

func open(ctx context.Context, path string, opts []Option) (*backend, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty database path", evstore.ErrInvalidArgument)
	}
	cfg := config{pollInterval: 50 * time.Millisecond, busyTimeout: 5 * time.Second, readers: 4, mmapSize: 256 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler) // nothing is logged without WithLogger
	}
	switch {
	case cfg.pollInterval <= 0:
		return nil, fmt.Errorf("%w: poll interval %v is not positive", evstore.ErrInvalidArgument, cfg.pollInterval)
	case cfg.busyTimeout < 0:
		return nil, fmt.Errorf("%w: busy timeout %v is negative", evstore.ErrInvalidArgument, cfg.busyTimeout)
	case cfg.readers < 1:
		return nil, fmt.Errorf("%w: %d readers: want at least 1", evstore.ErrInvalidArgument, cfg.readers)
	case cfg.mmapSize < 0:
		return nil, fmt.Errorf("%w: mmap size %d is negative", evstore.ErrInvalidArgument, cfg.mmapSize)
	}
	b := &backend{path: path, cfg: cfg, memory: path == ":memory:"}
	b.queue.Tracer, b.queue.System = cfg.tracer, b.System()
	if b.memory {
		if cfg.readOnly {
			return nil, fmt.Errorf("%w: a private in-memory database cannot be opened read-only", evstore.ErrInvalidArgument)
		}
		cfg.readers = 1
	} else if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory", evstore.ErrInvalidArgument, path)
	} else if cfg.readOnly {
		if err != nil {
			return nil, errs.Wrapf("evstore/sqlite", err, "open %s read-only", path)
		}
		return b, b.openReadOnly(ctx)
	}
	w, err := b.openConn(ctx, true)
	if err != nil {
		return nil, err
	}
	b.conns = append(b.conns, w)
	if err := b.initWriter(ctx, w); err != nil {
		b.closeConns()
		return nil, errs.Wrapf("evstore/sqlite", err, "open %s", path)
	}
	b.readers = make(chan *sqlite.Conn, cfg.readers)
	if b.memory {
		b.writer = b.readers
		b.readers <- w
		return b, nil
	}
	b.writer = make(chan *sqlite.Conn, 1)
	b.writer <- w
	for range cfg.readers {
		r, err := b.openConn(ctx, false)
		if err != nil {
			b.closeConns()
			return nil, err
		}
		b.conns = append(b.conns, r)
		b.readers <- r
	}
	return b, nil
}

// openReadOnly opens the connections of a ReadOnly backend, after checking
// that the file is an event store. They all serve reads, and b.writer is
// the same pool: a write (Append, SaveSnapshot, ...) gets a read-only
// connection, where SQLite refuses it before it changes anything, and
// translate makes that ErrReadOnly.
func (b *backend) openReadOnly(ctx context.Context) error {
	b.readers = make(chan *sqlite.Conn, b.cfg.readers)
	b.writer = b.readers
	for i := range b.cfg.readers {
		conn, err := b.openConn(ctx, false)
		if err == nil && i == 0 {
			err = b.checkReadOnly(conn)
			if err != nil {
				conn.Close()
			}
		}
		if err != nil {
			b.closeConns()
			return err
		}
		b.conns = append(b.conns, conn)
		b.readers <- conn
	}
	return nil
}

// checkReadOnly fails unless the file has the tables of an event store.
func (b *backend) checkReadOnly(conn *sqlite.Conn) error {
	found, err := checkSchema(conn)
	switch code := sqlite.ErrCode(err); {
	case code == sqlite.ResultReadOnlyDirectory || code == sqlite.ResultReadOnlyCantInit:
		return errs.Wrapf("evstore/sqlite", err, "open %s read-only: the file is in WAL mode and its -shm file is missing and cannot be created (make the directory writable, or open the file once without ReadOnly)", b.path)
	case err != nil:
		return errs.Wrapf("evstore/sqlite", err, "open %s", b.path)
	case !found["events"]:
		return fmt.Errorf("%w: %s is not an evstore/py-event-sourcing database: it has no events table", evstore.ErrCorrupt, b.path)
	}
	b.noSnapshots = !found["snapshots"]
	b.noTags = !found["evstore_tags"]
	return nil
}

// openConn opens a connection with the pragmas every connection needs.
func (b *backend) openConn(ctx context.Context, writer bool) (*sqlite.Conn, error) {
	flags := sqlite.OpenReadWrite | sqlite.OpenCreate
	if b.cfg.readOnly {
		flags = sqlite.OpenReadOnly
	}
	conn, err := sqlite.OpenConn(b.path, flags)
	if err != nil {
		return nil, errs.Wrapf("evstore/sqlite", translate(err), "open %s", b.path)
	}
	conn.SetBusyTimeout(b.cfg.busyTimeout)
	if !writer { // the writer sets it once the file is known to be ours
		pragmas := []string{"PRAGMA synchronous=NORMAL", "PRAGMA secure_delete=ON", fmt.Sprintf("PRAGMA mmap_size=%d", b.cfg.mmapSize)}
		for _, p := range pragmas {
			if err := exec(ctx, conn, p); err != nil {
				conn.Close()
				return nil, errs.Wrapf("evstore/sqlite", err, "open %s", b.path)
			}
		}
	}
	return conn, nil
}

// initWriter checks the file, without changing anything if it is not an
// event store, then turns on WAL, creates the missing tables and migrates
// an older file forward (see SchemaVersion).
func (b *backend) initWriter(ctx context.Context, w *sqlite.Conn) error {
	found, err := checkSchema(w)
	if err != nil {
		return err
	}
	// secure_delete: deleted content is overwritten with zeros (see
	// delete.go), on every connection.
	pragmas := []string{"PRAGMA synchronous=NORMAL", "PRAGMA secure_delete=ON"}
	if !b.memory {
		pragmas = append([]string{"PRAGMA journal_mode=WAL"}, pragmas...)
	}
	for _, p := range pragmas {
		if err := exec(ctx, w, p); err != nil {
			return err
		}
	}
	return migrate(ctx, w, found)
}

// take borrows a connection from pool, waiting while all are busy, and
// makes ctx interrupt it. put gives it back.
func take(ctx context.Context, pool chan *sqlite.Conn) (*sqlite.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case c := <-pool:
		c.SetInterrupt(ctx.Done())
		return c, nil
	default:
	}
	select {
	case c := <-pool:
		c.SetInterrupt(ctx.Done())
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func put(pool chan *sqlite.Conn, c *sqlite.Conn) {
	c.SetInterrupt(nil)
	pool <- c
}

// Close closes every connection. The Store calls it when no call is in
// flight and the Changes poller has been told to stop.
func (b *backend) Close() error {
	b.wg.Wait()
	return b.closeConns()
}

func (b *backend) closeConns() error {
	var errs []error
	for _, c := range b.conns {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	b.conns = nil
	b.ckptMu.Lock()
	if b.ckpt != nil {
		if err := b.ckpt.Close(); err != nil {
			errs = append(errs, err)
		}
		b.ckpt = nil
	}
	b.ckptMu.Unlock()
	return errors.Join(errs...)
}

// readOnlyBackend is the Backend of a Store opened with ReadOnly. Its
// connections are read-only, so SQLite itself refuses every write, which
// translate turns into ErrReadOnly.
type readOnlyBackend struct{ *backend }

var (
	_ evstore.Backend         = readOnlyBackend{}
	_ evstore.StreamLister    = readOnlyBackend{}
	_ evstore.ConsumerBackend = readOnlyBackend{}
)

// LoadSnapshot implements evstore.Backend. A file without a snapshots
// table has no snapshots.
func (b readOnlyBackend) LoadSnapshot(ctx context.Context, streamID, projection string) (*evstore.Snapshot, error) {
	if b.noSnapshots {
		return nil, nil
	}
	return b.backend.LoadSnapshot(ctx, streamID, projection)
}
