package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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

// createV1 creates schema as evstore did at schema version 1
// (testdata/schema_v1.sql over createV0), with two consumers in its table
// consumers, and returns their rows as rows does.
func createV1(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	ctx := context.Background()
	createV0(t, conn, schema)
	sql, err := os.ReadFile("testdata/schema_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, strings.ReplaceAll(string(sql), "{{schema}}", q)); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	if _, err := conn.Exec(ctx, "INSERT INTO "+q+".consumers VALUES "+
		"('c', 0, 0, 5, true, false, $1, 3), ('p', 2, 1, 7, true, true, $1, 1), ('q', 2, 0, 0, false, false, NULL, 2)", ts); err != nil {
		t.Fatal(err)
	}
	return rows(t, conn, schema, "consumers")
}

// rows returns the rows of schema.table, ordered, as strings.
func rows(t *testing.T, conn *pgx.Conn, schema, table string) []string {
	t.Helper()
	r, err := conn.Query(context.Background(), "SELECT t::text FROM "+pgx.Identifier{schema, table}.Sanitize()+" t ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// exists reports whether schema has a relation (a table, an index) named
// name.
func exists(t *testing.T, conn *pgx.Conn, schema, name string) bool {
	t.Helper()
	var ok bool
	if err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, name}.Sanitize()).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
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

// TestMigrateV1: Open migrates a schema at version 1, whose consumers'
// table was named consumers: it is renamed evstore_consumers with its rows
// (and lease_until, NULL in each), consumers go on from their checkpoints,
// and the name consumers is free for the application.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	var want []string
	for _, r := range createV1(t, conn, schema) {
		want = append(want, strings.TrimSuffix(r, ")")+",)")
	}
	b := testBackend(t, schema)
	if got := versionOf(t, conn, schema); got != SchemaVersion {
		t.Errorf("after Open: version %d, want %d", got, SchemaVersion)
	}
	if got := rows(t, conn, schema, "evstore_consumers"); !slices.Equal(got, want) {
		t.Errorf("evstore_consumers: got %q, want the rows consumers had, with a NULL lease_until, %q", got, want)
	}
	for _, tt := range []struct {
		name string
		want bool
	}{{"consumers", false}, {"consumers_pkey", false}, {"evstore_consumers", true}, {"evstore_consumers_pkey", true}} {
		if got := exists(t, conn, schema, tt.name); got != tt.want {
			t.Errorf("%s exists: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got, want := fmt.Sprint(consumers(t, b)), "[c 0/0 @5 p 1/2 @7 q 0/2 @0]"; got != want {
		t.Errorf("consumers: got %s, want %s", got, want)
	}
	start := time.Now()
	l := mustAcquire(t, b, evstore.ConsumerKey{Name: "c"})
	if took := time.Since(start); took >= testTTL/2 {
		t.Errorf("acquisition after the migration took %v, want no wait (no lease time recorded)", took.Round(time.Millisecond))
	}
	checkpoint(t, l, 5, true)
	if got := l.(*lease).generation; got != 4 {
		t.Errorf("generation: got %d, want 4 (3 before the migration)", got)
	}
	if err := l.Save(ctx, 6, false); err != nil {
		t.Fatal(err)
	}
	l.Release(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+pgx.Identifier{schema}.Sanitize()+".consumers (id int PRIMARY KEY)"); err != nil {
		t.Errorf("the application's table consumers, after the migration: %v", err)
	}
}

// TestMigratedColumns: evstore_consumers has the same columns (in the same
// order, with the same types, defaults and collations) and primary key in
// a new schema as in ones migrated from versions 0 and 1.
func TestMigratedColumns(t *testing.T) {
	conn := testConn(t)
	describe := func(schema string) []string {
		t.Helper()
		r, err := conn.Query(context.Background(), `SELECT concat_ws(' ', column_name, data_type, is_nullable, column_default, collation_name)
FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'evstore_consumers' ORDER BY ordinal_position`, schema)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var pkey string
		if err := conn.QueryRow(context.Background(), `SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = to_regclass($1) AND contype = 'p'`, pgx.Identifier{schema, "evstore_consumers"}.Sanitize()).Scan(&pkey); err != nil {
			t.Fatal(err)
		}
		return append(cols, pkey)
	}
	fresh := testSchema(t)
	testBackend(t, fresh)
	want := describe(fresh)
	if !slices.Contains(want, "lease_until timestamp with time zone YES") {
		t.Errorf("new schema: got columns %q, want lease_until among them", want)
	}
	for _, from := range []int{0, 1} {
		schema := testSchema(t)
		if from == 0 {
			createV0(t, conn, schema)
		} else {
			createV1(t, conn, schema)
		}
		testBackend(t, schema)
		if got := describe(schema); !slices.Equal(got, want) {
			t.Errorf("migrated from %d: got %q, want as a new schema's, %q", from, got, want)
		}
	}
}

// TestAppTableNamedConsumers: a table of the application's named consumers
// in the schema, before evstore's first Open or before a schema at
// version 0 migrates, is left alone, and consumers work.
func TestAppTableNamedConsumers(t *testing.T) {
	ctx := context.Background()
	conn := testConn(t)
	for _, tt := range []struct {
		name string
		v0   bool
	}{{"new", false}, {"v0", true}} {
		t.Run(tt.name, func(t *testing.T) {
			schema := testSchema(t)
			if tt.v0 {
				createV0(t, conn, schema)
			} else if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
				t.Fatal(err)
			}
			q := pgx.Identifier{schema}.Sanitize()
			if _, err := conn.Exec(ctx, "CREATE TABLE "+q+".consumers (id int PRIMARY KEY, note text); INSERT INTO "+q+".consumers VALUES (1, 'mine')"); err != nil {
				t.Fatal(err)
			}
			b := testBackend(t, schema)
			if got := versionOf(t, conn, schema); got != SchemaVersion {
				t.Errorf("version %d, want %d", got, SchemaVersion)
			}
			l := mustAcquire(t, b, evstore.ConsumerKey{Name: "c"})
			if err := l.Save(ctx, 2, false); err != nil {
				t.Fatal(err)
			}
			l.Release(ctx)
			if got, want := fmt.Sprint(consumers(t, b)), "[c 0/0 @2]"; got != want {
				t.Errorf("evstore's consumers: got %s, want %s", got, want)
			}
			if got, want := rows(t, conn, schema, "consumers"), []string{"(1,mine)"}; !slices.Equal(got, want) {
				t.Errorf("the application's consumers: got %q, want %q", got, want)
			}
		})
	}
}

// TestConcurrentOpens: Opens racing on a new schema and on ones to migrate
// all succeed, and migrate it once.
func TestConcurrentOpens(t *testing.T) {
	conn := testConn(t)
	for _, from := range []int{-1, 0, 1} { // -1: a new schema
		schema := testSchema(t)
		switch from {
		case 0:
			createV0(t, conn, schema)
		case 1:
			createV1(t, conn, schema)
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
				t.Errorf("from %d: Open %d: %v", from, i, err)
			}
		}
		if got := versionOf(t, conn, schema); got != SchemaVersion {
			t.Errorf("from %d: version %d, want %d", from, got, SchemaVersion)
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
// of the user's has the name of one it creates or renames to) leaves the
// schema as it was.
func TestFailedMigrationChangesNothing(t *testing.T) {
	conn := testConn(t)
	for _, tt := range []struct {
		name string
		from int
	}{{"v0", 0}, {"v1", 1}} {
		t.Run(tt.name, func(t *testing.T) {
			schema := testSchema(t)
			var v1 []string
			if tt.from == 0 {
				createV0(t, conn, schema)
			} else {
				v1 = createV1(t, conn, schema)
			}
			if _, err := conn.Exec(context.Background(), "CREATE TABLE "+pgx.Identifier{schema}.Sanitize()+".evstore_consumers (id int)"); err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), testDSN(t), WithSchema(schema))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want the migration to fail")
			}
			t.Logf("error: %v", err)
			want := tt.from
			if want == 0 {
				want = -1 // unversioned
			}
			if got := versionOf(t, conn, schema); got != want {
				t.Errorf("version %d, want %d", got, want)
			}
			if tt.from == 1 {
				if got := rows(t, conn, schema, "consumers"); !slices.Equal(got, v1) {
					t.Errorf("consumers: got %q, want %q", got, v1)
				}
			}
		})
	}
}
