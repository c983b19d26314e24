package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// TestWriteShapes: a POST of events appends them and answers
// {"version", "appended", "first", "last"}; a retry with the same keys
// appends nothing and answers appended 0; the events read back in the
// fixed shape, a Python-written payload as JSON.
func TestWriteShapes(t *testing.T) {
	a := newAPI(t, Config{})
	// As Python's json.dumps writes it, with spaces.
	body := `{"expected_version": 0, "events": [{"id": "cmd-1", "type": "OrderPlaced", "data": {"total": 10}, "metadata": {"region": "EMEA"}, "tags": ["customer:c7"]},` +
		` {"type": "Blob", "data_base64": "AAE="}]}`
	out := a.must(http.StatusOK, "POST", "/api/streams/order-1/events", body)
	hasKeys(t, "write", out, "stream_id", "version", "appended", "first", "last")
	if num(t, out, "version") != 2 || num(t, out, "appended") != 2 || num(t, out, "first") != 1 || num(t, out, "last") != 2 {
		t.Errorf("write: got %v, want version 2, appended 2, first 1, last 2", out)
	}
	stored := a.stored("order-1")
	if string(stored[0].Data) != `{"total":10}` || !bytes.Equal(stored[1].Data, []byte{0, 1}) {
		t.Errorf("stored data %q and %q; want the compact JSON and the bytes", stored[0].Data, stored[1].Data)
	}

	// The retry: the key is there, so nothing is appended, whatever the
	// expected version says.
	retry := `{"expected_version": 0, "events": [{"id": "cmd-1", "type": "OrderPlaced", "data": {"total": 10}}]}`
	out = a.must(http.StatusOK, "POST", "/api/streams/order-1/events", retry)
	if num(t, out, "version") != 2 || num(t, out, "appended") != 0 || num(t, out, "first") != 0 {
		t.Errorf("retry: got %v, want version 2, appended 0", out)
	}

	// A payload the Python library wrote, not compact, reads as JSON.
	a.write("py", ev("", "Counted", `{"total": 10}`))
	page := a.must(http.StatusOK, "GET", "/api/streams/py/events", nil)
	events := list(t, page, "events")
	hasKeys(t, "event", events[0], "sequence", "stream_id", "version", "timestamp", "type", "data")
	data, ok := events[0]["data"].(map[string]any)
	if !ok || num(t, data, "total") != 10 {
		t.Errorf("a Python-written payload: data %#v, want the JSON object {\"total\": 10}", events[0]["data"])
	}

	page = a.must(http.StatusOK, "GET", "/api/streams/order-1/events", nil)
	events = list(t, page, "events")
	e := events[0]
	hasKeys(t, "event", e, "sequence", "stream_id", "version", "id", "timestamp", "type", "data", "metadata", "tags")
	if e["id"] != "cmd-1" || e["type"] != "OrderPlaced" || e["stream_id"] != "order-1" || e["metadata"].(map[string]any)["region"] != "EMEA" {
		t.Errorf("event 1: %v", e)
	}
	if ts, _ := e["timestamp"].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("timestamp %q: want RFC 3339 in UTC", ts)
	}
	if events[1]["data_base64"] != "AAE=" || events[1]["data"] != nil {
		t.Errorf("event 2: %v, want data_base64 AAE= and no data", events[1])
	}
}

// TestConflict: an expected version that does not hold is 409 with the
// expected and actual versions, and nothing is written.
func TestConflict(t *testing.T) {
	a := newAPI(t, Config{})
	a.write("s", ev("", "A", ""), ev("", "B", ""))
	out := a.must(http.StatusConflict, "POST", "/api/streams/s/events", `{"expected_version": 1, "events": [{"type": "C"}]}`)
	hasKeys(t, "conflict", out, "error", "expected", "actual")
	if num(t, out, "expected") != 1 || num(t, out, "actual") != 2 || out["code"] != "conflict" {
		t.Errorf("conflict: got %v, want expected 1, actual 2", out)
	}
	out = a.must(http.StatusConflict, "POST", "/api/streams/new/events", `{"expect_exists": true, "events": [{"type": "C"}]}`)
	if num(t, out, "expected") != evstore.AnyExisting || num(t, out, "actual") != 0 {
		t.Errorf("expect_exists: got %v, want expected -1, actual 0", out)
	}
	if a.head("s") != 2 || a.head("new") != 0 {
		t.Errorf("a conflict wrote: s at %d, new at %d", a.head("s"), a.head("new"))
	}
	a.must(http.StatusOK, "POST", "/api/streams/s/events", `{"expect_exists": true, "events": [{"type": "C"}]}`)
}

