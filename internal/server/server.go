package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// Defaults of Config.
const (
	DefaultMaxBody           = 32 << 20 // a batch may hold an event of MaxEventSize in base64
	DefaultHeartbeat         = 15 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 2 * time.Minute
	DefaultWriteTimeout      = 2 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	maxHeaderBytes           = 64 << 10
)

// Config sets up a Server. The zero Config serves without tokens, CORS
// or telemetry of the store, with the defaults above.
type Config struct {
	// Tokens are the bearer tokens a request must carry. With none, every
	// request is let in: the serve command then listens on loopback only
	// (CheckAddr).
	Tokens []Token
	// CORSOrigins are the origins whose browser pages may call the API
	// ("https://admin.example.com", or "*" for any). With none, no CORS
	// header is sent, and browsers keep other origins' pages out.
	CORSOrigins []string
	// MaxBody is the most bytes a request body may hold (413 beyond);
	// 0 means DefaultMaxBody.
	MaxBody int64
	// Heartbeat is how often an idle Server-Sent Events stream gets a
	// comment, so that proxies keep it open and dead clients are found;
	// 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// The http.Server's timeouts (HTTPServer); 0 means the default. An
	// SSE stream is exempt from ReadTimeout and WriteTimeout: each of its
	// writes has WriteTimeout instead, so a client that stops reading is
	// dropped, and one that reads slowly is not.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Metrics are served at GET /metrics; nil: the server's own only.
	Metrics *Metrics
	// Logger gets the errors that are the server's fault (500s); nil:
	// they are not logged.
	Logger *slog.Logger
	// Console, when set, serves GET / and every other path outside /api/,
	// /healthz and /metrics (the web console's page and assets), without
	// a token: they hold no data, and the page's API calls carry one.
	Console http.Handler
}

// A Server is the HTTP API of an evstore Store (evstore serve): an
// http.Handler. Close it before closing the Store.
type Server struct {
	store   *evstore.Store
	cfg     Config
	keys    *keyring // nil without tokens
	metrics *Metrics
	log     *slog.Logger
	mux     *http.ServeMux

	life      context.Context // cancelled by Close: ends SSE streams
	stop      context.CancelFunc
	closeOnce sync.Once
}

