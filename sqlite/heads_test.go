package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// TestHeadsSeeOtherWriters: the writer's cache of stream versions must
// notice writes by another Store and by a plain connection (as Python
// would write), so that expectations are checked against the file.
func TestHeadsSeeOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "heads.db")
	a, err := open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	raw, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	appendOne := func(be *backend, v int64) (int64, error) {
		r, err := be.Append(ctx, evstore.AppendRequest{StreamID: "s", Events: enc(""), Expect: expect(v)})
		return r.Version, err
	}
	steps := []struct {
		name   string
		write  func() (int64, error)
		want   int64
		target error
	}{
		{"a starts the stream", func() (int64, error) { return appendOne(a, 0) }, 1, nil},
		{"b continues it", func() (int64, error) { return appendOne(b, 1) }, 2, nil},
		{"a sees b's write", func() (int64, error) { return appendOne(a, 2) }, 3, nil},
		{"a refuses its own old version", func() (int64, error) { return appendOne(a, 2) }, 0, evstore.ErrConflict},
		{"a plain connection writes", func() (int64, error) {
			err := exec(ctx, raw, "INSERT INTO events (stream_id, event_type, timestamp, version) VALUES ('s', 'Raw', '2026-11-26T00:00:00', 4)")
			return 4, err
		}, 4, nil},
		{"a sees the plain write", func() (int64, error) { return appendOne(a, 4) }, 5, nil},
		{"b sees both", func() (int64, error) { return appendOne(b, 5) }, 6, nil},
	}
	for _, s := range steps {
		got, err := s.write()
		if s.target != nil {
			var conflict *evstore.ConflictError
			if !errors.As(err, &conflict) || conflict.Actual != 3 {
				t.Fatalf("%s: got %d, %v; want a conflict at version 3", s.name, got, err)
			}
			continue
		}
		if err != nil || got != s.want {
			t.Fatalf("%s: got %d, %v; want %d", s.name, got, err, s.want)
		}
	}
}

// TestHeadsForgetRolledBack: versions written by a transaction that rolls
// back are not kept.
func TestHeadsForgetRolledBack(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	if _, err := b.Append(ctx, evstore.AppendRequest{StreamID: "s", Events: enc("")}); err != nil {
		t.Fatal(err)
	}
	conn := <-b.writer
	failed := errors.New("body failed")
	err := b.commit(ctx, conn, func() error {
		if v, err := appendTx(conn, &b.heads, evstore.AppendRequest{StreamID: "s", Events: enc("", "")}, "2026-11-26T00:00:00"); err != nil || v.Version != 3 {
			t.Errorf("append inside the transaction: got %d, %v; want 3", v, err)
		}
		return failed
	})
	b.writer <- conn
	if !errors.Is(err, failed) {
		t.Fatalf("commit: got %v, want the body's error", err)
	}
	v, err := b.Append(ctx, evstore.AppendRequest{StreamID: "s", Events: enc(""), Expect: expect(1)})
	if err != nil || v.Version != 2 {
		t.Errorf("after the rollback: got %d, %v; want 2", v, err)
	}
}