// TestCondition: a condition that fails is 409 with after and match.
func TestCondition(t *testing.T) {
	a := newAPI(t, Config{})
	a.write("course-c1", evstore.CandidateEvent{Type: "CourseDefined", Tags: []string{"course:c1"}})
	a.write("other", ev("", "Noise", ""))
	a.write("student-s1", evstore.CandidateEvent{Type: "Enrolled", Tags: []string{"course:c1"}})
	body := `{"events": [{"type": "Enrolled", "tags": ["course:c1", "student:s2"]}],
		"condition": {"fail_if_match": [{"types": ["Enrolled"], "tags": ["course:c1"]}], "after": 2}}`
	out := a.must(http.StatusConflict, "POST", "/api/streams/student-s2/events", body)
	hasKeys(t, "condition", out, "error", "after", "match")
	if num(t, out, "after") != 2 || num(t, out, "match") != 3 || out["code"] != "condition" {
		t.Errorf("condition: got %v, want after 2, match 3", out)
	}
	if a.head("student-s2") != 0 {
		t.Error("a failed condition wrote")
	}
	a.must(http.StatusOK, "POST", "/api/streams/student-s2/events", strings.Replace(body, `"after": 2`, `"after": 3`, 1))
}

// TestBadInput: bad bodies are 400 with a message naming what was wrong
// (413 over the limit), and change nothing.
func TestBadInput(t *testing.T) {
	a := newAPI(t, Config{MaxBody: 1 << 10})
	a.write("s", ev("k", "A", ""))
	big := `{"events": [{"type": "A", "data": "` + strings.Repeat("x", 2<<10) + `"}]}`
	for _, c := range []struct {
		name, path, body string
		status           int
		says             string
	}{
		{"not JSON", "/api/streams/s/events", `{"events": [`, 400, "body: "},
		{"empty", "/api/streams/s/events", ``, 400, "body: empty"},
		{"a misspelt field", "/api/streams/s/events", `{"expected_verison": 1, "events": []}`, 400, `unknown field "expected_verison"`},
		{"no events", "/api/streams/s/events", `{"expected_version": 1}`, 400, `"events" is missing`},
		{"two objects", "/api/streams/s/events", `{"events": [{"type": "A"}]} {}`, 400, "more after the JSON object"},
		{"an empty type", "/api/streams/s/events", `{"events": [{"type": "A"}, {"type": ""}]}`, 400, "event 1: empty Type"},
		{"a type of evstore's", "/api/streams/s/events", `{"events": [{"type": "$deleted"}]}`, 400, "evstore's"},
		{"bad base64", "/api/streams/s/events", `{"events": [{"type": "A", "data_base64": "!"}]}`, 400, "data_base64"},
		{"data and data_base64 differ", "/api/streams/s/events", `{"events": [{"type": "A", "data": 1, "data_base64": "Mg=="}]}`, 400, "differ"},
		{"an empty tag", "/api/streams/s/events", `{"events": [{"type": "A", "tags": [""]}]}`, 400, "empty tag"},
		{"metadata not an object", "/api/streams/s/events", `{"events": [{"type": "A", "metadata": [1]}]}`, 400, "metadata"},
		{"both expectations", "/api/streams/s/events", `{"expected_version": 1, "expect_exists": true, "events": [{"type": "A"}]}`, 400, "not both"},
		{"a negative version", "/api/streams/s/events", `{"expected_version": -2, "events": [{"type": "A"}]}`, 400, "negative"},
		{"a write to @all", "/api/streams/%40all/events", `{"events": [{"type": "A"}]}`, 400, "@all"},
		{"a stream id too long", "/api/streams/" + strings.Repeat("x", 256) + "/events", `{"events": [{"type": "A"}]}`, 400, "over the limit"},
		{"an empty condition", "/api/streams/s/events", `{"events": [{"type": "A"}], "condition": {"fail_if_match": [], "after": 0}}`, 400, "empty Criteria"},
		{"over the body limit", "/api/streams/s/events", big, 413, "over the limit of 1024 bytes"},
		{"append: no writes", "/api/append", `{"writes": []}`, 400, "no writes"},
		{"append: a stream twice", "/api/append", `{"writes": [{"stream_id": "a", "events": [{"type": "A"}]}, {"stream_id": "a", "events": [{"type": "A"}]}]}`, 400, "both to stream"},
		{"append: a bad event", "/api/append", `{"writes": [{"stream_id": "a", "events": [{"type": "A"}]}, {"stream_id": "b", "events": [{}]}]}`, 400, "write 1 (b): evstore: invalid event: event 0: empty Type"},
		{"append: over the limit", "/api/append", `{"writes": [{"stream_id": "a", "events": [{"type": "A", "data": "` + strings.Repeat("x", 2<<10) + `"}]}]}`, 413, "over the limit"},
		{"truncate: no before", "/api/streams/s/truncate", `{}`, 400, `"before" is missing`},
		{"truncate: before 0", "/api/streams/s/truncate", `{"before": 0}`, 400, "Truncate(0)"},
		{"find: no criteria", "/api/find", `{}`, 400, "empty Criteria"},
		{"find: a bad limit", "/api/find", `{"criteria": [{"types": ["A"]}], "limit": -1}`, 400, "limit -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, out := a.do("POST", c.path, c.body)
			msg, _ := out["error"].(string)
			if status != c.status || !strings.Contains(msg, c.says) {
				t.Errorf("status %d, %v; want %d saying %q", status, out, c.status, c.says)
			}
			if _, ok := out["code"].(string); !ok {
				t.Errorf("no code in %v", out)
			}
			if got := a.head(evstore.All); got != 1 {
				t.Errorf("the store is at Sequence %d, want 1: the bad request wrote", got)
			}
		})
	}
}

