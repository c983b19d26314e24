package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// TestListStreams: streams in id order, paged with after and limit
// ("next" names the next page's after), searched with prefix.
func TestListStreams(t *testing.T) {
	a := newAPI(t, Config{})
	for _, id := range []string{"order-1", "order-2", "order-3", "cart-1", "payment-1"} {
		a.write(id, ev("", "E", ""))
	}
	a.write("order-2", ev("", "E", ""))
	ids := func(out map[string]any) []string {
		var got []string
		for _, s := range list(t, out, "streams") {
			got = append(got, s["stream_id"].(string))
		}
		return got
	}
	out := a.must(http.StatusOK, "GET", "/api/streams", nil)
	if got := ids(out); !slices.Equal(got, []string{"cart-1", "order-1", "order-2", "order-3", "payment-1"}) || out["next"] != nil {
		t.Errorf("every stream: %v", out)
	}
	s := list(t, out, "streams")[2]
	hasKeys(t, "a stream", s, "stream_id", "version", "event_count", "last_timestamp")
	if num(t, s, "version") != 2 || num(t, s, "event_count") != 2 {
		t.Errorf("order-2: %v", s)
	}
	out = a.must(http.StatusOK, "GET", "/api/streams?limit=2", nil)
	if got := ids(out); !slices.Equal(got, []string{"cart-1", "order-1"}) || out["next"] != "order-1" {
		t.Errorf("limit 2: %v", out)
	}
	out = a.must(http.StatusOK, "GET", "/api/streams?limit=2&after=order-1", nil)
	if got := ids(out); !slices.Equal(got, []string{"order-2", "order-3"}) || out["next"] != "order-3" {
		t.Errorf("limit 2 after order-1: %v", out)
	}
	out = a.must(http.StatusOK, "GET", "/api/streams?prefix=order-&limit=2&after=order-2", nil)
	if got := ids(out); !slices.Equal(got, []string{"order-3"}) || out["next"] != nil {
		t.Errorf("prefix order- after order-2: %v", out)
	}
	out = a.must(http.StatusOK, "GET", "/api/streams?prefix=zzz", nil)
	if got := list(t, out, "streams"); len(got) != 0 {
		t.Errorf("prefix zzz: %v", out)
	}
	for _, q := range []string{"limit=0", "limit=10001", "limit=x"} {
		a.must(http.StatusBadRequest, "GET", "/api/streams?"+q, nil)
	}
}

