package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) writeTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"RoundTrip":             k.testRoundTrip,
		"VersionsAndSequences":  k.testVersionsAndSequences,
		"EmptyWrite":            k.testEmptyWrite,
		"AtomicBatch":           k.testAtomicBatch,
		"IdempotentWithinBatch": k.testIdempotentWithinBatch,
		"IdempotentAcross":      k.testIdempotentAcrossBatches,
		"IdempotentPerStream":   k.testIdempotentPerStream,
		"RetryIgnoresExpected":  k.testRetryIgnoresExpected,
		"PartialRetry":          k.testPartialRetry,
		"ExpectVersion":         k.testExpectVersion,
		"ExpectExists":          k.testExpectExists,
		"StaleHandle":           k.testStaleHandle,
		"AllIsReadOnly":         k.testAllIsReadOnly,
		"CancelledWrite":        k.testCancelledWrite,
	}
}

// testCancelledWrite cancels writes at every stage: each lands whole or not
// at all, and the store keeps working for everyone else.
func (k *kit) testCancelledWrite(t *testing.T) {
	s := k.store(t)
	st, other := stream(t, s, "s"), stream(t, s, "other")
	var want int64
	for i := range 60 {
		c, cancel := context.WithTimeout(context.Background(), time.Duration(i%30)*100*time.Microsecond)
		v, err := st.Write(c, events("Big", 500))
		cancel()
		switch {
		case err == nil:
			want += 500
			if v != want {
				t.Fatalf("write %d: got version %d, want %d", i, v, want)
			}
		case !errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("write %d: got %v, want nil or context.DeadlineExceeded", i, err)
		}
		if _, err := other.Write(ctx(t), events("Next", 1)); err != nil {
			t.Fatalf("write after cancelled write %d: %v", i, err)
		}
		if m := metrics(t, stream(t, s, "s")); m.Version != want || m.EventCount != want {
			t.Fatalf("after write %d: got %+v, want %d events: a cancelled write left events behind", i, m, want)
		}
	}
}

func (k *kit) testRoundTrip(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "order-1")
	before := time.Now().UTC().Add(-time.Second)
	in := []evstore.CandidateEvent{
		{ID: "k-1", Type: "OrderCreated", Data: []byte(`{"total": 10}`)},
		{Type: "ItemAdded", Data: []byte{0, 1, 2, 255}, Metadata: map[string]any{
			"customer": "Zoë", "tags": map[string]any{"prio": 1.0, "vip": true}, "ids": []any{1.0, 2.5},
			"none": nil, "big": 1e20, "neg": -3.0, "quote": `a"b'c\d`,
		}},
		{Type: "Empty"},
		{Type: "EmptyMeta", Data: []byte{}, Metadata: map[string]any{}},
	}
	write(t, st, in)
	// Metadata given as raw JSON or json.Number is stored in normal form:
	// it reads back as plain maps and numbers.
	write(t, st, []evstore.CandidateEvent{{Type: "Raw", Metadata: map[string]any{
		"raw": json.RawMessage(`{"k": "a", "k": "b", "n": 1}`), "num": json.Number("12.5"), "deep": nested(90),
	}}})
	got := readAll(t, st)
	if raw := got[len(got)-1].Metadata; !reflect.DeepEqual(raw["raw"], map[string]any{"k": "b", "n": 1.0}) || raw["num"] != 12.5 {
		t.Errorf("normalised metadata: got %#v", raw)
	}
	got = got[:len(got)-1]
	if len(got) != len(in) {
		t.Fatalf("read %d events, want %d", len(got), len(in))
	}
	after := time.Now().UTC().Add(time.Second)
	for i, e := range got {
		want := in[i]
		if e.StreamID != "order-1" || e.Type != want.Type || e.Version != int64(i+1) {
			t.Errorf("event %d: got stream %q type %q version %d, want order-1 %q %d", i, e.StreamID, e.Type, e.Version, want.Type, i+1)
		}
		if e.ID != want.ID {
			t.Errorf("event %d: got ID %q, want %q (\"\" for no key)", i, e.ID, want.ID)
		}
		if !bytes.Equal(e.Data, want.Data) || (len(want.Data) == 0 && e.Data != nil) {
			t.Errorf("event %d: got data %q, want %q (nil when empty)", i, e.Data, want.Data)
		}
		wantMeta := want.Metadata
		if len(wantMeta) == 0 {
			wantMeta = nil
		}
		if !reflect.DeepEqual(e.Metadata, wantMeta) {
			t.Errorf("event %d: got metadata %#v, want %#v", i, e.Metadata, wantMeta)
		}
		if e.Timestamp.Location() != time.UTC || e.Timestamp.Before(before) || e.Timestamp.After(after) {
			t.Errorf("event %d: got timestamp %v, want UTC between %v and %v", i, e.Timestamp, before, after)
		}
		if e.Timestamp.Nanosecond()%1000 != 0 {
			t.Errorf("event %d: timestamp %v has sub-microsecond digits", i, e.Timestamp)
		}
	}
}

