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
)

// marker is written into the payloads that a test deletes, and searched
// for in the raw bytes of the files afterwards.
const marker = "PERSONAL-DATA-7f3a9c"

// writeMarked writes n events to st whose data, metadata, key and (at the
// end) snapshot state hold the marker.
func writeMarked(t *testing.T, st *evstore.Stream, n int) {
	t.Helper()
	ctx := context.Background()
	var evs []evstore.CandidateEvent
	for i := range n {
		evs = append(evs, evstore.CandidateEvent{
			ID:       marker + "-key-" + string(rune('a'+i%26)) + strings.Repeat("k", i),
			Type:     "PersonRegistered",
			Data:     []byte(`{"name":"` + marker + `","pad":"` + strings.Repeat("x", 200*i) + `"}`),
			Metadata: map[string]any{"email": marker + "@example.com"},
		})
	}
	if _, err := st.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
}

// markerIn returns the files of the database at path (the file, its -wal
// and -shm) whose bytes hold the marker.
func markerIn(t *testing.T, path string) []string {
	t.Helper()
	var found []string
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) {
			found = append(found, filepath.Base(f))
		}
	}
	return found
}

// openStore opens a Store on a new file of the test's.
func openStore(t *testing.T) (*evstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// TestDeleteErasesBytes: once Delete and Truncate return, with no other
// reader on the file, the removed payloads, metadata, keys and snapshot
// states are nowhere in the database file or its WAL, while what was kept
// is still there.
func TestDeleteErasesBytes(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	keep := stream(t, s, "keep")
	if _, err := keep.Write(ctx, []evstore.CandidateEvent{{Type: "Kept", Data: []byte("KEPT-PAYLOAD")}}); err != nil {
		t.Fatal(err)
	}
	gone, cut := stream(t, s, "person-1"), stream(t, s, "person-2")
	writeMarked(t, gone, 30) // several pages, overflow pages included
	writeMarked(t, cut, 5)
	if _, err := cut.Write(ctx, []evstore.CandidateEvent{{Type: "Anonymised", Data: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	if err := gone.Snapshot(ctx, []byte("state of "+marker)); err != nil {
		t.Fatal(err)
	}
	if got := markerIn(t, path); len(got) == 0 {
		t.Fatal("the marker is in no file before Delete: the test looks in the wrong place")
	}
	if _, err := gone.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Truncate(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if got := markerIn(t, path); len(got) > 0 {
		t.Errorf("after Delete and Truncate, the marker is still in %v", got)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("the WAL holds %d bytes after Truncate's checkpoint, want 0", fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("KEPT-PAYLOAD")) {
		t.Error("the kept stream's payload is not in the database file")
	}
	if got := readAll(t, keep); len(got) != 1 {
		t.Errorf("the kept stream reads %d events, want 1", len(got))
	}
	if got := readAll(t, cut); len(got) != 1 || got[0].Version != 6 {
		t.Errorf("the truncated stream reads %+v, want version 6 alone", got)
	}
}

// TestDeleteCheckpointDoesNotWait: a read transaction held open by another
// connection keeps Delete's checkpoint from emptying the WAL; Delete and
// the writes after it do not wait for it, Erase gives up with ErrWALInUse
// when its ctx ends, and finishes the job once the reader has ended.
func TestDeleteCheckpointDoesNotWait(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	st := stream(t, s, "person-1")
	writeMarked(t, st, 10)

	reader, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := exec(ctx, reader, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if n, err := queryInt(reader, "SELECT count(*) FROM events"); err != nil || n != 10 {
		t.Fatalf("the reader sees %d events (%v), want 10", n, err)
	}

	start := time.Now()
	if _, err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Again"}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Delete and a Write took %v with a reader holding the WAL: they waited", d)
	}
	if got := markerIn(t, path); len(got) == 0 {
		t.Error("the marker is gone although a reader held the WAL: the test shows nothing")
	}

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = s.Erase(short)
	if !errors.Is(err, ErrWALInUse) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Erase with the reader still there: %v, want ErrWALInUse and the deadline", err)
	}

	if err := exec(ctx, reader, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	done, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := s.Erase(done); err != nil {
		t.Fatalf("Erase after the reader ended: %v", err)
	}
	if got := markerIn(t, path); len(got) > 0 {
		t.Errorf("after Erase, the marker is still in %v", got)
	}
	if got := readAll(t, st); len(got) != 2 || got[0].Type != evstore.Deleted || got[1].Version != 12 {
		t.Errorf("the stream reads %+v, want the tombstone at 11 and version 12", got)
	}
}

// TestEraseWaitsForReader: Erase started while a reader holds the WAL
// returns once the reader ends.
func TestEraseWaitsForReader(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	st := stream(t, s, "person-1")
	writeMarked(t, st, 3)
	reader, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := exec(ctx, reader, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := queryInt(reader, "SELECT count(*) FROM events"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		errc <- s.Erase(c)
	}()
	select {
	case err := <-errc:
		t.Fatalf("Erase returned %v while the reader held the WAL", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := exec(ctx, reader, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if got := markerIn(t, path); len(got) > 0 {
		t.Errorf("after Erase, the marker is still in %v", got)
	}
}

// TestDeleteRows: the rows Delete and Truncate leave, as the file holds
// them, and the counts of Metrics and Streams.
func TestDeleteRows(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	st := stream(t, s, "a")
	writeMarked(t, st, 3)
	v, err := st.Delete(ctx)
	if err != nil || v != 4 {
		t.Fatalf("Delete: %d, %v; want 4", v, err)
	}
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stmt, _, err := conn.PrepareTransient("SELECT id, version, event_type, idempotency_key IS NULL, metadata IS NULL, typeof(data), length(data), timestamp FROM events WHERE stream_id = 'a'")
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	for {
		row, err := stmt.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !row {
			break
		}
		rows++
		if stmt.ColumnInt64(0) != 4 || stmt.ColumnInt64(1) != 4 || stmt.ColumnText(2) != evstore.Deleted ||
			!stmt.ColumnBool(3) || !stmt.ColumnBool(4) || stmt.ColumnText(5) != "blob" || stmt.ColumnInt64(6) != 0 {
			t.Errorf("tombstone row: id %d version %d type %q key NULL %v metadata NULL %v data %s of %d bytes",
				stmt.ColumnInt64(0), stmt.ColumnInt64(1), stmt.ColumnText(2), stmt.ColumnBool(3), stmt.ColumnBool(4), stmt.ColumnText(5), stmt.ColumnInt64(6))
		}
		if _, err := parseTimestamp(stmt.ColumnText(7)); err != nil {
			t.Errorf("tombstone timestamp: %v", err)
		}
	}
	stmt.Finalize()
	if rows != 1 {
		t.Errorf("%d rows left of the stream, want the tombstone alone", rows)
	}

	// Truncate: the count removed, the bounds checked in the transaction.
	writeMarked(t, stream(t, s, "b"), 5)
	for _, before := range []int64{0, 6} {
		if err := stream(t, s, "b").Truncate(ctx, before); !errors.Is(err, evstore.ErrInvalidArgument) {
			t.Errorf("Truncate(%d) of a stream at 5: %v, want ErrInvalidArgument", before, err)
		}
	}
	if err := stream(t, s, "b").Truncate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	m, err := stream(t, s, "b").Metrics(ctx)
	if err != nil || m.EventCount != 3 || m.Version != 5 {
		t.Errorf("Metrics of b after Truncate(3): %+v, %v; want 3 events at version 5", m, err)
	}
	all, err := stream(t, s, evstore.All).Metrics(ctx)
	if err != nil || all.EventCount != 4 || all.Version != 9 {
		t.Errorf("Metrics of All: %+v, %v; want 4 events, Sequence 9", all, err)
	}
	var listed []evstore.Metrics
	for m, err := range s.Streams(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, m)
	}
	if len(listed) != 2 || listed[0].EventCount != 1 || listed[0].Version != 4 || listed[1].EventCount != 3 || listed[1].Version != 5 {
		t.Errorf("Streams: %+v", listed)
	}
}

// TestTruncateCount: TruncateStream returns how many events it removed,
// and a second one below the same version removes none.
func TestTruncateCount(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	if _, err := b.Append(ctx, evstore.AppendRequest{StreamID: "s", Events: enc("", "", "", "")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ before, n int64 }{{3, 2}, {3, 0}, {4, 1}} {
		n, err := b.TruncateStream(ctx, "s", c.before)
		if err != nil || n != c.n {
			t.Errorf("TruncateStream(%d): %d, %v; want %d", c.before, n, err, c.n)
		}
	}
	if _, err := b.TruncateStream(ctx, "none", 1); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("TruncateStream of a stream without events: %v, want ErrInvalidArgument", err)
	}
}

// TestDeleteHeadsOfOtherStore: the writer's cache of stream versions stays
// right when another Store on the file writes before a Delete, and when
// another Store deletes before a Write.
func TestDeleteHeadsOfOtherStore(t *testing.T) {
	ctx := context.Background()
	a, path := openStore(t)
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sa, sb := stream(t, a, "x"), stream(t, b, "x")
	if _, err := sa.Write(ctx, []evstore.CandidateEvent{{Type: "A"}, {Type: "A"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Write(ctx, []evstore.CandidateEvent{{Type: "B"}}, evstore.ExpectVersion(2)); err != nil {
		t.Fatal(err)
	}
	// a's cache says 2; the file says 3.
	v, err := sa.Delete(ctx, evstore.ExpectVersion(3))
	if err != nil || v != 4 {
		t.Fatalf("Delete through a after b wrote: %d, %v; want 4", v, err)
	}
	if _, err := sb.Write(ctx, []evstore.CandidateEvent{{Type: "B"}}, evstore.ExpectVersion(3)); err == nil {
		t.Error("b wrote after version 3, which the Delete through a moved to 4")
	}
	if _, err := sb.Write(ctx, []evstore.CandidateEvent{{Type: "B"}}, evstore.ExpectVersion(4)); err != nil {
		t.Errorf("b writing after the tombstone: %v", err)
	}
	// Deleted twice in a row: the second is a no-op at the same version.
	if _, err := sb.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	var r evstore.WriteReport
	if v, err := sa.Delete(ctx, evstore.ExpectVersion(0), evstore.Report(&r)); err != nil || v != 6 || r.Appended != 0 {
		t.Errorf("Delete of a deleted stream: %d, %+v, %v; want 6 and nothing appended", v, r, err)
	}
	if _, err := sa.Write(ctx, []evstore.CandidateEvent{{Type: "A"}}, evstore.ExpectVersion(6)); err != nil {
		t.Errorf("a writing after b's tombstone: %v", err)
	}
}

// TestSnapshotBelowTombstone: a snapshot below the stream's tombstone is
// refused, at or above it saved.
func TestSnapshotBelowTombstone(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	st := stream(t, s, "x")
	writeMarked(t, st, 3)
	if _, err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Snapshot(ctx, []byte("old"), evstore.AtVersion(3)); !errors.Is(err, evstore.ErrInvalidArgument) || !strings.Contains(err.Error(), "tombstone") {
		t.Errorf("a snapshot below the tombstone: %v, want ErrInvalidArgument", err)
	}
	if err := st.Snapshot(ctx, []byte("ahead"), evstore.AtVersion(5)); !errors.Is(err, evstore.ErrInvalidArgument) || !strings.Contains(err.Error(), "ahead") {
		t.Errorf("a snapshot ahead of the stream: %v, want ErrInvalidArgument", err)
	}
	if err := st.Snapshot(ctx, []byte("fresh"), evstore.AtVersion(4)); err != nil {
		t.Errorf("a snapshot at the tombstone: %v", err)
	}
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "T"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Snapshot(ctx, []byte("later"), evstore.AtVersion(5)); err != nil {
		t.Errorf("a snapshot after the tombstone: %v", err)
	}
}

// TestDeleteReadOnly: a read-only Store refuses Delete, Truncate and Erase.
func TestDeleteReadOnly(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	writeMarked(t, stream(t, s, "x"), 2)
	ro, err := Open(ctx, path, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	st := stream(t, ro, "x")
	if _, err := st.Delete(ctx); !errors.Is(err, evstore.ErrReadOnly) {
		t.Errorf("Delete: %v", err)
	}
	if err := st.Truncate(ctx, 2); !errors.Is(err, evstore.ErrReadOnly) {
		t.Errorf("Truncate: %v", err)
	}
	if err := ro.Erase(ctx); !errors.Is(err, evstore.ErrReadOnly) {
		t.Errorf("Erase: %v", err)
	}
	if got := readAll(t, stream(t, s, "x")); len(got) != 2 {
		t.Errorf("the stream has %d events, want 2", len(got))
	}
}

// TestTruncateTombstoneAfterMigration: a tombstone written at schema
// version 1, before evstore_tombstones, still bounds the stream's
// snapshots once a Truncate of the migrated file removes it; Truncate
// keeps the newest removed tombstone's version, and not one it did not
// remove.
func TestTruncateTombstoneAfterMigration(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	st := stream(t, s, "x")
	writeMarked(t, st, 3)
	if _, err := st.Delete(ctx); err != nil { // 4
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}, {Type: "E"}}); err != nil { // 5, 6
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to schema version 1.
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	if err := execScript(conn, "DROP TABLE evstore_tombstones; UPDATE evstore_schema SET version = 1;"); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st = stream(t, s, "x")
	if err := st.Truncate(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if err := st.Snapshot(ctx, []byte("old"), evstore.AtVersion(3)); !errors.Is(err, evstore.ErrInvalidArgument) || !strings.Contains(err.Error(), "tombstone, at 4") {
		t.Errorf("a snapshot below the truncated tombstone: %v, want ErrInvalidArgument naming the tombstone at 4", err)
	}
	if err := st.Snapshot(ctx, []byte("fresh"), evstore.AtVersion(5)); err != nil {
		t.Errorf("a snapshot between the tombstone and the cut: %v", err)
	}
	other := stream(t, s, "y")
	if _, err := other.Write(ctx, []evstore.CandidateEvent{{Type: "E"}, {Type: "E"}}); err != nil {
		t.Fatal(err)
	}
	if err := other.Truncate(ctx, 2); err != nil {
		t.Fatal(err)
	}
	check, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	stmt, _, err := check.PrepareTransient("SELECT group_concat(stream_id || '=' || version) FROM evstore_tombstones")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Finalize()
	if _, err := stmt.Step(); err != nil {
		t.Fatal(err)
	}
	if got := stmt.ColumnText(0); got != "x=4" {
		t.Errorf("evstore_tombstones: %q, want x=4 alone", got)
	}
}
