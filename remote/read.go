package remote

import (
	"context"
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
)

var (
	_ evstore.KeyLookup    = (*backend)(nil)
	_ evstore.StreamLister = (*backend)(nil)
	_ evstore.Finder       = (*backend)(nil)
)

// page is a read's response.
type page struct {
	Events      []eventjson.Event `json:"events"`
	More        bool              `json:"more"`
	MaxSequence int64             `json:"max_sequence"`
}

// appendTo appends the page's events to dst, and reports whether the
// server has more after them.
func (p *page) appendTo(dst []evstore.StoredEvent) ([]evstore.StoredEvent, bool, error) {
	for _, j := range p.Events {
		e, err := stored(j)
		if err != nil {
			return dst, false, err
		}
		dst = append(dst, e)
	}
	return dst, p.More && len(p.Events) > 0, nil
}

// Read implements evstore.Backend: GET .../events, again while the
// server says there is more (a page stops short at 4 MiB of JSON) and q
// wants more.
func (b *backend) Read(ctx context.Context, q evstore.Query, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	filter, err := filterJSON(q.Filter)
	if err != nil {
		return dst, err
	}
	got := 0
	for got < q.Limit {
		v := url.Values{}
		v.Set("limit", strconv.Itoa(q.Limit-got))
		setPositive(v, "after", q.After)
		setPositive(v, "before", q.Before)
		setPositive(v, "max_sequence", q.MaxSequence)
		if q.Backwards {
			v.Set("backwards", "true")
		}
		if filter != "" {
			v.Set("filter_json", filter)
		}
		var p page
		if _, err = b.do(ctx, http.MethodGet, b.path("streams", q.StreamID, "events")+"?"+v.Encode(), nil, &p); err != nil {
			return dst, err
		}
		var more bool
		if dst, more, err = p.appendTo(dst); err != nil || !more {
			return dst, err
		}
		got += len(p.Events)
		last := p.Events[len(p.Events)-1]
		pos := last.Version
		if q.StreamID == evstore.All {
			pos = last.Sequence
		}
		if q.Backwards {
			q.Before = pos
		} else {
			q.After = pos
		}
	}
	return dst, nil
}

func setPositive(v url.Values, key string, n int64) {
	if n > 0 {
		v.Set(key, strconv.FormatInt(n, 10))
	}
}

// stored turns an event of the API into a StoredEvent.
func stored(j eventjson.Event) (evstore.StoredEvent, error) {
	data, err := eventjson.DecodeData(j.Data, j.DataBase64)
	if err != nil {
		return evstore.StoredEvent{}, fmt.Errorf("evstore/remote: event %d: %w", j.Sequence, err)
	}
	return evstore.StoredEvent{
		ID: j.ID, StreamID: j.StreamID, Sequence: j.Sequence, Version: j.Version,
		Timestamp: j.Timestamp.UTC(), Type: j.Type, Data: data, Metadata: j.Metadata, Tags: j.Tags,
	}, nil
}

// filterJSON returns f as the filter_json parameter, or "" for none.
func filterJSON(f evstore.Filter) (string, error) {
	if len(f) == 0 {
		return "", nil
	}
	type clause struct {
		Field  string `json:"field"`
		Op     string `json:"op"`
		Values []any  `json:"values"`
	}
	out := make([]clause, len(f))
	for i, c := range f {
		field := c.Field()
		if field == "metadata" {
			field = "metadata." + strings.Join(c.Path(), ".")
		}
		op := map[evstore.Op]string{evstore.OpEquals: "equals", evstore.OpIn: "in", evstore.OpLike: "like"}[c.Op()]
		out[i] = clause{Field: field, Op: op, Values: c.Values()}
	}
	data, err := json.Marshal(out)
	return string(data), err
}

// Head implements evstore.Backend.
func (b *backend) Head(ctx context.Context, streamID string) (int64, error) {
	var h struct {
		Version int64 `json:"version"`
	}
	_, err := b.do(ctx, http.MethodGet, b.path("streams", streamID, "head"), nil, &h)
	return h.Version, err
}

