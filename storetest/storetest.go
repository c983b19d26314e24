// Package storetest is the conformance kit for evstore backends: the
// behaviour every Backend must have, as tests that any backend package runs
// against its own store.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t testing.TB) *evstore.Store {
//			store, err := mybackend.Open(context.Background(), ...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return store
//		})
//	}
//
// Backend packages add tests only for what is specific to them (file
// formats, several processes, connection loss).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"go.uber.org/goleak"
)

// An OpenFunc opens a new, empty store, with a database of its own, for a
// test or a benchmark. The kit closes every store it opens.
type OpenFunc func(tb testing.TB) *evstore.Store

// Run runs the conformance tests against the stores open returns.
func Run(t *testing.T, open OpenFunc) {
	k := &kit{open: open}
	groups := []struct {
		name  string
		tests map[string]func(*testing.T)
		// probe, when set, tells whether the backend has the optional
		// capability the group tests: a backend that declares it missing
		// (the Store answers ErrUnsupported) has the group skipped.
		probe func(t *testing.T, s *evstore.Store) error
	}{
		{"Write", k.writeTests(), nil},
		{"Keys", k.keysTests(), nil},
		{"Read", k.readTests(), nil},
		{"Filter", k.filterTests(), nil},
		{"Snapshot", k.snapshotTests(), nil},
		{"Metrics", k.metricsTests(), nil},
		{"Streams", k.streamsTests(), probeStreams},
		{"Watch", k.watchTests(), nil},
		{"Consume", k.consumeTests(), probeConsumers},
		{"Delete", k.deleteTests(), probeDelete},
		{"DCB", k.dcbTests(), probeDCB},
		{"Concurrency", k.concurrencyTests(), nil},
		{"Errors", k.errorTests(), nil},
		{"Close", k.closeTests(), nil},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			if g.probe != nil {
				if err := g.probe(t, k.store(t)); errors.Is(err, evstore.ErrUnsupported) {
					t.Skipf("the backend declares this capability missing: %v", err)
				}
			}
			names := make([]string, 0, len(g.tests))
			for name := range g.tests {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				t.Run(name, g.tests[name])
			}
		})
	}
}

// probeStreams returns ErrUnsupported if the backend is no StreamLister.
func probeStreams(t *testing.T, s *evstore.Store) error {
	for _, err := range s.Streams(ctx(t)) {
		return err
	}
	return nil
}

type kit struct{ open OpenFunc }

// store opens a store that is closed, and checked for leaked goroutines,
// when the test ends.
func (k *kit) store(t *testing.T) *evstore.Store {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	s := k.open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("goroutines left after Close: %v", err)
		}
	})
	return s
}

// ctx returns a context that ends with the test, or after a minute.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func stream(t *testing.T, s *evstore.Store, id string) *evstore.Stream {
	t.Helper()
	st, err := s.Stream(ctx(t), id)
	if err != nil {
		t.Fatalf("Stream(%q): %v", id, err)
	}
	return st
}

func write(t *testing.T, st *evstore.Stream, events []evstore.CandidateEvent, opts ...evstore.WriteOption) int64 {
	t.Helper()
	v, err := st.Write(ctx(t), events, opts...)
	if err != nil {
		t.Fatalf("Write to %s: %v", st.ID(), err)
	}
	return v
}

// events returns n events of type typ with no keys.
func events(typ string, n int) []evstore.CandidateEvent {
	out := make([]evstore.CandidateEvent, n)
	for i := range out {
		out[i] = evstore.CandidateEvent{Type: typ, Data: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	return out
}

// keyed returns events with the given keys.
func keyed(keys ...string) []evstore.CandidateEvent {
	out := make([]evstore.CandidateEvent, len(keys))
	for i, k := range keys {
		out[i] = evstore.CandidateEvent{ID: k, Type: "Keyed", Data: []byte(k)}
	}
	return out
}

// readAll collects a Read, failing the test on error.
func readAll(t *testing.T, st *evstore.Stream, opts ...evstore.ReadOption) []evstore.StoredEvent {
	t.Helper()
	got, err := collect(st.Read(ctx(t), opts...))
	if err != nil {
		t.Fatalf("Read %s: %v", st.ID(), err)
	}
	return got
}

// collect gathers an iterator, checking that an error comes last.
func collect(seq func(func(evstore.StoredEvent, error) bool)) ([]evstore.StoredEvent, error) {
	var out []evstore.StoredEvent
	var err error
	seq(func(e evstore.StoredEvent, e2 error) bool {
		if err != nil {
			err = fmt.Errorf("iterator went on after error %v", err)
			return false
		}
		if e2 != nil {
			err = e2
			return true
		}
		out = append(out, e)
		return true
	})
	return out, err
}

// versions returns the events' versions.
func versions(es []evstore.StoredEvent) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Version
	}
	return out
}

// sequences returns the events' sequences.
func sequences(es []evstore.StoredEvent) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Sequence
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}