func (k *kit) testVersionsAndSequences(t *testing.T) {
	s := k.store(t)
	a, b := stream(t, s, "a"), stream(t, s, "b")
	if v := write(t, a, events("A", 3)); v != 3 {
		t.Errorf("first write: got version %d, want 3", v)
	}
	if v := write(t, b, events("B", 2)); v != 2 {
		t.Errorf("write to b: got version %d, want 2", v)
	}
	if v := write(t, a, events("A", 2)); v != 5 {
		t.Errorf("second write: got version %d, want 5", v)
	}
	if got := a.Version(); got != 5 {
		t.Errorf("handle Version: got %d, want 5", got)
	}
	if got := versions(readAll(t, a)); !reflect.DeepEqual(got, span(1, 5)) {
		t.Errorf("versions of a: got %v, want 1..5", got)
	}
	all := readAll(t, stream(t, s, evstore.All))
	if len(all) != 7 {
		t.Fatalf("@all has %d events, want 7", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Sequence <= all[i-1].Sequence {
			t.Errorf("@all sequences not increasing: %v", sequences(all))
			break
		}
	}
	if all[0].Sequence < 1 {
		t.Errorf("first sequence: got %d, want >= 1", all[0].Sequence)
	}
	wantStreams := []string{"a", "a", "a", "b", "b", "a", "a"}
	for i, e := range all {
		if e.StreamID != wantStreams[i] {
			t.Errorf("@all[%d]: got stream %q, want %q (commit order)", i, e.StreamID, wantStreams[i])
		}
	}
	if got, want := stream(t, s, evstore.All).Version(), all[len(all)-1].Sequence; got != want {
		t.Errorf("@all handle Version: got %d, want newest sequence %d", got, want)
	}
}

func (k *kit) testEmptyWrite(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	if v := write(t, st, nil); v != 0 {
		t.Errorf("empty write to new stream: got %d, want 0", v)
	}
	write(t, st, events("E", 2))
	other := stream(t, s, "s")
	write(t, other, events("E", 1))
	if v := write(t, st, []evstore.CandidateEvent{}); v != 3 {
		t.Errorf("empty write: got %d, want current version 3", v)
	}
	if n := len(readAll(t, st)); n != 3 {
		t.Errorf("empty write wrote something: %d events, want 3", n)
	}
}

func (k *kit) testAtomicBatch(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 1))
	cases := []struct {
		name   string
		events []evstore.CandidateEvent
		opts   []evstore.WriteOption
		target error
	}{
		{"empty type in the middle", []evstore.CandidateEvent{{Type: "A"}, {Type: ""}, {Type: "C"}}, nil, evstore.ErrInvalidEvent},
		{"bad metadata last", []evstore.CandidateEvent{{Type: "A"}, {Type: "B", Metadata: map[string]any{"f": func() {}}}}, nil, evstore.ErrInvalidEvent},
		{"conflict", events("E", 5), []evstore.WriteOption{evstore.ExpectVersion(0)}, evstore.ErrConflict},
	}
	for _, c := range cases {
		_, err := st.Write(ctx(t), c.events, c.opts...)
		wantErr(t, c.name, err, c.target)
	}
	if got := versions(readAll(t, st)); !reflect.DeepEqual(got, []int64{1}) {
		t.Errorf("after failed writes: got versions %v, want [1]", got)
	}
	// A large batch lands whole.
	if v := write(t, st, events("Big", 2500)); v != 2501 {
		t.Errorf("large batch: got version %d, want 2501", v)
	}
}

func (k *kit) testIdempotentWithinBatch(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	in := []evstore.CandidateEvent{
		{ID: "a", Type: "First"}, {ID: "b", Type: "B"}, {ID: "a", Type: "Repeat"}, {Type: "NoKey"}, {Type: "NoKey"},
	}
	if v := write(t, st, in); v != 4 {
		t.Errorf("got version %d, want 4 (one repeat dropped, keyless events kept)", v)
	}
	got := readAll(t, st)
	wantTypes := []string{"First", "B", "NoKey", "NoKey"}
	for i, e := range got {
		if i < len(wantTypes) && e.Type != wantTypes[i] {
			t.Errorf("event %d: got type %q, want %q (first of a repeated key wins)", i, e.Type, wantTypes[i])
		}
	}
	if len(got) != len(wantTypes) {
		t.Errorf("got %d events, want %d", len(got), len(wantTypes))
	}
}

func (k *kit) testIdempotentAcrossBatches(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, keyed("a", "b"))
	if v := write(t, st, keyed("b", "c")); v != 3 {
		t.Errorf("got version %d, want 3 (b skipped)", v)
	}
	if v := write(t, st, keyed("a", "b", "c")); v != 3 {
		t.Errorf("full repeat: got version %d, want 3", v)
	}
	got := readAll(t, st)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if !reflect.DeepEqual(ids, []string{"a", "b", "c"}) {
		t.Errorf("got ids %v, want [a b c]", ids)
	}
}

