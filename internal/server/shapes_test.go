package server

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The shapes of DESIGN.md's "The server", as a client in another
// language decodes them: every field named, none renamed.
type (
	eventShape struct {
		Sequence   *int64          `json:"sequence"`
		StreamID   *string         `json:"stream_id"`
		Version    *int64          `json:"version"`
		ID         *string         `json:"id"`
		Timestamp  *string         `json:"timestamp"`
		Type       *string         `json:"type"`
		Data       json.RawMessage `json:"data"`
		DataBase64 *string         `json:"data_base64"`
		Metadata   map[string]any  `json:"metadata"`
		Tags       []string        `json:"tags"`
	}
	reportShape struct {
		Version  *int64 `json:"version"`
		Appended *int64 `json:"appended"`
		First    *int64 `json:"first"`
		Last     *int64 `json:"last"`
	}
	conflictShape struct {
		Error    *string `json:"error"`
		Expected *int64  `json:"expected"`
		Actual   *int64  `json:"actual"`
	}
	conditionShape struct {
		Error *string `json:"error"`
		After *int64  `json:"after"`
		Match *int64  `json:"match"`
	}
)

// decodeAs sends a request and decodes its body into v.
func (a *api) decodeAs(status int, method, path string, body any, v any) {
	a.t.Helper()
	got, raw := a.raw(method, path, body, nil)
	if got != status {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
}

// TestFixedShapes: the responses decode into the fixed field names, for
// a stream whose id holds a slash (percent-encoded in the path).
func TestFixedShapes(t *testing.T) {
	a := newAPI(t, Config{})
	var rep reportShape
	a.decodeAs(http.StatusOK, "POST", "/api/streams/orders%2F7/events",
		`{"expected_version": 0, "events": [{"id": "k", "type": "T", "data": {"total": 10}, "metadata": {"m": 1}, "tags": ["t:1"]}, {"type": "B", "data_base64": "AAE="}]}`, &rep)
	if rep.Version == nil || *rep.Version != 2 || rep.Appended == nil || *rep.Appended != 2 || rep.First == nil || rep.Last == nil || *rep.Last != 2 {
		t.Errorf("report: %+v", rep)
	}
	var page struct {
		Events      []eventShape `json:"events"`
		More        *bool        `json:"more"`
		MaxSequence *int64       `json:"max_sequence"`
	}
	a.decodeAs(http.StatusOK, "GET", "/api/streams/orders%2F7/events", nil, &page)
	if len(page.Events) != 2 || page.More == nil || page.MaxSequence == nil {
		t.Fatalf("page: %+v", page)
	}
	e := page.Events[0]
	if e.Sequence == nil || e.StreamID == nil || *e.StreamID != "orders/7" || e.Version == nil || e.ID == nil || e.Timestamp == nil ||
		e.Type == nil || string(e.Data) != `{"total":10}` || e.Metadata["m"] != 1.0 || len(e.Tags) != 1 {
		t.Errorf("event: %+v", e)
	}
	if b := page.Events[1]; b.DataBase64 == nil || *b.DataBase64 != "AAE=" || b.Data != nil {
		t.Errorf("binary event: %+v", b)
	}
	var conflict conflictShape
	a.decodeAs(http.StatusConflict, "POST", "/api/streams/orders%2F7/events", `{"expected_version": 0, "events": [{"type": "T"}]}`, &conflict)
	if conflict.Error == nil || conflict.Expected == nil || *conflict.Expected != 0 || conflict.Actual == nil || *conflict.Actual != 2 {
		t.Errorf("conflict: %+v", conflict)
	}
	var cond conditionShape
	a.decodeAs(http.StatusConflict, "POST", "/api/streams/x/events", `{"events": [{"type": "T"}], "condition": {"fail_if_match": [{"types": ["T"]}], "after": 0}}`, &cond)
	if cond.Error == nil || cond.After == nil || *cond.After != 0 || cond.Match == nil || *cond.Match != 1 {
		t.Errorf("condition: %+v", cond)
	}
	var appended struct {
		Writes []reportShape `json:"writes"`
	}
	a.decodeAs(http.StatusOK, "POST", "/api/append", `{"writes": [{"stream_id": "a", "expect_exists": false, "events": [{"type": "T"}]}]}`, &appended)
	if len(appended.Writes) != 1 || appended.Writes[0].Appended == nil || *appended.Writes[0].Appended != 1 {
		t.Errorf("append: %+v", appended)
	}
	var found struct {
		Events []eventShape `json:"events"`
	}
	a.decodeAs(http.StatusOK, "POST", "/api/find", `{"criteria": [{"types": ["T"], "tags": ["t:1"]}], "after": 0, "limit": 10, "backwards": false}`, &found)
	if len(found.Events) != 1 || *found.Events[0].ID != "k" {
		t.Errorf("find: %+v", found)
	}
	var bad struct {
		Error *string `json:"error"`
	}
	a.decodeAs(http.StatusBadRequest, "POST", "/api/streams/x/events", `{"events": [{"type": ""}]}`, &bad)
	if bad.Error == nil || *bad.Error == "" {
		t.Errorf("a 400's body: %+v", bad)
	}
}
