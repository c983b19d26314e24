package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SSEConfig is a run of SSELatency.
type SSEConfig struct {
	URL     string // the server, http://127.0.0.1:PORT
	Clients int    // SSE clients, each on a connection of its own
	// Stream is the stream they watch; default "@all".
	Stream string
	// Writers append Rate events a second between them, one event a
	// request, each to a stream of its own, for Duration or until they
	// have written MaxEvents (0: no bound but Duration).
	Writers   int
	Rate      float64
	Duration  time.Duration
	MaxEvents int
	// Payload is the length of each event's padding string.
	Payload int
	// Drain is how long the clients may take, once the writers are done,
	// to receive every event; default 10s.
	Drain time.Duration
	// Prefix starts the writers' streams' ids; default "sse".
	Prefix string
}

// SSEResult is what SSELatency measured.
type SSEResult struct {
	Clients int
	Written int64 // events the writers appended
	// Latency is, over every event every client received, the time from
	// just before its writer sent the request to the client reading the
	// event's data line.
	Latency Quantiles
	// AfterAck is, over the same deliveries, the time from the writer
	// reading its request's response to the client reading the event:
	// what the fan-out adds to the commit, roughly (it is below zero when
	// the event reached the client before the response reached the
	// writer).
	AfterAck Quantiles
	// Missing counts the events a client did not receive within Drain.
	Missing int64
	Write   Quantiles // the writers' request latencies
	Errors  int64     // writers' failed requests
	Elapsed time.Duration
}

func (r SSEResult) String() string {
	s := fmt.Sprintf("%d clients, %d events written in %v (%.0f/s): delivery %v; write %v; delivery after the write's response %v",
		r.Clients, r.Written, r.Elapsed.Round(time.Millisecond), float64(r.Written)/r.Elapsed.Seconds(), r.Latency, r.Write, r.AfterAck)
	if r.Missing > 0 {
		s += fmt.Sprintf("; %d deliveries missing", r.Missing)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf("; %d failed writes", r.Errors)
	}
	return s
}

