package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// writeRequest is the body of POST /api/streams/{id}/events.
type writeRequest struct {
	// ExpectedVersion, when given, is the version the stream must be at
	// (0: it must not exist yet); ExpectExists, that it has events.
	ExpectedVersion *int64                 `json:"expected_version"`
	ExpectExists    bool                   `json:"expect_exists"`
	Events          *[]eventjson.Candidate `json:"events"`
	Condition       *conditionJSON         `json:"condition"`
}

// conditionJSON is FailIfMatch: the write fails if an event matching
// the criteria has a Sequence above after.
type conditionJSON struct {
	FailIfMatch []criterionJSON `json:"fail_if_match"`
	After       int64           `json:"after"`
}

// criterionJSON is an evstore.Criterion.
type criterionJSON struct {
	Types []string `json:"types"`
	Tags  []string `json:"tags"`
}

func toCriteria(cs []criterionJSON) evstore.Criteria {
	out := make(evstore.Criteria, len(cs))
	for i, c := range cs {
		out[i] = evstore.Criterion{Types: c.Types, Tags: c.Tags}
	}
	return out
}

// option returns the condition as a WriteOption, or nil.
func (c *conditionJSON) option() []evstore.WriteOption {
	if c == nil {
		return nil
	}
	return []evstore.WriteOption{evstore.FailIfMatch(toCriteria(c.FailIfMatch), c.After)}
}

// reportJSON is a WriteReport: the stream's version after the write, the
// events appended (0 for a retry whose events were all there already),
// and the Sequences of the first and last of them (0 when none).
type reportJSON struct {
	StreamID string `json:"stream_id"`
	Version  int64  `json:"version"`
	Appended int    `json:"appended"`
	First    int64  `json:"first"`
	Last     int64  `json:"last"`
}

func toReportJSON(id string, r evstore.WriteReport) reportJSON {
	return reportJSON{StreamID: id, Version: r.Version, Appended: r.Appended, First: r.First, Last: r.Last}
}

// writeEvents answers POST /api/streams/{id}/events: Stream.Write of a
// batch, atomically, with its expectation and condition.
func (s *Server) writeEvents(w http.ResponseWriter, r *http.Request) {
	var req writeRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Events == nil {
		s.fail(w, r, badf(`body: "events" is missing: want {"events": [...]}`))
		return
	}
	events, err := candidates(*req.Events)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts, err := expectation(req.ExpectedVersion, req.ExpectExists)
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
	opts = append(opts, evstore.Report(&rep))
	if _, err := st.Write(r.Context(), events, append(opts, req.Condition.option()...)...); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toReportJSON(st.ID(), rep))
}

// appendRequest is the body of POST /api/append.
type appendRequest struct {
	Writes    []streamWriteJSON `json:"writes"`
	Condition *conditionJSON    `json:"condition"`
}

// streamWriteJSON is one stream's part of an append.
type streamWriteJSON struct {
	StreamID        string                `json:"stream_id"`
	ExpectedVersion *int64                `json:"expected_version"`
	ExpectExists    bool                  `json:"expect_exists"`
	Events          []eventjson.Candidate `json:"events"`
}

// appendStreams answers POST /api/append: Store.Append, every write or
// none, with {"writes": [report, ...]} in the order of the writes.
func (s *Server) appendStreams(w http.ResponseWriter, r *http.Request) {
	var req appendRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	writes := make([]evstore.StreamWrite, len(req.Writes))
	for i, sw := range req.Writes {
		events, err := candidates(sw.Events)
		if err == nil {
			writes[i].Options, err = expectation(sw.ExpectedVersion, sw.ExpectExists)
		}
		if err != nil {
			s.fail(w, r, fmt.Errorf("writes[%d]: %w", i, err))
			return
		}
		writes[i].StreamID, writes[i].Events = sw.StreamID, events
	}
	reports, err := s.store.Append(r.Context(), writes, req.Condition.option()...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Writes []reportJSON `json:"writes"`
	}{Writes: make([]reportJSON, len(reports))}
	for i, rep := range reports {
		out.Writes[i] = toReportJSON(writes[i].StreamID, rep)
	}
	writeJSON(w, http.StatusOK, out)
}

// findRequest is the body of POST /api/find.
type findRequest struct {
	Criteria    []criterionJSON `json:"criteria"`
	After       int64           `json:"after"`
	Before      int64           `json:"before"`       // 0: no bound
	MaxSequence int64           `json:"max_sequence"` // 0: the newest Sequence now
	Limit       int             `json:"limit"`        // 0: DefaultLimit
	Backwards   bool            `json:"backwards"`
}

// find answers POST /api/find: a page of Store.Find, as GET .../events
// gives a page of a Read.
func (s *Server) find(w http.ResponseWriter, r *http.Request) {
	req := findRequest{Limit: DefaultLimit}
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Limit < 1 || req.Limit > MaxLimit {
		s.fail(w, r, badf("limit %d: want 1 to %d", req.Limit, MaxLimit))
		return
	}
	opts := []evstore.ReadOption{evstore.After(req.After), evstore.Limit(req.Limit + 1)}
	if req.Before != 0 {
		opts = append(opts, evstore.Before(req.Before))
	}
	if req.Backwards {
		opts = append(opts, evstore.Backwards())
	}
	horizon := req.MaxSequence
	if horizon == 0 {
		all, err := s.store.Stream(r.Context(), evstore.All)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		horizon = all.Version()
	}
	if horizon != 0 {
		opts = append(opts, evstore.MaxSequence(horizon))
	}
	s.writePage(w, r, s.store.Find(r.Context(), toCriteria(req.Criteria), opts...), req.Limit, horizon)
}

// candidates returns the events to write, or an error naming the first
// bad one.
func candidates(in []eventjson.Candidate) ([]evstore.CandidateEvent, error) {
	out := make([]evstore.CandidateEvent, len(in))
	for i, c := range in {
		e, err := c.Event()
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

// expectation returns the WriteOption of expected_version or
// expect_exists.
func expectation(version *int64, exists bool) ([]evstore.WriteOption, error) {
	switch {
	case version != nil && exists:
		return nil, badf("give expected_version or expect_exists, not both")
	case version != nil:
		return []evstore.WriteOption{evstore.ExpectVersion(*version)}, nil
	case exists:
		return []evstore.WriteOption{evstore.ExpectExists()}, nil
	}
	return nil, nil
}

// decode reads the request's body, one JSON object, into v. A field v
// lacks is an error, so that a misspelt "expected_verison" is not
// silently ignored.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return nil
		} else if err == nil {
			err = errors.New("more after the JSON object")
		}
	} else if err == io.EOF {
		err = errors.New("empty; want a JSON object")
	}
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		return err
	}
	return badf("body: %v", err)
}
