package otelevstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-event-sourcing/evstore"
)

// scope is the instrumentation scope of evstore's spans and metrics.
const scope = "github.com/go-event-sourcing/evstore/otelevstore"

// Attribute keys of evstore's own, next to OpenTelemetry's database
// conventions (db.system.name, db.operation.name, error.type).
const (
	StreamKey    = attribute.Key("evstore.stream.id")          // the stream written, read or deleted; "@all"
	EventsKey    = attribute.Key("evstore.events")             // events given to a write or a batch; read or removed by a read or truncate
	AppendedKey  = attribute.Key("evstore.events.appended")    // events a write, commit or delete appended
	WritesKey    = attribute.Key("evstore.writes")             // writes in a group commit
	OutcomeKey   = attribute.Key("evstore.outcome")            // appended, duplicate, conflict, error
	VersionKey   = attribute.Key("evstore.stream.version")     // the stream's version after a write or delete
	ConsumerKey  = attribute.Key("evstore.consumer.name")      // a consumer's name
	PartitionKey = attribute.Key("evstore.consumer.partition") // and partition
	PositionKey  = attribute.Key("evstore.consumer.position")  // its position after a batch
	LagKey       = attribute.Key("evstore.consumer.lag")       // how far the store's head is ahead of it
)

// A Tracer is an evstore.Tracer that records OpenTelemetry spans and
// metrics. Give it to a store at Open (sqlite.WithTracer(t), ...). One
// Tracer may serve many Stores. Its methods are safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer

	duration  metric.Float64Histogram   // db.client.operation.duration
	batchTime metric.Float64Histogram   // evstore.consumer.batch.duration
	appended  metric.Int64Counter       // evstore.events.appended
	writes    metric.Int64Counter       // evstore.writes
	group     metric.Int64Histogram     // evstore.commit.group.size
	watchers  metric.Int64UpDownCounter // evstore.watchers.active
	handled   metric.Int64Counter       // evstore.consumer.events
	position  metric.Int64Gauge         // evstore.consumer.position
	lag       metric.Int64Gauge         // evstore.consumer.lag

	mu    sync.RWMutex
	attrs map[attrKey]metric.MeasurementOption // see measure
}

var _ evstore.Tracer = (*Tracer)(nil)

// NewTracer returns a Tracer that uses the providers of opts, or
// OpenTelemetry's global ones (which record nothing until the
// application sets them).
func NewTracer(opts ...Option) *Tracer {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	t := &Tracer{tracer: c.tp.Tracer(scope, trace.WithSchemaURL(semconv.SchemaURL))}
	m := c.mp.Meter(scope, metric.WithSchemaURL(semconv.SchemaURL))
	// An instrument that cannot be made is a no-op one: telemetry never
	// stops the store. The error goes to OpenTelemetry's error handler.
	var err error
	buckets := metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
	t.duration, err = m.Float64Histogram("db.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of evstore's database operations: writes, reads, commits, deletes, erasure."), buckets)
	handle(err)
	t.batchTime, err = m.Float64Histogram("evstore.consumer.batch.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of consumer batches: the Handler's work."), buckets)
	handle(err)
	t.appended, err = m.Int64Counter("evstore.events.appended", metric.WithUnit("{event}"),
		metric.WithDescription("Events appended by writes."))
	handle(err)
	t.writes, err = m.Int64Counter("evstore.writes", metric.WithUnit("{write}"),
		metric.WithDescription("Writes, by outcome: appended, duplicate, conflict, error."))
	handle(err)
	t.group, err = m.Int64Histogram("evstore.commit.group.size", metric.WithUnit("{write}"),
		metric.WithDescription("Writes committed together by one group commit."),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
	handle(err)
	t.watchers, err = m.Int64UpDownCounter("evstore.watchers.active", metric.WithUnit("{watcher}"),
		metric.WithDescription("Watch loops running."))
	handle(err)
	t.handled, err = m.Int64Counter("evstore.consumer.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events handled by consumers."))
	handle(err)
	t.position, err = m.Int64Gauge("evstore.consumer.position", metric.WithUnit("{sequence}"),
		metric.WithDescription("A consumer's position: the Sequence up to which it has handled @all."))
	handle(err)
	t.lag, err = m.Int64Gauge("evstore.consumer.lag", metric.WithUnit("{sequence}"),
		metric.WithDescription("How far the newest Sequence the Store knows of is ahead of a consumer's position."))
	handle(err)
	return t
}

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// Span start options made once: options are interfaces, and making one
// for each span would cost an allocation.
var (
	clientSpan   = trace.WithSpanKind(trace.SpanKindClient)
	consumerSpan = trace.WithSpanKind(trace.SpanKindConsumer)
	newRoot      = trace.WithNewRoot()
)