// TestReadEvents: a page of a stream, or of @all (as %40all), with after,
// before, limit, backwards, filters and max_sequence; "more" says there
// is more.
func TestReadEvents(t *testing.T) {
	a := newAPI(t, Config{})
	for i := 1; i <= 5; i++ {
		meta := map[string]any{"region": []string{"EMEA", "US"}[i%2], "n": i}
		a.write("s", evstore.CandidateEvent{Type: fmt.Sprintf("T%d", i%2), Metadata: meta, Tags: []string{fmt.Sprintf("k:%d", i)}})
		a.write("other", ev("", "O", ""))
	}
	versions := func(path string) ([]int64, map[string]any) {
		t.Helper()
		out := a.must(http.StatusOK, "GET", path, nil)
		var got []int64
		for _, e := range list(t, out, "events") {
			if strings.Contains(path, "%40all") {
				got = append(got, num(t, e, "sequence"))
			} else {
				got = append(got, num(t, e, "version"))
			}
		}
		return got, out
	}
	q := url.QueryEscape
	for _, c := range []struct {
		path string
		want []int64
		more bool
	}{
		{"/api/streams/s/events", []int64{1, 2, 3, 4, 5}, false},
		{"/api/streams/s/events?after=3", []int64{4, 5}, false},
		{"/api/streams/s/events?limit=2", []int64{1, 2}, true},
		{"/api/streams/s/events?limit=5", []int64{1, 2, 3, 4, 5}, false},
		{"/api/streams/s/events?backwards=true&limit=2", []int64{5, 4}, true},
		{"/api/streams/s/events?backwards=true&before=4&limit=2", []int64{3, 2}, true},
		{"/api/streams/s/events?after=1&before=4", []int64{2, 3}, false},
		{"/api/streams/s/events?filter=event_type=T1", []int64{1, 3, 5}, false},
		{"/api/streams/s/events?filter=" + q("metadata.region=EMEA|nowhere"), []int64{2, 4}, false},
		{"/api/streams/s/events?filter=" + q("metadata.n=3"), []int64{3}, false},
		{"/api/streams/s/events?filter=" + q("version=2|5") + "&filter=event_type~t%25", []int64{2, 5}, false},
		{"/api/streams/s/events?filter=" + q("tag=k:4"), []int64{4}, false},
		{"/api/streams/s/events?filter_json=" + q(`[{"field":"metadata.region","op":"in","values":["US"]},{"field":"version","op":"equals","values":[3]}]`), []int64{3}, false},
		{"/api/streams/s/events?filter_json=" + q(`[{"field":"metadata.n","op":"equals","values":[2]}]`), []int64{2}, false},
		{"/api/streams/s/events?max_sequence=5", []int64{1, 2, 3}, false},
		{"/api/streams/%40all/events?after=8", []int64{9, 10}, false},
		{"/api/streams/%40all/events?backwards=true&limit=1", []int64{10}, true},
		{"/api/streams/%40all/events?filter=stream_id=other&limit=2", []int64{2, 4}, true},
		{"/api/streams/nothing/events", nil, false},
	} {
		got, out := versions(c.path)
		if !slices.Equal(got, c.want) || out["more"] != c.more {
			t.Errorf("GET %s: got %v, more %v; want %v, more %v", c.path, got, out["more"], c.want, c.more)
		}
		if strings.Contains(c.path, "max_sequence") {
			continue
		}
		if h := num(t, out, "max_sequence"); h != 10 {
			t.Errorf("GET %s: max_sequence %d, want 10", c.path, h)
		}
	}
	for _, c := range []struct{ query, says string }{
		{"after=-1", "After(-1)"},
		{"after=x", `after "x" is not an integer`},
		{"before=0", "Before(0)"},
		{"limit=0", "limit 0"},
		{"backwards=maybe", "backwards"},
		{"max_sequence=0", "max_sequence 0"},
		{"filter=nope=1", "unknown field"},
		{"filter=novalue", "want field=value"},
		{"filter_json=" + q(`[{"field":"version","op":"like","values":["1"]}]`), "Like applies to strings"},
		{"filter_json=" + q(`[{"field":"version","op":"near","values":[1]}]`), "op"},
		{"filter_json=" + q(`{`), "filter_json"},
	} {
		out := a.must(http.StatusBadRequest, "GET", "/api/streams/s/events?"+c.query, nil)
		if msg, _ := out["error"].(string); !strings.Contains(msg, c.says) {
			t.Errorf("%s: %v, want it to say %q", c.query, out, c.says)
		}
	}
}

// TestReadPagesBytes: a page ends early when its JSON grows past
// pageBytes, saying there is more.
func TestReadPagesBytes(t *testing.T) {
	a := newAPI(t, Config{})
	big := strings.Repeat("x", 1<<20)
	for range 6 {
		a.write("s", evstore.CandidateEvent{Type: "Big", Data: []byte(big)})
	}
	out := a.must(http.StatusOK, "GET", "/api/streams/s/events?limit=10", nil)
	n := len(list(t, out, "events"))
	if n == 0 || n >= 6 || out["more"] != true {
		t.Errorf("6 events of 1 MiB (base64): got %d in the page, more %v; want some, not all, and more", n, out["more"])
	}
}