// TestAppendAndFind: POST /api/append writes to several streams at once,
// or to none; a retry appends nothing; POST /api/find finds by tag.
func TestAppendAndFind(t *testing.T) {
	a := newAPI(t, Config{})
	body := `{"writes": [
		{"stream_id": "course-c1", "expected_version": 0, "events": [{"id": "e1", "type": "Enrolled", "tags": ["course:c1", "student:s1"]}]},
		{"stream_id": "student-s1", "events": [{"id": "e1", "type": "Enrolled", "tags": ["course:c1", "student:s1"]}]}],
		"condition": {"fail_if_match": [{"tags": ["course:c1"]}], "after": 0}}`
	out := a.must(http.StatusOK, "POST", "/api/append", body)
	writes := list(t, out, "writes")
	if len(writes) != 2 || num(t, writes[0], "version") != 1 || num(t, writes[1], "appended") != 1 || num(t, writes[1], "first") != 2 {
		t.Errorf("append: %v", out)
	}
	hasKeys(t, "append's write", writes[0], "stream_id", "version", "appended", "first", "last")
	out = a.must(http.StatusOK, "POST", "/api/append", body) // the retry
	if w := list(t, out, "writes"); num(t, w[0], "appended") != 0 || num(t, w[1], "appended") != 0 {
		t.Errorf("retry: %v, want appended 0 twice", out)
	}
	conflict := `{"writes": [{"stream_id": "x", "events": [{"type": "A"}]}, {"stream_id": "course-c1", "expected_version": 5, "events": [{"type": "A"}]}]}`
	out = a.must(http.StatusConflict, "POST", "/api/append", conflict)
	if out["stream_id"] != "course-c1" || num(t, out, "expected") != 5 || num(t, out, "actual") != 1 || a.head("x") != 0 {
		t.Errorf("conflict: %v; x at %d, want 0", out, a.head("x"))
	}

	a.write("course-c2", evstore.CandidateEvent{Type: "Enrolled", Tags: []string{"course:c2"}})
	out = a.must(http.StatusOK, "POST", "/api/find", `{"criteria": [{"types": ["Enrolled"], "tags": ["course:c1"]}]}`)
	events := list(t, out, "events")
	if len(events) != 2 || events[0]["stream_id"] != "course-c1" || out["more"] != false || num(t, out, "max_sequence") != 3 {
		t.Errorf("find: %v", out)
	}
	out = a.must(http.StatusOK, "POST", "/api/find", `{"criteria": [{"tags": ["course:c1"]}, {"tags": ["course:c2"]}], "backwards": true, "limit": 2}`)
	if events := list(t, out, "events"); len(events) != 2 || num(t, events[0], "sequence") != 3 || out["more"] != true {
		t.Errorf("find backwards limit 2: %v", out)
	}
	out = a.must(http.StatusOK, "POST", "/api/find", `{"criteria": [{}], "after": 1, "before": 3}`)
	if events := list(t, out, "events"); len(events) != 1 || num(t, events[0], "sequence") != 2 {
		t.Errorf("find after 1 before 3: %v", out)
	}
	out = a.must(http.StatusOK, "POST", "/api/find", `{"criteria": [{}], "max_sequence": 2}`)
	if events := list(t, out, "events"); len(events) != 2 || num(t, out, "max_sequence") != 2 {
		t.Errorf("find max_sequence 2: %v", out)
	}
}
