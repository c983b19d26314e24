package memory

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/logtest"
)

// faulty is a backend whose calls fail while their switch is on.
type faulty struct {
	*backend
	read, acquire, save atomic.Int32 // failures left
}

func (f *faulty) Read(ctx context.Context, q evstore.Query, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	if f.read.Add(-1) >= 0 {
		return dst, errors.New("transient: read reset")
	}
	return f.backend.Read(ctx, q, dst)
}

func (f *faulty) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	if f.acquire.Add(-1) >= 0 {
		return nil, errors.New("transient: acquire reset")
	}
	l, err := f.backend.AcquireLease(ctx, key, ttl)
	if l == nil || err != nil {
		return l, err
	}
	return &faultyLease{Lease: l, f: f}, nil
}

type faultyLease struct {
	evstore.Lease
	f *faulty
}

func (l *faultyLease) Save(ctx context.Context, position int64, external bool) error {
	if l.f.save.Add(-1) >= 0 {
		return errors.New("transient: save reset")
	}
	return l.Lease.Save(ctx, position, external)
}

// TestLogs: what a Store's background goroutines meet is logged through
// the logger given at Open, each record naming its consumer.
func TestLogs(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *faulty)
		h     evstore.Handler
		opts  []evstore.ConsumeOption
		level slog.Level
		msg   string
	}{
		{"active", nil, nil, nil, slog.LevelInfo, "consumer active"},
		{"handler failed", nil, failOnce(), nil, slog.LevelWarn, "consumer handler failed; retrying"},
		{"acquire failed", func(f *faulty) { f.acquire.Store(2) }, nil, nil, slog.LevelWarn, "consumer cannot reach its lease; retrying"},
		{"read failed", func(f *faulty) { f.read.Store(1) }, nil, nil, slog.LevelWarn, "consumer cannot read the store; retrying"},
		{"save failed", func(f *faulty) { f.save.Store(2) }, nil, nil, slog.LevelWarn, "consumer checkpoint not saved; retrying"},
		{"stopped", nil, nil, []evstore.ConsumeOption{evstore.StartFrom(99)}, slog.LevelError, "consumer stopped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rec logtest.Recorder
			f := &faulty{backend: newBackend()}
			f.logger = rec.Logger()
			s := storeWithOneEvent(t, f)
			if c.setup != nil {
				c.setup(f)
			}
			h := c.h
			if h == nil {
				h = evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error { return nil })
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			opts := append([]evstore.ConsumeOption{evstore.ConsumeRetry(time.Millisecond, time.Millisecond, 0)}, c.opts...)
			go func() { done <- s.Consume(ctx, "logged", h, opts...) }()
			r, ok := rec.Wait(c.level, c.msg, 20*time.Second)
			if !ok {
				t.Fatalf("no %v record %q within 20s", c.level, c.msg)
			}
			if v, ok := logtest.Attr(r, "consumer"); !ok || v.String() != "logged" {
				t.Errorf("record %q: consumer = %v, want logged", r.Message, v)
			}
			cancel()
			<-done
		})
	}
}

// failOnce returns a Handler that fails its first call.
func failOnce() evstore.Handler {
	var failed atomic.Bool
	return evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error {
		if failed.CompareAndSwap(false, true) {
			return errors.New("handler failed once")
		}
		return nil
	})
}

// TestLogsLeaseLost: an instance whose lease cannot be renewed logs that
// it lost it and stands by.
func TestLogsLeaseLost(t *testing.T) {
	var rec logtest.Recorder
	b := &cutOff{backend: newBackend()}
	b.logger = rec.Logger()
	s := storeWithOneEvent(t, b)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(ctx, "c", evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error {
			b.armed.Store(true) // cut off from here on
			return nil
		}), evstore.LeaseTime(200*time.Millisecond))
	}()
	if _, ok := rec.Wait(slog.LevelWarn, "consumer lease lost; standing by", 20*time.Second); !ok {
		t.Fatal("no record of the lost lease within 20s")
	}
	cancel()
	<-done
}

// TestLogsNotifier: the notifier's failed read of new commits is logged.
func TestLogsNotifier(t *testing.T) {
	var rec logtest.Recorder
	f := &faulty{backend: newBackend()}
	f.logger = rec.Logger()
	s := storeWithOneEvent(t, f)
	st, err := s.Stream(t.Context(), "w")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan struct{})
	go func() {
		for _, err := range st.Watch(ctx) {
			if err == nil {
				close(got)
			}
			return
		}
	}()
	time.Sleep(20 * time.Millisecond) // the watcher is live
	f.read.Store(10)
	if _, err := st.Write(t.Context(), []evstore.CandidateEvent{{Type: "T"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.Wait(slog.LevelWarn, "notifier cannot read new commits; retrying", 20*time.Second); !ok {
		t.Fatal("no record of the notifier's failed read within 20s")
	}
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the watcher did not get the event after the retries")
	}
	if _, ok := rec.Wait(slog.LevelInfo, "notifier reads new commits again", 20*time.Second); !ok {
		t.Error("no record of the notifier's recovery")
	}
	// Ten failures in a row are logged at the 1st, 2nd, 4th and 8th.
	if n := rec.Count(slog.LevelWarn, "notifier cannot read new commits"); n != 4 {
		t.Errorf("%d records of 10 failed reads in a row, want 4", n)
	}
}

// TestWithLogger: the logger given to Open is the Store's.
func TestWithLogger(t *testing.T) {
	var rec logtest.Recorder
	s, err := Open(t.Context(), WithLogger(rec.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(ctx, "c", evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error { return nil }))
	}()
	if _, ok := rec.Wait(slog.LevelInfo, "consumer active", 20*time.Second); !ok {
		t.Fatal("no record through the logger given to Open within 20s")
	}
	cancel()
	<-done
}
