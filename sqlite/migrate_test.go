package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// copyV0 copies testdata/v0.db, a file evstore wrote before schema
// versions (see testdata/v0.md), to a temporary directory.
func copyV0(t *testing.T) string {
	t.Helper()
	src, err := os.Open(filepath.Join("testdata", "v0.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "v0.db")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// v0Events are the events of testdata/v0.db.
var v0Events = []evstore.StoredEvent{
	{ID: "open-1", StreamID: "account-1", Sequence: 1, Version: 1, Timestamp: ts("2026-12-02T02:03:19.570117"), Type: "AccountOpened", Data: []byte(`{"owner":"Zoë"}`), Metadata: map[string]any{"region": "EMEA"}},
	{StreamID: "account-1", Sequence: 2, Version: 2, Timestamp: ts("2026-12-02T02:03:19.570117"), Type: "Deposited", Data: []byte(`{"amount":10}`)},
	{ID: "open-2", StreamID: "account-2", Sequence: 3, Version: 1, Timestamp: ts("2026-12-02T02:03:19.570294"), Type: "AccountOpened", Data: []byte(`{"owner":"Ann"}`), Metadata: map[string]any{"region": "US"}},
	{StreamID: "account-1", Sequence: 4, Version: 3, Timestamp: ts("2026-12-02T02:03:19.570378"), Type: "Withdrawn", Data: []byte(`{"amount":3}`)},
}

// fileSchema returns the file's schema version and tables, read with a
// plain connection.
func fileSchema(t *testing.T, path string) (version int64, tables []string) {
	t.Helper()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = sqlitex.ExecuteTransient(conn, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error {
			tables = append(tables, stmt.ColumnText(0))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if version, err = schemaVersion(conn); err != nil {
		t.Fatal(err)
	}
	return version, tables
}

func TestMigrationsMatchSchemaVersion(t *testing.T) {
	if len(migrations) != SchemaVersion {
		t.Errorf("got %d migrations, want SchemaVersion = %d", len(migrations), SchemaVersion)
	}
}

// TestMigrateV0: a file written before schema versions opens, is migrated
// to the current version, and keeps its events and snapshots.
func TestMigrateV0(t *testing.T) {
	ctx := context.Background()
	path := copyV0(t)
	if v, tables := fileSchema(t, path); v != 0 || !reflect.DeepEqual(tables, []string{"events", "snapshots", "sqlite_sequence"}) {
		t.Fatalf("testdata/v0.db: got version %d, tables %v; want version 0 without evstore tables", v, tables)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	want := []string{"events", "evstore_consumers", "evstore_schema", "evstore_tags", "evstore_tombstones", "snapshots", "sqlite_sequence"}
	if v, tables := fileSchema(t, path); v != SchemaVersion || !reflect.DeepEqual(tables, want) {
		t.Errorf("after Open: got version %d, tables %v; want %d, %v", v, tables, SchemaVersion, want)
	}
	if got := readAll(t, stream(t, s, evstore.All)); !reflect.DeepEqual(got, v0Events) {
		t.Errorf("events after migration:\n got %+v\nwant %+v", got, v0Events)
	}
	snap, err := stream(t, s, "account-1").LoadSnapshot(ctx, "balance")
	if err != nil || snap == nil || string(snap.State) != `{"balance":7}` || snap.Version != 3 {
		t.Errorf("snapshot after migration: got %+v, %v; want balance 7 at version 3", snap, err)
	}
	st := stream(t, s, "account-1")
	if v, err := st.Write(ctx, []evstore.CandidateEvent{{ID: "open-1", Type: "AccountOpened"}}); err != nil || v != 3 {
		t.Errorf("retry of an old key: got %d, %v; want 3, nil", v, err)
	}
	if v, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Deposited"}}, evstore.ExpectVersion(3)); err != nil || v != 4 {
		t.Errorf("append after migration: got %d, %v; want 4, nil", v, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening it again finds nothing to do, and the row stays single.
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	s.Close()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if n, err := queryInt(conn, "SELECT count(*) FROM evstore_schema"); err != nil || n != 1 {
		t.Errorf("evstore_schema rows: got %d, %v; want 1", n, err)
	}
}

// TestNewFileHasCurrentSchema: a new file starts at SchemaVersion.
func TestNewFileHasCurrentSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if v, _ := fileSchema(t, path); v != SchemaVersion {
		t.Errorf("new file: got schema version %d, want %d", v, SchemaVersion)
	}
}

// TestMigrateConcurrentOpens: Stores that open one old file at once (as
// processes would: each has its own connections) all succeed, and the
// file is migrated once.
func TestMigrateConcurrentOpens(t *testing.T) {
	ctx := context.Background()
	const rounds, opens = 5, 4
	for range rounds {
		path := copyV0(t)
		var wg sync.WaitGroup
		errs := make([]error, opens)
		start := make(chan struct{})
		for i := range opens {
			wg.Go(func() {
				<-start
				errs[i] = openAndCount(ctx, path, len(v0Events))
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open %d of %d at once: %v", i, opens, err)
			}
		}
		conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		n, err := queryInt(conn, "SELECT count(*) FROM evstore_schema")
		conn.Close()
		if err != nil || n != 1 {
			t.Errorf("evstore_schema rows: got %d, %v; want 1", n, err)
		}
		if v, _ := fileSchema(t, path); v != SchemaVersion {
			t.Errorf("schema version: got %d, want %d", v, SchemaVersion)
		}
	}
}

// openAndCount opens path, checks that @all has n events, and closes it.
func openAndCount(ctx context.Context, path string, n int) error {
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	all, err := s.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	got := 0
	for _, err := range all.Read(ctx) {
		if err != nil {
			return err
		}
		got++
	}
	if got != n {
		return fmt.Errorf("read %d events, want %d", got, n)
	}
	return s.Close()
}

// TestMigrateWhileAnotherMigrates: an Open that finds an old file, and
// then waits for the write lock while another process migrates it, looks
// again and succeeds.
func TestMigrateWhileAnotherMigrates(t *testing.T) {
	ctx := context.Background()
	path := copyV0(t)
	other, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := exec(ctx, other, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if err := execScript(other, migrations[0]+"INSERT INTO evstore_schema (version) VALUES (1);"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- openAndCount(ctx, path, len(v0Events)) }()
	time.Sleep(200 * time.Millisecond) // Open reads version 0, then waits for the lock
	select {
	case err := <-done:
		t.Fatalf("Open returned while another connection held the write lock: %v", err)
	default:
	}
	if err := exec(ctx, other, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Open after the other migration: %v", err)
	}
	if v, _ := fileSchema(t, path); v != SchemaVersion {
		t.Errorf("schema version: got %d, want %d", v, SchemaVersion)
	}
}

// TestReadOnlyOldFile: a ReadOnly Store reads a file of version 0 without
// migrating it; it has no consumers, and consumers cannot run through it.
func TestReadOnlyOldFile(t *testing.T) {
	ctx := context.Background()
	path := copyV0(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := open(ctx, path, []Option{ReadOnly()})
	if err != nil {
		t.Fatalf("open ReadOnly: %v", err)
	}
	ro := readOnlyBackend{b}
	var cb evstore.ConsumerBackend = ro
	for c, err := range cb.ListConsumers(ctx) {
		t.Errorf("ListConsumers on a file of version 0: got %+v, %v; want nothing", c, err)
	}
	if l, err := cb.AcquireLease(ctx, evstore.ConsumerKey{Name: "c"}, time.Second); l != nil || !errors.Is(err, evstore.ErrReadOnly) {
		t.Errorf("AcquireLease: got %v, %v; want an error wrapping ErrReadOnly", l, err)
	}
	if err := cb.ResetConsumer(ctx, "c", 1); !errors.Is(err, evstore.ErrReadOnly) {
		t.Errorf("ResetConsumer: got %v, want an error wrapping ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a ReadOnly open changed the file of version 0")
	}

	// Once migrated and given a consumer, the read-only Store lists it.
	w, err := open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.ResetConsumer(ctx, "c", 3); err != nil {
		t.Fatal(err)
	}
	b, err = open(ctx, path, []Option{ReadOnly()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := listConsumers(t, readOnlyBackend{b})
	if len(got) != 1 || got[0].Name != "c" || got[0].Position != 3 {
		t.Errorf("ListConsumers read-only: got %+v, want c at 3", got)
	}
}

// TestNewerOrDamagedSchemaRefused: a file from a newer evstore, or whose
// evstore tables are not ours, is refused and left as it was, read-only
// or not.
func TestNewerOrDamagedSchemaRefused(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, script string
		target       error
		says         string
	}{
		{"newer version", "UPDATE evstore_schema SET version = version + 1", ErrNewerSchema, "newer evstore"},
		{"version table without version", "DROP TABLE evstore_schema; CREATE TABLE evstore_schema (v INTEGER)", evstore.ErrCorrupt, "evstore_schema"},
		{"consumers without columns", "DROP TABLE evstore_consumers; CREATE TABLE evstore_consumers (name TEXT)", evstore.ErrCorrupt, "evstore_consumers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
			if err != nil {
				t.Fatal(err)
			}
			if err := sqlitex.ExecuteScript(conn, c.script, nil); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, opts := range [][]Option{nil, {ReadOnly()}} {
				s, err := Open(ctx, path, opts...)
				if err == nil {
					s.Close()
					t.Fatalf("Open(%d options): got a store, want an error wrapping %v", len(opts), c.target)
				}
				if !errors.Is(err, c.target) || !strings.Contains(err.Error(), c.says) {
					t.Errorf("Open(%d options): got %v, want an error wrapping %v that mentions %q", len(opts), err, c.target, c.says)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Error("Open changed the file it refused")
			}
		})
	}
}

// TestMigrateReadOnlyConnection: migrating through a connection that may
// not write fails with ErrReadOnly, pointing at ReadOnly.
func TestMigrateReadOnlyConnection(t *testing.T) {
	path := copyV0(t)
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	found, err := checkSchema(conn)
	if err != nil {
		t.Fatal(err)
	}
	err = migrate(context.Background(), conn, found)
	if !errors.Is(err, evstore.ErrReadOnly) || !strings.Contains(err.Error(), "ReadOnly") {
		t.Errorf("got %v, want an error wrapping ErrReadOnly that mentions ReadOnly", err)
	}
	if v, _ := fileSchema(t, path); v != 0 {
		t.Errorf("schema version: got %d, want 0", v)
	}
}

// TestMigrateUnwritableFile: an old file this process may not write cannot
// be migrated; the error says so and points at ReadOnly, which reads it.
func TestMigrateUnwritableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not stop writes")
	}
	ctx := context.Background()
	path := copyV0(t)
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of an unwritable old file: got a store, want an error")
	}
	if !errors.Is(err, evstore.ErrReadOnly) || !strings.Contains(err.Error(), "ReadOnly") {
		t.Errorf("got %v, want an error wrapping ErrReadOnly that mentions ReadOnly", err)
	}
	s, err = Open(ctx, path, ReadOnly())
	if err != nil {
		t.Fatalf("Open ReadOnly: %v", err)
	}
	defer s.Close()
	if got := readAll(t, stream(t, s, evstore.All)); len(got) != len(v0Events) {
		t.Errorf("read-only: got %d events, want %d", len(got), len(v0Events))
	}
}

// TestPythonOnMigratedFixture: the file py-event-sourcing wrote, once
// migrated and given a consumer, still reads and appends in Python as that
// library does, and evstore reads Python's append.
func TestPythonOnMigratedFixture(t *testing.T) {
	python, err := osexec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the cross-language check needs it")
	}
	ctx := context.Background()
	path := copyFixture(t)
	b, err := open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.AcquireLease(ctx, evstore.ConsumerKey{Name: "projector"}, time.Minute)
	if err != nil || l == nil {
		t.Fatalf("AcquireLease: got %v, %v", l, err)
	}
	if err := l.Save(ctx, 7, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if v, _ := fileSchema(t, path); v != SchemaVersion {
		t.Fatalf("fixture after Open: got schema version %d, want %d", v, SchemaVersion)
	}

	var stderr bytes.Buffer
	cmd := osexec.Command(python, "-c", pythonReader, path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var got struct {
		Events []struct {
			ID     int64  `json:"id"`
			Stream string `json:"stream"`
			Type   string `json:"type"`
		} `json:"events"`
		Snapshots []struct{ Stream, Projection string } `json:"snapshots"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python printed %s: %v", out, err)
	}
	if len(got.Events) != len(fixtureEvents) || len(got.Snapshots) != 2 {
		t.Fatalf("python read %d events and %d snapshots, want %d and 2", len(got.Events), len(got.Snapshots), len(fixtureEvents))
	}
	for i, e := range got.Events {
		if w := fixtureEvents[i]; e.ID != w.Sequence || e.Stream != w.StreamID || e.Type != w.Type {
			t.Errorf("python read event %d as %+v, want %+v", i, e, w)
		}
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all := readAll(t, stream(t, s, evstore.All))
	if len(all) != len(fixtureEvents)+1 || all[len(all)-1].StreamID != "py-1" || all[len(all)-1].Type != "FromPython" {
		t.Errorf("evstore after Python's append: got %d events, last %+v; want %d, the last FromPython in py-1", len(all), all[len(all)-1], len(fixtureEvents)+1)
	}
}
