package otelevstore_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/otelevstore"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// The tracers the benchmarks compare. "none" runs twice, as none and
// none-again: the difference between the two is the noise floor (an A/A
// comparison), against which the others are read. "global" is a Tracer
// on OpenTelemetry's global providers, which record nothing by default;
// "sdk" records every span (sampled, into a processor that drops them)
// and every metric (collected by a reader nobody reads).
var tracers = []struct {
	name string
	new  func() evstore.Tracer
}{
	{"none", func() evstore.Tracer { return nil }},
	{"global", func() evstore.Tracer { return otelevstore.NewTracer() }},
	{"sdk", func() evstore.Tracer {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(dropSpans{}))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		return otelevstore.NewTracer(otelevstore.WithTracerProvider(tp), otelevstore.WithMeterProvider(mp))
	}},
	{"none-again", func() evstore.Tracer { return nil }},
}

// dropSpans is a span processor that keeps nothing: the SDK does all of
// its work up to the export.
type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }

func openBench(b *testing.B, backend string, t evstore.Tracer) *evstore.Store {
	ctx := context.Background()
	var (
		s   *evstore.Store
		err error
	)
	if backend == "memory" {
		var opts []memory.Option
		if t != nil {
			opts = append(opts, memory.WithTracer(t))
		}
		s, err = memory.Open(ctx, opts...)
	} else {
		var opts []sqlite.Option
		if t != nil {
			opts = append(opts, sqlite.WithTracer(t))
		}
		s, err = sqlite.Open(ctx, filepath.Join(b.TempDir(), "events.db"), opts...)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkWrite writes one event at a time, each with a key, to one
// stream. On memory, the store's own work is smallest and the tracer's
// share largest.
func BenchmarkWrite(b *testing.B) {
	for _, backend := range []string{"memory", "sqlite"} {
		for _, tr := range tracers {
			b.Run("backend="+backend+"/tracer="+tr.name, func(b *testing.B) {
				ctx := context.Background()
				s, err := openBench(b, backend, tr.new()).Stream(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				ev := []evstore.CandidateEvent{{Type: "Deposited", Data: []byte(`{"amount":1}`)}}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					ev[0].ID = strconv.Itoa(i)
					if _, err := s.Write(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRead reads a stream of 1,000 events, a page of 1,000 (one
// traced Backend.Read), per iteration.
func BenchmarkRead(b *testing.B) {
	for _, backend := range []string{"memory", "sqlite"} {
		for _, tr := range tracers {
			b.Run("backend="+backend+"/tracer="+tr.name, func(b *testing.B) {
				ctx := context.Background()
				s, err := openBench(b, backend, tr.new()).Stream(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				evs := make([]evstore.CandidateEvent, 1000)
				for i := range evs {
					evs[i] = evstore.CandidateEvent{Type: "Deposited", Data: []byte(`{"amount":1}`)}
				}
				if _, err := s.Write(ctx, evs); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					n := 0
					for _, err := range s.Read(ctx) {
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if n != len(evs) {
						b.Fatalf("read %d events", n)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
			})
		}
	}
}
