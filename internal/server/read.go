package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
	"github.com/go-event-sourcing/evstore/internal/filtertext"
)

// Page sizes of GET .../events, POST /api/find and GET /api/streams.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
	// pageBytes ends a page of events early once its JSON is this long
	// (it holds one event at least): a page's memory stays bounded
	// whatever the events weigh. "more" tells the client to go on.
	pageBytes = 4 << 20
)

// metricsJSON is a stream's Metrics, as GET /api/streams lists them and
// GET .../metrics returns them; last_timestamp is null for a stream
// without events.
type metricsJSON struct {
	StreamID      string     `json:"stream_id"`
	Version       int64      `json:"version"`
	EventCount    int64      `json:"event_count"`
	LastTimestamp *time.Time `json:"last_timestamp"`
}

func toMetricsJSON(m evstore.Metrics) metricsJSON {
	j := metricsJSON{StreamID: m.StreamID, Version: m.Version, EventCount: m.EventCount}
	if !m.LastTimestamp.IsZero() {
		j.LastTimestamp = &m.LastTimestamp
	}
	return j
}

// listStreams answers GET /api/streams?after=&limit=&prefix=: a page of
// streams in id order (byte order), after the id after, with ids that
// start with prefix. "next" is the id to pass as after for the next
// page, or absent on the last one.
func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after, prefix := q.Get("after"), q.Get("prefix")
	out := struct {
		Streams []metricsJSON `json:"streams"`
		Next    string        `json:"next,omitempty"`
	}{Streams: []metricsJSON{}}
	// Store.Streams yields every stream in id order, so the ones with the
	// prefix stand together: skip to them, stop after them.
	for m, err := range s.store.Streams(r.Context()) {
		if err != nil {
			s.fail(w, r, err)
			return
		}
		id := m.StreamID
		switch {
		case id <= after || id < prefix:
			continue
		case !strings.HasPrefix(id, prefix):
			writeJSON(w, http.StatusOK, out)
			return
		case len(out.Streams) == limit:
			out.Next = out.Streams[limit-1].StreamID
			writeJSON(w, http.StatusOK, out)
			return
		}
		out.Streams = append(out.Streams, toMetricsJSON(m))
	}
	writeJSON(w, http.StatusOK, out)
}

