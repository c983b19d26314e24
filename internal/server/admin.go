package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/consumerlist"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// This file holds snapshots, deletion, truncation, erasure and consumers.

// snapshotJSON is a snapshot: its state as JSON when it is JSON text,
// else (and also when that JSON is not compact) as base64, as an
// event's data travels.
type snapshotJSON struct {
	StreamID    string          `json:"stream_id"`
	Projection  string          `json:"projection"`
	Version     int64           `json:"version"`
	Timestamp   time.Time       `json:"timestamp"`
	State       json.RawMessage `json:"state,omitempty"`
	StateBase64 string          `json:"state_base64,omitempty"`
}

// loadSnapshot answers GET /api/streams/{id}/snapshots/{projection}; 404
// when there is none.
func (s *Server) loadSnapshot(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	snap, err := st.LoadSnapshot(r.Context(), r.PathValue("projection"))
	switch {
	case err != nil:
		s.fail(w, r, err)
		return
	case snap == nil:
		failCode(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("%s has no snapshot for projection %q", st.ID(), r.PathValue("projection")))
		return
	}
	j := snapshotJSON{StreamID: snap.StreamID, Projection: snap.Projection, Version: snap.Version, Timestamp: snap.Timestamp}
	j.State, j.StateBase64 = eventjson.EncodeData(snap.State)
	writeJSON(w, http.StatusOK, j)
}

// saveSnapshotRequest is the body of PUT .../snapshots/{projection}.
type saveSnapshotRequest struct {
	// Version is the version (on @all: Sequence) the state reflects;
	// default the stream's version now; required on @all.
	Version     *int64          `json:"version"`
	State       json.RawMessage `json:"state"`
	StateBase64 string          `json:"state_base64"`
}

// saveSnapshot answers PUT /api/streams/{id}/snapshots/{projection}:
// Stream.Snapshot, replacing the projection's snapshot.
func (s *Server) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	var req saveSnapshotRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	state, err := eventjson.DecodePayload("state", req.State, req.StateBase64)
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: %v", evstore.ErrInvalidArgument, err))
		return
	}
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts := []evstore.SnapshotOption{evstore.Projection(r.PathValue("projection"))}
	version := st.Version()
	if req.Version != nil {
		version = *req.Version
		opts = append(opts, evstore.AtVersion(version))
	}
	if err := st.Snapshot(r.Context(), state, opts...); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stream_id": st.ID(), "projection": r.PathValue("projection"), "version": version})
}

// deleteStream answers DELETE /api/streams/{id}?expected_version=N or
// ?expect_exists=true: Stream.Delete. The report's appended is 1 when
// the tombstone was written (its version is the stream's), 0 when there
// was nothing to do.
func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var version *int64
	if q.Has("expected_version") {
		v, err := intParam(q, "expected_version", 0)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		version = &v
	}
	exists, err := boolParam(q, "expect_exists")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts, err := expectation(version, exists)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var rep evstore.WriteReport
	if _, err := st.Delete(r.Context(), append(opts, evstore.Report(&rep))...); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toReportJSON(st.ID(), rep))
}

// truncate answers POST /api/streams/{id}/truncate {"before": N}:
// Stream.Truncate, which removes the events below version N.
func (s *Server) truncate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Before *int64 `json:"before"`
	}
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Before == nil {
		s.fail(w, r, badf(`body: "before" is missing: want {"before": N}`))
		return
	}
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := st.Truncate(r.Context(), *req.Before); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stream_id": st.ID(), "before": *req.Before})
}

// erase answers POST /api/erase: Store.Erase.
func (s *Server) erase(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Erase(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"erased": true})
}

// consumers answers GET /api/consumers: every consumer key with its
// position, lag and last update, as "evstore consumers --json" prints
// them.
func (s *Server) consumers(w http.ResponseWriter, r *http.Request) {
	list, err := consumerlist.List(r.Context(), s.store, consumerlist.ScanMax)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []consumerlist.Consumer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"consumers": list})
}
