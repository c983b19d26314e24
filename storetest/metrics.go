package storetest

import (
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) metricsTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"Counts": k.testMetrics,
		"Empty":  k.testMetricsEmpty,
	}
}

func metrics(t *testing.T, st *evstore.Stream) evstore.Metrics {
	t.Helper()
	m, err := st.Metrics(ctx(t))
	if err != nil {
		t.Fatalf("Metrics(%s): %v", st.ID(), err)
	}
	return m
}

func (k *kit) testMetrics(t *testing.T) {
	s := k.store(t)
	a, b := stream(t, s, "a"), stream(t, s, "b")
	write(t, a, events("E", 3))
	write(t, b, events("E", 2))
	write(t, a, keyed("k", "k")) // one event: a repeat within the batch
	stale := stream(t, s, "a")
	write(t, b, events("E", 1))
	all := stream(t, s, evstore.All)
	every := readAll(t, all)
	newest := every[len(every)-1]

	m := metrics(t, a)
	if m.StreamID != "a" || m.Version != 4 || m.EventCount != 4 {
		t.Errorf("a: got %+v, want version 4, 4 events", m)
	}
	m = metrics(t, stale)
	if m.Version != 4 || stale.Version() != 4 {
		t.Errorf("stale handle: got metrics version %d, handle %d, want 4", m.Version, stale.Version())
	}
	m = metrics(t, all)
	if m.StreamID != evstore.All || m.Version != newest.Sequence || m.EventCount != 7 {
		t.Errorf("@all: got %+v, want version %d, 7 events", m, newest.Sequence)
	}
	if !m.LastTimestamp.Equal(newest.Timestamp) {
		t.Errorf("@all LastTimestamp: got %v, want %v", m.LastTimestamp, newest.Timestamp)
	}
	if mb := metrics(t, b); !mb.LastTimestamp.Equal(newest.Timestamp) || mb.EventCount != 3 {
		t.Errorf("b: got %+v, want 3 events, last at %v", mb, newest.Timestamp)
	}
	if d := time.Since(m.LastTimestamp); d < -time.Second || d > time.Minute {
		t.Errorf("LastTimestamp %v is not recent", m.LastTimestamp)
	}
}

func (k *kit) testMetricsEmpty(t *testing.T) {
	s := k.store(t)
	for _, id := range []string{"none", evstore.All} {
		m := metrics(t, stream(t, s, id))
		if m.StreamID != id || m.Version != 0 || m.EventCount != 0 || !m.LastTimestamp.IsZero() {
			t.Errorf("%s: got %+v, want zero metrics", id, m)
		}
	}
}