// TraceStart implements evstore.Tracer: it starts a span, except for a
// watcher, whose life is counted, not traced. Attributes are set only on
// a span that records: an unsampled span costs no more than its Start.
func (t *Tracer) TraceStart(ctx context.Context, tr evstore.Trace) context.Context {
	var span trace.Span
	switch tr.Op {
	case evstore.TraceWatch:
		t.watchers.Add(ctx, 1, t.measure(tr.System, tr.Op, "", ""))
		return ctx
	case evstore.TraceConsume:
		// A consumer runs for as long as its process: each batch is a
		// trace of its own, linked to the span Consume was called in.
		link := trace.WithLinks()
		if parent := trace.SpanContextFromContext(ctx); parent.IsValid() {
			link = trace.WithLinks(trace.Link{SpanContext: parent})
		}
		ctx, span = t.tracer.Start(ctx, "consume "+tr.Consumer, consumerSpan, newRoot, link)
		if span.IsRecording() {
			span.SetAttributes(semconv.DBSystemNameKey.String(tr.System), semconv.DBOperationName(string(tr.Op)),
				EventsKey.Int(tr.Events), ConsumerKey.String(tr.Consumer), PartitionKey.Int(tr.Partition))
		}
		return ctx
	}
	ctx, span = t.tracer.Start(ctx, string(tr.Op), clientSpan)
	if !span.IsRecording() {
		return ctx
	}
	span.SetAttributes(semconv.DBSystemNameKey.String(tr.System), semconv.DBOperationName(string(tr.Op)))
	if tr.StreamID != "" {
		span.SetAttributes(StreamKey.String(tr.StreamID))
	}
	switch tr.Op {
	case evstore.TraceWrite:
		span.SetAttributes(EventsKey.Int(tr.Events))
	case evstore.TraceCommit:
		span.SetAttributes(WritesKey.Int(tr.Writes))
	}
	return ctx
}

// TraceEnd implements evstore.Tracer: it ends the span and records the
// operation's metrics.
func (t *Tracer) TraceEnd(ctx context.Context, tr evstore.Trace) {
	if tr.Op == evstore.TraceWatch {
		t.watchers.Add(ctx, -1, t.measure(tr.System, tr.Op, "", ""))
		return
	}
	took := time.Since(tr.Start).Seconds()
	span := trace.SpanFromContext(ctx)
	recording := span.IsRecording()
	errType := ""
	if tr.Err != nil {
		errType = errorType(tr.Err)
		if recording {
			span.RecordError(tr.Err)
			span.SetStatus(codes.Error, tr.Err.Error())
			span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		}
	}
	switch tr.Op {
	case evstore.TraceWrite, evstore.TraceDelete:
		if recording {
			span.SetAttributes(OutcomeKey.String(tr.Outcome), AppendedKey.Int(tr.Events))
			if tr.Err == nil {
				span.SetAttributes(VersionKey.Int64(tr.Version))
			}
		}
		if tr.Op == evstore.TraceWrite {
			t.writes.Add(ctx, 1, t.measure(tr.System, tr.Op, tr.Outcome, ""))
			if tr.Events > 0 {
				t.appended.Add(ctx, int64(tr.Events), t.measure(tr.System, tr.Op, "", ""))
			}
		}
	case evstore.TraceCommit:
		if recording {
			span.SetAttributes(WritesKey.Int(tr.Writes), AppendedKey.Int(tr.Events), OutcomeKey.String(tr.Outcome))
		}
		t.group.Record(ctx, int64(tr.Writes), t.measure(tr.System, tr.Op, "", ""))
	case evstore.TraceRead, evstore.TraceTruncate:
		if recording {
			span.SetAttributes(EventsKey.Int(tr.Events))
		}
	case evstore.TraceConsume:
		if tr.Err == nil {
			if recording {
				span.SetAttributes(PositionKey.Int64(tr.Version), LagKey.Int64(tr.Lag))
			}
			consumer := metric.WithAttributes(semconv.DBSystemNameKey.String(tr.System), ConsumerKey.String(tr.Consumer), PartitionKey.Int(tr.Partition))
			t.handled.Add(ctx, int64(tr.Events), consumer)
			t.position.Record(ctx, tr.Version, consumer)
			t.lag.Record(ctx, tr.Lag, consumer)
		}
		t.batchTime.Record(ctx, took, t.measure(tr.System, tr.Op, "", errType))
		span.End()
		return
	}
	t.duration.Record(ctx, took, t.measure(tr.System, tr.Op, tr.Outcome, errType))
	span.End()
}

// attrKey names one set of metric attributes.
type attrKey struct {
	system  string
	op      evstore.TraceOp
	outcome string
	err     string
}

// measure returns the metric attributes of an operation, made once for
// each set (there are a few dozen).
func (t *Tracer) measure(system string, op evstore.TraceOp, outcome, errType string) metric.MeasurementOption {
	k := attrKey{system, op, outcome, errType}
	t.mu.RLock()
	o, ok := t.attrs[k]
	t.mu.RUnlock()
	if ok {
		return o
	}
	attrs := []attribute.KeyValue{semconv.DBSystemNameKey.String(system), semconv.DBOperationName(string(op))}
	if outcome != "" {
		attrs = append(attrs, OutcomeKey.String(outcome))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	o = metric.WithAttributeSet(attribute.NewSet(attrs...))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.attrs == nil {
		t.attrs = map[attrKey]metric.MeasurementOption{}
	}
	t.attrs[k] = o
	return o
}

// errorTypes name evstore's errors in error.type, from the most specific.
var errorTypes = []struct {
	err  error
	name string
}{
	{evstore.ErrConflict, "conflict"},
	{evstore.ErrClosed, "closed"},
	{evstore.ErrReadOnly, "read_only"},
	{evstore.ErrInvalidEvent, "invalid_event"},
	{evstore.ErrInvalidStreamID, "invalid_stream_id"},
	{evstore.ErrInvalidFilter, "invalid_filter"},
	{evstore.ErrInvalidArgument, "invalid_argument"},
	{evstore.ErrCorrupt, "corrupt"},
	{evstore.ErrUnsupported, "unsupported"},
	{evstore.ErrHandlerPanic, "handler_panic"},
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
}

// errorType returns the error.type of err: evstore's name for it, or
// OpenTelemetry's (the Go type, or "_OTHER").
func errorType(err error) string {
	var ce *evstore.ConditionError
	if errors.As(err, &ce) {
		return "condition" // before "conflict", which it also is
	}
	for _, e := range errorTypes {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return semconv.ErrorType(err).Value.AsString()
}