// SSELatency connects cfg.Clients SSE clients to cfg.Stream, then has
// cfg.Writers write at cfg.Rate events a second for cfg.Duration, each
// event's data stamped with the time (UnixNano) its request was sent;
// every client records, per event, its arrival minus that stamp. The
// writers and the clients run in this process, so the stamps and the
// arrivals are read from the same clock.
func SSELatency(ctx context.Context, cfg SSEConfig) (SSEResult, error) {
	if err := loopbackURL(cfg.URL); err != nil {
		return SSEResult{}, err
	}
	if cfg.Clients <= 0 || cfg.Writers <= 0 || cfg.Rate <= 0 || cfg.Duration <= 0 {
		return SSEResult{}, errors.New("loadtest: SSELatency needs Clients, Writers, Rate and Duration above 0")
	}
	if cfg.Stream == "" {
		cfg.Stream = "@all"
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "sse"
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute+cfg.Duration+cfg.Drain)
	defer cancel()

	readers := newClient(0)
	defer readers.CloseIdleConnections()
	watchers, err := connectAll(ctx, readers, cfg.URL, cfg.Stream, cfg.Clients)
	if err != nil {
		return SSEResult{}, err
	}
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, w := range watchers {
			w.body.Close()
		}
		wg.Wait()
	}()
	for _, w := range watchers {
		wg.Go(w.read)
	}

	// The writers.
	writers := newClient(cfg.Writers)
	defer writers.CloseIdleConnections()
	interval := time.Duration(float64(cfg.Writers) * float64(time.Second) / cfg.Rate)
	perWriter := 0
	if cfg.MaxEvents > 0 {
		perWriter = max(1, cfg.MaxEvents/cfg.Writers)
	}
	start := time.Now()
	end := start.Add(cfg.Duration)
	var written, failed atomic.Int64
	acks := make([][]int64, cfg.Writers) // [writer][n]: when its response came, UnixNano; 0 if it failed
	var firstErr atomic.Value
	var ww sync.WaitGroup
	var wmu sync.Mutex
	var writes []time.Duration
	pad := strings.Repeat("x", cfg.Payload)
	for i := range cfg.Writers {
		ww.Go(func() {
			target := cfg.URL + "/api/streams/" + url.PathEscape(fmt.Sprintf("%s-w%d", cfg.Prefix, i)) + "/events"
			next := start.Add(interval * time.Duration(i) / time.Duration(cfg.Writers))
			for n := 0; perWriter == 0 || n < perWriter; n++ {
				if !next.Before(end) {
					return
				}
				if d := time.Until(next); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				next = next.Add(interval)
				sent := time.Now()
				body := fmt.Appendf(nil, `{"events":[{"type":"LoadWatched","data":{"sent":%d,"w":%d,"n":%d,"pad":"%s"}}]}`,
					sent.UnixNano(), i, n, pad)
				appended, err := post(ctx, writers, target, body)
				acked := time.Now()
				acks[i] = append(acks[i], 0)
				if err == nil && appended != 1 {
					err = fmt.Errorf("appended %d events of 1", appended)
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				written.Add(1)
				acks[i][n] = acked.UnixNano()
				wmu.Lock()
				writes = append(writes, acked.Sub(sent))
				wmu.Unlock()
			}
		})
	}
	ww.Wait()
	r := SSEResult{Clients: cfg.Clients, Written: written.Load(), Errors: failed.Load(), Elapsed: time.Since(start)}
	r.Write = Quantile(writes)

	// Wait for every client to have every event, or Drain.
	drain := time.Now().Add(cfg.Drain)
	for {
		done := true
		for _, w := range watchers {
			if w.received.Load() < r.Written && w.failed.Load() == nil {
				done = false
				break
			}
		}
		if done || time.Now().After(drain) || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for _, w := range watchers {
		w.body.Close()
	}
	wg.Wait()
	var latencies, afterAck []time.Duration
	var readErr error
	for _, w := range watchers {
		for _, d := range w.deliveries {
			latencies = append(latencies, time.Duration(d.arrived-d.sent))
			if int(d.w) < len(acks) && int(d.n) < len(acks[d.w]) && acks[d.w][d.n] != 0 {
				afterAck = append(afterAck, time.Duration(d.arrived-acks[d.w][d.n]))
			}
		}
		r.Missing += max(0, r.Written-int64(len(w.deliveries)))
		if err := w.err(); err != nil && readErr == nil {
			readErr = err
		}
	}
	r.Latency = Quantile(latencies)
	r.AfterAck = Quantile(afterAck)
	if readErr != nil {
		return r, fmt.Errorf("loadtest: an SSE client failed: %w", readErr)
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("loadtest: %d writes failed, the first: %v", r.Errors, firstErr.Load())
	}
	return r, nil
}

// A watcher is one SSE client.
type watcher struct {
	ctx        context.Context
	body       io.ReadCloser
	lines      *bufio.Reader
	received   atomic.Int64 // events whose data had a stamp
	events     atomic.Int64 // events
	deliveries []delivery
	failed     atomic.Pointer[error] // the first error the stream met
}

// fail records err, unless an error was recorded already.
func (w *watcher) fail(err error) { w.failed.CompareAndSwap(nil, &err) }

// err returns the error recorded, or nil.
func (w *watcher) err() error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// A delivery is a stamped event a client received: its writer and
// number, when it was sent and when it arrived (UnixNano).
type delivery struct {
	w, n          int32
	sent, arrived int64
}

// connectAll connects n SSE clients to stream, a few at a time, each on
// a connection of its own, and returns once each has read the stream's
// opening comment: from then on, the server sends it every new event.
func connectAll(ctx context.Context, client *http.Client, base, stream string, n int) ([]*watcher, error) {
	target := base + "/api/streams/" + url.PathEscape(stream) + "/watch"
	watchers := make([]*watcher, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			watchers[i], errs[i] = connect(ctx, client, target)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, w := range watchers {
			if w != nil {
				w.body.Close()
			}
		}
		return nil, fmt.Errorf("loadtest: connecting SSE clients: %w", err)
	}
	return watchers, nil
}

// connect opens an SSE stream and reads up to the end of its opening
// comment.
func connect(ctx context.Context, client *http.Client, target string) (*watcher, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", target, resp.Status, bytes.TrimSpace(b))
	}
	w := &watcher{ctx: ctx, body: resp.Body, lines: bufio.NewReaderSize(resp.Body, 16<<10)}
	for { // the opening comment and retry, up to a blank line
		line, err := w.line()
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: reading the stream's start: %w", target, err)
		}
		if len(line) == 0 {
			return w, nil
		}
	}
}