// metricsJSON is a stream's metrics in the API.
type metricsJSON struct {
	StreamID      string     `json:"stream_id"`
	Version       int64      `json:"version"`
	EventCount    int64      `json:"event_count"`
	LastTimestamp *time.Time `json:"last_timestamp"`
}

func (m metricsJSON) metrics() evstore.Metrics {
	out := evstore.Metrics{StreamID: m.StreamID, Version: m.Version, EventCount: m.EventCount}
	if m.LastTimestamp != nil {
		out.LastTimestamp = m.LastTimestamp.UTC()
	}
	return out
}

// Metrics implements evstore.Backend.
func (b *backend) Metrics(ctx context.Context, streamID string) (evstore.Metrics, error) {
	var m metricsJSON
	if _, err := b.do(ctx, http.MethodGet, b.path("streams", streamID, "metrics"), nil, &m); err != nil {
		return evstore.Metrics{}, err
	}
	return m.metrics(), nil
}

// LookupKey implements evstore.KeyLookup.
func (b *backend) LookupKey(ctx context.Context, streamID, key string) (int64, bool, error) {
	var r struct {
		Found   bool  `json:"found"`
		Version int64 `json:"version"`
	}
	found, err := b.do(ctx, http.MethodGet, b.path("streams", streamID, "keys", key), nil, &r)
	if err != nil || !found {
		return 0, false, err
	}
	return r.Version, r.Found, nil
}

// Streams implements evstore.StreamLister: GET /api/streams, a page at a
// time, each fetched before the loop body runs.
func (b *backend) Streams(ctx context.Context) iter.Seq2[evstore.Metrics, error] {
	return func(yield func(evstore.Metrics, error) bool) {
		after := ""
		for {
			v := url.Values{"limit": {"1000"}}
			if after != "" {
				v.Set("after", after)
			}
			var p struct {
				Streams []metricsJSON `json:"streams"`
				Next    string        `json:"next"`
			}
			if _, err := b.do(ctx, http.MethodGet, b.base+"/api/streams?"+v.Encode(), nil, &p); err != nil {
				yield(evstore.Metrics{}, err)
				return
			}
			for _, m := range p.Streams {
				if !yield(m.metrics(), nil) {
					return
				}
			}
			if p.Next == "" || len(p.Streams) == 0 {
				return
			}
			after = p.Next
		}
	}
}

// criterionJSON is a Criterion in the API.
type criterionJSON struct {
	Types []string `json:"types,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

func criteriaJSON(c evstore.Criteria) []criterionJSON {
	out := make([]criterionJSON, len(c))
	for i, cr := range c {
		out[i] = criterionJSON{Types: cr.Types, Tags: cr.Tags}
	}
	return out
}

// Find implements evstore.Finder: POST /api/find, again while there is
// more and q wants more.
func (b *backend) Find(ctx context.Context, q evstore.FindQuery, dst []evstore.StoredEvent) ([]evstore.StoredEvent, error) {
	got := 0
	for got < q.Limit {
		body := struct {
			Criteria    []criterionJSON `json:"criteria"`
			After       int64           `json:"after,omitempty"`
			Before      int64           `json:"before,omitempty"`
			MaxSequence int64           `json:"max_sequence,omitempty"`
			Limit       int             `json:"limit"`
			Backwards   bool            `json:"backwards,omitempty"`
		}{criteriaJSON(q.Criteria), q.After, q.Before, q.MaxSequence, q.Limit - got, q.Backwards}
		var p page
		var err error
		if _, err = b.do(ctx, http.MethodPost, b.base+"/api/find", body, &p); err != nil {
			return dst, err
		}
		var more bool
		if dst, more, err = p.appendTo(dst); err != nil || !more {
			return dst, err
		}
		got += len(p.Events)
		if last := p.Events[len(p.Events)-1].Sequence; q.Backwards {
			q.Before = last
		} else {
			q.After = last
		}
	}
	return dst, nil
}
