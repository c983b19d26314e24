package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore/memory"
)

const (
	writeToken = "w-0123456789abcdef"
	readToken  = "r-0123456789abcdef"
)

// TestTokens: without a valid token a request is 401, a write with a
// read-only token 403; /healthz needs none.
func TestTokens(t *testing.T) {
	a := newAPI(t, Config{Tokens: []Token{{Value: writeToken}, {Value: readToken, ReadOnly: true}}})
	write := `{"events": [{"type": "A"}]}`
	for _, c := range []struct {
		name, auth     string
		method, path   string
		body           string
		status         int
		wwwAuthenticte bool
	}{
		{"no token", "", "GET", "/api/streams", "", 401, true},
		{"no token, metrics", "", "GET", "/metrics", "", 401, true},
		{"no token, watch", "", "GET", "/api/streams/s/watch", "", 401, true},
		{"a wrong token", "Bearer nope-0123456789abcdef", "GET", "/api/streams", "", 401, true},
		{"a token's prefix", "Bearer " + writeToken[:10], "GET", "/api/streams", "", 401, true},
		{"another scheme", "Basic " + writeToken, "GET", "/api/streams", "", 401, true},
		{"read token, read", "Bearer " + readToken, "GET", "/api/streams", "", 200, false},
		{"read token, find", "Bearer " + readToken, "POST", "/api/find", `{"criteria": [{}]}`, 200, false},
		{"read token, write", "Bearer " + readToken, "POST", "/api/streams/s/events", write, 403, false},
		{"read token, append", "Bearer " + readToken, "POST", "/api/append", `{"writes": [{"stream_id": "s", "events": [{"type": "A"}]}]}`, 403, false},
		{"read token, delete", "Bearer " + readToken, "DELETE", "/api/streams/s", "", 403, false},
		{"read token, truncate", "Bearer " + readToken, "POST", "/api/streams/s/truncate", `{"before": 1}`, 403, false},
		{"read token, snapshot", "Bearer " + readToken, "PUT", "/api/streams/s/snapshots/p", `{"state": 1}`, 403, false},
		{"read token, erase", "Bearer " + readToken, "POST", "/api/erase", "", 403, false},
		{"write token, write", "Bearer " + writeToken, "POST", "/api/streams/s/events", write, 200, false},
		{"write token, lower-case scheme", "bearer " + writeToken, "GET", "/api/streams", "", 200, false},
		{"healthz without a token", "", "GET", "/healthz", "", 200, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			header := http.Header{}
			if c.auth != "" {
				header.Set("Authorization", c.auth)
			}
			var body any
			if c.body != "" {
				body = c.body
			}
			resp := a.send(c.method, c.path, body, header)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			if got := resp.Header.Get("WWW-Authenticate") != ""; got != c.wwwAuthenticte {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			if c.status >= 400 && !strings.Contains(string(b), `"error"`) {
				t.Errorf("body %s: want {\"error\": ...}", b)
			}
		})
	}
	if v := a.head("s"); v != 1 {
		t.Errorf("stream s at version %d, want 1: only the write token's write", v)
	}
}

func TestParseTokens(t *testing.T) {
	good := "# tokens\n\n  " + writeToken + "  \nread:" + readToken + "\n"
	got, err := ParseTokens(strings.NewReader(good))
	if err != nil || len(got) != 2 || got[0] != (Token{Value: writeToken}) || got[1] != (Token{Value: readToken, ReadOnly: true}) {
		t.Errorf("ParseTokens: %v, %v", got, err)
	}
	for _, c := range []struct{ file, says string }{
		{"", "no token"},
		{"# only a comment\n", "no token"},
		{"short\n", "line 1: a token of 5 bytes"},
		{writeToken + "\nread:short\n", "line 2"},
		{"a token with spaces in it\n", "spaces"},
	} {
		if _, err := ParseTokens(strings.NewReader(c.file)); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseTokens(%q): %v, want an error saying %q", c.file, err, c.says)
		}
	}
}

