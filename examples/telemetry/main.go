// Command telemetry traces and measures an event store with OpenTelemetry,
// through package otelevstore. It opens an SQLite store in a new temporary
// directory with an otelevstore.Tracer wired to OpenTelemetry's SDK, and
// has it do a little of everything:
//
//   - a write that appends two events to a shopping cart's stream;
//   - the same write retried, with the same idempotency keys (the events'
//     IDs) and the same expected version: the store skips it, and its span
//     says evstore.outcome "duplicate";
//   - a write that expects a stale version: refused with ErrConflict, its
//     span says evstore.outcome "conflict" and error.type "conflict";
//   - a write that appends one more event;
//   - a read of the stream, and a consumer ("tally") run with Store.Consume
//     until it has caught up (Store.WaitConsumer), then cancelled.
//
// Then it prints a line of what happened, shuts the providers down, which
// flushes what their exporters hold, and so prints every span and every
// metric as the stdout exporters encode them (pretty-printed JSON). Run it
// with:
//
//	go run ./examples/telemetry
//
// The writes run inside a span of the application's own ("checkout"),
// whose children they are; each group commit's "commit" span is a child of
// the write that led it. Each batch the consumer handles has a span
// "consume tally", and what its Handler does is that span's child
// ("tally batch").
//
// # Sending to a collector
//
// The stdout exporters are for looking. To send the same spans and metrics
// to an OpenTelemetry collector (or Jaeger, Tempo, ... through one),
// replace them with the OTLP exporters, from
// go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp and
// .../otlpmetric/otlpmetrichttp:
//
//	spans, err := otlptracehttp.New(ctx) // http://localhost:4318 by default
//	...
//	metrics, err := otlpmetrichttp.New(ctx)
//
// and keep the rest: sdktrace.WithBatcher(spans), and
// sdkmetric.NewPeriodicReader(metrics). Both read the standard
// OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_SERVICE_NAME, through the
// resource) from the environment. The store's side does not change.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/otelevstore"
	"github.com/go-event-sourcing/evstore/sqlite"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "telemetry:", err)
		os.Exit(1)
	}
}

// The lines that come before the exporters' output: the spans, then the
// metrics.
const (
	spansHeader   = "=== Spans (stdouttrace) ==="
	metricsHeader = "=== Metrics (stdoutmetric) ==="
)

// consumerName is the consumer's name: its spans are "consume tally".
const consumerName = "tally"

// run works a store in a new temporary directory, with OpenTelemetry's SDK
// exporting to w, and prints to w what it did and then the telemetry.
func run(ctx context.Context, w io.Writer) (err error) {
	// The exporters write from goroutines of their own (the span batcher
	// every 5 seconds, the metric reader every minute) as well as at
	// Shutdown: one lock keeps their writes and run's apart.
	w = &syncWriter{w: w}
	tp, mp, err := newProviders(w)
	if err != nil {
		return err
	}
	// Shut the providers down on every path: that exports what they hold.
	shutdown := func() error {
		return errors.Join(tp.Shutdown(context.WithoutCancel(ctx)), mp.Shutdown(context.WithoutCancel(ctx)))
	}

	dir, err := os.MkdirTemp("", "evstore-telemetry-")
	if err != nil {
		return errors.Join(err, shutdown())
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()

	// What the example is about: a Tracer on the providers, given to the
	// store at Open.
	t := otelevstore.NewTracer(
		otelevstore.WithTracerProvider(tp),
		otelevstore.WithMeterProvider(mp),
	)
	summary, err := work(ctx, filepath.Join(dir, "events.db"), t, tp.Tracer("example/telemetry"))
	if err != nil {
		return errors.Join(err, shutdown())
	}
	fmt.Fprintln(w, summary)

	fmt.Fprintf(w, "\n%s\n", spansHeader)
	if err := tp.Shutdown(context.WithoutCancel(ctx)); err != nil {
		return errors.Join(err, mp.Shutdown(context.WithoutCancel(ctx)))
	}
	fmt.Fprintf(w, "\n%s\n", metricsHeader)
	return mp.Shutdown(context.WithoutCancel(ctx))
}

// newProviders returns a TracerProvider and a MeterProvider that export to
// w through the stdout exporters, pretty-printed.
func newProviders(w io.Writer) (*sdktrace.TracerProvider, *sdkmetric.MeterProvider, error) {
	// The SDK's resource (telemetry.sdk.*, and what OTEL_RESOURCE_ATTRIBUTES
	// says), with this program's service.name.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("evstore-telemetry-example")))
	if err != nil {
		return nil, nil, err
	}
	spans, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
	if err != nil {
		return nil, nil, err
	}
	metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(w), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spans), sdktrace.WithResource(res))
	// The reader exports every minute, and once more at Shutdown: this
	// program ends well within the minute, so its metrics print once.
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)), sdkmetric.WithResource(res))
	return tp, mp, nil
}

