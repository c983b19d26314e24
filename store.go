package evstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"
)

// A Store is an event store: a set of streams kept by a Backend. Open one
// with sqlite.Open (or postgres.Open, or memory.Open for tests); it is safe
// for concurrent use by many goroutines. Close it when done: Close stops
// every goroutine it started.
type Store struct {
	b Backend

	// The call gate: every call into b counts itself in active, under mu;
	// Close sets closed, so that later calls return ErrClosed at once, and
	// waits on idle until active is back to zero. Unlike a read lock, a
	// call made while another is in flight (from a Streams loop, say)
	// never waits for Close.
	mu     sync.Mutex
	idle   sync.Cond
	active int
	closed bool
	// consumers counts the Consume calls running; Close waits for them
	// (on idle) before it closes the gate, so that they can release their
	// leases.
	consumers int
	leases    leaseBoard
	progress  progressBoard // how far this Store's consumers got

	done      <-chan struct{}    // closed when Close starts: life.Done()
	life      context.Context    // the Store's lifetime, cancelled when Close starts
	kill      context.CancelFunc // cancels life
	closeOnce sync.Once
	closeErr  error

	notifier *notifier
	readPage int          // events per Backend.Read of a Read loop or a catch-up
	log      *slog.Logger // the Backend's (LoggingBackend), or one that discards
	tracer   Tracer       // the Backend's (TracingBackend), or nil
	system   string       // the Backend's System, for the tracer
}

// NewStore returns a Store that keeps its events in b. Backends' Open
// functions call it; applications rarely need to.
func NewStore(b Backend) *Store {
	s := &Store{b: b, readPage: defaultReadPage, log: loggerOf(b)}
	s.tracer, s.system = tracerOf(b)
	s.life, s.kill = context.WithCancel(context.Background())
	s.done = s.life.Done()
	s.idle.L = &s.mu
	s.notifier = newNotifier(s)
	return s
}

// Close stops the Store's watchers (their loops end with ErrClosed), waits
// for calls in flight, stops the goroutines the Store started and closes the
// Backend. Calls after Close return ErrClosed. Close is idempotent: later
// calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.kill()
		s.mu.Lock()
		for s.consumers > 0 {
			s.idle.Wait()
		}
		s.closed = true
		for s.active > 0 {
			s.idle.Wait()
		}
		s.mu.Unlock()
		s.notifier.stop()
		s.closeErr = s.b.Close()
	})
	return s.closeErr
}

// closing reports whether Close has begun.
func (s *Store) closing() bool { return s.life.Err() != nil }

// enter marks the start of a call into the Backend; leave ends it.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.active++
	return nil
}

func (s *Store) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active--; s.active == 0 && s.closed {
		s.idle.Broadcast()
	}
}

// startConsumer registers a running Consume, unless Close has begun.
func (s *Store) startConsumer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	s.consumers++
	return nil
}

func (s *Store) stopConsumer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.consumers--; s.consumers == 0 {
		s.idle.Broadcast()
	}
}

// call runs f as a call into the Backend, between enter and leave, so
// that Close waits for it even if f panics.
func call[T any](s *Store, f func() (T, error)) (T, error) {
	if err := s.enter(); err != nil {
		var zero T
		return zero, err
	}
	defer s.leave()
	return f()
}

// head returns the current version of a stream, or the newest Sequence.
func (s *Store) head(ctx context.Context, id string) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	return s.b.Head(ctx, id)
}

// horizon returns the newest Sequence a Read or Find sees: the newest
// committed one, or MaxSequence's when that is lower; 0 for an empty store.
func (s *Store) horizon(ctx context.Context, cfg readConfig) (int64, error) {
	h, err := s.head(ctx, All)
	if cfg.maxSeqSet {
		h = min(h, cfg.maxSeq)
	}
	return h, err
}

// read runs one Backend.Read.
func (s *Store) read(ctx context.Context, q Query, dst []StoredEvent) ([]StoredEvent, error) {
	if s.tracer == nil {
		if err := s.enter(); err != nil {
			return dst, err
		}
		defer s.leave()
		return s.b.Read(ctx, q, dst)
	}
	n := len(dst)
	return traced(s, ctx, Trace{Op: TraceRead, StreamID: q.StreamID}, func(ctx context.Context) ([]StoredEvent, error) {
		return s.b.Read(ctx, q, dst)
	}, func(t *Trace, out []StoredEvent) { t.Events = len(out) - n })
}

// Stream returns a handle on the stream id, or on the global stream for All.
// A stream exists once an event is written to it; a handle on a stream with
// no events has Version 0. The handle is safe for concurrent use.
func (s *Store) Stream(ctx context.Context, id string) (*Stream, error) {
	if err := checkStreamID(id); err != nil {
		return nil, err
	}
	v, err := s.head(ctx, id)
	if err != nil {
		return nil, err // the Backend's error names the stream
	}
	st := &Stream{store: s, id: id}
	st.version.Store(v)
	return st, nil
}

// text reports whether s is valid UTF-8 without NUL bytes: what every
// backend can store as text (PostgreSQL refuses the others).
func text(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func checkStreamID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidStreamID)
	case len(id) > MaxStreamIDLen:
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidStreamID, len(id), MaxStreamIDLen)
	case !text(id):
		return fmt.Errorf("%w: %q is not UTF-8 text without NUL bytes", ErrInvalidStreamID, id)
	}
	return nil
}