func (k *kit) testIdempotentPerStream(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "one"), keyed("k"))
	if v := write(t, stream(t, s, "two"), keyed("k")); v != 1 {
		t.Errorf("same key in another stream: got version %d, want 1", v)
	}
	if n := len(readAll(t, stream(t, s, evstore.All))); n != 2 {
		t.Errorf("@all has %d events, want 2", n)
	}
}

func (k *kit) testRetryIgnoresExpected(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	batch := keyed("x", "y")
	if v := write(t, st, batch, evstore.ExpectVersion(0)); v != 2 {
		t.Fatalf("first write: got %d, want 2", v)
	}
	write(t, st, events("Later", 1))
	for _, opt := range []evstore.WriteOption{evstore.ExpectVersion(0), evstore.ExpectVersion(7), evstore.ExpectExists()} {
		v, err := st.Write(ctx(t), batch, opt)
		if err != nil || v != 3 {
			t.Errorf("retry: got %d, %v; want 3, nil", v, err)
		}
	}
	if n := len(readAll(t, st)); n != 3 {
		t.Errorf("retries wrote events: %d, want 3", n)
	}
}

func (k *kit) testPartialRetry(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, keyed("a"))
	_, err := st.Write(ctx(t), keyed("a", "b"), evstore.ExpectVersion(0))
	var ce *evstore.ConflictError
	if !errors.As(err, &ce) || ce.Expected != 0 || ce.Actual != 1 {
		t.Errorf("partial repeat with wrong expectation: got %v, want conflict expected 0 actual 1", err)
	}
	if v := write(t, st, keyed("a", "b"), evstore.ExpectVersion(1)); v != 2 {
		t.Errorf("partial repeat with right expectation: got version %d, want 2", v)
	}
}

func (k *kit) testExpectVersion(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	if v := write(t, st, events("E", 2), evstore.ExpectVersion(0)); v != 2 {
		t.Errorf("ExpectVersion(0) on new stream: got %d, want 2", v)
	}
	if v := write(t, st, events("E", 1), evstore.ExpectVersion(2)); v != 3 {
		t.Errorf("ExpectVersion(2): got %d, want 3", v)
	}
	for _, expected := range []int64{0, 2, 4} {
		_, err := st.Write(ctx(t), events("E", 1), evstore.ExpectVersion(expected))
		var ce *evstore.ConflictError
		if !errors.As(err, &ce) {
			t.Errorf("ExpectVersion(%d) at 3: got %v, want *ConflictError", expected, err)
			continue
		}
		if ce.StreamID != "s" || ce.Expected != expected || ce.Actual != 3 {
			t.Errorf("conflict: got %+v, want stream s expected %d actual 3", *ce, expected)
		}
		wantErr(t, "conflict", err, evstore.ErrConflict)
	}
}

func (k *kit) testExpectExists(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	_, err := st.Write(ctx(t), events("E", 1), evstore.ExpectExists())
	var ce *evstore.ConflictError
	if !errors.As(err, &ce) || ce.Expected != evstore.AnyExisting || ce.Actual != 0 {
		t.Errorf("ExpectExists on empty stream: got %v, want conflict with Expected AnyExisting", err)
	}
	write(t, st, events("E", 1))
	if v := write(t, st, events("E", 1), evstore.ExpectExists()); v != 2 {
		t.Errorf("ExpectExists: got %d, want 2", v)
	}
}

// testStaleHandle: the expected version is checked in the database, not
// against what a handle last saw.
func (k *kit) testStaleHandle(t *testing.T) {
	s := k.store(t)
	stale := stream(t, s, "s")
	write(t, stream(t, s, "s"), events("E", 2))
	if stale.Version() != 0 {
		t.Fatalf("stale handle: got Version %d, want 0", stale.Version())
	}
	if v := write(t, stale, events("E", 1), evstore.ExpectVersion(2)); v != 3 {
		t.Errorf("stale handle with the right expectation: got %d, want 3", v)
	}
	if stale.Version() != 3 {
		t.Errorf("after write: got Version %d, want 3", stale.Version())
	}
}

func (k *kit) testAllIsReadOnly(t *testing.T) {
	s := k.store(t)
	all := stream(t, s, evstore.All)
	_, err := all.Write(ctx(t), events("E", 1))
	wantErr(t, "write to @all", err, evstore.ErrReadOnly)
	_, err = all.Write(ctx(t), nil)
	wantErr(t, "empty write to @all", err, evstore.ErrReadOnly)
	if n := len(readAll(t, all)); n != 0 {
		t.Errorf("@all has %d events after refused writes, want 0", n)
	}
}
