package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"github.com/go-event-sourcing/evstore/internal/groupcommit"
	"github.com/jackc/pgx/v5/pgxpool"
)

// An Option configures Open.
type Option func(*config)

type config struct {
	logger       *slog.Logger
	tracer       evstore.Tracer
	schema       string
	pollInterval time.Duration
}

// WithSchema places evstore's tables in the named PostgreSQL schema,
// created if missing (default "public"): tenants and tests can each have
// their own.
func WithSchema(name string) Option { return func(c *config) { c.schema = name } }

// WithLogger makes the Store log what its background goroutines meet
// (a listener that reconnects, failures retried, consumers' leases taken
// and lost) through l; see evstore.LoggingBackend. Nothing is logged
// without it.
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

// System implements evstore.TracingBackend: "postgresql".
func (b *backend) System() string { return "postgresql" }

// WithPollInterval sets how often the store checks for new events when no
// notification has come (default 1s). Notifications normally wake watchers
// at once; the poll only bounds the delay when one is lost.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.pollInterval = d } }

// backend is the evstore.Backend of a PostgreSQL database.
type backend struct {
	pool    *pgxpool.Pool
	cfg     config
	sql     statements
	channel string // NOTIFY channel of this schema

	writer chan struct{} // the token of group commit
	queue  groupcommit.Queue[groupcommit.Request]

	wg     sync.WaitGroup // the listener
	leases leaseSet       // open leases' connections
	dialer *dialer        // every connection's

	beforeCommit func() // tests only: runs in each append transaction, just before COMMIT
	noTagTable   bool   // benchmarks only: tags in events.tags alone, as with a GIN index on it
}

var (
	_ evstore.Backend         = (*backend)(nil)
	_ evstore.StreamLister    = (*backend)(nil)
	_ evstore.ConsumerBackend = (*backend)(nil)
)

// Open connects to the PostgreSQL database dsn names (a URL or key=value
// string, as pgx takes), creates evstore's tables if they are missing, and
// returns a Store on them.
func Open(ctx context.Context, dsn string, opts ...Option) (*evstore.Store, error) {
	b, err := open(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	return evstore.NewStore(b), nil
}

func open(ctx context.Context, dsn string, opts []Option) (*backend, error) {
	cfg := config{schema: "public", pollInterval: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler) // nothing is logged without WithLogger
	}
	switch {
	case dsn == "":
		return nil, fmt.Errorf("%w: empty connection string", evstore.ErrInvalidArgument)
	case cfg.schema == "":
		return nil, fmt.Errorf("%w: empty schema name", evstore.ErrInvalidArgument)
	case cfg.pollInterval <= 0:
		return nil, fmt.Errorf("%w: poll interval %v is not positive", evstore.ErrInvalidArgument, cfg.pollInterval)
	}
	poolCfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", evstore.ErrInvalidArgument, err)
	}
	// evstore's queries are index range scans whose best plan does not
	// depend on the values bound. Plans made for the first values seen
	// (PostgreSQL's default for a statement's first five runs) were up to
	// 20 times slower on a freshly loaded table, so use generic plans.
	if _, set := poolCfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		poolCfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	// Nor JIT compilation: a generic plan's costs are guesses, and a
	// statement that walks an index for one event, such as a group's
	// conditions (condition.go), can be guessed costly enough to be
	// compiled, which took 20ms where running it takes 0.1ms.
	if _, set := poolCfg.ConnConfig.RuntimeParams["jit"]; !set {
		poolCfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	// Every connection, the leases' and the listener's too (they copy the
	// pool's settings), goes through the dialer, which Close ends.
	d := newDialer(poolCfg.ConnConfig.DialFunc)
	poolCfg.ConnConfig.DialFunc = d.DialContext
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		d.close()
		return nil, errs.Wrap("evstore/postgres", "connect", err)
	}
	if err := createSchema(ctx, pool, cfg.schema); err != nil {
		closePool(pool, d)
		if errors.Is(err, ErrNewerSchema) {
			return nil, err
		}
		return nil, fmt.Errorf("evstore/postgres: %w", translate(err))
	}
	b := &backend{
		pool:    pool,
		dialer:  d,
		cfg:     cfg,
		sql:     newStatements(cfg.schema),
		channel: "evstore_" + fmt.Sprintf("%08x", hash(cfg.schema)),
		writer:  make(chan struct{}, 1),
	}
	b.writer <- struct{}{}
	b.queue.Tracer, b.queue.System = cfg.tracer, b.System()
	return b, nil
}

// hash is FNV-1a, to name a schema's notification channel.
func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// Close implements evstore.Backend. It does not wait long for a server
// that does not answer (see dialer).
func (b *backend) Close() error {
	b.leases.closeAll()
	b.wg.Wait()
	closePool(b.pool, b.dialer)
	return nil
}

// closeGrace is how long Close waits for the pool to close its
// connections before it closes their sockets.
const closeGrace = time.Second

// closePool closes pool, and then every connection d opened. The pool
// waits for pgx to close connections that a ctx interrupted, which takes
// up to 15s when the server does not answer: after closeGrace, their
// sockets are closed, which ends it.
func closePool(pool *pgxpool.Pool, d *dialer) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		pool.Close()
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		d.close()
		<-done
	}
	d.close()
}
