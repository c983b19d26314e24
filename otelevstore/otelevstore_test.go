package otelevstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jackc/pgx/v5"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/otelevstore"
	"github.com/go-event-sourcing/evstore/postgres"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// recorder holds what a Tracer under test recorded.
type recorder struct {
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	tracer  *otelevstore.Tracer
	tp      *sdktrace.TracerProvider
}

func newRecorder() *recorder {
	r := &recorder{spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.metrics))
	r.tp = tp
	r.tracer = otelevstore.NewTracer(otelevstore.WithTracerProvider(tp), otelevstore.WithMeterProvider(mp))
	return r
}

// ended returns the ended spans named name.
func (r *recorder) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// collect returns the metric named name.
func (r *recorder) collect(t *testing.T, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// sum returns the value of a counter's data point with the attribute kv
// (any point when kv is empty).
func (r *recorder) sum(t *testing.T, name string, kv ...attribute.KeyValue) int64 {
	t.Helper()
	var total int64
	switch d := r.collect(t, name).(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes, kv...) {
				total += p.Value
			}
		}
	default:
		t.Fatalf("%s is a %T", name, d)
	}
	return total
}

func has(set attribute.Set, kv ...attribute.KeyValue) bool {
	for _, want := range kv {
		if got, ok := set.Value(want.Key); !ok || got != want.Value {
			return false
		}
	}
	return true
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func wantAttr(t *testing.T, s sdktrace.ReadOnlySpan, kv attribute.KeyValue) {
	t.Helper()
	got, ok := attr(s, kv.Key)
	if !ok || got != kv.Value {
		t.Errorf("span %q: %s = %v (set: %v), want %v", s.Name(), kv.Key, got.String(), ok, kv.Value.String())
	}
}

func events(ids ...string) []evstore.CandidateEvent {
	out := make([]evstore.CandidateEvent, len(ids))
	for i, id := range ids {
		out[i] = evstore.CandidateEvent{ID: id, Type: "Deposited", Data: []byte(`{"amount":1}`)}
	}
	return out
}

// backends opens a Store of each kind with the recorder's Tracer.
var backends = []struct {
	name, system string
	open         func(t *testing.T, tr evstore.Tracer) *evstore.Store
}{
	{"memory", "memory", func(t *testing.T, tr evstore.Tracer) *evstore.Store {
		s, err := memory.Open(context.Background(), memory.WithTracer(tr))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"sqlite", "sqlite", func(t *testing.T, tr evstore.Tracer) *evstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), sqlite.WithTracer(tr))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", "postgresql", func(t *testing.T, tr evstore.Tracer) *evstore.Store {
		dsn := os.Getenv("EVSTORE_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("EVSTORE_POSTGRES_DSN is not set")
		}
		schema := fmt.Sprintf("otelevstore_test_%d", time.Now().UnixNano())
		s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema), postgres.WithTracer(tr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Error(err)
			}
		})
		return s
	}},
}

