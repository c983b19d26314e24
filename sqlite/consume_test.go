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
