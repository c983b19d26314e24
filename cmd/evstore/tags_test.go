package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// findAll returns what Find(c) gives on the SQLite store at path, without
// the Sequences and timestamps, which import does not keep.
func findAll(t *testing.T, path string, c evstore.Criteria) []evstore.StoredEvent {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []evstore.StoredEvent
	for e, err := range s.Find(context.Background(), c) {
		if err != nil {
			t.Fatal(err)
		}
		e.Sequence, e.Timestamp = 0, time.Time{}
		got = append(got, e)
	}
	return got
}

// TestExportImportTags: export prints each event's tags ("tags", sorted;
// none on an untagged event), import writes them, and Find by tag on the
// copy gives the events it gives on the original.
func TestExportImportTags(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		st, _ := s.Stream(ctx, fmt.Sprintf("enrolment-%d", i%7))
		e := evstore.CandidateEvent{Type: "Enrolled", Data: []byte(fmt.Sprintf(`{"i":%d}`, i)),
			Tags: []string{fmt.Sprintf("student:s%d", i%5), fmt.Sprintf("course:c%d", i%3), fmt.Sprintf("course:c%d", i%3)}}
		if i%4 == 0 {
			e.Type, e.Tags = "Noted", nil
		}
		if _, err := st.Write(ctx, []evstore.CandidateEvent{e}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	exported := mustCLI(t, src, "export")
	lines := strings.Split(strings.TrimSpace(exported), "\n")
	if len(lines) != 300 {
		t.Fatalf("export printed %d lines, want 300", len(lines))
	}
	for i, l := range lines[:8] {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		tags, has := m["tags"]
		if i%4 == 0 {
			if has {
				t.Errorf("line %d (untagged): has tags %v", i+1, tags)
			}
			continue
		}
		want := []any{fmt.Sprintf("course:c%d", i%3), fmt.Sprintf("student:s%d", i%5)}
		if !reflect.DeepEqual(tags, want) {
			t.Errorf("line %d: tags %v, want %v (sorted, without repeats)", i+1, tags, want)
		}
	}
	file := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(file, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, status := cli(t, dst, "import", file); status != 0 || !strings.Contains(errOut, "imported 300 events") {
		t.Fatalf("import: status %d, %q", status, errOut)
	}
	for _, c := range []evstore.Criteria{
		{{Tags: []string{"course:c1"}}},
		{{Tags: []string{"student:s2", "course:c0"}}},
		{{Types: []string{"Noted"}}},
		{{Types: []string{"Enrolled"}, Tags: []string{"student:s4"}}, {Tags: []string{"course:c2"}}},
	} {
		want, got := findAll(t, src, c), findAll(t, dst, c)
		if len(want) == 0 {
			t.Fatalf("Find %v on the original found nothing", c)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Find %v: the copy gives %d events, the original %d, or they differ", c, len(got), len(want))
		}
	}
	if again := mustCLI(t, dst, "export"); stripTimes(again) != stripTimes(exported) {
		t.Errorf("export of the copy differs from the original")
	}
}

// TestImportTags: "tags" absent or null is no tags (exports from before
// tags import as they did), repeats are one tag, and a bad tag stops the
// import at its line, naming it, with the lines before it imported and
// nothing from it on.
func TestImportTags(t *testing.T) {
	many := make([]string, evstore.MaxTags+1)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("t%02d", i))
	}
	repeated := append(many[:evstore.MaxTags:evstore.MaxTags], many[0], many[1])
	good := line("a", 1, ``) + line("a", 2, `,"tags":null`) + line("a", 3, `,"tags":[]`) + line("a", 4, `,"tags":["x","x","w"]`) +
		line("a", 5, `,"tags":[`+strings.Join(repeated, ",")+`]`)
	t.Run("good", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "t.db")
		file := filepath.Join(t.TempDir(), "in.jsonl")
		os.WriteFile(file, []byte(good), 0o644)
		if _, errOut, status := cli(t, db, "import", file); status != 0 {
			t.Fatalf("status %d: %s", status, errOut)
		}
		var got [][]string
		for _, l := range strings.Split(strings.TrimSpace(mustCLI(t, db, "read", "a", "--json")), "\n") {
			var e eventjson.Event
			json.Unmarshal([]byte(l), &e)
			got = append(got, e.Tags)
		}
		want := [][]string{nil, nil, nil, {"w", "x"}, strings.Split(strings.ReplaceAll(strings.Join(many[:evstore.MaxTags], ","), `"`, ""), ",")}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("tags read back: got %q, want %q", got, want)
		}
	})
	cases := []struct {
		name, tags, says string
	}{
		{"empty", `[""]`, "empty tag"},
		{"long", `["` + strings.Repeat("a", evstore.MaxTagLen+1) + `"]`, "over the limit of 255"},
		{"NUL", `["a\u0000b"]`, "not UTF-8 text without NUL bytes"},
		{"too many", `[` + strings.Join(many, ",") + `]`, "33 distinct tags, over the limit of 32"},
		{"not strings", `[1]`, "cannot unmarshal number"},
		{"not an array", `"x"`, "cannot unmarshal string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "t.db")
			file := filepath.Join(t.TempDir(), "in.jsonl")
			os.WriteFile(file, []byte(good+line("a", 6, `,"tags":`+c.tags)+line("a", 7, `,"tags":["y"]`)), 0o644)
			_, errOut, status := cli(t, db, "import", file)
			if status != 1 || !strings.Contains(errOut, "line 6: invalid event: ") || !strings.Contains(errOut, c.says) ||
				!strings.Contains(errOut, "imported 5 events from the lines before it") {
				t.Errorf("status %d, stderr %q; want 1, line 6 and %q", status, errOut, c.says)
			}
			if v := versions(t, db)["a"]; v != 5 {
				t.Errorf("stream a is at version %d, want 5: the lines before the bad one, none from it on", v)
			}
		})
	}
}

