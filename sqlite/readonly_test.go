package sqlite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// foreignFile writes an SQLite database of another application (rollback
// journal, as SQLite makes by default) made by script, and returns its path.
func foreignFile(t *testing.T, dir, name, script string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteScript(conn, script, nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// dirFiles lists the names in dir.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// journalMode returns the file's journal mode, as a new connection sees it.
func journalMode(t *testing.T, path string) string {
	t.Helper()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mode string
	err = sqlitex.ExecuteTransient(conn, "PRAGMA journal_mode", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { mode = stmt.ColumnText(0); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return mode
}

// TestReadOnlyRefusesForeignFiles: ReadOnly opens nothing but an event
// store, and leaves every other file exactly as it was, with no -wal,
// -shm or -journal file beside it.
func TestReadOnlyRefusesForeignFiles(t *testing.T) {
	cases := []struct {
		name   string
		make   func(dir string) string
		target error
		says   string
	}{
		{"another application's tables", func(dir string) string {
			return foreignFile(t, dir, "app.db", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ann'), ('bob');")
		}, evstore.ErrCorrupt, "app.db is not an evstore/py-event-sourcing database: it has no events table"},
		{"an events table of another kind", func(dir string) string {
			return foreignFile(t, dir, "other.db", "CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO events (body) VALUES ('x');")
		}, evstore.ErrCorrupt, "table events does not match the event store schema"},
		{"only a snapshots table", func(dir string) string {
			return foreignFile(t, dir, "snaps.db", "CREATE TABLE snapshots (stream_id TEXT NOT NULL, projection_name TEXT NOT NULL, version INTEGER NOT NULL, state BLOB NOT NULL, timestamp TEXT NOT NULL);")
		}, evstore.ErrCorrupt, "it has no events table"},
		{"an empty file", func(dir string) string {
			path := filepath.Join(dir, "empty.db")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}, evstore.ErrCorrupt, "empty.db is not an evstore/py-event-sourcing database"},
		{"a text file", func(dir string) string {
			path := filepath.Join(dir, "notes.txt")
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 400), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}, evstore.ErrCorrupt, "notes.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := c.make(dir)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wantFiles := dirFiles(t, dir)
			s, err := Open(context.Background(), path, ReadOnly())
			if err == nil {
				s.Close()
				t.Fatalf("Open ReadOnly: got a store, want an error wrapping %v", c.target)
			}
			if !errors.Is(err, c.target) {
				t.Errorf("got %v, want an error wrapping %v", err, c.target)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("got %q, want it to say %q", err, c.says)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Errorf("the file changed: %d bytes before, %d after", len(before), len(after))
			}
			if got := dirFiles(t, dir); !reflect.DeepEqual(got, wantFiles) {
				t.Errorf("files in the directory: got %v, want %v", got, wantFiles)
			}
			if len(before) > 0 && bytes.HasPrefix(before, []byte("SQLite format 3\x00")) {
				if got := journalMode(t, path); got != "delete" {
					t.Errorf("journal mode: got %q, want delete", got)
				}
			}
		})
	}
}

func TestReadOnlyBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	cases := []struct {
		name   string
		path   string
		target error
	}{
		{"missing file", missing, os.ErrNotExist},
		{"memory", ":memory:", evstore.ErrInvalidArgument},
		{"directory", dir, evstore.ErrInvalidArgument},
		{"empty path", "", evstore.ErrInvalidArgument},
	}
	for _, c := range cases {
		s, err := Open(context.Background(), c.path, ReadOnly())
		if err == nil {
			s.Close()
			t.Errorf("%s: got a store, want an error wrapping %v", c.name, c.target)
		} else if !errors.Is(err, c.target) {
			t.Errorf("%s: got %v, want an error wrapping %v", c.name, err, c.target)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open ReadOnly of a missing file created it (stat: %v)", err)
	}
}

// TestReadOnlyStore: a read-only Store on an event store reads it as a
// read-write one does, follows other writers, and refuses to write.
func TestReadOnlyStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	rw, err := Open(ctx, path, WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	w := stream(t, rw, "order-1")
	if _, err := w.Write(ctx, []evstore.CandidateEvent{
		{ID: "k1", Type: "OrderCreated", Data: []byte(`{"total":10}`), Metadata: map[string]any{"region": "EMEA"}},
		{Type: "ItemAdded", Data: []byte{0, 1, 2}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Snapshot(ctx, []byte("state"), evstore.Projection("totals")); err != nil {
		t.Fatal(err)
	}
	want := readAll(t, w)

	ro, err := Open(ctx, path, ReadOnly(), WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatalf("Open ReadOnly: %v", err)
	}
	defer ro.Close()
	r := stream(t, ro, "order-1")
	if got := readAll(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("Read: got %+v, want %+v", got, want)
	}
	if m, err := r.Metrics(ctx); err != nil || m.Version != 2 || m.EventCount != 2 {
		t.Errorf("Metrics: got %+v, %v; want version 2, 2 events", m, err)
	}
	if v, found, err := r.Lookup(ctx, "k1"); err != nil || !found || v != 1 {
		t.Errorf("Lookup k1: got %d, %v, %v; want 1, true, nil", v, found, err)
	}
	n := 0
	for m, err := range ro.Streams(ctx) {
		if err != nil {
			t.Fatalf("Streams: %v", err)
		}
		n++
		if m.StreamID != "order-1" {
			t.Errorf("Streams: got %s, want order-1", m.StreamID)
		}
	}
	if n != 1 {
		t.Errorf("Streams: got %d streams, want 1", n)
	}
	if snap, err := r.LoadSnapshot(ctx, "totals"); err != nil || snap == nil || string(snap.State) != "state" {
		t.Errorf("LoadSnapshot: got %+v, %v; want the state", snap, err)
	}

	writes := []struct {
		name  string
		write func() error
	}{
		{"Write", func() error {
			_, err := r.Write(ctx, []evstore.CandidateEvent{{Type: "X"}})
			return err
		}},
		{"Write of a known key", func() error {
			_, err := r.Write(ctx, []evstore.CandidateEvent{{ID: "k1", Type: "OrderCreated"}})
			return err
		}},
		{"Write to a new stream", func() error {
			_, err := stream(t, ro, "order-2").Write(ctx, []evstore.CandidateEvent{{Type: "X"}, {Type: "Y"}})
			return err
		}},
		{"Snapshot", func() error { return r.Snapshot(ctx, []byte("new"), evstore.Projection("totals")) }},
	}
	for _, c := range writes {
		if err := c.write(); !errors.Is(err, evstore.ErrReadOnly) {
			t.Errorf("%s on a read-only store: got %v, want an error wrapping ErrReadOnly", c.name, err)
		}
	}
	if got := readAll(t, stream(t, rw, evstore.All)); len(got) != 2 {
		t.Errorf("after the refused writes the file has %d events, want 2", len(got))
	}
	if snap, _ := w.LoadSnapshot(ctx, "totals"); snap == nil || string(snap.State) != "state" {
		t.Errorf("after the refused snapshot: got %+v, want the old state", snap)
	}

	// Writes by the read-write Store reach the read-only Store's watchers.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got := make(chan evstore.StoredEvent, 1)
	go func() {
		for e, err := range r.Watch(wctx) {
			if err == nil {
				got <- e
			}
			return
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := w.Write(ctx, []evstore.CandidateEvent{{Type: "Later"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Type != "Later" || e.Version != 3 {
			t.Errorf("Watch: got %s v%d, want Later v3", e.Type, e.Version)
		}
	case <-wctx.Done():
		t.Error("the read-only Store's Watch did not see the write")
	}
}

// TestReadOnlyLeavesFileAsItWas: reading an event store read-only changes
// not one byte of it, nor of its journal mode.
func TestReadOnlyLeavesFileAsItWas(t *testing.T) {
	ctx := context.Background()
	path := copyFixture(t) // written by py-event-sourcing, in WAL mode
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, stream(t, s, evstore.All)); !reflect.DeepEqual(got, fixtureEvents) {
		t.Errorf("fixture read read-only: got %+v, want %+v", got, fixtureEvents)
	}
	if _, err := stream(t, s, "order-1").Write(ctx, []evstore.CandidateEvent{{Type: "X"}}); !errors.Is(err, evstore.ErrReadOnly) {
		t.Errorf("Write: got %v, want ErrReadOnly", err)
	}
	// The file predates evstore_tombstones, which the check reads.
	if err := stream(t, s, "order-1").Snapshot(ctx, []byte("{}"), evstore.AtVersion(1)); !errors.Is(err, evstore.ErrReadOnly) {
		t.Errorf("Snapshot: got %v, want ErrReadOnly", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("reading the fixture read-only changed it")
	}
	if got := journalMode(t, path); got != "wal" {
		t.Errorf("journal mode: got %q, want wal", got)
	}
}

// TestReadOnlyWithoutSnapshotsTable: a file with an events table and no
// snapshots table reads, and has no snapshots.
func TestReadOnlyWithoutSnapshotsTable(t *testing.T) {
	ctx := context.Background()
	path := foreignFile(t, t.TempDir(), "events-only.db", strings.Split(Schema, "CREATE TABLE IF NOT EXISTS snapshots")[0]+
		"INSERT INTO events (stream_id, event_type, timestamp, version) VALUES ('s', 'T', '2026-11-26T16:52:23.723453', 1);")
	s, err := Open(ctx, path, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := stream(t, s, "s")
	if got := readAll(t, st); len(got) != 1 || got[0].Type != "T" {
		t.Errorf("Read: got %+v, want one event of type T", got)
	}
	if snap, err := st.LoadSnapshot(ctx, evstore.DefaultProjection); snap != nil || err != nil {
		t.Errorf("LoadSnapshot: got %+v, %v; want nil, nil", snap, err)
	}
}