func TestWrites(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRecorder()
			store := b.open(t, r.tracer)
			defer store.Close()
			s, err := store.Stream(ctx, "acct-1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(ctx, events("a", "b", "c")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(ctx, events("a", "b")); err != nil { // a retry
				t.Fatal(err)
			}
			_, err = s.Write(ctx, events("d"), evstore.ExpectVersion(1))
			if !errors.Is(err, evstore.ErrConflict) {
				t.Fatalf("Write with a wrong ExpectVersion: %v", err)
			}

			writes := r.ended("write")
			if len(writes) != 3 {
				t.Fatalf("%d write spans, want 3", len(writes))
			}
			for i, want := range []struct {
				outcome  string
				appended int64
			}{{"appended", 3}, {"duplicate", 0}, {"conflict", 0}} {
				s := writes[i]
				wantAttr(t, s, attribute.String("db.system.name", b.system))
				wantAttr(t, s, attribute.String("db.operation.name", "write"))
				wantAttr(t, s, otelevstore.StreamKey.String("acct-1"))
				wantAttr(t, s, otelevstore.OutcomeKey.String(want.outcome))
				wantAttr(t, s, otelevstore.EventsKey.Int(3-i)) // given: 3, 2, 1
				wantAttr(t, s, otelevstore.AppendedKey.Int64(want.appended))
				if s.SpanKind() != trace.SpanKindClient {
					t.Errorf("write span kind %v", s.SpanKind())
				}
				if want.outcome == "conflict" {
					if s.Status().Code != codes.Error {
						t.Errorf("conflict span status %v", s.Status())
					}
					wantAttr(t, s, attribute.String("error.type", "conflict"))
				} else if s.Status().Code == codes.Error {
					t.Errorf("%s span has status %v", want.outcome, s.Status())
				}
			}
			wantAttr(t, writes[1], otelevstore.VersionKey.Int64(3))

			// A failed FailIfMatch is a conflict of type "condition".
			_, err = s.Write(ctx, events("e"), evstore.FailIfMatch(evstore.Criteria{{Types: []string{"Deposited"}}}, 0))
			var ce *evstore.ConditionError
			if !errors.As(err, &ce) {
				t.Fatalf("Write with a failing condition: %v", err)
			}
			if w := r.ended("write"); len(w) != 4 {
				t.Errorf("%d write spans after the conditional write, want 4", len(w))
			} else {
				wantAttr(t, w[3], otelevstore.OutcomeKey.String("conflict"))
				wantAttr(t, w[3], attribute.String("error.type", "condition"))
			}

			for outcome, want := range map[string]int64{"appended": 1, "duplicate": 1, "conflict": 2, "error": 0} {
				if got := r.sum(t, "evstore.writes", otelevstore.OutcomeKey.String(outcome)); got != want {
					t.Errorf("evstore.writes{outcome=%s} = %d, want %d", outcome, got, want)
				}
			}
			if got := r.sum(t, "evstore.events.appended"); got != 3 {
				t.Errorf("evstore.events.appended = %d, want 3", got)
			}
			hist, ok := r.collect(t, "db.client.operation.duration").(metricdata.Histogram[float64])
			if !ok {
				t.Fatal("db.client.operation.duration is not a float histogram")
			}
			var n uint64
			for _, p := range hist.DataPoints {
				if has(p.Attributes, attribute.String("db.operation.name", "write")) {
					n += p.Count
					if p.Sum <= 0 {
						t.Errorf("write durations sum to %v", p.Sum)
					}
				}
			}
			if n != 4 {
				t.Errorf("%d write durations recorded, want 4", n)
			}
		})
	}
}

func TestCommitIsChildOfWrite(t *testing.T) {
	for _, b := range backends[1:] { // memory has no group commit
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRecorder()
			store := b.open(t, r.tracer)
			defer store.Close()
			s, _ := store.Stream(ctx, "acct-1")
			if _, err := s.Write(ctx, events("a", "b")); err != nil {
				t.Fatal(err)
			}
			writes, commits := r.ended("write"), r.ended("commit")
			if len(writes) != 1 || len(commits) != 1 {
				t.Fatalf("%d writes and %d commits, want one each", len(writes), len(commits))
			}
			if commits[0].Parent().SpanID() != writes[0].SpanContext().SpanID() {
				t.Errorf("the commit span's parent is %v, not the write's span", commits[0].Parent().SpanID())
			}
			wantAttr(t, commits[0], otelevstore.WritesKey.Int(1))
			wantAttr(t, commits[0], otelevstore.AppendedKey.Int(2))
			hist, ok := r.collect(t, "evstore.commit.group.size").(metricdata.Histogram[int64])
			if !ok || len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 1 || hist.DataPoints[0].Sum != 1 {
				t.Errorf("evstore.commit.group.size = %+v, want one group of 1", hist)
			}

			// A conflict is the write's failure, not the commit's.
			if _, err := s.Write(ctx, events("c"), evstore.ExpectVersion(1)); !errors.Is(err, evstore.ErrConflict) {
				t.Fatalf("Write with a wrong ExpectVersion: %v", err)
			}
			commits = r.ended("commit")
			if len(commits) != 2 {
				t.Fatalf("%d commits, want 2", len(commits))
			}
			if c := commits[1]; c.Status().Code == codes.Error {
				t.Errorf("a lone conflicting write failed its commit span: %v", c.Status())
			} else {
				wantAttr(t, c, otelevstore.OutcomeKey.String("conflict"))
			}
		})
	}
}

