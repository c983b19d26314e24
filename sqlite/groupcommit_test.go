package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

func newBackend(t testing.TB) *backend {
	t.Helper()
	b, err := open(context.Background(), filepath.Join(t.TempDir(), "g.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func queued(b *backend) int { return b.queue.Len() }

// waitQueued waits until n calls are queued.
func waitQueued(t testing.TB, b *backend, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for queued(b) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", queued(b), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	version int64
	err     error
}

func enc(ids ...string) []evstore.EncodedEvent {
	out := make([]evstore.EncodedEvent, len(ids))
	for i, id := range ids {
		out[i] = evstore.EncodedEvent{ID: id, Type: "T"}
	}
	return out
}

// TestGroupCommitSemantics queues calls while the writer is busy, so that
// they commit as one group, and checks each keeps its own meaning.
func TestGroupCommitSemantics(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	calls := []struct {
		name    string
		req     evstore.AppendRequest
		version int64
		target  error
	}{
		{"first write", evstore.AppendRequest{StreamID: "a", Events: enc("", ""), Expect: expect(0)}, 2, nil},
		{"sees the first in the same group", evstore.AppendRequest{StreamID: "a", Events: enc(""), Expect: expect(0)}, 0, evstore.ErrConflict},
		{"continues the first", evstore.AppendRequest{StreamID: "a", Events: enc(""), Expect: expect(2)}, 3, nil},
		{"keyed", evstore.AppendRequest{StreamID: "b", Events: enc("k1", "k2")}, 2, nil},
		{"retry in the same group", evstore.AppendRequest{StreamID: "b", Events: enc("k1", "k2"), Expect: expect(9)}, 2, nil},
		{"partial repeat, wrong expectation", evstore.AppendRequest{StreamID: "b", Events: enc("k2", "k3"), Expect: expect(0)}, 0, evstore.ErrConflict},
		{"partial repeat", evstore.AppendRequest{StreamID: "b", Events: enc("k2", "k3"), Expect: expect(2)}, 3, nil},
		{"exists", evstore.AppendRequest{StreamID: "c", Events: enc(""), Expect: exists()}, 0, evstore.ErrConflict},
		{"other stream", evstore.AppendRequest{StreamID: "c", Events: enc("", "", "")}, 3, nil},
	}
	held := <-b.writer // the writer is busy: calls queue up
	results := make([]chan result, len(calls))
	for i, c := range calls {
		results[i] = make(chan result, 1)
		go func() {
			v, err := b.Append(ctx, c.req)
			results[i] <- result{v.Version, err}
		}()
		waitQueued(t, b, i+1) // keep the queue in this order
	}
	b.writer <- held
	for i, c := range calls {
		r := <-results[i]
		if c.target != nil {
			if !errors.Is(r.err, c.target) {
				t.Errorf("%s: got %d, %v; want %v", c.name, r.version, r.err, c.target)
			}
			continue
		}
		if r.err != nil || r.version != c.version {
			t.Errorf("%s: got %d, %v; want %d, nil", c.name, r.version, r.err, c.version)
		}
	}
	for stream, want := range map[string]int64{"a": 3, "b": 3, "c": 3} {
		if got, err := b.Head(ctx, stream); err != nil || got != want {
			t.Errorf("%s: got version %d, %v; want %d", stream, got, err, want)
		}
	}
	if got, _ := b.Head(ctx, evstore.All); got != 9 {
		t.Errorf("@all: got %d events, want 9", got)
	}
}

func expect(v int64) evstore.Expectation { return evstore.Expect(evstore.ExpectVersion(v)) }

func exists() evstore.Expectation { return evstore.Expect(evstore.ExpectExists()) }

// TestGroupCommitWithdraw: a queued call whose ctx ends leaves the queue
// and writes nothing.
func TestGroupCommitWithdraw(t *testing.T) {
	b := newBackend(t)
	held := <-b.writer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Append(ctx, evstore.AppendRequest{StreamID: "s", Events: enc("")})
		done <- err
	}()
	waitQueued(t, b, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if n := queued(b); n != 0 {
		t.Errorf("%d calls left in the queue, want 0", n)
	}
	b.writer <- held
	if v, err := b.Head(context.Background(), "s"); err != nil || v != 0 {
		t.Errorf("got version %d, %v; want 0: the withdrawn call must not write", v, err)
	}
}

// TestGroupCommitRolledBackBySQLite: when a call's statement makes SQLite
// roll back the whole transaction (here a trigger's RAISE(ROLLBACK); in
// production a full disk or an I/O error), the group stops there and all
// its calls fail with that error, even one that had met a conflict with a
// call now rolled back: none runs on in autocommit mode, and the cached
// versions stay right.
func TestGroupCommitRolledBackBySQLite(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	if _, err := b.Append(ctx, evstore.AppendRequest{StreamID: "x", Events: enc("")}); err != nil {
		t.Fatal(err)
	}
	held := <-b.writer
	if err := exec(ctx, held, "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.event_type = 'Boom' BEGIN SELECT RAISE(ROLLBACK, 'boom'); END"); err != nil {
		t.Fatal(err)
	}
	boom := []evstore.EncodedEvent{{Type: "Boom"}}
	reqs := []evstore.AppendRequest{
		{StreamID: "x", Events: enc(""), Expect: expect(1)},
		{StreamID: "x", Events: enc(""), Expect: expect(1)}, // conflicts with the first, which is rolled back
		{StreamID: "y", Events: boom},
		{StreamID: "x", Events: enc("")},
	}
	results := make([]chan result, len(reqs))
	for i, req := range reqs {
		results[i] = make(chan result, 1)
		go func() {
			v, err := b.Append(ctx, req)
			results[i] <- result{v.Version, err}
		}()
		waitQueued(t, b, i+1)
	}
	b.writer <- held
	for i := range reqs {
		if r := <-results[i]; r.err == nil || errors.Is(r.err, evstore.ErrConflict) {
			t.Errorf("call %d: got %d, %v; want the rollback's error", i, r.version, r.err)
		}
	}
	if got, err := b.Head(ctx, "x"); err != nil || got != 1 {
		t.Errorf("x: got version %d, %v; want 1 (the group wrote nothing)", got, err)
	}
	if v, err := b.Append(ctx, evstore.AppendRequest{StreamID: "x", Events: enc(""), Expect: expect(1)}); err != nil || v.Version != 2 {
		t.Errorf("next write: got %d, %v; want 2", v, err)
	}
}

// TestGroupCommitPanic: a panic inside a group's transaction rolls it back
// and reaches the leader's caller; the other calls fail, and the store
// goes on taking writes.
func TestGroupCommitPanic(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	held := <-b.writer
	results := make([]chan error, 2)
	for i := range results {
		results[i] = make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					results[i] <- fmt.Errorf("panic: %v", p)
				}
			}()
			_, err := b.Append(ctx, evstore.AppendRequest{StreamID: "a", Events: enc("")})
			results[i] <- err
		}()
		waitQueued(t, b, i+1)
	}
	b.beforeCommit = func() { panic("boom") }
	b.writer <- held
	for i := range results {
		if err := <-results[i]; err == nil {
			t.Errorf("call %d: no error, want the panic or errPanicked", i)
		}
	}
	held = <-b.writer
	b.beforeCommit = nil
	b.writer <- held
	if got, err := b.Head(ctx, "a"); err != nil || got != 0 {
		t.Errorf("a: got version %d, %v; want 0 (rolled back)", got, err)
	}
	if v, err := b.Append(ctx, evstore.AppendRequest{StreamID: "a", Events: enc("")}); err != nil || v.Version != 1 {
		t.Errorf("write after the panic: got %d, %v; want 1", v, err)
	}
}
