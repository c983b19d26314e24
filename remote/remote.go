package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// An Option configures Open.
type Option func(*config)

type config struct {
	token  string
	client *http.Client
	tracer evstore.Tracer
}

// Token makes every request carry "Authorization: Bearer token".
func Token(token string) Option { return func(c *config) { c.token = token } }

// WithHTTPClient sends the requests through c (its transport, TLS
// settings and proxy) instead of a client of the package's own. c must
// not time out requests as a whole: the live stream that wakes watchers
// stays open; bound each call with its context instead.
func WithHTTPClient(c *http.Client) Option { return func(cfg *config) { cfg.client = c } }

// WithTracer traces the Store's operations through t, as the other
// backends' WithTracer do.
func WithTracer(t evstore.Tracer) Option { return func(c *config) { c.tracer = t } }

// Open returns a Store backed by the evstore server at rawURL (its base
// URL, such as "http://127.0.0.1:2113"). It asks the server for its head
// first, so a wrong address or token fails here.
func Open(ctx context.Context, rawURL string, opts ...Option) (*evstore.Store, error) {
	b, err := open(ctx, rawURL, opts...)
	if err != nil {
		return nil, err
	}
	return evstore.NewStore(b), nil
}

func open(ctx context.Context, rawURL string, opts ...Option) (*backend, error) {
	u, err := url.Parse(strings.TrimSuffix(rawURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: remote.Open(%q): want an http:// or https:// URL", evstore.ErrInvalidArgument, rawURL)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	b := &backend{base: u.String(), cfg: cfg, client: cfg.client}
	if b.client == nil {
		b.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if _, err := b.Head(ctx, evstore.All); err != nil {
		b.closeIdle()
		return nil, fmt.Errorf("evstore/remote: open %s: %w", u.Redacted(), err)
	}
	return b, nil
}

// backend is the evstore.Backend of a server's HTTP API.
type backend struct {
	base   string
	cfg    config
	client *http.Client
	wg     sync.WaitGroup // the live stream's goroutine (Changes)
}

var (
	_ evstore.Backend        = (*backend)(nil)
	_ evstore.TracingBackend = (*backend)(nil)
)

// Tracer implements evstore.TracingBackend.
func (b *backend) Tracer() evstore.Tracer { return b.cfg.tracer }

// System implements evstore.TracingBackend: the server's store is not
// known to the client.
func (b *backend) System() string { return "evstore" }

// Close implements evstore.Backend: it waits for the live stream's
// goroutine, which the Store has stopped by then (it cancels Changes'
// context), and closes idle connections.
func (b *backend) Close() error {
	b.wg.Wait()
	b.closeIdle()
	return nil
}

func (b *backend) closeIdle() {
	if b.cfg.client == nil {
		b.client.CloseIdleConnections()
	}
}

// path returns the URL of the API path elems, each escaped as one
// segment (a stream id may hold a slash).
func (b *backend) path(elems ...string) string {
	var sb strings.Builder
	sb.WriteString(b.base)
	sb.WriteString("/api")
	for _, e := range elems {
		sb.WriteByte('/')
		sb.WriteString(url.PathEscape(e))
	}
	return sb.String()
}

// writeGrace is how long a write whose context ended waits for the
// server's answer. A write the server has begun goes ahead whatever the
// client's context says, as a local store's commit does; waiting for its
// outcome keeps the promise that a write that fails wrote nothing.
const writeGrace = 30 * time.Second

// ErrOutcomeUnknown means a write's context ended and the server did not
// answer within a grace period after it (or the connection failed after
// the request was sent): the write may or may not have been made. Read
// the stream, or retry with the same idempotency keys, to find out.
var ErrOutcomeUnknown = errors.New("evstore/remote: the write's outcome is unknown")

// write is do for a request that changes the store: it is not sent if ctx
// has ended, and once sent, it waits for the answer up to writeGrace
// after ctx ends.
func (b *backend) write(ctx context.Context, method, u string, body, out any) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(writeGrace, cancel)
		context.AfterFunc(rctx, func() { t.Stop() })
	})
	defer stop()
	found, err := b.do(rctx, method, u, body, out)
	if err != nil && rctx.Err() != nil {
		return false, fmt.Errorf("%w: %w (%w)", ErrOutcomeUnknown, ctx.Err(), err)
	}
	return found, err
}