func TestGroupSizes(t *testing.T) {
	ctx := context.Background()
	r := newRecorder()
	store := backends[1].open(t, r.tracer)
	defer store.Close()
	const writers, each = 16, 20
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			s, err := store.Stream(ctx, "acct-"+string(rune('a'+w)))
			for i := 0; i < each && err == nil; i++ {
				_, err = s.Write(ctx, events(""))
			}
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	hist := r.collect(t, "evstore.commit.group.size").(metricdata.Histogram[int64])
	var groups uint64
	var written int64
	for _, p := range hist.DataPoints {
		groups += p.Count
		written += p.Sum
	}
	// Every write is in exactly one group, however they were grouped.
	if written != writers*each || groups == 0 || groups > writers*each {
		t.Errorf("%d groups of %d writes in all, want %d writes", groups, written, writers*each)
	}
	if got := len(r.ended("commit")); uint64(got) != groups {
		t.Errorf("%d commit spans for %d groups", got, groups)
	}
}

func TestReadsAndDeletes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRecorder()
			store := b.open(t, r.tracer)
			defer store.Close()
			s, _ := store.Stream(ctx, "acct-1")
			if _, err := s.Write(ctx, events("a", "b", "c", "d")); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, err := range s.Read(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			reads := r.ended("read")
			if n != 4 || len(reads) == 0 {
				t.Fatalf("read %d events in %d read spans", n, len(reads))
			}
			wantAttr(t, reads[0], otelevstore.EventsKey.Int(4))
			wantAttr(t, reads[0], otelevstore.StreamKey.String("acct-1"))

			if err := s.Truncate(ctx, 3); err != nil {
				t.Fatal(err)
			}
			if tr := r.ended("truncate"); len(tr) != 1 {
				t.Errorf("%d truncate spans", len(tr))
			} else {
				wantAttr(t, tr[0], otelevstore.EventsKey.Int(2))
			}
			if _, err := s.Delete(ctx); err != nil {
				t.Fatal(err)
			}
			if d := r.ended("delete"); len(d) != 1 {
				t.Errorf("%d delete spans", len(d))
			} else {
				wantAttr(t, d[0], otelevstore.VersionKey.Int64(5)) // the tombstone's
				wantAttr(t, d[0], otelevstore.OutcomeKey.String("appended"))
			}
			err := store.Erase(ctx)
			if errors.Is(err, evstore.ErrUnsupported) {
				return
			}
			if err != nil && !errors.Is(err, sqlite.ErrWALInUse) {
				t.Fatal(err)
			}
			if e := r.ended("erase"); len(e) != 1 {
				t.Errorf("%d erase spans", len(e))
			}
		})
	}
}

