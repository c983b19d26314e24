package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/go-event-sourcing/evstore/otelevstore"
)

// Metrics is what GET /metrics serves, in Prometheus' text format: the
// store's metrics (otelevstore's, when the store was opened with
// Metrics.Tracer), the server's own (requests by route and status, their
// durations, connected SSE clients) and the Go runtime's, all through
// OpenTelemetry's Prometheus exporter.
type Metrics struct {
	provider *sdkmetric.MeterProvider
	handler  http.Handler

	requests metric.Int64Counter       // evstore.server.requests
	duration metric.Float64Histogram   // http.server.request.duration
	clients  metric.Int64UpDownCounter // evstore.server.sse.clients
}

// NewMetrics returns Metrics with a registry of their own (not
// Prometheus' global one). Shut them down when done.
func NewMetrics() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		handler:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	meter := m.provider.Meter("github.com/go-event-sourcing/evstore/internal/server")
	if m.requests, err = meter.Int64Counter("evstore.server.requests", metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests served, by method, route and status.")); err != nil {
		return nil, err
	}
	if m.duration, err = meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP requests (of a Server-Sent Events stream: how long it stayed connected)."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600)); err != nil {
		return nil, err
	}
	if m.clients, err = meter.Int64UpDownCounter("evstore.server.sse.clients", metric.WithUnit("{client}"),
		metric.WithDescription("Server-Sent Events clients connected (GET /api/streams/{id}/watch).")); err != nil {
		return nil, err
	}
	return m, nil
}

// Tracer returns an otelevstore.Tracer whose metrics these Metrics
// serve: open the store with it (open.WithTracer) to have them at
// /metrics. It records no spans.
func (m *Metrics) Tracer() *otelevstore.Tracer {
	return otelevstore.NewTracer(otelevstore.WithMeterProvider(m.provider), otelevstore.WithTracerProvider(noop.NewTracerProvider()))
}

// Shutdown stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// request records one request's route, status and duration.
func (m *Metrics) request(ctx context.Context, method, route string, status int, d time.Duration) {
	set := metric.WithAttributeSet(attribute.NewSet(
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status),
	))
	m.requests.Add(ctx, 1, set)
	m.duration.Record(ctx, d.Seconds(), set)
}

// route returns the route of a request the mux matched ("GET
// /api/streams/{id}" gives "/api/streams/{id}"), or "other".
func route(pattern string) string {
	if pattern == "" {
		return "other"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}