// line reads a line, without its end.
func (w *watcher) line() ([]byte, error) {
	line, err := w.lines.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) { // a long line: read it whole
		rest, err2 := w.lines.ReadBytes('\n')
		line, err = append(bytes.Clone(line), rest...), err2
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// read reads events until the stream ends, recording each stamped one's
// latency.
func (w *watcher) read() {
	var event struct {
		Data struct {
			Sent int64 `json:"sent"`
			W    int32 `json:"w"`
			N    int32 `json:"n"`
		} `json:"data"`
	}
	for {
		line, err := w.line()
		if err != nil {
			if w.ctx.Err() == nil {
				w.fail(err)
			}
			return
		}
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			if bytes.HasPrefix(line, []byte("event: error")) {
				w.fail(errors.New("the server sent an error event"))
			}
			continue
		}
		arrived := time.Now().UnixNano()
		w.events.Add(1)
		event.Data.Sent, event.Data.W, event.Data.N = 0, 0, 0
		if err := json.Unmarshal(data, &event); err != nil {
			w.fail(fmt.Errorf("event %q: %w", data, err))
			return
		}
		if event.Data.Sent == 0 {
			continue
		}
		w.deliveries = append(w.deliveries, delivery{w: event.Data.W, n: event.Data.N, sent: event.Data.Sent, arrived: arrived})
		w.received.Add(1)
	}
}

// IdleConfig is a run of Idle.
type IdleConfig struct {
	URL     string // the server, http://127.0.0.1:PORT
	Clients int    // idle SSE clients
	Stream  string // the stream they watch; default "@all"
	// Events, when above 0, are written once the clients are connected,
	// and each client receives them, before Settle: the memory of clients
	// that have been idle since, rather than of ones that never received
	// an event.
	Events int
	// Settle is how long to wait, once every client is connected (and
	// has received the Events), before reading the memory; default 2s.
	Settle time.Duration
	// Memory reads the server's memory.
	Memory func() (Memory, error)
}

// IdleResult is the server's memory before and with the idle clients.
type IdleResult struct {
	Clients, Events int
	Before, After   Memory
	// The server's own figures from GET /metrics, before and after:
	// go_goroutines, go_memstats_heap_inuse_bytes,
	// go_memstats_stack_inuse_bytes, go_memstats_sys_bytes and
	// evstore_server_sse_clients, when it serves them.
	MetricsBefore, MetricsAfter map[string]float64
}

// PerClient is the resident memory each client added.
func (r IdleResult) PerClient() float64 {
	return float64(r.After.RSS-r.Before.RSS) / float64(r.Clients)
}

