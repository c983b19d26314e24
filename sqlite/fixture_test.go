package sqlite

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// copyFixture copies the database py-event-sourcing wrote (see
// ../shared/reference/FIXTURE.md) to a temporary directory.
func copyFixture(t *testing.T) string {
	t.Helper()
	src, err := os.Open(filepath.Join("testdata", "py-event-sourcing-fixture.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "fixture.db")
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

func openFixture(t *testing.T) (*evstore.Store, string) {
	t.Helper()
	path := copyFixture(t)
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open fixture: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func ts(s string) time.Time {
	t, err := time.Parse("2006-01-02T15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// fixtureEvents is FIXTURE.md's events table, as StoredEvents.
var fixtureEvents = []evstore.StoredEvent{
	{ID: "f63453a4-92af-49ad-96a3-e78dbf90e0cd", StreamID: "order-1", Sequence: 1, Version: 1, Timestamp: ts("2026-11-26T16:52:23.723453"), Type: "OrderCreated", Data: []byte(`{"total": 10}`)},
	{ID: "dee23c54-a9c8-4bb9-a97e-a0d294d7d5ab", StreamID: "order-1", Sequence: 2, Version: 2, Timestamp: ts("2026-11-26T16:52:23.723453"), Type: "ItemAdded", Data: []byte(`{"total": 25}`)},
	{ID: "63108ad1-2404-4ab3-9482-6bb36b194a80", StreamID: "order-1", Sequence: 3, Version: 3, Timestamp: ts("2026-11-26T16:52:23.723453"), Type: "OrderPlaced",
		Metadata: map[string]any{"customer": "Zoë", "tags": map[string]any{"prio": 1.0, "vip": true}, "ids": []any{1.0, 2.0}}},
	{ID: "731661bb-c5ab-44d7-ad98-447b37d81f0d", StreamID: "order-2", Sequence: 4, Version: 1, Timestamp: ts("2026-11-26T16:52:23.725140"), Type: "OrderCreated", Data: []byte(`{}`), Metadata: map[string]any{"region": "EMEA"}},
	{ID: "3303ee13-7339-4115-bbcd-79f607f18d88", StreamID: "order-2", Sequence: 5, Version: 2, Timestamp: ts("2026-11-26T16:52:23.725725"), Type: "OrderPlaced", Data: []byte(`{}`), Metadata: map[string]any{"region": "EMEA"}},
	{ID: "783b4fab-f5c0-4548-8df4-2ace644bec0a", StreamID: "order-2", Sequence: 6, Version: 3, Timestamp: ts("2026-11-26T16:52:23.726238"), Type: "OrderCreated", Data: []byte(`{}`), Metadata: map[string]any{"region": "US"}},
	{ID: "user-7-registered", StreamID: "user-7", Sequence: 7, Version: 1, Timestamp: ts("2026-11-26T16:52:23.727868"), Type: "UserRegistered", Data: []byte(`{"name": "Alice"}`)},
}

func readAll(t *testing.T, st *evstore.Stream, opts ...evstore.ReadOption) []evstore.StoredEvent {
	t.Helper()
	var out []evstore.StoredEvent
	for e, err := range st.Read(context.Background(), opts...) {
		if err != nil {
			t.Fatalf("Read %s: %v", st.ID(), err)
		}
		out = append(out, e)
	}
	return out
}

func stream(t *testing.T, s *evstore.Store, id string) *evstore.Stream {
	t.Helper()
	st, err := s.Stream(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFixtureEvents(t *testing.T) {
	s, _ := openFixture(t)
	got := readAll(t, stream(t, s, evstore.All))
	if len(got) != len(fixtureEvents) {
		t.Fatalf("got %d events, want %d", len(got), len(fixtureEvents))
	}
	for i, want := range fixtureEvents {
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("event %d:\n got %#v\nwant %#v", i+1, got[i], want)
		}
	}
	order2 := readAll(t, stream(t, s, "order-2"))
	if !reflect.DeepEqual(order2, fixtureEvents[3:6]) {
		t.Errorf("order-2: got %v, want events 4..6", order2)
	}
	emea := readAll(t, stream(t, s, evstore.All), evstore.WithFilter(evstore.Filter{evstore.Equals("metadata.region", "EMEA")}))
	if len(emea) != 2 || emea[0].Sequence != 4 || emea[1].Sequence != 5 {
		t.Errorf("EMEA filter: got %v, want events 4 and 5", emea)
	}
	vip := readAll(t, stream(t, s, evstore.All), evstore.WithFilter(evstore.Filter{evstore.Equals("metadata.tags.vip", true)}))
	if len(vip) != 1 || vip[0].Sequence != 3 {
		t.Errorf("tags.vip filter: got %v, want event 3", vip)
	}
}

func TestFixtureHeads(t *testing.T) {
	s, _ := openFixture(t)
	for id, want := range map[string]int64{"order-1": 3, "order-2": 3, "user-7": 1, evstore.All: 7, "nope": 0} {
		if got := stream(t, s, id).Version(); got != want {
			t.Errorf("%s: got Version %d, want %d", id, got, want)
		}
	}
	m, err := stream(t, s, evstore.All).Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := evstore.Metrics{StreamID: evstore.All, Version: 7, EventCount: 7, LastTimestamp: ts("2026-11-26T16:52:23.727868")}
	if m != want {
		t.Errorf("@all metrics: got %+v, want %+v", m, want)
	}
}

func TestFixtureSnapshots(t *testing.T) {
	s, _ := openFixture(t)
	cases := []struct {
		stream, projection string
		want               *evstore.Snapshot
	}{
		{"order-1", "totals", &evstore.Snapshot{StreamID: "order-1", Projection: "totals", Version: 2, State: []byte(`{"total": 25}`), Timestamp: ts("2026-11-26T16:52:23.728558")}},
		{evstore.All, evstore.DefaultProjection, &evstore.Snapshot{StreamID: evstore.All, Projection: "default", Version: 4, State: []byte(`{"seen": 4}`), Timestamp: ts("2026-11-26T16:52:23.729510")}},
		{"order-1", "default", nil},
	}
	for _, c := range cases {
		got, err := stream(t, s, c.stream).LoadSnapshot(context.Background(), c.projection)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s/%s: got %+v, want %+v", c.stream, c.projection, got, c.want)
		}
	}
}

// TestFixtureIdempotencyKeys: the keys the Python library stored, random
// UUIDs included, make retries no-ops here.
func TestFixtureIdempotencyKeys(t *testing.T) {
	s, _ := openFixture(t)
	ctx := context.Background()
	retries := []struct {
		stream, key string
		want        int64
	}{
		{"user-7", "user-7-registered", 1},
		{"order-1", "f63453a4-92af-49ad-96a3-e78dbf90e0cd", 3},
		{"order-2", "783b4fab-f5c0-4548-8df4-2ace644bec0a", 3},
	}
	for _, r := range retries {
		v, err := stream(t, s, r.stream).Write(ctx, []evstore.CandidateEvent{{ID: r.key, Type: "Retry"}}, evstore.ExpectVersion(0))
		if err != nil || v != r.want {
			t.Errorf("retry of %s in %s: got %d, %v; want %d, nil", r.key, r.stream, v, err, r.want)
		}
	}
	if n := len(readAll(t, stream(t, s, evstore.All))); n != 7 {
		t.Errorf("retries wrote events: got %d, want 7", n)
	}
	// The same key in another stream is a new event.
	if v, err := stream(t, s, "user-8").Write(ctx, []evstore.CandidateEvent{{ID: "user-7-registered", Type: "UserRegistered"}}); err != nil || v != 1 {
		t.Errorf("key in another stream: got %d, %v; want 1, nil", v, err)
	}
}

var pythonTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$`)

// TestFixtureAppendEncodings appends to the Python file and checks the rows
// as the Python library will read them.
func TestFixtureAppendEncodings(t *testing.T) {
	s, path := openFixture(t)
	ctx := context.Background()
	st := stream(t, s, "order-1")
	if v, err := st.Write(ctx, []evstore.CandidateEvent{
		{ID: "go-key", Type: "GoKeyed", Data: []byte(`{"go": true}`), Metadata: map[string]any{"lang": "Go", "n": 1}},
		{Type: "GoKeyless"},
	}, evstore.ExpectVersion(3)); err != nil || v != 5 {
		t.Fatalf("Write: got %d, %v; want 5, nil", v, err)
	}
	if err := st.Snapshot(ctx, []byte("state"), evstore.Projection("go")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	type row struct {
		id                     int64
		key, meta              *string
		typ, timestamp, stream string
		dataType               sqlite.ColumnType
		data                   string
		version                int64
	}
	var rows []row
	stmt := conn.Prep("SELECT id, stream_id, idempotency_key, event_type, timestamp, metadata, typeof(data), data, version FROM events WHERE id > 7 ORDER BY id")
	for {
		ok, err := stmt.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		r := row{id: stmt.ColumnInt64(0), stream: stmt.ColumnText(1), typ: stmt.ColumnText(3), timestamp: stmt.ColumnText(4),
			data: stmt.ColumnText(7), version: stmt.ColumnInt64(8)}
		if stmt.ColumnType(2) != sqlite.TypeNull {
			k := stmt.ColumnText(2)
			r.key = &k
		}
		if stmt.ColumnType(5) != sqlite.TypeNull {
			m := stmt.ColumnText(5)
			r.meta = &m
		}
		switch stmt.ColumnText(6) {
		case "blob":
			r.dataType = sqlite.TypeBlob
		default:
			t.Errorf("row %d: data stored as %s, want blob", r.id, stmt.ColumnText(6))
		}
		rows = append(rows, r)
	}
	stmt.Reset()
	if len(rows) != 2 {
		t.Fatalf("got %d new rows, want 2", len(rows))
	}
	k, m := rows[0], rows[1]
	if k.id != 8 || k.stream != "order-1" || k.version != 4 || k.key == nil || *k.key != "go-key" || k.typ != "GoKeyed" || k.data != `{"go": true}` && k.data != `{"go":true}` {
		t.Errorf("keyed row: got %+v", k)
	}
	if k.meta == nil || *k.meta != `{"lang":"Go","n":1}` {
		t.Errorf("keyed row metadata: got %v, want JSON object text", k.meta)
	}
	if m.key != nil || m.meta != nil || m.version != 5 || m.data != "" {
		t.Errorf("keyless row: got key %v, metadata %v, version %d, data %q; want NULL key, NULL metadata, version 5, empty blob", m.key, m.meta, m.version, m.data)
	}
	for _, r := range rows {
		if !pythonTimestamp.MatchString(r.timestamp) {
			t.Errorf("row %d: timestamp %q is not Python isoformat", r.id, r.timestamp)
		}
	}
	var snapTS string
	stmt = conn.Prep("SELECT timestamp, version FROM snapshots WHERE stream_id = 'order-1' AND projection_name = 'go'")
	if ok, err := stmt.Step(); err != nil || !ok {
		t.Fatalf("snapshot row: %v, %v", ok, err)
	}
	snapTS = stmt.ColumnText(0)
	if !pythonTimestamp.MatchString(snapTS) || stmt.ColumnInt64(1) != 5 {
		t.Errorf("snapshot row: timestamp %q version %d, want isoformat and 5", snapTS, stmt.ColumnInt64(1))
	}
	stmt.Reset()

	// The schema is untouched and the file still uses WAL.
	stmt = conn.Prep("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'snapshots', 'sqlite_sequence')")
	stmt.Step()
	if n := stmt.ColumnInt64(0); n != 3 {
		t.Errorf("tables: got %d of events, snapshots, sqlite_sequence; want 3", n)
	}
	stmt.Reset()
	stmt = conn.Prep("PRAGMA journal_mode")
	stmt.Step()
	if mode := stmt.ColumnText(0); mode != "wal" {
		t.Errorf("journal_mode: got %q, want wal", mode)
	}
	stmt.Reset()
	stmt = conn.Prep("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
	stmt.Step()
	if seq := stmt.ColumnInt64(0); seq != 9 {
		t.Errorf("sqlite_sequence: got %d, want 9", seq)
	}
	stmt.Reset()

	// And evstore reads its own rows back.
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := readAll(t, stream(t, s2, "order-1"), evstore.After(3))
	if len(got) != 2 || got[0].ID != "go-key" || got[1].ID != "" || got[1].Data != nil || got[1].Metadata != nil {
		t.Errorf("read back: got %+v", got)
	}
}
