// Package otelevstore traces an evstore Store and measures it with
// OpenTelemetry, as otelhttp does for net/http and otelpgx for pgx.
//
// Give a Tracer to the store at Open:
//
//	t := otelevstore.NewTracer(
//		otelevstore.WithTracerProvider(tp),
//		otelevstore.WithMeterProvider(mp),
//	)
//	store, err := sqlite.Open(ctx, "events.db", sqlite.WithTracer(t))
//
// (postgres.WithTracer, memory.WithTracer and open.WithTracer take it
// too). Without providers the Tracer uses OpenTelemetry's global ones,
// which record nothing until the application sets them; without a Tracer
// the Store records nothing at all and pays one nil check an operation.
//
// # Spans
//
// One span for each Stream.Write ("write"), each page a read fetches from
// the database ("read": a Read, a Watch's catch-up, a consumer's fetch),
// each group commit's transaction ("commit", a child of the span of the
// write that led it), Stream.Delete ("delete"), Stream.Truncate
// ("truncate"), Store.Erase ("erase"), and each batch a consumer hands to
// its Handler ("consume NAME", of kind Consumer: the spans of what the
// Handler does are its children; each batch is the root of a trace of its
// own, linked to the span Consume was called in, since a consumer runs for
// as long as its process). A group commit's span is the child of the
// write that led the group; the other writes of the group have no link to
// it. They follow OpenTelemetry's database
// conventions where they fit: db.system.name ("sqlite", "postgresql", or
// "memory"), db.operation.name (the names above), error.type (evstore's
// error: "conflict", "condition" (a FailIfMatch that failed), "closed",
// "invalid_event", ...). evstore's own
// attributes are the Key constants: the stream, the events given, read
// and appended, the outcome of a write, the stream's version after it, and a
// consumer's name, partition, position and lag.
//
// # Metrics
//
//   - db.client.operation.duration (histogram, seconds), by
//     db.system.name, db.operation.name, evstore.outcome and error.type
//     (a write's time includes its commit's: filter by
//     db.operation.name, don't add them up);
//   - evstore.consumer.batch.duration (histogram, seconds): the
//     Handler's time for a batch;
//   - evstore.writes (counter), by evstore.outcome: appended, duplicate
//     (a retry whose events were all there), conflict, error;
//   - evstore.events.appended (counter);
//   - evstore.commit.group.size (histogram): writes per group commit;
//   - evstore.watchers.active (up-down counter): Watch loops running;
//   - evstore.consumer.events (counter), evstore.consumer.position and
//     evstore.consumer.lag (gauges), by evstore.consumer.name and
//     evstore.consumer.partition, recorded after each batch a consumer
//     handles. Lag is in Sequences: how far the newest Sequence the Store
//     knows of is ahead of the consumer (for a filtered consumer, an
//     upper bound on the events it has left). A consumer that handles
//     nothing (idle, or every event filtered out) records nothing.
//
// Stream ids appear on spans, never on metrics, whose attributes stay few.
package otelevstore
