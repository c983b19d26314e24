package postgres

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5"
)

// testConn returns a connection to the test server, closed when the test
// ends.
func testConn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// createV0 creates schema as evstore did before schema versions
// (testdata/schema_v0.sql), with three events and a snapshot.
func createV0(t *testing.T, conn *pgx.Conn, schema string) {
	t.Helper()
	ctx := context.Background()
	sql, err := os.ReadFile("testdata/schema_v0.sql")
	if err != nil {
		t.Fatal(err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, strings.ReplaceAll(string(sql), "{{schema}}", q)); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	if _, err := conn.Exec(ctx, "INSERT INTO "+q+".events (id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version) VALUES "+
		`(1, 'a', 'k1', 'Opened', $1, '{"by": "v0"}', 'one', 1), (2, 'b', NULL, 'Opened', $1, NULL, 'two', 1), (3, 'a', NULL, 'Closed', $1, NULL, '', 2)`, ts); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+q+".snapshots VALUES ('a', 'default', 2, 'state', $1)", ts); err != nil {
		t.Fatal(err)
	}
}

// versionOf returns schema's version, or -1 when it has none.
func versionOf(t *testing.T, conn *pgx.Conn, schema string) int {
	t.Helper()
	ctx := context.Background()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, "evstore_schema"}.Sanitize()).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return -1
	}
	var v int
	if err := conn.QueryRow(ctx, "SELECT version FROM "+pgx.Identifier{schema}.Sanitize()+".evstore_schema").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMigrations: there is one migration per version.
func TestMigrations(t *testing.T) {
	if got := len(migrations); got != SchemaVersion {
		t.Errorf("got %d migrations, want SchemaVersion (%d)", got, SchemaVersion)
	}
}

// TestMigrateV0: Open migrates a schema written before schema versions,
// and its events and snapshots stay as they were.
func TestMigrateV0(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	createV0(t, conn, schema)
	if got := versionOf(t, conn, schema); got != -1 {
		t.Fatalf("before Open: version %d, want none (-1)", got)
	}
	s := testStore(t, schema, nil)
	if got := versionOf(t, conn, schema); got != SchemaVersion {
		t.Errorf("after Open: version %d, want %d", got, SchemaVersion)
	}
	var got []string
	for e, err := range mustStream(t, s, evstore.All).Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.StreamID+"/"+e.Type+"/"+string(e.Data)+"/"+e.ID)
	}
	want := []string{"a/Opened/one/k1", "b/Opened/two/", "a/Closed//"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events: got %q, want %q", got, want)
	}
	a := mustStream(t, s, "a")
	snap, err := a.LoadSnapshot(ctx, evstore.DefaultProjection)
	if err != nil || snap == nil || string(snap.State) != "state" || snap.Version != 2 {
		t.Errorf("snapshot: got %+v, %v; want version 2, state %q", snap, err, "state")
	}
	var r evstore.WriteReport
	if _, err := a.Write(ctx, []evstore.CandidateEvent{{Type: "Reopened"}}, evstore.ExpectVersion(2), evstore.Report(&r)); err != nil {
		t.Fatal(err)
	}
	if r.Version != 3 || r.First != 4 {
		t.Errorf("write after migration: got version %d at Sequence %d, want 3 at 4", r.Version, r.First)
	}
}

// TestConcurrentOpens: Opens racing on a new schema and on one to migrate
// all succeed, and migrate it once.
func TestConcurrentOpens(t *testing.T) {
	conn := testConn(t)
	for _, v0 := range []bool{false, true} {
		schema := testSchema(t)
		if v0 {
			createV0(t, conn, schema)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := open(context.Background(), testDSN(t), []Option{WithSchema(schema)})
				if err == nil {
					b.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("v0 %v: Open %d: %v", v0, i, err)
			}
		}
		if got := versionOf(t, conn, schema); got != SchemaVersion {
			t.Errorf("v0 %v: version %d, want %d", v0, got, SchemaVersion)
		}
	}
}

// TestNewerSchema: a schema that a newer evstore migrated is refused.
func TestNewerSchema(t *testing.T) {
	schema, conn := testSchema(t), testConn(t)
	testStore(t, schema, nil)
	if _, err := conn.Exec(context.Background(), "UPDATE "+pgx.Identifier{schema}.Sanitize()+".evstore_schema SET version = $1", SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), testDSN(t), WithSchema(schema))
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("got %v, want an error wrapping %v", err, ErrNewerSchema)
	}
	t.Logf("error: %v", err)
}

// TestFailedMigrationChangesNothing: a migration that fails (here a table
// of the user's has the name of one it creates) leaves the schema as it
// was, unversioned.
func TestFailedMigrationChangesNothing(t *testing.T) {
	schema, conn := testSchema(t), testConn(t)
	createV0(t, conn, schema)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE "+pgx.Identifier{schema}.Sanitize()+".consumers (id int)"); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), testDSN(t), WithSchema(schema))
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded, want the migration to fail")
	}
	t.Logf("error: %v", err)
	if got := versionOf(t, conn, schema); got != -1 {
		t.Errorf("version %d, want none (-1)", got)
	}
}