// New returns a Server for store.
func New(store *evstore.Store, cfg Config) (*Server, error) {
	if store == nil {
		return nil, errors.New("server: nil store")
	}
	s := &Server{store: store, cfg: cfg, metrics: cfg.Metrics, log: cfg.Logger}
	if s.cfg.MaxBody <= 0 {
		s.cfg.MaxBody = DefaultMaxBody
	}
	orDefault(&s.cfg.Heartbeat, DefaultHeartbeat)
	orDefault(&s.cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDefault(&s.cfg.ReadTimeout, DefaultReadTimeout)
	orDefault(&s.cfg.WriteTimeout, DefaultWriteTimeout)
	orDefault(&s.cfg.IdleTimeout, DefaultIdleTimeout)
	if len(cfg.Tokens) > 0 {
		var err error
		if s.keys, err = newKeyring(cfg.Tokens); err != nil {
			return nil, err
		}
	}
	if s.metrics == nil {
		var err error
		if s.metrics, err = NewMetrics(); err != nil {
			return nil, err
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.life, s.stop = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// orDefault sets *d to def unless it is above zero.
func orDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Close ends the Server-Sent Events streams in progress (their clients
// reconnect, with Last-Event-ID, to another server or after a restart).
// Requests made after it are still served: http.Server.Shutdown stops
// those (HTTPServer's calls Close as it starts).
func (s *Server) Close() { s.closeOnce.Do(s.stop) }

// HTTPServer returns an http.Server for s on addr, with the Config's
// timeouts and a header size limit. Its Shutdown ends the Server-Sent
// Events streams (Close) so that it does not wait for them.
func (s *Server) HTTPServer(addr string) *http.Server {
	hs := &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(s.Close)
	return hs
}

// A permission is what a route needs.
type permission int

const (
	public permission = iota // no token: /healthz
	reads
	writes
)

// routes registers every route. The paths are fixed: clients in other
// languages call them.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	for _, r := range []struct {
		pattern string
		need    permission
		h       http.HandlerFunc
	}{
		{"GET /healthz", public, s.health},
		{"GET /metrics", reads, s.metrics.handler.ServeHTTP},
		{"GET /api/streams", reads, s.listStreams},
		{"GET /api/streams/{id}/events", reads, s.readEvents},
		{"POST /api/streams/{id}/events", writes, s.writeEvents},
		{"GET /api/streams/{id}/keys/{key}", reads, s.lookup},
		{"GET /api/streams/{id}/watch", reads, s.watch},
		{"GET /api/streams/{id}/metrics", reads, s.streamMetrics},
		{"GET /api/streams/{id}/head", reads, s.head},
		{"GET /api/streams/{id}/snapshots/{projection}", reads, s.loadSnapshot},
		{"PUT /api/streams/{id}/snapshots/{projection}", writes, s.saveSnapshot},
		{"DELETE /api/streams/{id}", writes, s.deleteStream},
		{"POST /api/streams/{id}/truncate", writes, s.truncate},
		{"POST /api/append", writes, s.appendStreams},
		{"POST /api/find", reads, s.find},
		{"GET /api/consumers", reads, s.consumers},
		{"POST /api/erase", writes, s.erase},
		{"/api/", reads, s.notFound},
	} {
		s.mux.Handle(r.pattern, s.guard(r.need, r.h))
	}
	if s.cfg.Console != nil {
		s.mux.Handle("/", s.guard(public, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				failCode(w, http.StatusMethodNotAllowed, codeMethod, r.Method+" "+r.URL.Path+": the console only serves GET")
				return
			}
			s.cfg.Console.ServeHTTP(w, r)
		}))
	}
}

// ServeHTTP serves the API, counting requests by route and status.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	if s.cors(rec, r) {
		s.mux.ServeHTTP(rec, r) // sets r.Pattern
	}
	s.metrics.request(r.Context(), r.Method, route(r.Pattern), rec.status(), time.Since(start))
}

// guard checks the request's token against need, and limits its body.
func (s *Server) guard(need permission, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if need != public && s.keys != nil {
			switch got := s.keys.check(r); {
			case got == denied:
				w.Header().Set("WWW-Authenticate", `Bearer realm="evstore"`)
				failCode(w, http.StatusUnauthorized, codeUnauthorized, "a valid token is needed: Authorization: Bearer TOKEN")
				return
			case need == writes && got != writeAccess:
				failCode(w, http.StatusForbidden, codeForbidden, "this token may read, not write")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		h(w, r)
	})
}

// cors adds the CORS headers for an allowed origin, and answers a
// preflight request itself. It reports whether the request is still to
// be served.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if len(s.cfg.CORSOrigins) == 0 || origin == "" {
		return true
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	switch {
	case slices.Contains(s.cfg.CORSOrigins, "*"):
		h.Set("Access-Control-Allow-Origin", "*")
	case slices.Contains(s.cfg.CORSOrigins, origin):
		h.Set("Access-Control-Allow-Origin", origin)
	default:
		return true // no header: the browser keeps the response from the page
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	failCode(w, http.StatusNotFound, codeNotFound, "no such route: "+r.Method+" "+r.URL.Path+" (see docs/server.md)")
}

// health answers GET /healthz: 200 when the store answers, 503 if not.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	all, err := s.store.Stream(r.Context(), evstore.All)
	if err != nil {
		status, body := statusOf(err)
		if status < 500 {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, body)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "sequence": all.Version()})
}

// A recorder remembers the status a handler wrote. Unwrap lets
// http.ResponseController reach the connection (Flush, deadlines).
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// streamID returns the {id} of the request's path.
func streamID(r *http.Request) string { return r.PathValue("id") }