// TestReadTags: read shows tags in its table and its JSON, and --filter
// takes the tag field (=, a|b, ~); so does tail.
func TestReadTags(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	mustCLI(t, db, "write", "c1", "--type", "CourseDefined", "--tag", "course:c1")
	mustCLI(t, db, "write", "e1", "--type", "Enrolled", "--tag", "student:s7", "--tag", "course:c1", "--tag", "course:c1")
	mustCLI(t, db, "write", "e2", "--type", "Enrolled", "--tag", "course:c2", "--tag", "student:s8")
	mustCLI(t, db, "write", "x", "--type", "Other")

	table := mustCLI(t, db, "read", "@all")
	for _, want := range []string{"TYPE           TAGS                  DATA", "Enrolled       course:c1,student:s7", "CourseDefined  course:c1  "} {
		if !strings.Contains(table, want) {
			t.Errorf("read @all lacks %q:\n%s", want, table)
		}
	}
	var e eventjson.Event
	if err := json.Unmarshal([]byte(mustCLI(t, db, "read", "e1", "--json")), &e); err != nil || !reflect.DeepEqual(e.Tags, []string{"course:c1", "student:s7"}) {
		t.Errorf("read e1 --json: tags %q, %v", e.Tags, err)
	}
	if out := mustCLI(t, db, "read", "x", "--json"); strings.Contains(out, "tags") {
		t.Errorf("an untagged event has tags in JSON: %s", out)
	}
	for _, c := range []struct {
		filters []string
		want    []string // stream ids
	}{
		{[]string{"tag=course:c1"}, []string{"c1", "e1"}},
		{[]string{"tag=course:c2|student:s7"}, []string{"e1", "e2"}},
		{[]string{"tag~student:%"}, []string{"e1", "e2"}},
		{[]string{"tag~COURSE:C_"}, []string{"c1", "e1", "e2"}},
		{[]string{"tag=course:c1", "tag=student:s7"}, []string{"e1"}},
		{[]string{"tag=course:c1", "event_type=Enrolled"}, []string{"e1"}},
		{[]string{"tag=nope"}, nil},
	} {
		args := []string{"read", "@all", "--json"}
		for _, f := range c.filters {
			args = append(args, "--filter", f)
		}
		if got := streamIDs(t, mustCLI(t, db, args...)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("read --filter %q: got %q, want %q", c.filters, got, c.want)
		}
	}
	if _, errOut, status := cli(t, db, "read", "--help"); status != 0 || !strings.Contains(errOut, "version, tag, metadata.<path>") {
		t.Errorf("read --help: status %d, the fields in %q lack tag", status, errOut)
	}
	if _, errOut, status := cli(t, db, "write", "s", "--type", "T", "--tag", ""); status != 1 || !strings.Contains(errOut, "empty tag") {
		t.Errorf("write --tag '': status %d, %q", status, errOut)
	}
}

// streamIDs returns the stream ids of JSON lines of events, in order.
func streamIDs(t *testing.T, jsonl string) []string {
	t.Helper()
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if l == "" {
			continue
		}
		var e eventjson.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		ids = append(ids, e.StreamID)
	}
	return ids
}
