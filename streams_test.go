package evstore

import (
	"context"
	"errors"
	"iter"
	"slices"
	"testing"
	"time"
)

// listerBackend is a Backend that only lists streams (and closes): the
// embedded nil Backend panics on anything else. It records how far its
// iterator went.
type listerBackend struct {
	Backend
	ids  []string
	err  error // yielded after ids, if set
	rows int   // rows yielded so far
	open bool  // an iterator has started and not yet returned
	ends int   // iterators that have returned
}

func (b *listerBackend) Streams(ctx context.Context) iter.Seq2[Metrics, error] {
	return func(yield func(Metrics, error) bool) {
		b.open = true
		defer func() { b.open, b.ends = false, b.ends+1 }()
		for _, id := range b.ids {
			b.rows++
			if !yield(Metrics{StreamID: id, Version: 1, EventCount: 1}, nil) {
				return
			}
		}
		if b.err != nil {
			yield(Metrics{}, b.err)
		}
	}
}

func (b *listerBackend) Close() error { return nil }

// plainBackend lists nothing: it is not a StreamLister.
type plainBackend struct{ Backend }

func (plainBackend) Close() error { return nil }

func TestStoreStreams(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		ids       []string
		err       error
		stopAfter int // break after this many rows; 0 = never
		wantIDs   []string
		wantErr   error
		wantRows  int // rows the backend yielded
	}{
		{name: "all", ids: []string{"a", "b", "c"}, wantIDs: []string{"a", "b", "c"}, wantRows: 3},
		{name: "none", wantRows: 0},
		{name: "break after first", ids: []string{"a", "b", "c"}, stopAfter: 1, wantIDs: []string{"a"}, wantRows: 1},
		{name: "break after second", ids: []string{"a", "b", "c"}, stopAfter: 2, wantIDs: []string{"a", "b"}, wantRows: 2},
		{name: "error last", ids: []string{"a", "b"}, err: boom, wantIDs: []string{"a", "b"}, wantErr: boom, wantRows: 2},
		{name: "error only", err: boom, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &listerBackend{ids: tt.ids, err: tt.err}
			s := NewStore(b)
			defer s.Close()
			var gotIDs []string
			var gotErr error
			pairs := 0
			for m, err := range s.Streams(context.Background()) {
				pairs++
				if gotErr != nil {
					t.Fatalf("pair %d after error %v", pairs, gotErr)
				}
				if err != nil {
					gotErr = err
					continue
				}
				if gotIDs = append(gotIDs, m.StreamID); len(gotIDs) == tt.stopAfter {
					break
				}
			}
			if !slices.Equal(gotIDs, tt.wantIDs) {
				t.Errorf("ids: got %q, want %q", gotIDs, tt.wantIDs)
			}
			if !errors.Is(gotErr, tt.wantErr) || (gotErr == nil) != (tt.wantErr == nil) {
				t.Errorf("error: got %v, want %v", gotErr, tt.wantErr)
			}
			if b.rows != tt.wantRows {
				t.Errorf("backend yielded %d rows, want %d (rows are pulled one at a time)", b.rows, tt.wantRows)
			}
			if b.open || b.ends != 1 {
				t.Errorf("backend iterator: open %v, returned %d times, want closed and returned once", b.open, b.ends)
			}
		})
	}
}

func TestStoreStreamsUnsupported(t *testing.T) {
	s := NewStore(plainBackend{})
	defer s.Close()
	n := 0
	for _, err := range s.Streams(context.Background()) {
		if n++; !errors.Is(err, ErrUnsupported) {
			t.Errorf("got error %v, want ErrUnsupported", err)
		}
	}
	if n != 1 {
		t.Errorf("got %d pairs, want 1", n)
	}
}

func TestStoreStreamsClosed(t *testing.T) {
	b := &listerBackend{ids: []string{"a"}}
	s := NewStore(b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range s.Streams(context.Background()) {
		if n++; !errors.Is(err, ErrClosed) {
			t.Errorf("got error %v, want ErrClosed", err)
		}
	}
	if n != 1 || b.ends != 0 {
		t.Errorf("got %d pairs and %d backend listings, want 1 pair and no listing", n, b.ends)
	}
}

// TestStoreStreamsCloseWaits: the whole loop is a call in flight, so Close
// waits for it and the backend is never closed under an open listing.
func TestStoreStreamsCloseWaits(t *testing.T) {
	b := &listerBackend{ids: []string{"a", "b"}}
	s := NewStore(b)
	closed := make(chan error, 1)
	for m, err := range s.Streams(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if m.StreamID == "a" {
			go func() { closed <- s.Close() }()
			select {
			case <-closed:
				t.Fatal("Close returned while a Streams loop ran")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the loop ended")
	}
}

// TestStoreStreamsCallsDuringClose: a Streams loop body that calls the
// Store while another goroutine closes it gets ErrClosed, not a deadlock
// (as it would with a read lock that a waiting Close blocks).
func TestStoreStreamsCallsDuringClose(t *testing.T) {
	b := &listerBackend{ids: []string{"a", "b"}}
	s := NewStore(b)
	closed := make(chan error, 1)
	for m, err := range s.Streams(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if m.StreamID != "a" {
			continue
		}
		go func() { closed <- s.Close() }()
		for deadline := time.Now().Add(10 * time.Second); ; {
			s.mu.Lock()
			closing := s.closed
			s.mu.Unlock()
			if closing {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Close did not start")
			}
			time.Sleep(time.Millisecond)
		}
		got := make(chan error, 1)
		go func() {
			_, err := s.Stream(context.Background(), "x")
			got <- err
		}()
		select {
		case err := <-got:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Stream during Close: got %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call from the loop body waits for Close, which waits for the loop")
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}