// readEvents answers GET /api/streams/{id}/events: a page of a Read.
//
//	after=N        events after version N (on @all: Sequence N)
//	before=N       events before it (with backwards: the next page)
//	limit=N        at most N events (default 1000, at most 10000)
//	backwards=true newest first
//	filter=F       a clause in --filter syntax; repeatable, ANDed
//	filter_json=J  clauses as JSON: [{"field","op","values"}]
//	max_sequence=N only events with a Sequence up to N
//
// The body is {"events": [...], "more": bool, "max_sequence": N}: more
// when there are events beyond the page, max_sequence the newest
// Sequence the read saw (pass it on the next pages for one view).
func (s *Server) readEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts, limit, err := readParams(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	filter, err := filterParams(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts = append(opts, evstore.WithFilter(filter))
	back, err := boolParam(q, "backwards")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if back {
		opts = append(opts, evstore.Backwards())
	}
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	horizon, err := s.horizon(r, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts = append(opts, evstore.Limit(limit+1))
	if horizon > 0 { // else the store is empty, and Read only checks opts
		opts = append(opts, evstore.MaxSequence(horizon))
	}
	s.writePage(w, r, st.Read(r.Context(), opts...), limit, horizon)
}

// horizon returns the newest Sequence a read is to see: the max_sequence
// parameter, or else the store's newest Sequence now (0 when it is
// empty).
func (s *Server) horizon(r *http.Request, q url.Values) (int64, error) {
	if q.Has("max_sequence") {
		h, err := intParam(q, "max_sequence", 0)
		if err == nil && h <= 0 {
			err = fmt.Errorf("%w: max_sequence %d is not positive", evstore.ErrInvalidArgument, h)
		}
		return h, err
	}
	all, err := s.store.Stream(r.Context(), evstore.All)
	if err != nil {
		return 0, err
	}
	return all.Version(), nil
}

// readParams returns the options after and before give, and the limit.
func readParams(q url.Values) ([]evstore.ReadOption, int, error) {
	limit, err := limitParam(q)
	if err != nil {
		return nil, 0, err
	}
	after, err := intParam(q, "after", 0)
	if err != nil {
		return nil, 0, err
	}
	opts := []evstore.ReadOption{evstore.After(after)}
	if q.Get("before") != "" {
		before, err := intParam(q, "before", 0)
		if err != nil {
			return nil, 0, err
		}
		opts = append(opts, evstore.Before(before))
	}
	return opts, limit, nil
}

// writePage writes {"events": [...], "more": bool, "max_sequence": N}
// from events, which may hold one beyond limit: at most limit events,
// fewer when they pass pageBytes. Nothing is written before the events
// are all read, so an error is reported with its own status.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, events iter.Seq2[evstore.StoredEvent, error], limit int, horizon int64) {
	var buf bytes.Buffer
	buf.WriteString(`{"events":[`)
	enc := eventjson.NewEncoder(&buf)
	n, more := 0, false
	for e, err := range events {
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if n == limit || buf.Len() >= pageBytes {
			more = true
			break
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(eventjson.FromStored(e)); err != nil {
			s.fail(w, r, err)
			return
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		n++
	}
	buf.WriteString(`],"more":` + strconv.FormatBool(more) + `,"max_sequence":` + strconv.FormatInt(horizon, 10) + "}\n")
	jsonHeaders(w)
	w.Write(buf.Bytes())
}

// clauseJSON is one clause of filter_json.
type clauseJSON struct {
	Field  string `json:"field"`
	Op     string `json:"op"` // "equals", "in" or "like"
	Values []any  `json:"values"`
}

// filterParams returns the filter of the filter and filter_json
// parameters, validated.
func filterParams(q url.Values) (evstore.Filter, error) {
	filter, err := filtertext.Build(q["filter"])
	if err != nil {
		return nil, err
	}
	for _, text := range q["filter_json"] {
		var clauses []clauseJSON
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		if err := dec.Decode(&clauses); err != nil {
			return nil, badf("filter_json: %v", err)
		}
		for i, c := range clauses {
			for j, v := range c.Values {
				if n, ok := v.(json.Number); ok && c.Field == "version" {
					if c.Values[j], err = n.Int64(); err != nil {
						return nil, badf("filter_json: clause %d: version %s is not an integer", i, n)
					}
				}
			}
			switch {
			case c.Op == "equals" && len(c.Values) == 1:
				filter = append(filter, evstore.Equals(c.Field, c.Values[0]))
			case c.Op == "in":
				filter = append(filter, evstore.In(c.Field, c.Values...))
			case c.Op == "like" && len(c.Values) == 1:
				pattern, ok := c.Values[0].(string)
				if !ok {
					return nil, badf("filter_json: clause %d: a like pattern is a string", i)
				}
				filter = append(filter, evstore.Like(c.Field, pattern))
			default:
				return nil, badf(`filter_json: clause %d: want op "equals" or "like" with one value, or "in" with values`, i)
			}
		}
	}
	return filter, filter.Validate()
}

// lookup answers GET /api/streams/{id}/keys/{key}: the version of the
// stream's event with that idempotency key; 404 (with "found": false)
// when it has none.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	key := r.PathValue("key")
	v, found, err := st.Lookup(r.Context(), key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body := map[string]any{"stream_id": st.ID(), "key": key, "found": found, "version": v}
	status := http.StatusOK
	if !found {
		status = http.StatusNotFound
		body["error"], body["code"] = "the stream has no event with this key", codeNotFound
	}
	writeJSON(w, status, body)
}

// streamMetrics answers GET /api/streams/{id}/metrics (of the whole
// store for @all).
func (s *Server) streamMetrics(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := st.Metrics(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMetricsJSON(m))
}

// head answers GET /api/streams/{id}/head: the stream's version (on
// @all: the newest Sequence), without Metrics' count.
func (s *Server) head(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stream_id": st.ID(), "version": st.Version()})
}

// limitParam returns the limit parameter: DefaultLimit when absent,
// else 1 to MaxLimit.
func limitParam(q url.Values) (int, error) {
	n, err := intParam(q, "limit", DefaultLimit)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > MaxLimit {
		return 0, badf("limit %d: want 1 to %d", n, MaxLimit)
	}
	return int(n), nil
}

// intParam returns an integer parameter, or def when it is absent.
func intParam(q url.Values, name string, def int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badf("%s %q is not an integer", name, v)
	}
	return n, nil
}

// boolParam returns a boolean parameter: true, false, 1 or 0; absent is
// false.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badf("%s %q: want true or false", name, v)
	}
	return b, nil
}