func TestConsumerBatches(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r := newRecorder()
			store := b.open(t, r.tracer)
			defer store.Close()
			s, _ := store.Stream(ctx, "acct-1")
			if _, err := s.Write(ctx, events("a", "b", "c")); err != nil {
				t.Fatal(err)
			}
			all, _ := store.Stream(ctx, evstore.All)
			seq := all.Version()

			// Consume is called inside a span: each batch is a trace of
			// its own, linked to it.
			pctx, parent := r.tp.Tracer("test").Start(ctx, "startup")
			parent.End()
			cctx, stop := context.WithCancel(pctx)
			done := make(chan error, 1)
			go func() {
				done <- store.Consume(cctx, "audit", evstore.HandlerFunc(func(ctx context.Context, evs []evstore.StoredEvent) error {
					// A write in Handle is traced as the batch's child.
					out, err := store.Stream(ctx, "audit")
					if err != nil {
						return err
					}
					_, err = out.Write(ctx, []evstore.CandidateEvent{{Type: "Audited"}})
					return err
				}), evstore.ConsumeFilter(evstore.Filter{evstore.Equals("event_type", "Deposited")}))
			}()
			waited := make(chan error, 1)
			go func() { waited <- store.WaitConsumer(ctx, "audit", seq) }()
			select {
			case err := <-waited:
				if err != nil {
					t.Fatal(err)
				}
			case err := <-done:
				t.Fatalf("Consume returned early: %v", err)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			batches := r.ended("consume audit")
			if len(batches) == 0 {
				t.Fatal("no consume span")
			}
			first := batches[0]
			if first.SpanKind() != trace.SpanKindConsumer {
				t.Errorf("consume span kind %v", first.SpanKind())
			}
			wantAttr(t, first, otelevstore.ConsumerKey.String("audit"))
			wantAttr(t, first, otelevstore.EventsKey.Int(3))
			wantAttr(t, first, otelevstore.PositionKey.Int64(seq))
			if first.Parent().IsValid() {
				t.Errorf("the consume span has a parent, %v: want a new root", first.Parent().SpanID())
			}
			if l := first.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("the consume span's links are %+v, want the span Consume was called in", l)
			}
			child := false
			for _, w := range r.ended("write") {
				if w.Parent().SpanID() == first.SpanContext().SpanID() {
					child = true
				}
			}
			if !child {
				t.Error("the write made in Handle is not a child of the consume span")
			}
			pos, ok := r.collect(t, "evstore.consumer.position").(metricdata.Gauge[int64])
			if !ok || len(pos.DataPoints) != 1 || pos.DataPoints[0].Value != seq ||
				!has(pos.DataPoints[0].Attributes, otelevstore.ConsumerKey.String("audit"), otelevstore.PartitionKey.Int(0)) {
				t.Errorf("evstore.consumer.position = %+v, want %d for audit/0", pos, seq)
			}
			lag, ok := r.collect(t, "evstore.consumer.lag").(metricdata.Gauge[int64])
			if !ok || len(lag.DataPoints) != 1 || lag.DataPoints[0].Value < 0 || lag.DataPoints[0].Value > 1 {
				// The Handler's own write to "audit" may be ahead of it.
				t.Errorf("evstore.consumer.lag = %+v, want 0 or 1", lag)
			}
			if got := r.sum(t, "evstore.consumer.events"); got != 3 {
				t.Errorf("evstore.consumer.events = %d, want 3", got)
			}
		})
	}
}

func TestWatchers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := newRecorder()
	store := backends[0].open(t, r.tracer)
	defer store.Close()
	s, _ := store.Stream(ctx, "acct-1")
	active := func() int64 { return r.sum(t, "evstore.watchers.active") }

	wctx, stop := context.WithCancel(ctx)
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, err := range s.Watch(wctx, evstore.After(0)) {
			if err != nil {
				return
			}
			close(started)
		}
	}()
	if _, err := s.Write(ctx, events("a")); err != nil {
		t.Fatal(err)
	}
	<-started
	if got := active(); got != 1 {
		t.Errorf("evstore.watchers.active = %d while one watches, want 1", got)
	}
	stop()
	<-done
	if got := active(); got != 0 {
		t.Errorf("evstore.watchers.active = %d after the watch ended, want 0", got)
	}
	for _, s := range r.spans.Ended() {
		if s.Name() == "watch" {
			t.Error("a watcher's life made a span")
		}
	}
}

// TestGlobalProviders checks that NewTracer without options uses the
// global providers, which record nothing by default: a Store traced that
// way works as one without a Tracer.
func TestGlobalProviders(t *testing.T) {
	ctx := context.Background()
	store := backends[0].open(t, otelevstore.NewTracer())
	defer store.Close()
	s, _ := store.Stream(ctx, "acct-1")
	if v, err := s.Write(ctx, events("a")); err != nil || v != 1 {
		t.Fatalf("Write = %d, %v", v, err)
	}
}
