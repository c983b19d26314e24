package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"go.uber.org/goleak"
)

// TestCloseUnderLoad closes a store while writes, reads and watches run:
// no panic or deadlock, every call completes or returns ErrClosed, no
// goroutine is left, and every acknowledged write is in the file.
func TestCloseUnderLoad(t *testing.T) {
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) { closeUnderLoad(t) })
	}
}

func closeUnderLoad(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "close.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]int64{}
	var wg sync.WaitGroup
	fail := func(what string, err error) {
		if err != nil && !errors.Is(err, evstore.ErrClosed) {
			t.Errorf("%s: got %v, want nil or ErrClosed", what, err)
		}
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("w-%d", w)
			st, err := s.Stream(ctx, id)
			if err != nil {
				fail("Stream", err)
				return
			}
			for {
				v, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}, {Type: "E"}})
				if err != nil {
					fail("Write", err)
					return
				}
				mu.Lock()
				acked[id] = v
				mu.Unlock()
			}
		}()
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				st, err := s.Stream(ctx, evstore.All)
				if err != nil {
					fail("Stream", err)
					return
				}
				for _, err := range st.Read(ctx) {
					if err != nil {
						fail(fmt.Sprint("Read ", r), err)
						return
					}
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := s.Stream(ctx, evstore.All)
			if err != nil {
				fail("Stream", err)
				return
			}
			for _, err := range st.Watch(ctx, evstore.After(0)) {
				if err != nil {
					if !errors.Is(err, evstore.ErrClosed) {
						t.Errorf("Watch: %v", err)
					}
					return
				}
			}
			t.Error("Watch ended without ErrClosed")
		}()
	}
	time.Sleep(150 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("calls still running 30s after Close")
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Close: %v", err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, v := range acked {
		if got := stream(t, s, id).Version(); got < v {
			t.Errorf("%s: version %d after reopening, but %d was acknowledged", id, got, v)
		}
	}
	if len(acked) == 0 {
		t.Error("no write was acknowledged before Close")
	}
}
