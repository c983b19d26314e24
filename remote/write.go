package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-event-sourcing/evstore"
)

var (
	_ evstore.MultiAppender = (*backend)(nil)
	_ evstore.Deleter       = (*backend)(nil)
	_ evstore.Eraser        = (*backend)(nil)
)

// candidateJSON is an event to append: its payload always as
// data_base64, so that the server stores it byte for byte, and its
// metadata as the JSON the Store encoded.
type candidateJSON struct {
	ID         string          `json:"id,omitempty"`
	Type       string          `json:"type"`
	DataBase64 string          `json:"data_base64,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Tags       []string        `json:"tags,omitempty"`
}

func candidates(events []evstore.EncodedEvent) []candidateJSON {
	out := make([]candidateJSON, len(events))
	for i, e := range events {
		out[i] = candidateJSON{ID: e.ID, Type: e.Type, Metadata: e.Metadata, Tags: e.Tags}
		if len(e.Data) > 0 {
			out[i].DataBase64 = base64.StdEncoding.EncodeToString(e.Data)
		}
	}
	return out
}

// writeJSON is one stream's write in the API.
type writeJSON struct {
	StreamID        string          `json:"stream_id,omitempty"`
	ExpectedVersion *int64          `json:"expected_version,omitempty"`
	ExpectExists    bool            `json:"expect_exists,omitempty"`
	Events          []candidateJSON `json:"events"`
}

func newWrite(req evstore.AppendRequest, withID bool) writeJSON {
	w := writeJSON{Events: candidates(req.Events), ExpectExists: req.Expect.Exists()}
	if withID {
		w.StreamID = req.StreamID
	}
	if v, ok := req.Expect.Version(); ok {
		w.ExpectedVersion = &v
	}
	return w
}

// reportJSON is a write's report in the API.
type reportJSON struct {
	Version  int64 `json:"version"`
	Appended int   `json:"appended"`
	First    int64 `json:"first"`
	Last     int64 `json:"last"`
}

func (r reportJSON) report() evstore.WriteReport {
	return evstore.WriteReport{Version: r.Version, Appended: r.Appended, First: r.First, Last: r.Last}
}

// conditionJSON is a FailIfMatch condition in the API.
type conditionJSON struct {
	FailIfMatch []criterionJSON `json:"fail_if_match"`
	After       int64           `json:"after"`
}

// Append implements evstore.Backend: POST .../events.
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (evstore.WriteReport, error) {
	var r reportJSON
	if _, err := b.write(ctx, http.MethodPost, b.path("streams", req.StreamID, "events"), newWrite(req, false), &r); err != nil {
		return evstore.WriteReport{}, err
	}
	return r.report(), nil
}

// AppendStreams implements evstore.MultiAppender: POST /api/append.
func (b *backend) AppendStreams(ctx context.Context, req evstore.StreamsRequest) ([]evstore.WriteReport, error) {
	body := struct {
		Writes    []writeJSON    `json:"writes"`
		Condition *conditionJSON `json:"condition,omitempty"`
	}{Writes: make([]writeJSON, len(req.Writes))}
	for i, w := range req.Writes {
		body.Writes[i] = newWrite(w, true)
	}
	if c := req.Condition; c != nil {
		body.Condition = &conditionJSON{FailIfMatch: criteriaJSON(c.Criteria), After: c.After}
	}
	var r struct {
		Writes []reportJSON `json:"writes"`
	}
	if _, err := b.write(ctx, http.MethodPost, b.base+"/api/append", body, &r); err != nil {
		return nil, err
	}
	out := make([]evstore.WriteReport, len(r.Writes))
	for i, w := range r.Writes {
		out[i] = w.report()
	}
	return out, nil
}

// SaveSnapshot implements evstore.Backend: PUT .../snapshots/{projection}.
func (b *backend) SaveSnapshot(ctx context.Context, snap evstore.Snapshot) error {
	body := struct {
		Version     int64  `json:"version"`
		StateBase64 string `json:"state_base64"`
	}{snap.Version, base64.StdEncoding.EncodeToString(snap.State)}
	_, err := b.write(ctx, http.MethodPut, b.path("streams", snap.StreamID, "snapshots", snap.Projection), body, nil)
	return err
}

// LoadSnapshot implements evstore.Backend.
func (b *backend) LoadSnapshot(ctx context.Context, streamID, projection string) (*evstore.Snapshot, error) {
	var s struct {
		Version     int64           `json:"version"`
		Timestamp   time.Time       `json:"timestamp"`
		State       json.RawMessage `json:"state"`
		StateBase64 string          `json:"state_base64"`
	}
	found, err := b.do(ctx, http.MethodGet, b.path("streams", streamID, "snapshots", projection), nil, &s)
	if err != nil || !found {
		return nil, err
	}
	state := []byte(s.State)
	if s.StateBase64 != "" {
		if state, err = base64.StdEncoding.DecodeString(s.StateBase64); err != nil {
			return nil, err
		}
	}
	return &evstore.Snapshot{StreamID: streamID, Projection: projection, Version: s.Version, State: state, Timestamp: s.Timestamp.UTC()}, nil
}

// DeleteStream implements evstore.Deleter: DELETE /api/streams/{id}.
func (b *backend) DeleteStream(ctx context.Context, streamID string, expect evstore.Expectation) (evstore.WriteReport, error) {
	v := url.Values{}
	if n, ok := expect.Version(); ok {
		v.Set("expected_version", strconv.FormatInt(n, 10))
	}
	if expect.Exists() {
		v.Set("expect_exists", "true")
	}
	u := b.path("streams", streamID)
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	var r reportJSON
	if _, err := b.write(ctx, http.MethodDelete, u, nil, &r); err != nil {
		return evstore.WriteReport{}, err
	}
	return r.report(), nil
}

// TruncateStream implements evstore.Deleter: POST .../truncate. The
// server does not say how many events it removed: it returns 0.
func (b *backend) TruncateStream(ctx context.Context, streamID string, before int64) (int64, error) {
	_, err := b.write(ctx, http.MethodPost, b.path("streams", streamID, "truncate"), map[string]int64{"before": before}, nil)
	return 0, err
}

// Erase implements evstore.Eraser: POST /api/erase.
func (b *backend) Erase(ctx context.Context) error {
	_, err := b.write(ctx, http.MethodPost, b.base+"/api/erase", nil, nil)
	return err
}
