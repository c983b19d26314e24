package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// pythonReader reads a database as py-event-sourcing does (Python's own
// sqlite3, datetime.fromisoformat, json.loads), prints what it decoded as
// JSON, and appends an event as that library writes one.
const pythonReader = `
import sqlite3, json, sys, datetime, uuid
db = sqlite3.connect(sys.argv[1])
out = {"events": [], "snapshots": []}
for (id, stream, key, typ, ts, meta, data, version) in db.execute(
        "SELECT id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version FROM events ORDER BY id"):
    out["events"].append({"id": id, "stream": stream, "key": key, "type": typ,
        "ts": datetime.datetime.fromisoformat(ts).isoformat(), "meta": json.loads(meta) if meta else {},
        "data": list(data), "version": version})
for (stream, proj, version, state, ts) in db.execute("SELECT * FROM snapshots"):
    out["snapshots"].append({"stream": stream, "projection": proj, "version": version,
        "state": state.decode(), "ts": datetime.datetime.fromisoformat(ts).isoformat()})
now = datetime.datetime.utcnow().isoformat()
db.execute("INSERT INTO events (stream_id, idempotency_key, event_type, timestamp, metadata, data, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ("py-1", str(uuid.uuid4()), "FromPython", now, json.dumps({"lang": "Python", "naïve": True}), b'{"n": 1}', 1))
db.commit()
print(json.dumps(out))
`

// TestPythonReadsGoFiles: Python's sqlite3 reads what evstore writes, the
// way py-event-sourcing decodes it (a deleted stream's tombstone and a
// truncated stream included), and evstore reads what Python appends.
func TestPythonReadsGoFiles(t *testing.T) {
	python, err := osexec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the cross-language check needs it")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	st := stream(t, s, "order-1")
	written := []evstore.CandidateEvent{
		{ID: "k1", Type: "OrderCreated", Data: []byte(`{"total":10}`), Metadata: map[string]any{"customer": "Zoë", "tags": map[string]any{"vip": true}, "ids": []any{1.0, 2.0}}, Tags: []string{"customer:zoe"}},
		{Type: "Keyless", Data: []byte{0, 1, 255}},
		{Type: "Empty"},
	}
	if _, err := st.Write(ctx, written); err != nil {
		t.Fatal(err)
	}
	if err := st.Snapshot(ctx, []byte(`{"total":10}`), evstore.Projection("totals")); err != nil {
		t.Fatal(err)
	}
	// A deleted stream (its tombstone: no key, no metadata, empty data)
	// and a truncated one, whose rows Python must read as well.
	gone, cut := stream(t, s, "gone-1"), stream(t, s, "cut-1")
	for _, x := range []*evstore.Stream{gone, cut} {
		if _, err := x.Write(ctx, written); err != nil {
			t.Fatal(err)
		}
	}
	if err := gone.Snapshot(ctx, []byte(`{"gone":true}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cut.Truncate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	stored := readAll(t, stream(t, s, evstore.All))
	if len(stored) != 5 || stored[3].StreamID != "cut-1" || stored[3].Version != 3 || stored[4].Type != evstore.Deleted {
		t.Fatalf("after Delete and Truncate, evstore read %+v", stored)
	}
	// Tags live in evstore_tags, which Python never reads; those of the
	// removed events are gone with them.
	if !slices.Equal(stored[0].Tags, []string{"customer:zoe"}) {
		t.Errorf("tags read back as %q", stored[0].Tags)
	}
	var tagged []int64
	for e, err := range s.Find(ctx, evstore.Criteria{{Tags: []string{"customer:zoe"}}}) {
		if err != nil {
			t.Fatal(err)
		}
		tagged = append(tagged, e.Sequence)
	}
	if len(tagged) != 1 || tagged[0] != stored[0].Sequence {
		t.Errorf("Find of the tag found %v, want only %d", tagged, stored[0].Sequence)
	}
	keys := map[int64]string{} // by Sequence: the key each event was written with
	for i := range written {
		keys[stored[i].Sequence] = written[i].ID
	}
	keys[stored[3].Sequence] = written[2].ID
	if err := s.Close(); err != nil {
		t.Fatal(err)
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
			ID      int64          `json:"id"`
			Stream  string         `json:"stream"`
			Key     *string        `json:"key"`
			Type    string         `json:"type"`
			TS      string         `json:"ts"`
			Meta    map[string]any `json:"meta"`
			DataInt []int          `json:"data"`
			Version int64          `json:"version"`
		} `json:"events"`
		Snapshots []struct {
			Stream, Projection, State, TS string
			Version                       int64
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python printed %s: %v", out, err)
	}
	if len(got.Events) != len(stored) {
		t.Fatalf("python read %d events, want %d", len(got.Events), len(stored))
	}
	for i, e := range got.Events {
		want := stored[i]
		data := make([]byte, len(e.DataInt))
		for j, b := range e.DataInt {
			data[j] = byte(b)
		}
		wantMeta := want.Metadata
		if wantMeta == nil {
			wantMeta = map[string]any{}
		}
		if e.ID != want.Sequence || e.Stream != want.StreamID || e.Type != want.Type || e.Version != want.Version ||
			!bytes.Equal(data, want.Data) || !reflect.DeepEqual(e.Meta, wantMeta) {
			t.Errorf("event %d: python read %+v (data %v), Go wrote %+v", i, e, data, want)
		}
		if key := keys[want.Sequence]; (e.Key == nil) != (key == "") || (e.Key != nil && *e.Key != key) {
			t.Errorf("event %d: python read key %v, want %q (none for keyless)", i, e.Key, key)
		}
		if e.TS != want.Timestamp.Format("2006-01-02T15:04:05.000000") && e.TS != want.Timestamp.Format("2006-01-02T15:04:05") {
			t.Errorf("event %d: python read time %s, Go wrote %v", i, e.TS, want.Timestamp)
		}
	}
	if len(got.Snapshots) != 1 || got.Snapshots[0].State != `{"total":10}` || got.Snapshots[0].Version != 3 {
		t.Errorf("python read snapshots %+v", got.Snapshots)
	}

	// And evstore reads what Python appended.
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	py := readAll(t, stream(t, s, "py-1"))
	if len(py) != 1 || py[0].Type != "FromPython" || py[0].Metadata["naïve"] != true || string(py[0].Data) != `{"n": 1}` || len(py[0].ID) != 36 {
		t.Errorf("evstore read the Python event as %+v", py)
	}
}