// TestLookupMetricsHead: the key lookup, a stream's metrics and head.
func TestLookupMetricsHead(t *testing.T) {
	a := newAPI(t, Config{})
	a.write("s", ev("k1", "A", ""), ev("k/2", "B", ""))
	out := a.must(http.StatusOK, "GET", "/api/streams/s/keys/k%2F2", nil)
	hasKeys(t, "lookup", out, "stream_id", "key", "found", "version")
	if out["found"] != true || num(t, out, "version") != 2 || out["key"] != "k/2" {
		t.Errorf("lookup k/2: %v", out)
	}
	out = a.must(http.StatusNotFound, "GET", "/api/streams/s/keys/nope", nil)
	if out["found"] != false || out["error"] == nil {
		t.Errorf("lookup nope: %v", out)
	}
	a.must(http.StatusBadRequest, "GET", "/api/streams/%40all/keys/k1", nil)

	out = a.must(http.StatusOK, "GET", "/api/streams/s/metrics", nil)
	hasKeys(t, "metrics", out, "stream_id", "version", "event_count", "last_timestamp")
	if num(t, out, "version") != 2 || num(t, out, "event_count") != 2 {
		t.Errorf("metrics: %v", out)
	}
	out = a.must(http.StatusOK, "GET", "/api/streams/empty/metrics", nil)
	if out["last_timestamp"] != nil || num(t, out, "version") != 0 {
		t.Errorf("metrics of an empty stream: %v", out)
	}
	if out := a.must(http.StatusOK, "GET", "/api/streams/%40all/metrics", nil); out["stream_id"] != "@all" || num(t, out, "event_count") != 2 {
		t.Errorf("metrics of @all: %v", out)
	}
	if out := a.must(http.StatusOK, "GET", "/api/streams/s/head", nil); num(t, out, "version") != 2 {
		t.Errorf("head: %v", out)
	}
	a.must(http.StatusNotFound, "GET", "/api/nothing", nil)
}

// TestConsoleMount: Config.Console serves the paths outside the API,
// without a token; the API still needs one.
func TestConsoleMount(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "console "+r.URL.Path) })
	a := newAPI(t, Config{Console: page, Tokens: []Token{{Value: writeToken}}})
	for path, want := range map[string]string{"/": "console /", "/console.js": "console /console.js"} {
		if status, body := a.raw("GET", path, nil, nil); status != 200 || string(body) != want {
			t.Errorf("GET %s: %d %q, want %q", path, status, body, want)
		}
	}
	a.must(http.StatusUnauthorized, "GET", "/api/streams", nil)
	a.must(http.StatusUnauthorized, "GET", "/api/nothing", nil)
	a.must(http.StatusMethodNotAllowed, "POST", "/", "{}")
}

// TestSnapshots: PUT a snapshot as JSON or base64, GET it back; 404
// without one; @all needs a version.
func TestSnapshots(t *testing.T) {
	a := newAPI(t, Config{})
	a.write("s", ev("", "A", ""), ev("", "B", ""))
	a.must(http.StatusNotFound, "GET", "/api/streams/s/snapshots/totals", nil)
	out := a.must(http.StatusOK, "PUT", "/api/streams/s/snapshots/totals", `{"state": {"total": 10}}`)
	if num(t, out, "version") != 2 {
		t.Errorf("save without a version: %v, want the stream's, 2", out)
	}
	out = a.must(http.StatusOK, "GET", "/api/streams/s/snapshots/totals", nil)
	hasKeys(t, "snapshot", out, "stream_id", "projection", "version", "timestamp", "state")
	if st, ok := out["state"].(map[string]any); !ok || num(t, st, "total") != 10 || out["projection"] != "totals" {
		t.Errorf("snapshot: %v", out)
	}
	a.must(http.StatusOK, "PUT", "/api/streams/s/snapshots/default", `{"version": 1, "state_base64": "AAE="}`)
	out = a.must(http.StatusOK, "GET", "/api/streams/s/snapshots/default", nil)
	if out["state_base64"] != "AAE=" || num(t, out, "version") != 1 {
		t.Errorf("binary snapshot: %v", out)
	}
	a.must(http.StatusBadRequest, "PUT", "/api/streams/s/snapshots/totals", `{"version": 3, "state": 1}`)
	a.must(http.StatusBadRequest, "PUT", "/api/streams/%40all/snapshots/totals", `{"state": 1}`)
	a.must(http.StatusOK, "PUT", "/api/streams/%40all/snapshots/totals", `{"version": 2, "state": 1}`)
	a.must(http.StatusBadRequest, "PUT", "/api/streams/s/snapshots/totals", `{"state_base64": "%"}`)
}

