package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// line is one JSON line of an import file for event version v of stream,
// with optional extra fields (each `,"name":value`).
func line(stream string, v int, extra string) string {
	return fmt.Sprintf(`{"stream_id":%q,"version":%d,"type":"T"`, stream, v) + extra + "}\n"
}

// escaped returns a JSON string of n letters, each written as a \u escape,
// as a tool that escapes everything may write it: 6 bytes of line per
// byte of event.
func escaped(n int) string {
	return `"` + strings.Repeat(`\u0061`, n) + `"`
}

// versions returns each stream's version in the store at path.
func versions(t *testing.T, path string) map[string]int64 {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]int64{}
	for m, err := range s.Streams(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got[m.StreamID] = m.Version
	}
	return got
}

// TestImportLines: a line imports however long its JSON is, as long as its
// event is within evstore.MaxEventSize; a larger event, a malformed line or
// a run of events that does not follow on stops the import there, with
// everything before it imported and nothing from it on. A stream that
// starts beyond version 1 in the file follows on when the target lacks it.
func TestImportLines(t *testing.T) {
	const max = evstore.MaxEventSize
	// At the limit, in a line of over 64 MiB: 5 MiB of binary data (as
	// base64) and metadata whose 11 MiB of text are written as \u escapes
	// (66 MiB of line).
	atLimit := func() string {
		metaText := 11 << 20
		metaSize := len(`{"note":""}`) + metaText // as the store encodes it
		l := line("big", 1, `,"data_base64":"`+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, max-metaSize))+
			`","metadata":{"note":`+escaped(metaText)+`}`)
		if len(l) <= 64<<20 {
			t.Fatalf("the test line is only %d bytes long", len(l))
		}
		return l
	}
	overData := func() string {
		return line("a", 3, `,"data":"`+strings.Repeat("a", max-1)+`"`) // max+1 bytes of JSON
	}
	overMeta := func() string {
		return line("a", 3, `,"data":"x","metadata":{"note":"`+strings.Repeat("a", max-len(`{"note":""}`))+`"}`)
	}
	small := line("a", 1, `,"data":{"n":1}`) + line("a", 2, `,"metadata":{"k":"v"}`)

	cases := []struct {
		name     string
		file     func() string
		status   int
		says     []string
		versions map[string]int64
		slow     bool // under the race detector
	}{
		{"event at the limit", func() string { return small + atLimit() + line("big", 2, "") }, 0,
			[]string{"imported 4 events, 0 already there"}, map[string]int64{"a": 2, "big": 2}, true},
		{"data over the limit", func() string { return small + overData() + line("a", 4, "") + line("b", 1, "") }, 1,
			[]string{"line 3:", "over MaxEventSize", "imported 2 events from the lines before it, 0 already there"}, map[string]int64{"a": 2}, false},
		{"metadata over the limit", func() string { return small + overMeta() + line("b", 1, "") }, 1,
			[]string{"line 3:", "over MaxEventSize"}, map[string]int64{"a": 2}, true},
		{"malformed line", func() string {
			return small + line("b", 1, "") + `{"stream_id":"b","version":2,` + "\n" + line("b", 3, "")
		}, 1,
			[]string{"line 4:", "imported 3 events from the lines before it"}, map[string]int64{"a": 2, "b": 1}, false},
		{"no version", func() string { return small + line("b", 0, "") }, 1,
			[]string{"line 3:", "a version above 0"}, map[string]int64{"a": 2}, false},
		{"a gap in the last run", func() string { return small + line("b", 1, "") + line("b", 3, "") + line("b", 4, "") }, 1,
			[]string{"lines 4-5 (stream b, versions 3-4): stream b is at version 1", "imported 3 events from the lines before it"}, map[string]int64{"a": 2, "b": 1}, false},
		{"a gap in the middle", func() string { return small + line("a", 4, "") + line("c", 1, "") }, 1,
			[]string{"line 3 (stream a, version 4): stream a is at version 2", "imported 2 events from the lines before it"}, map[string]int64{"a": 2}, false},
		{"a stream that starts beyond version 1", func() string { return small + line("b", 2, "") + line("c", 1, "") }, 0,
			[]string{"imported 4 events, 0 already there"}, map[string]int64{"a": 2, "b": 2, "c": 1}, false},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.slow && raceEnabled {
				t.Skip("a line of tens of MiB takes too long to parse under the race detector; the test runs without -race")
			}
			file := filepath.Join(dir, fmt.Sprintf("in-%d.jsonl", i))
			db := filepath.Join(dir, fmt.Sprintf("dst-%d.db", i))
			if err := os.WriteFile(file, []byte(c.file()), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, status := cli(t, db, "import", file)
			if status != c.status {
				t.Errorf("status: got %d, want %d (stderr %q)", status, c.status, errOut)
			}
			for _, want := range c.says {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q lacks %q", errOut, want)
				}
			}
			if got := versions(t, db); fmt.Sprint(got) != fmt.Sprint(c.versions) {
				t.Errorf("stream versions after the import: got %v, want %v", got, c.versions)
			}
		})
	}
}

// TestExportImportAtMaxEventSize: an event of MaxEventSize bytes of binary
// data goes through export and import.
func TestExportImportAtMaxEventSize(t *testing.T) {
	if raceEnabled {
		t.Skip("16 MiB of base64 JSON takes too long under the race detector; the test runs without -race")
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0, 0xfe, '"', '\\'}, evstore.MaxEventSize/4)
	st, _ := s.Stream(ctx, "big")
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Blob", Data: data}, {Type: "After"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	file := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(file, []byte(mustCLI(t, src, "export")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, status := cli(t, dst, "import", file); status != 0 || !strings.Contains(errOut, "imported 2 events") {
		t.Fatalf("import: status %d, %q; want 0 and 2 events imported", status, errOut)
	}
	d, err := sqlite.Open(ctx, dst, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, _ = d.Stream(ctx, "big")
	for e, err := range st.Read(ctx, evstore.Limit(1)) {
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Data, data) {
			t.Errorf("imported data: got %d bytes, want the %d written", len(e.Data), len(data))
		}
	}
}

func TestLineReader(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  error // after the lines
	}{
		{"a\nbb\r\n\nccc", []string{"a", "bb\r", "", "ccc"}, io.EOF},
		{"0123456789\n", []string{"0123456789"}, io.EOF},
		{"0123456789", []string{"0123456789"}, io.EOF},
		{"", nil, io.EOF},
		{"ok\n0123456789A\nnever\n", []string{"ok"}, errLineTooLong},
		{"ok\n0123456789A", []string{"ok"}, errLineTooLong},
	}
	for _, c := range cases {
		r := newLineReader(strings.NewReader(c.in), 10)
		r.r = bufio.NewReaderSize(strings.NewReader(c.in), 16) // lines span several reads
		var got []string
		var err error
		for {
			var l []byte
			if l, err = r.next(); err != nil {
				break
			}
			got = append(got, string(l))
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) || err != c.err {
			t.Errorf("%q: got lines %q and %v, want %q and %v", c.in, got, err, c.want, c.err)
		}
	}
}