// work opens the store at path with the Tracer t, writes, reads and
// consumes, closes the store, and returns a line that tells what happened.
// app is the application's own tracer, for the spans around evstore's.
func work(ctx context.Context, path string, t *otelevstore.Tracer, app trace.Tracer) (summary string, err error) {
	store, err := sqlite.Open(ctx, path, sqlite.WithTracer(t))
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	cart, err := store.Stream(ctx, "cart-42")
	if err != nil {
		return "", err
	}
	// The application's span for a request: evstore's spans for the
	// writes made on its ctx are its children.
	checkout, span := app.Start(ctx, "checkout")
	added, retried, refused, last, err := writes(checkout, cart)
	span.End()
	if err != nil {
		return "", err
	}

	read := 0
	for _, err := range cart.Read(ctx) {
		if err != nil {
			return "", err
		}
		read++
	}

	handled, err := consume(ctx, store, app, last)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Wrote %d events to cart-42 (version %d); a retry with the same IDs appended %d (duplicate); "+
			"a stale write was refused (%v); read %d back; consumer %q handled %d and caught up.",
			added, cart.Version(), retried, refused, read, consumerName, handled),
		nil
}

// writes writes to the cart: a write, its retry, a write that expects a
// stale version, and one more write. It returns the events appended, those
// the retry appended (none), the conflict, and the Sequence of the newest
// event.
func writes(ctx context.Context, cart *evstore.Stream) (added, retried int, conflict error, last int64, err error) {
	// Each event has an ID, its idempotency key: a request's id and the
	// event's place in it.
	items := []evstore.CandidateEvent{
		{ID: "req-1/0", Type: "ItemAdded", Data: []byte(`{"sku":"apple","qty":3}`)},
		{ID: "req-1/1", Type: "ItemAdded", Data: []byte(`{"sku":"pear","qty":1}`)},
	}
	var r evstore.WriteReport
	if _, err := cart.Write(ctx, items, evstore.ExpectVersion(0), evstore.Report(&r)); err != nil {
		return 0, 0, nil, 0, err
	}
	added += r.Appended

	// The same request again, as a client whose reply was lost would
	// send it: the store has both keys, so it appends nothing and
	// succeeds (the expected version is not checked against a write that
	// went through).
	if _, err := cart.Write(ctx, items, evstore.ExpectVersion(0), evstore.Report(&r)); err != nil {
		return 0, 0, nil, 0, err
	}
	retried = r.Appended

	// A writer that decided on a stale view of the cart (version 1): the
	// store refuses it, with a *ConflictError.
	_, conflict = cart.Write(ctx, []evstore.CandidateEvent{
		{ID: "req-2/0", Type: "ItemRemoved", Data: []byte(`{"sku":"apple"}`)},
	}, evstore.ExpectVersion(1))
	if !errors.Is(conflict, evstore.ErrConflict) {
		return 0, 0, nil, 0, fmt.Errorf("a write at a stale version: got %v, want a conflict", conflict)
	}

	if _, err := cart.Write(ctx, []evstore.CandidateEvent{
		{ID: "req-3/0", Type: "CheckedOut", Data: []byte(`{}`)},
	}, evstore.ExpectVersion(2), evstore.Report(&r)); err != nil {
		return 0, 0, nil, 0, err
	}
	added += r.Appended
	return added, retried, conflict, r.Last, nil
}

// consume runs the consumer until it has handled every event up to
// Sequence last, then stops it, and returns how many events it handled.
func consume(ctx context.Context, store *evstore.Store, app trace.Tracer, last int64) (int, error) {
	handled := 0 // read once Consume has returned
	tally := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		// ctx carries the batch's "consume tally" span: the Handler's
		// own spans are its children.
		_, span := app.Start(ctx, "tally batch")
		defer span.End()
		handled += len(events)
		return nil
	})

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- store.Consume(cctx, consumerName, tally) }()

	// The timeout only keeps the example from waiting forever should the
	// consumer be stuck.
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	werr := store.WaitConsumer(wait, consumerName, last)
	cancel()
	if err := errors.Join(werr, <-done); err != nil { // Consume returns nil once its ctx ends
		return 0, err
	}
	return handled, nil
}

// A syncWriter serializes the writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