// TestDeleteTruncateErase: DELETE appends the tombstone, with an
// optional expectation; truncation removes the events below a version.
func TestDeleteTruncateErase(t *testing.T) {
	a := newAPI(t, Config{})
	a.write("s", ev("", "A", ""), ev("", "B", ""), ev("", "C", ""))
	a.write("t", ev("", "A", ""), ev("", "B", ""), ev("", "C", ""))
	out := a.must(http.StatusConflict, "DELETE", "/api/streams/s?expected_version=2", nil)
	if num(t, out, "expected") != 2 || num(t, out, "actual") != 3 {
		t.Errorf("delete conflict: %v", out)
	}
	out = a.must(http.StatusOK, "DELETE", "/api/streams/s?expected_version=3", nil)
	if num(t, out, "version") != 4 || num(t, out, "appended") != 1 {
		t.Errorf("delete: %v", out)
	}
	if e := a.stored("s"); len(e) != 1 || e[0].Type != evstore.Deleted {
		t.Errorf("after delete: %v", e)
	}
	out = a.must(http.StatusOK, "DELETE", "/api/streams/s?expect_exists=true", nil) // idempotent
	if num(t, out, "version") != 4 || num(t, out, "appended") != 0 {
		t.Errorf("delete again: %v", out)
	}
	a.must(http.StatusBadRequest, "DELETE", "/api/streams/%40all", nil)
	a.must(http.StatusBadRequest, "DELETE", "/api/streams/s?expected_version=x", nil)

	a.must(http.StatusOK, "POST", "/api/streams/t/truncate", `{"before": 3}`)
	if e := a.stored("t"); len(e) != 1 || e[0].Version != 3 {
		t.Errorf("after truncate: %v", e)
	}
	a.must(http.StatusBadRequest, "POST", "/api/streams/t/truncate", `{"before": 9}`)
	a.must(http.StatusOK, "POST", "/api/erase", nil)
}

// TestConsumersHealth: GET /api/consumers lists consumers with their lag;
// GET /healthz says the store answers.
func TestConsumersHealth(t *testing.T) {
	a := newAPI(t, Config{})
	out := a.must(http.StatusOK, "GET", "/api/consumers", nil)
	if got := list(t, out, "consumers"); len(got) != 0 {
		t.Errorf("no consumer yet: %v", out)
	}
	a.write("s", ev("", "A", ""), ev("", "B", ""), ev("", "C", ""))
	ctx, cancel := context.WithCancel(context.Background())
	handled := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.store.Consume(ctx, "mailer", evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
			if events[len(events)-1].Sequence == 2 {
				close(handled)
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}), evstore.BatchSize(1))
	}()
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the consumer handled nothing in 10s")
	}
	out = a.must(http.StatusOK, "GET", "/api/consumers", nil)
	cs := list(t, out, "consumers")
	if len(cs) != 1 {
		t.Fatalf("consumers: %v", out)
	}
	hasKeys(t, "consumer", cs[0], "name", "partition", "position", "lag", "updated")
	if cs[0]["name"] != "mailer" || num(t, cs[0], "position") != 1 || num(t, cs[0], "lag") != 2 {
		t.Errorf("consumer: %v, want mailer at 1 with lag 2", cs[0])
	}
	cancel()
	<-done

	out = a.must(http.StatusOK, "GET", "/healthz", nil)
	if out["status"] != "ok" || num(t, out, "sequence") != 3 {
		t.Errorf("healthz: %v", out)
	}
	a.store.Close()
	a.must(http.StatusServiceUnavailable, "GET", "/healthz", nil)
}
