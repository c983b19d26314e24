package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
)

// api is a server under test: its store, and its address.
type api struct {
	t     *testing.T
	store *evstore.Store
	srv   *Server
	url   string
	token string       // sent as the bearer token when set
	hs    *http.Server // listen's
	shut  bool         // hs has been shut down by the test
}

// newAPI serves a memory store through httptest with cfg.
func newAPI(t *testing.T, cfg Config) *api {
	t.Helper()
	store, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return serveStore(t, store, cfg)
}

func serveStore(t *testing.T, store *evstore.Store, cfg Config) *api {
	t.Helper()
	srv, err := New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		store.Close()
	})
	return &api{t: t, store: store, srv: srv, url: ts.URL}
}

// listen serves a memory store on a real listener on 127.0.0.1, through
// HTTPServer (with its timeouts).
func listen(t *testing.T, cfg Config) *api {
	t.Helper()
	store, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer(ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	a := &api{t: t, store: store, srv: srv, url: "http://" + ln.Addr().String(), hs: hs}
	t.Cleanup(func() {
		if !a.shut {
			a.shutdown()
		}
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
		store.Close()
	})
	return a
}

// shutdown shuts listen's server down, and fails if that takes over 10s.
func (a *api) shutdown() {
	a.t.Helper()
	a.shut = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.hs.Shutdown(ctx); err != nil {
		a.t.Errorf("Shutdown: %v", err)
	}
}

// do sends a request with a JSON (or raw string) body and returns the
// status and the decoded JSON body.
func (a *api) do(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	status, raw := a.raw(method, path, body, nil)
	var out map[string]any
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			a.t.Fatalf("%s %s: status %d, body not JSON: %v: %q", method, path, status, err, raw)
		}
	}
	return status, out
}

// raw sends a request and returns the status and the body as it came.
func (a *api) raw(method, path string, body any, header http.Header) (int, []byte) {
	a.t.Helper()
	resp := a.send(method, path, body, header)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (a *api) send(method, path string, body any, header http.Header) *http.Response {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.url+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	copyHeader(req.Header, header)
	if a.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = slices.Clone(v)
	}
}

// must is do that wants status.
func (a *api) must(status int, method, path string, body any) map[string]any {
	a.t.Helper()
	got, out := a.do(method, path, body)
	if got != status {
		a.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, status, out)
	}
	return out
}

// write appends events to a stream through the store itself.
func (a *api) write(stream string, events ...evstore.CandidateEvent) {
	a.t.Helper()
	st, err := a.store.Stream(context.Background(), stream)
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := st.Write(context.Background(), events); err != nil {
		a.t.Fatal(err)
	}
}

// head returns a stream's version (All: the newest Sequence) from the store.
func (a *api) head(stream string) int64 {
	a.t.Helper()
	st, err := a.store.Stream(context.Background(), stream)
	if err != nil {
		a.t.Fatal(err)
	}
	return st.Version()
}

// stored reads a stream's events from the store.
func (a *api) stored(stream string) []evstore.StoredEvent {
	a.t.Helper()
	st, err := a.store.Stream(context.Background(), stream)
	if err != nil {
		a.t.Fatal(err)
	}
	var out []evstore.StoredEvent
	for e, err := range st.Read(context.Background()) {
		if err != nil {
			a.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// hasKeys fails unless m has every key.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: no %q in %v", what, k, m)
		}
	}
}

// num returns m[k] as an int64 (the JSON was decoded with UseNumber).
func num(t *testing.T, m map[string]any, k string) int64 {
	t.Helper()
	n, ok := m[k].(json.Number)
	if !ok {
		t.Fatalf("%q is %#v, not a number, in %v", k, m[k], m)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// list returns m[k] as a list of objects.
func list(t *testing.T, m map[string]any, k string) []map[string]any {
	t.Helper()
	l, ok := m[k].([]any)
	if !ok {
		t.Fatalf("%q is %#v, not a list, in %v", k, m[k], m)
	}
	out := make([]map[string]any, len(l))
	for i, v := range l {
		out[i] = v.(map[string]any)
	}
	return out
}

// ev is a CandidateEvent of type typ with data.
func ev(id, typ, data string) evstore.CandidateEvent {
	return evstore.CandidateEvent{ID: id, Type: typ, Data: []byte(data)}
}

// An sse is a Server-Sent Events stream being read.
type sse struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// A message is one SSE event, or a comment.
type message struct {
	id, event, data, comment string
}

// watch opens GET /api/streams/{id}/watch with query and headers.
func (a *api) watch(stream, query string, header http.Header) *sse {
	a.t.Helper()
	resp := a.send("GET", "/api/streams/"+url.PathEscape(stream)+"/watch"+query, nil, header)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.t.Fatalf("watch %s%s: status %d: %s", stream, query, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		a.t.Errorf("watch: Content-Type %q", ct)
	}
	s := &sse{t: a.t, resp: resp, r: bufio.NewReader(resp.Body)}
	a.t.Cleanup(s.close)
	return s
}

func (s *sse) close() { s.resp.Body.Close() }

// next returns the next message, or fails after a while.
func (s *sse) next() message {
	s.t.Helper()
	type result struct {
		m   message
		err error
	}
	got := make(chan result, 1)
	go func() {
		var m message
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				got <- result{m, err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if m != (message{}) {
					got <- result{m, nil}
					return
				}
			case strings.HasPrefix(line, ":"):
				m.comment = strings.TrimSpace(line[1:])
				got <- result{m, nil}
				return
			default:
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "id":
					m.id = value
				case "event":
					m.event = value
				case "data":
					m.data += value
				}
			}
		}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			s.t.Fatalf("reading the stream: %v", r.err)
		}
		return r.m
	case <-time.After(10 * time.Second):
		s.close()
		<-got
		s.t.Fatal("no SSE message within 10s")
	}
	return message{}
}

// event returns the next message that is an event, skipping comments.
func (s *sse) event() message {
	s.t.Helper()
	for i := 0; i < 1000; i++ {
		if m := s.next(); m.comment == "" && m.event != "" || m.id != "" {
			return m
		}
	}
	s.t.Fatal("1000 comments and no event")
	return message{}
}