// do sends a request with body (JSON-encoded unless nil) and decodes a
// 2xx response into out (unless nil). A non-2xx response becomes the
// evstore error it reports (see serverError); with found, a 404 is not an
// error but found == false.
func (b *backend) do(ctx context.Context, method, u string, body, out any) (found bool, err error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return false, fmt.Errorf("evstore/remote: %w", err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return false, fmt.Errorf("evstore/remote: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	b.authorize(req)
	resp, err := b.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("evstore/remote: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && out != nil {
		var e errorBody
		if json.NewDecoder(resp.Body).Decode(&e) == nil && (e.Code == "not_found" || e.Found != nil) {
			return false, nil
		}
		return false, fmt.Errorf("evstore/remote: %s %s: 404: %s", method, u, e.Error)
	}
	if resp.StatusCode/100 != 2 {
		return false, serverError(method, u, resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return true, nil
	}
	dec := json.NewDecoder(resp.Body)
	if err := dec.Decode(out); err != nil {
		return false, fmt.Errorf("evstore/remote: %s %s: reading the response: %w", method, u, err)
	}
	return true, nil
}

func (b *backend) authorize(req *http.Request) {
	if b.cfg.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.cfg.token)
	}
}

// errorBody is the server's error response.
type errorBody struct {
	Error    string `json:"error"`
	Code     string `json:"code"`
	StreamID string `json:"stream_id"`
	Expected *int64 `json:"expected"`
	Actual   *int64 `json:"actual"`
	After    *int64 `json:"after"`
	Match    *int64 `json:"match"`
	Found    *bool  `json:"found"`
}

// sentinels maps the server's error codes to evstore's errors.
var sentinels = map[string]error{
	"conflict":          evstore.ErrConflict,
	"condition":         evstore.ErrConflict,
	"invalid_event":     evstore.ErrInvalidEvent,
	"invalid_stream_id": evstore.ErrInvalidStreamID,
	"invalid_filter":    evstore.ErrInvalidFilter,
	"invalid_argument":  evstore.ErrInvalidArgument,
	"read_only":         evstore.ErrReadOnly,
	"unsupported":       evstore.ErrUnsupported,
	"closed":            evstore.ErrClosed,
	"corrupt":           evstore.ErrCorrupt,
}

// ErrServer wraps an error the server reports that is none of evstore's:
// a bad request, a refused token, an internal error.
var ErrServer = errors.New("evstore/remote: the server refused the request")

// serverError returns the evstore error a non-2xx response reports.
func serverError(method, u string, resp *http.Response) error {
	var e errorBody
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &e) != nil || e.Code == "" {
		return fmt.Errorf("%w: %s %s: %s: %s", ErrServer, method, u, resp.Status, bytes.TrimSpace(data))
	}
	switch {
	case e.Code == "condition" && e.After != nil && e.Match != nil:
		return &evstore.ConditionError{After: *e.After, Match: *e.Match}
	case e.Code == "conflict" && e.Expected != nil && e.Actual != nil:
		return &evstore.ConflictError{StreamID: e.StreamID, Expected: *e.Expected, Actual: *e.Actual}
	}
	if s, ok := sentinels[e.Code]; ok {
		// The server's message names the sentinel already: keep it,
		// without its prefix twice.
		return fmt.Errorf("%w: %s", s, strings.TrimPrefix(e.Error, s.Error()+": "))
	}
	return fmt.Errorf("%w: %s %s: %s (%s)", ErrServer, method, u, e.Error, resp.Status)
}

// backoff is the wait before the nth reconnect of the live stream.
func backoff(n int) time.Duration {
	return min(50*time.Millisecond<<min(n, 6), 2*time.Second)
}