func (r IdleResult) String() string {
	s := fmt.Sprintf("%d idle SSE clients", r.Clients)
	if r.Events > 0 {
		s += fmt.Sprintf(" (after %d events)", r.Events)
	}
	s += fmt.Sprintf(": RSS %s (before them %s; %.1f KiB a client), peak %s",
		mib(r.After.RSS), mib(r.Before.RSS), r.PerClient()/1024, mib(r.After.Peak))
	b, a := r.MetricsBefore, r.MetricsAfter
	if g, ok := a["go_goroutines"]; ok {
		s += fmt.Sprintf("; goroutines %.0f (before %.0f)", g, b["go_goroutines"])
	}
	if h, ok := a["go_memstats_heap_inuse_bytes"]; ok {
		s += fmt.Sprintf("; heap in use %s (before %s)", mib(int64(h)), mib(int64(b["go_memstats_heap_inuse_bytes"])))
	}
	if st, ok := a["go_memstats_stack_inuse_bytes"]; ok {
		s += fmt.Sprintf("; stacks %s (before %s)", mib(int64(st)), mib(int64(b["go_memstats_stack_inuse_bytes"])))
	}
	if c, ok := a["evstore_server_sse_clients"]; ok {
		s += fmt.Sprintf("; evstore_server_sse_clients %.0f", c)
	}
	return s
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB" }

// Idle reads the server's memory, connects cfg.Clients SSE clients that
// then receive nothing, waits cfg.Settle, and reads it again.
func Idle(ctx context.Context, cfg IdleConfig) (IdleResult, error) {
	if err := loopbackURL(cfg.URL); err != nil {
		return IdleResult{}, err
	}
	if cfg.Clients <= 0 || cfg.Memory == nil {
		return IdleResult{}, errors.New("loadtest: Idle needs Clients above 0 and Memory")
	}
	if cfg.Stream == "" {
		cfg.Stream = "@all"
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+cfg.Settle)
	defer cancel()
	client := newClient(1)
	defer client.CloseIdleConnections()
	r := IdleResult{Clients: cfg.Clients, Events: cfg.Events}
	var err error
	if r.MetricsBefore, err = Scrape(ctx, client, cfg.URL); err != nil {
		return r, err
	}
	if r.Before, err = cfg.Memory(); err != nil {
		return r, err
	}
	readers := newClient(0)
	defer readers.CloseIdleConnections()
	watchers, err := connectAll(ctx, readers, cfg.URL, cfg.Stream, cfg.Clients)
	if err != nil {
		return r, err
	}
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, w := range watchers {
			w.body.Close()
		}
		wg.Wait()
	}()
	for _, w := range watchers {
		wg.Go(w.read) // pings, if Settle is longer than the heartbeat
	}
	if cfg.Events > 0 {
		if err := writeEvents(ctx, client, cfg.URL, "idle-events", cfg.Events); err != nil {
			return r, err
		}
		for !received(watchers, int64(cfg.Events)) {
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return r, fmt.Errorf("loadtest: waiting for the idle clients to receive %d events: %w", cfg.Events, ctx.Err())
			}
		}
	}
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	if r.After, err = cfg.Memory(); err != nil {
		return r, err
	}
	if r.MetricsAfter, err = Scrape(ctx, client, cfg.URL); err != nil {
		return r, err
	}
	for _, w := range watchers {
		if err := w.err(); err != nil {
			return r, fmt.Errorf("loadtest: an idle SSE client failed: %w", err)
		}
	}
	return r, nil
}

// writeEvents appends n events to stream, 100 a request.
func writeEvents(ctx context.Context, client *http.Client, base, stream string, n int) error {
	target := base + "/api/streams/" + url.PathEscape(stream) + "/events"
	for n > 0 {
		b := min(n, 100)
		var body bytes.Buffer
		body.WriteString(`{"events":[`)
		for i := range b {
			if i > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"type":"LoadIdle","data":{"n":%d}}`, n-i)
		}
		body.WriteString(`]}`)
		if _, err := post(ctx, client, target, body.Bytes()); err != nil {
			return err
		}
		n -= b
	}
	return nil
}

// received reports whether every watcher has received n events, or
// failed.
func received(watchers []*watcher, n int64) bool {
	for _, w := range watchers {
		if w.events.Load() < n && w.failed.Load() == nil {
			return false
		}
	}
	return true
}

// scraped are the metrics Scrape returns.
var scraped = []string{
	"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes",
	"go_memstats_sys_bytes", "evstore_server_sse_clients",
}

// Scrape reads a few of the server's metrics from GET /metrics (summing
// a metric's series).
func Scrape(ctx context.Context, client *http.Client, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, ok = strings.Cut(line[strings.LastIndexByte(line, '}'):], " ")
			if !ok {
				continue
			}
		}
		for _, want := range scraped {
			if name == want {
				v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
				if err == nil {
					out[name] += v
				}
			}
		}
	}
	return out, lines.Err()
}
