package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// TestConsumeWaitsForItsCheckpoint: while another connection holds the
// write lock for longer than the busy timeout, a consumer's checkpoint
// cannot be saved, and the consumer handles no further batch until it
// is, so that a crash then would deliver at most one batch again.
func TestConsumeWaitsForItsCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	s, err := Open(ctx, path, WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stream(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	events := make([]evstore.CandidateEvent, 1000)
	for i := range events {
		events[i] = evstore.CandidateEvent{Type: "E", Data: fmt.Appendf(nil, "%d", i)}
	}
	if _, err := st.Write(ctx, events); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var starts []time.Time
	h := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		return nil
	})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Consume(cctx, "c", h, evstore.BatchSize(32)) }()
	time.Sleep(50 * time.Millisecond) // a few batches go through

	raw, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := sqlitex.ExecuteTransient(raw, "BEGIN IMMEDIATE", nil); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()
	time.Sleep(600 * time.Millisecond)
	if err := sqlitex.ExecuteTransient(raw, "COMMIT", nil); err != nil {
		t.Fatal(err)
	}
	unlocked := time.Now()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	during := 0
	for _, at := range starts {
		if at.After(locked.Add(30*time.Millisecond)) && at.Before(unlocked) {
			during++
		}
	}
	// The batch whose save met the lock may still have been started; no
	// other may.
	if during > 1 {
		t.Errorf("%d batches were handled while their checkpoints could not be saved, want at most 1", during)
	}
	if len(starts) < 5 {
		t.Errorf("the consumer handled %d batches in all; the test needs it to run before and after the lock", len(starts))
	}
}

// TestConsumeSurvivesWriteLockOutage: another connection holds the write
// lock (a backup, a long import) for several lease times. The active
// consumer loses its lease and stands by, the standby cannot take it
// either; once the lock is gone, one of them goes on, and neither Consume
// has returned.
func TestConsumeSurvivesWriteLockOutage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outage.db")
	var stores [2]*evstore.Store
	for i := range stores {
		s, err := Open(ctx, path, WithBusyTimeout(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	st, err := stores[0].Stream(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Before"}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []int64
	handled := make(chan struct{}, 1)
	h := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		mu.Lock()
		for _, e := range events {
			got = append(got, e.Sequence)
		}
		mu.Unlock()
		select {
		case handled <- struct{}{}:
		default:
		}
		return nil
	})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const lease = 200 * time.Millisecond
	done := make(chan error, 2)
	for _, s := range stores {
		go func() {
			done <- s.Consume(cctx, "c", h, evstore.LeaseTime(lease), evstore.ConsumeRetry(10*time.Millisecond, 100*time.Millisecond, 3))
		}()
	}
	<-handled
	for saved := false; !saved; time.Sleep(time.Millisecond) { // the checkpoint, before the outage
		for info, err := range stores[0].Consumers(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			saved = info.Position == 1
		}
	}

	raw, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := sqlitex.ExecuteTransient(raw, "BEGIN IMMEDIATE", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("Consume returned during the outage: %v", err)
	case <-time.After(10 * lease):
	}
	if err := sqlitex.ExecuteTransient(raw, "COMMIT", nil); err != nil {
		t.Fatal(err)
	}
	want := []int64{1}
	for i := range 5 {
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "After"}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, int64(i+2))
	}
	deadline := time.After(time.Minute)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Consume returned after the outage: %v", err)
		case <-handled:
		case <-deadline:
			t.Fatalf("the consumer handled %d of %d events in a minute after the outage", n, len(want))
		}
	}
	cancel()
	for range stores {
		if err := <-done; err != nil {
			t.Errorf("Consume after cancel: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handled %v, want %v: each event once, in order", got, want)
	}
}
