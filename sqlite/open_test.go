package sqlite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

func TestOpenBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	otherSchema := filepath.Join(dir, "other.db")
	conn, err := sqlite.OpenConn(otherSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteScript(conn, "CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO events (body) VALUES ('x');", nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	cases := []struct {
		name   string
		path   string
		opts   []Option
		target error
		says   string
	}{
		{"empty path", "", nil, evstore.ErrInvalidArgument, "empty database path"},
		{"directory", dir, nil, evstore.ErrInvalidArgument, "directory"},
		{"text file", write("notes.txt", bytes.Repeat([]byte("this is not a database\n"), 400)), nil, evstore.ErrCorrupt, "notes.txt"},
		{"short garbage", write("short.db", []byte("SQLite format 3\x00garbage")), nil, evstore.ErrCorrupt, "short.db"},
		{"another schema", otherSchema, nil, evstore.ErrCorrupt, "schema"},
		{"zero poll interval", filepath.Join(dir, "a.db"), []Option{WithPollInterval(0)}, evstore.ErrInvalidArgument, "poll interval"},
		{"no readers", filepath.Join(dir, "a.db"), []Option{WithReaders(0)}, evstore.ErrInvalidArgument, "readers"},
		{"negative busy timeout", filepath.Join(dir, "a.db"), []Option{WithBusyTimeout(-time.Second)}, evstore.ErrInvalidArgument, "busy timeout"},
		{"negative mmap size", filepath.Join(dir, "a.db"), []Option{WithMmapSize(-1)}, evstore.ErrInvalidArgument, "mmap size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before []byte
			if fi, err := os.Stat(c.path); err == nil && !fi.IsDir() {
				before, _ = os.ReadFile(c.path)
			}
			s, err := Open(context.Background(), c.path, c.opts...)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): got a store, want an error wrapping %v", c.path, c.target)
			}
			if !errors.Is(err, c.target) {
				t.Errorf("got %v, want an error wrapping %v", err, c.target)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q does not mention %q", err, c.says)
			}
			if before != nil {
				after, _ := os.ReadFile(c.path)
				if !bytes.Equal(before, after) {
					t.Errorf("Open changed the file it refused")
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad options created the database file (stat: %v)", err)
	}
	// A missing directory is an error, not a panic.
	if s, err := Open(context.Background(), filepath.Join(dir, "missing", "x.db")); err == nil {
		s.Close()
		t.Error("Open in a missing directory: got a store, want an error")
	}
}

// TestTwoStoresOneFile: two Stores on one file act as two processes would.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	a, err := Open(ctx, path, WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path, WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got := make(chan evstore.StoredEvent, 100)
	done := make(chan error, 1)
	all := stream(t, b, evstore.All) // before any write: Watch starts at its Version
	go func() {
		for e, err := range all.Watch(wctx) {
			if err != nil {
				done <- err
				return
			}
			got <- e
		}
		done <- nil
	}()
	time.Sleep(50 * time.Millisecond) // let the watch start; it replays anyway
	sa := stream(t, a, "s")
	for i := range 5 {
		if _, err := sa.Write(ctx, []evstore.CandidateEvent{{Type: "FromA"}}, evstore.ExpectVersion(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		select {
		case e := <-got:
			if e.Version != int64(i+1) || e.Type != "FromA" {
				t.Errorf("watch on b: got %s v%d, want FromA v%d", e.Type, e.Version, i+1)
			}
		case err := <-done:
			t.Fatalf("watch on b ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("watch on b saw %d of a's 5 writes", i)
		}
	}

	// b's handle is stale; its expectation is checked in the database.
	sb := stream(t, b, "s")
	if _, err := sb.Write(ctx, []evstore.CandidateEvent{{Type: "FromB"}}, evstore.ExpectVersion(4)); !errors.Is(err, evstore.ErrConflict) {
		t.Errorf("b with a stale expectation: got %v, want ErrConflict", err)
	}
	if v, err := sb.Write(ctx, []evstore.CandidateEvent{{Type: "FromB"}}, evstore.ExpectVersion(5)); err != nil || v != 6 {
		t.Errorf("b: got %d, %v; want 6, nil", v, err)
	}
	if n := len(readAll(t, stream(t, a, "s"))); n != 6 {
		t.Errorf("a reads %d events, want 6", n)
	}
}
