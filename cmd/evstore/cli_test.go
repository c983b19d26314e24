package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// cli runs one command line against db and returns its output and status.
func cli(t *testing.T, db string, args ...string) (string, string, int) {
	t.Helper()
	return runCLI(t, append([]string{"--db", db}, args...)...)
}

func mustCLI(t *testing.T, db string, args ...string) string {
	t.Helper()
	out, errOut, status := cli(t, db, args...)
	if status != 0 {
		t.Fatalf("evstore %v: status %d: %s", args, status, errOut)
	}
	return out
}

func TestWriteReadStreamsStats(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	if v := mustCLI(t, db, "write", "order-1", "--type", "OrderCreated", "--data", `{"total":10}`, "--meta", `{"region":"EMEA"}`, "--id", "c1"); v != "1\n" {
		t.Errorf("write: got %q, want 1", v)
	}
	if v := mustCLI(t, db, "write", "order-1", "--type", "ItemAdded", "--expect", "1"); v != "2\n" {
		t.Errorf("write --expect 1: got %q, want 2", v)
	}
	if v := mustCLI(t, db, "write", "order-1", "--type", "OrderCreated", "--id", "c1"); v != "2\n" {
		t.Errorf("repeated key: got %q, want the current version 2", v)
	}
	mustCLI(t, db, "write", "--type", "OrderCreated", "order-2", "--meta", `{"region":"US"}`) // flags before the stream too

	_, errOut, status := cli(t, db, "write", "order-1", "--type", "X", "--expect", "0")
	if status != 1 || !strings.Contains(errOut, "expected version 0, actual 2") {
		t.Errorf("conflict: status %d, stderr %q; want 1 and the versions", status, errOut)
	}

	out := mustCLI(t, db, "read", "@all")
	for _, want := range []string{"SEQ", "TAGS", "order-1  1", "OrderCreated", "{\"total\":10}", "order-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("read @all lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(mustCLI(t, db, "read", "@all", "--json", "--filter", "metadata.region=EMEA")), "\n")
	if len(lines) != 1 {
		t.Fatalf("filtered read: got %d lines, want 1: %q", len(lines), lines)
	}
	var e eventjson.Event
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil || e.ID != "c1" || e.StreamID != "order-1" || string(e.Data) != `{"total":10}` {
		t.Errorf("filtered read: got %+v, %v", e, err)
	}
	if out := mustCLI(t, db, "read", "order-1", "--backwards", "--limit", "1", "--json"); !strings.Contains(out, `"version":2`) {
		t.Errorf("read --backwards --limit 1: %s", out)
	}
	if out := mustCLI(t, db, "read", "@all", "--type", "ItemAdded", "--json"); strings.Count(out, "\n") != 1 {
		t.Errorf("read --type: %s", out)
	}
	if out := mustCLI(t, db, "read", "@all", "--json", "--filter", "metadata.region=EMEA|US", "--filter", "event_type~order%"); strings.Count(out, "\n") != 2 {
		t.Errorf("read --filter with alternatives and LIKE: %s", out)
	}

	streams := mustCLI(t, db, "streams")
	if !strings.Contains(streams, "order-1  2        2") || !strings.Contains(streams, "order-2  1        1") {
		t.Errorf("streams:\n%s", streams)
	}
	var stats map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, db, "stats", "--json")), &stats); err != nil {
		t.Fatal(err)
	}
	if stats["streams"] != 2.0 || stats["events"] != 3.0 || stats["newest_sequence"] != 3.0 || stats["file_bytes"].(float64) <= 0 {
		t.Errorf("stats: %v", stats)
	}
}

