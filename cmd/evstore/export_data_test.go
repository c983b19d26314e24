package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// TestExportJSONPayloads: a payload that is JSON but not compact (as the
// Python library writes it) is exported as JSON in "data", and with its
// exact bytes in "data_base64"; import brings every payload back byte for
// byte.
func TestExportJSONPayloads(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	ctx := context.Background()
	payloads := [][]byte{[]byte(`{"total": 10}`), []byte(`{"total":10}`), {0xff, 0}, []byte(`"<b>"`)}
	s, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stream(ctx, "p")
	for _, p := range payloads {
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "T", Data: p}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	out := mustCLI(t, src, "export")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, want := range []string{`"data":{"total":10},"data_base64":"eyJ0b3RhbCI6IDEwfQ=="`, `"data":{"total":10}}`, `"data_base64":"/wA="}`, `"data":"<b>"}`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s; want it to hold %s", i+1, lines[i], want)
		}
		var e eventjson.Event
		if err := json.Unmarshal([]byte(lines[i]), &e); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "events.jsonl")
	os.WriteFile(file, []byte(out), 0o644)
	if _, errOut, status := cli(t, dst, "import", file); status != 0 {
		t.Fatalf("import: status %d: %s", status, errOut)
	}
	d, err := sqlite.Open(ctx, dst, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, _ = d.Stream(ctx, "p")
	i := 0
	for e, err := range st.Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Data, payloads[i]) {
			t.Errorf("event %d imported as %q, want %q", i+1, e.Data, payloads[i])
		}
		i++
	}
}