// TestCheckAddr: without tokens only loopback addresses are allowed.
func TestCheckAddr(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		addr   string
		tokens bool
		ok     bool
	}{
		{"127.0.0.1:2113", false, true},
		{"127.0.0.2:0", false, true},
		{"[::1]:2113", false, true},
		{"localhost:2113", false, true},
		{":2113", false, false},
		{"0.0.0.0:2113", false, false},
		{"[::]:2113", false, false},
		{"192.0.2.7:2113", false, false},
		{"0.0.0.0:2113", true, true},
		{":2113", true, true},
		{"no-port", false, false},
	} {
		err := CheckAddr(ctx, c.addr, c.tokens)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, tokens %v) = %v, want ok %v", c.addr, c.tokens, err, c.ok)
		}
	}
	if err := CheckAddr(ctx, "0.0.0.0:2113", false); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("the refusal %v should say what to do", err)
	}
}

// TestCORS: no CORS header unless the origin is configured.
func TestCORS(t *testing.T) {
	origin := http.Header{"Origin": {"https://admin.example.com"}}
	preflight := http.Header{"Origin": {"https://admin.example.com"}, "Access-Control-Request-Method": {"POST"}}

	a := newAPI(t, Config{})
	resp := a.send("GET", "/api/streams", nil, origin)
	resp.Body.Close()
	if h := resp.Header.Get("Access-Control-Allow-Origin"); h != "" || resp.StatusCode != 200 {
		t.Errorf("by default: status %d, Access-Control-Allow-Origin %q; want none", resp.StatusCode, h)
	}
	resp = a.send("OPTIONS", "/api/streams/s/events", nil, preflight)
	resp.Body.Close()
	if h := resp.Header.Get("Access-Control-Allow-Origin"); h != "" || resp.StatusCode < 400 {
		t.Errorf("a preflight by default: status %d, Access-Control-Allow-Origin %q; want a refusal", resp.StatusCode, h)
	}

	b := newAPI(t, Config{CORSOrigins: []string{"https://admin.example.com"}})
	resp = b.send("OPTIONS", "/api/streams/s/events", nil, preflight)
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://admin.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("a preflight from the configured origin: status %d, headers %v", resp.StatusCode, resp.Header)
	}
	resp = b.send("GET", "/api/streams", nil, origin)
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://admin.example.com" {
		t.Errorf("a GET from the configured origin: headers %v", resp.Header)
	}
	resp = b.send("GET", "/api/streams", nil, http.Header{"Origin": {"https://evil.example"}})
	resp.Body.Close()
	if h := resp.Header.Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("another origin: Access-Control-Allow-Origin %q", h)
	}
}

// TestPrometheus: GET /metrics serves the store's metrics (otelevstore's)
// and the server's own, in Prometheus' text format.
func TestPrometheus(t *testing.T) {
	m, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	store, err := memory.Open(context.Background(), memory.WithTracer(m.Tracer()))
	if err != nil {
		t.Fatal(err)
	}
	a := serveStore(t, store, Config{Metrics: m})
	a.must(http.StatusOK, "POST", "/api/streams/s/events", `{"events": [{"type": "A"}]}`)
	a.must(http.StatusConflict, "POST", "/api/streams/s/events", `{"expected_version": 0, "events": [{"type": "A"}]}`)
	w := a.watch("s", "", nil)
	w.next() // connected
	status, body := a.raw("GET", "/metrics", nil, nil)
	text := string(body)
	if status != 200 {
		t.Fatalf("GET /metrics: %d %s", status, text)
	}
	for _, want := range []string{
		`evstore_server_requests_total{http_request_method="POST",http_response_status_code="200",http_route="/api/streams/{id}/events"`,
		`evstore_server_requests_total{http_request_method="POST",http_response_status_code="409",http_route="/api/streams/{id}/events"`,
		`http_server_request_duration_seconds_bucket{`,
		`evstore_server_sse_clients{`,
		`evstore_writes_total{`,
		`evstore_events_appended_total{`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	connected := false
	for _, l := range strings.Split(text, "\n") {
		connected = connected || strings.HasPrefix(l, "evstore_server_sse_clients{") && strings.HasSuffix(l, "} 1")
	}
	if !connected {
		t.Errorf("/metrics does not count the one SSE client connected")
	}
}
