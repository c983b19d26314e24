package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// storeEvents returns every event of the store at path, oldest first, as
// import keeps them: without Sequence and Timestamp.
func storeEvents(t *testing.T, path string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.Stream(ctx, evstore.All)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for e, err := range all.Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s@%d %s id=%q data=%q meta=%v", e.StreamID, e.Version, e.Type, e.ID, e.Data, e.Metadata))
	}
	return got
}

// streamMetrics returns each stream's version and event count.
func streamMetrics(t *testing.T, path string) string {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b strings.Builder
	for m, err := range s.Streams(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s v%d n%d; ", m.StreamID, m.Version, m.EventCount)
	}
	return b.String()
}

// TestExportImportDeletedAndTruncated: an export of a store with deleted
// and truncated streams imports into a fresh store that reads back the
// same events, with the same versions (Sequences are the new store's);
// importing it again adds nothing.
func TestExportImportDeletedAndTruncated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	s, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	write := func(id string, n int) *evstore.Stream {
		t.Helper()
		st, err := s.Stream(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			e := evstore.CandidateEvent{Type: "E", ID: fmt.Sprintf("%s-%d", id, st.Version()+1),
				Data: fmt.Appendf(nil, `{"i":%d}`, i), Metadata: map[string]any{"stream": id}}
			if _, err := st.Write(ctx, []evstore.CandidateEvent{e}); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write("plain", 2)
	// Deleted: only its tombstone is left (version 3).
	_, err = write("deleted", 2).Delete(ctx)
	must(err)
	// Deleted, then written again: tombstone at 4, events 5 and 6.
	_, err = write("reborn", 3).Delete(ctx)
	must(err)
	write("reborn", 2)
	// Truncated: versions 4 and 5 are left.
	must(write("truncated", 5).Truncate(ctx, 4))
	// Deleted, written again, truncated past its tombstone: version 7 only.
	_, err = write("both", 4).Delete(ctx)
	must(err)
	must(write("both", 2).Truncate(ctx, 7))
	write("plain", 1)
	s.Close()

	file := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(file, []byte(mustCLI(t, src, "export")), 0o644); err != nil {
		t.Fatal(err)
	}
	want := storeEvents(t, src)
	if _, errOut, status := cli(t, dst, "import", file); status != 0 || !strings.Contains(errOut, fmt.Sprintf("imported %d events, 0 already there", len(want))) {
		t.Fatalf("import: status %d, %q; want 0 and %d events imported", status, errOut, len(want))
	}
	if got := storeEvents(t, dst); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the imported store reads\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantStreams := streamMetrics(t, src)
	if got := streamMetrics(t, dst); got != wantStreams {
		t.Errorf("imported streams: got %s, want %s", got, wantStreams)
	}
	// The keys of the events kept are kept; the deleted stream goes on
	// after its tombstone.
	d, err := sqlite.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := d.Stream(ctx, "truncated")
	if v, found, err := st.Lookup(ctx, "truncated-4"); err != nil || !found || v != 4 {
		t.Errorf("key truncated-4: got %d, %v, %v; want version 4", v, found, err)
	}
	st, _ = d.Stream(ctx, "deleted")
	if v, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil || v != 4 {
		t.Errorf("a write to the imported deleted stream: got version %d, %v; want 4", v, err)
	}
	d.Close()

	// Again: nothing new.
	if _, errOut, status := cli(t, dst, "import", file); status != 0 || !strings.Contains(errOut, fmt.Sprintf("imported 0 events, %d already there", len(want))) {
		t.Fatalf("second import: status %d, %q; want 0 and everything already there", status, errOut)
	}
}

// TestImportTombstoneAndPlaceholders: a tombstone in the file deletes the
// stream however far the target has it; an import that stopped after
// writing the placeholders below a truncated stream's first version
// finishes the job when it runs again; a gap after the target's version is
// refused; a tombstone at version 1 and other
// types beginning with '$' are refused, naming the line.
func TestImportTombstoneAndPlaceholders(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dst := filepath.Join(dir, "dst.db")
	s, err := sqlite.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Stream(ctx, "a")
	if _, err := a.Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := s.Stream(ctx, "b")
	if _, err := b.Write(ctx, []evstore.CandidateEvent{{Type: placeholderType}, {Type: placeholderType}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	file := filepath.Join(dir, "in.jsonl")
	tomb := func(stream string, v int) string {
		return fmt.Sprintf(`{"stream_id":%q,"version":%d,"type":"$deleted"}`+"\n", stream, v)
	}
	os.WriteFile(file, []byte(tomb("a", 4)+line("a", 5, "")+line("b", 3, "")+line("b", 4, "")), 0o644)
	if _, errOut, status := cli(t, dst, "import", file); status != 0 || !strings.Contains(errOut, "imported 4 events") {
		t.Fatalf("import: status %d, %q", status, errOut)
	}
	got := strings.Join(storeEvents(t, dst), "; ")
	want := `a@4 $deleted id="" data="" meta=map[]; a@5 T id="" data="" meta=map[]; b@3 T id="" data="" meta=map[]; b@4 T id="" data="" meta=map[]`
	if got != want {
		t.Errorf("after the import:\n%s\nwant\n%s", got, want)
	}

	// A stream the target has, with events missing between its version
	// and the file's first (an export --after that does not follow on):
	// refused, the target unchanged.
	os.WriteFile(file, []byte(line("a", 7, "")), 0o644)
	if _, errOut, status := cli(t, dst, "import", file); status != 1 || !strings.Contains(errOut, "stream a is at version 5: events from version 7 do not follow on") {
		t.Errorf("import with a gap: status %d, %q; want 1 and the versions", status, errOut)
	}
	if got := strings.Join(storeEvents(t, dst), "; "); got != want {
		t.Errorf("after the refused import:\n%s\nwant\n%s", got, want)
	}

	for _, c := range []struct{ file, says string }{
		{line("c", 1, "") + tomb("d", 1), "line 2 (stream d, version 1): a $deleted event at version 1"},
		{line("c", 1, "") + `{"stream_id":"d","version":1,"type":"$other"}` + "\n", "line 2: invalid event: type \"$other\""},
	} {
		os.WriteFile(file, []byte(c.file), 0o644)
		if _, errOut, status := cli(t, filepath.Join(t.TempDir(), "x.db"), "import", file); status != 1 || !strings.Contains(errOut, c.says) {
			t.Errorf("%q: status %d, %q; want 1 and %q", c.file, status, errOut, c.says)
		}
	}
}