func TestSnapshot(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	mustCLI(t, db, "write", "counter", "--type", "Increment")
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stream(context.Background(), "counter")
	if err := st.Snapshot(context.Background(), []byte(`{"count":1}`), evstore.Projection("totals")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if out := mustCLI(t, db, "snapshot", "counter", "--projection", "totals"); !strings.Contains(out, "version     1") || !strings.Contains(out, "size        11 B") {
		t.Errorf("snapshot:\n%s", out)
	}
	if out := mustCLI(t, db, "snapshot", "counter", "--projection", "totals", "--raw"); out != `{"count":1}` {
		t.Errorf("snapshot --raw: %q", out)
	}
	if _, errOut, status := cli(t, db, "snapshot", "counter"); status != 1 || !strings.Contains(errOut, "no snapshot") {
		t.Errorf("missing snapshot: status %d, %q", status, errOut)
	}
}

// TestExportImport: export | import into an empty store reproduces every
// stream, and importing again adds nothing.
func TestExportImport(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b", "a", "c", "a"} {
		st, _ := s.Stream(ctx, id)
		events := make([]evstore.CandidateEvent, 700)
		for j := range events {
			events[j] = evstore.CandidateEvent{Type: "T", Data: []byte{byte(i), byte(j), 0xff}, Metadata: map[string]any{"j": j}}
			if j%3 == 0 {
				events[j].ID = fmt.Sprintf("key-%d-%d", i, j)
			}
			if j%5 == 0 {
				events[j].Data = []byte(`{"json":true}`)
			}
		}
		if _, err := st.Write(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	exported := mustCLI(t, src, "export")
	file := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(file, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, status := cli(t, dst, "import", file)
	if status != 0 || !strings.Contains(errOut, "imported 3500 events") {
		t.Fatalf("import: status %d, %q", status, errOut)
	}
	out, errOut, status := cli(t, dst, "import", "--json", file)
	if status != 0 || strings.TrimSpace(out) != `{"already_there":3500,"imported":0}` {
		t.Fatalf("second import: status %d, %q, %q", status, out, errOut)
	}
	if again := mustCLI(t, dst, "export"); stripTimes(again) != stripTimes(exported) {
		t.Errorf("export of the copy differs from the original")
	}
}

// stripTimes drops the timestamps, which import does not keep.
func stripTimes(jsonl string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		delete(m, "timestamp")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}

func TestTail(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	mustCLI(t, db, "write", "s", "--type", "Old")
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncWriter{w: new(bytes.Buffer)}, &syncWriter{w: new(bytes.Buffer)}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--db", db, "tail", "s", "--after", "0"}, out, errOut) }()
	time.Sleep(200 * time.Millisecond)
	mustCLI(t, db, "write", "s", "--type", "New")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "New") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // Ctrl-C
	if status := <-done; status != 0 {
		t.Errorf("tail: status %d after interrupt, stderr %q", status, errOut.String())
	}
	got := out.String()
	if !strings.Contains(got, "v1") || !strings.Contains(got, "Old") || !strings.Contains(got, "v2") || !strings.Contains(got, "New") {
		t.Errorf("tail printed:\n%s", got)
	}
}

func TestBadInput(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	mustCLI(t, db, "write", "s", "--type", "T")
	cases := []struct {
		args   []string
		status int
		says   string
	}{
		{[]string{"read"}, 2, "need one stream id"},
		{[]string{"read", "a", "b"}, 2, "need one stream id"},
		{[]string{"read", "s", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"read", "s", "--filter", "nope=1"}, 1, "unknown field"},
		{[]string{"read", "s", "--filter", "region"}, 1, "want field=value"},
		{[]string{"read", "s", "--filter", "version=x"}, 1, "not an integer"},
		{[]string{"write", "s"}, 1, "--type is required"},
		{[]string{"write", "s", "--type", "T", "--data", "{bad"}, 1, "not valid JSON"},
		{[]string{"write", "s", "--type", "T", "--meta", "[1]"}, 1, "not a JSON object"},
		{[]string{"write", "s", "--type", "T", "--data", "@/nonexistent/file"}, 1, "no such file"},
		{[]string{"write", "", "--type", "T"}, 1, "invalid stream id"},
		{[]string{"write", "@all", "--type", "T"}, 1, "read-only"},
		{[]string{"import"}, 2, "need one file"},
	}
	for _, c := range cases {
		_, errOut, status := cli(t, db, c.args...)
		if status != c.status || !strings.Contains(errOut, c.says) {
			t.Errorf("evstore %v: status %d, stderr %q; want %d and %q", c.args, status, errOut, c.status, c.says)
		}
	}
	// A missing database is an error for reading commands, not a new file.
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, errOut, status := cli(t, missing, "read", "@all"); status != 1 || !strings.Contains(errOut, "no database") {
		t.Errorf("read of a missing database: status %d, %q", status, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("reading a missing database created it")
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"stream_id\":\"s\",\"type\":\"T\",\"version\":1}\nnot json\n"), 0o644)
	if _, errOut, status := cli(t, db, "import", bad); status != 1 || !strings.Contains(errOut, "line 2") {
		t.Errorf("import of bad JSON: status %d, %q", status, errOut)
	}
	for name := range commands {
		if name == benchChildName {
			continue
		}
		if _, errOut, status := runCLI(t, name, "--help"); status != 0 || !strings.Contains(errOut, "example:") {
			t.Errorf("%s --help: status %d, no example in %q", name, status, errOut)
		}
	}
}

// syncWriter lets a test read what a running command writes.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// TestTailInterrupt: Ctrl-C (SIGINT) ends tail with status 0.
func TestTailInterrupt(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	mustCLI(t, db, "write", "s", "--type", "T")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EVSTORE_TEST_MAIN=1", "EVSTORE_TEST_ARGS=--db "+db+" tail s --after 0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "v1") {
		t.Fatalf("tail printed %q, %v", line, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("tail after Ctrl-C: %v, want status 0", err)
	}
}

// TestExportKeepsBytes: payloads come back byte for byte, JSON or not, and
// a file that grew since the last import adds only its new events.
func TestExportKeepsBytes(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	payloads := []string{`{ "a": "<b>", "n": 1.50 }`, `[1, 2]`, `{"a":"<b>&"}`, "  7 \n", `"x"`}
	for _, p := range payloads {
		mustCLI(t, src, "write", "s", "--type", "T", "--data", p)
	}
	file := filepath.Join(dir, "events.jsonl")
	os.WriteFile(file, []byte(mustCLI(t, src, "export")), 0o644)
	mustCLI(t, dst, "import", file)
	mustCLI(t, src, "write", "s", "--type", "T", "--data", `{"later":true}`)
	os.WriteFile(file, []byte(mustCLI(t, src, "export")), 0o644)
	if _, errOut, status := cli(t, dst, "import", file); status != 0 || !strings.Contains(errOut, "imported 1 events, 5 already there") {
		t.Fatalf("import of the grown file: status %d, %q", status, errOut)
	}
	s, err := sqlite.Open(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, _ := s.Stream(context.Background(), "s")
	i := 0
	for e, err := range st.Read(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		want := `{"later":true}`
		if i < len(payloads) {
			want = payloads[i]
		}
		if string(e.Data) != want {
			t.Errorf("event %d: got %q, want %q", i+1, e.Data, want)
		}
		i++
	}
	if i != len(payloads)+1 {
		t.Errorf("got %d events, want %d", i, len(payloads)+1)
	}
}

func TestFilterValues(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	mustCLI(t, db, "write", "s", "--type", "T", "--meta", `{"code":"007","n":7,"flag":true,"inf":"inf"}`)
	for _, f := range []string{"metadata.code=007", `metadata.code="007"`, "metadata.n=7", "metadata.flag=true", "metadata.inf=inf"} {
		if out := mustCLI(t, db, "read", "s", "--json", "--filter", f); strings.Count(out, "\n") != 1 {
			t.Errorf("--filter %s matched %d events, want 1", f, strings.Count(out, "\n"))
		}
	}
	if out := mustCLI(t, db, "read", "s", "--json", "--filter", "metadata.n=\"7\""); out != "" {
		t.Errorf(`--filter metadata.n="7" (a string) matched the number 7`)
	}
	if _, errOut, status := cli(t, db, "read", "s", "--limit", "-3"); status != 1 || !strings.Contains(errOut, "negative") {
		t.Errorf("--limit -3: status %d, %q", status, errOut)
	}
}

func TestBenchTakesGlobalDB(t *testing.T) {
	keep := filepath.Join(t.TempDir(), "keep.db")
	if _, errOut, status := runCLI(t, "--db", keep, "bench", "--events", "100", "--batch", "10", "--json"); status != 0 {
		t.Fatalf("status %d: %s", status, errOut)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("evstore --db FILE bench did not keep FILE: %v", err)
	}
}
