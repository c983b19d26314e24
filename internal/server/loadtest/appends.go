// Package loadtest measures evstore serve over HTTP on loopback: appends
// per second from concurrent clients, the delivery latency of
// Server-Sent Events to connected clients, and the server's memory with
// idle SSE clients (docs/server.md, "Figures"). Every loop it runs is
// bounded in time and in count, and stops by itself.
//
// The command in ./cmd starts an evstore serve process of its own (Start)
// so that the memory measured is the server's alone.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AppendConfig is a run of Appends.
type AppendConfig struct {
	URL     string // the server, http://127.0.0.1:PORT
	Clients int    // concurrent clients, each appending to a stream of its own
	Batch   int    // events per request
	// Warmup is run first and not counted; then the requests completed
	// within Duration are counted.
	Warmup, Duration time.Duration
	// MaxRequests bounds each client's requests, warmup included; 0: no
	// bound but Warmup+Duration.
	MaxRequests int
	// Payload is the length of each event's padding string (its data is
	// {"c": client, "n": counter, "pad": "xx..."}).
	Payload int
	// Keys gives each event an idempotency key ("id"), which the store
	// checks and indexes.
	Keys bool
	// Prefix starts the streams' ids; default "load".
	Prefix string
}

// AppendResult is what Appends measured over the counted window.
type AppendResult struct {
	Requests, Events int64 // completed with 200 within the window
	Errors           int64 // failed requests, warmup included
	FirstError       string
	Elapsed          time.Duration // the window: Duration, or less if the count ran out
	Latency          Quantiles     // of the counted requests
}

// EventsPerSec is the rate of events appended in the window.
func (r AppendResult) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// RequestsPerSec is the rate of requests completed in the window.
func (r AppendResult) RequestsPerSec() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r AppendResult) String() string {
	s := fmt.Sprintf("%.0f events/s, %.0f requests/s (%d requests, %d events in %v); request latency %v",
		r.EventsPerSec(), r.RequestsPerSec(), r.Requests, r.Events, r.Elapsed.Round(time.Millisecond), r.Latency)
	if r.Errors > 0 {
		s += fmt.Sprintf("; %d errors, the first: %s", r.Errors, r.FirstError)
	}
	return s
}

// maxErrors is how many failed requests end a run early.
const maxErrors = 100

// Appends runs cfg.Clients clients that each POST batches of cfg.Batch
// events to a stream of their own, back to back, for cfg.Warmup then
// cfg.Duration (or until each has sent cfg.MaxRequests), and counts the
// requests that completed within the Duration window.
func Appends(ctx context.Context, cfg AppendConfig) (AppendResult, error) {
	if err := loopbackURL(cfg.URL); err != nil {
		return AppendResult{}, err
	}
	if cfg.Clients <= 0 || cfg.Batch <= 0 || cfg.Duration <= 0 {
		return AppendResult{}, errors.New("loadtest: Appends needs Clients, Batch and Duration above 0")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "load"
	}
	client := newClient(cfg.Clients)
	defer client.CloseIdleConnections()

	start := time.Now()
	from, to := start.Add(cfg.Warmup), start.Add(cfg.Warmup+cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, to)
	defer cancel()

	type tally struct {
		requests, events, errors int64
		firstError               string
		latencies                []time.Duration
		last                     time.Time // the last counted completion
	}
	tallies := make([]tally, cfg.Clients)
	var failed sync.Mutex
	var errs int64
	var wg sync.WaitGroup
	for c := range cfg.Clients {
		wg.Go(func() {
			t := &tallies[c]
			target := cfg.URL + "/api/streams/" + url.PathEscape(fmt.Sprintf("%s-c%d", cfg.Prefix, c)) + "/events"
			var body bytes.Buffer
			pad := strings.Repeat("x", cfg.Payload)
			for n := 0; cfg.MaxRequests <= 0 || n < cfg.MaxRequests; n++ {
				if ctx.Err() != nil {
					return
				}
				body.Reset()
				body.WriteString(`{"events":[`)
				for i := range cfg.Batch {
					if i > 0 {
						body.WriteByte(',')
					}
					body.WriteString(`{`)
					if cfg.Keys {
						fmt.Fprintf(&body, `"id":"k%d-%d",`, n, i)
					}
					fmt.Fprintf(&body, `"type":"LoadAppended","data":{"c":%d,"n":%d,"pad":"%s"}}`, c, n*cfg.Batch+i, pad)
				}
				body.WriteString(`]}`)
				sent := time.Now()
				appended, err := post(ctx, client, target, body.Bytes())
				done := time.Now()
				if err == nil && appended != cfg.Batch {
					err = fmt.Errorf("appended %d events of %d", appended, cfg.Batch)
				}
				if err != nil {
					if ctx.Err() != nil { // the deadline, mid-request
						return
					}
					t.errors++
					if t.firstError == "" {
						t.firstError = err.Error()
					}
					failed.Lock()
					errs++
					stop := errs >= maxErrors
					failed.Unlock()
					if stop {
						cancel()
					}
					continue
				}
				if done.Before(from) || done.After(to) {
					continue
				}
				t.requests++
				t.events += int64(appended)
				t.latencies = append(t.latencies, done.Sub(sent))
				t.last = done
			}
		})
	}
	wg.Wait()

	var r AppendResult
	var all []time.Duration
	last := from
	for _, t := range tallies {
		r.Requests += t.requests
		r.Events += t.events
		r.Errors += t.errors
		if r.FirstError == "" {
			r.FirstError = t.firstError
		}
		all = append(all, t.latencies...)
		if t.last.After(last) {
			last = t.last
		}
	}
	r.Elapsed = cfg.Duration
	if now := time.Now(); now.Before(to) { // every client ran out of requests
		r.Elapsed = last.Sub(from)
	}
	r.Latency = Quantile(all)
	if r.Requests == 0 {
		return r, fmt.Errorf("loadtest: no request completed within the window (%d errors: %s)", r.Errors, r.FirstError)
	}
	return r, nil
}

// newClient returns an HTTP client that keeps a connection per
// concurrent user alive.
func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: conns,
		MaxIdleConns:        conns,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// post POSTs body to target and returns the "appended" of the report.
func post(ctx context.Context, client *http.Client, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var report struct {
		Appended int `json:"appended"`
	}
	if err := json.Unmarshal(b, &report); err != nil {
		return 0, fmt.Errorf("report %q: %w", b, err)
	}
	return report.Appended, nil
}

// Quantiles summarizes durations.
type Quantiles struct {
	N                        int
	P50, P90, P99, P999, Max time.Duration
}

// Quantile sorts ds and returns their quantiles (nearest rank).
func Quantile(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Quantiles{N: len(ds), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: ds[len(ds)-1]}
}

func (q Quantiles) String() string {
	return "p50 " + ms(q.P50) + ", p90 " + ms(q.P90) + ", p99 " + ms(q.P99) + ", p99.9 " + ms(q.P999) +
		", max " + ms(q.Max) + " (" + strconv.Itoa(q.N) + " samples)"
}

// ms formats d in milliseconds, to 3 significant digits or so.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	}
}
