package storetest

import (
	"testing"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) streamsTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){"List": k.testStreams}
}

func (k *kit) testStreams(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "b"), events("E", 3))
	write(t, stream(t, s, "a"), events("E", 1))
	write(t, stream(t, s, "b"), events("E", 2))
	var got []evstore.Metrics
	for m, err := range s.Streams(ctx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("got %d streams, want 2: %+v", len(got), got)
	}
	for i, want := range []struct {
		id      string
		version int64
	}{{"a", 1}, {"b", 5}} {
		m := got[i]
		if m.StreamID != want.id || m.Version != want.version || m.EventCount != want.version {
			t.Errorf("stream %d: got %+v, want %s at version %d with %d events", i, m, want.id, want.version, want.version)
		}
		if metrics(t, stream(t, s, want.id)).LastTimestamp != m.LastTimestamp {
			t.Errorf("%s: LastTimestamp %v differs from Metrics'", want.id, m.LastTimestamp)
		}
	}
}
