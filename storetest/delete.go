package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// deleteTests are the behaviour of Stream.Delete, Stream.Truncate and
// Store.Erase every backend with evstore.Deleter must have.
func (k *kit) deleteTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"Tombstone":         k.testDeleteTombstone,
		"Expectations":      k.testDeleteExpectations,
		"Truncate":          k.testTruncate,
		"TruncateTombstone": k.testTruncateTombstone,
		"All":               k.testDeleteAll,
		"NewSequence":       k.testDeleteNewSequence,
		"Watch":             k.testDeleteWatch,
		"SnapshotBelow":     k.testDeleteSnapshotBelow,
		"ReservedType":      k.testReservedType,
		"ConsumerTombstone": k.testDeleteConsumer,
		"Erase":             k.testErase,
	}
}

// probeDelete returns ErrUnsupported if the backend is no Deleter.
func probeDelete(t *testing.T, s *evstore.Store) error {
	return stream(t, s, "probe").Truncate(ctx(t), 1)
}

// keyedWithMetadata returns events keyed k1..kn, with metadata and data.
func keyedWithMetadata(n int) []evstore.CandidateEvent {
	out := make([]evstore.CandidateEvent, n)
	for i := range out {
		key := "k" + string(rune('1'+i))
		out[i] = evstore.CandidateEvent{ID: key, Type: "E", Data: []byte(`{"secret":"` + key + `"}`), Metadata: map[string]any{"user": key}}
	}
	return out
}

// checkTombstone checks that e is a tombstone at version.
func checkTombstone(t *testing.T, e evstore.StoredEvent, version int64) {
	t.Helper()
	if e.Type != evstore.Deleted || e.Version != version || e.ID != "" || e.Metadata != nil || len(e.Data) != 0 {
		t.Errorf("tombstone: got %+v, want Type %q at version %d, no key, no metadata, empty data", e, evstore.Deleted, version)
	}
}

func (k *kit) testDeleteTombstone(t *testing.T) {
	s := k.store(t)
	other := stream(t, s, "other")
	write(t, other, events("O", 1))
	st := stream(t, s, "s")
	write(t, st, keyedWithMetadata(3))
	if err := st.Snapshot(ctx(t), []byte("state"), evstore.AtVersion(3)); err != nil {
		t.Fatal(err)
	}
	before := readAll(t, st)
	v, err := st.Delete(ctx(t))
	if err != nil || v != 4 {
		t.Fatalf("Delete: got %d, %v; want 4, nil", v, err)
	}
	got := readAll(t, st)
	if len(got) != 1 {
		t.Fatalf("after Delete the stream has %d events, want only its tombstone", len(got))
	}
	checkTombstone(t, got[0], 4)
	if got[0].Sequence <= before[len(before)-1].Sequence {
		t.Errorf("tombstone Sequence %d, want above the removed events' (up to %d)", got[0].Sequence, before[len(before)-1].Sequence)
	}
	if snap, err := st.LoadSnapshot(ctx(t), evstore.DefaultProjection); err != nil || snap != nil {
		t.Errorf("LoadSnapshot after Delete: got %v, %v; want nil, nil", snap, err)
	}
	if _, found, err := st.Lookup(ctx(t), "k1"); err != nil || found {
		t.Errorf("Lookup(k1) after Delete: found %v, %v; want the key forgotten", found, err)
	}
	m, err := st.Metrics(ctx(t))
	if err != nil || m.Version != 4 || m.EventCount != 1 {
		t.Errorf("Metrics after Delete: got %+v, %v; want version 4, 1 event", m, err)
	}
	// Numbering goes on after the tombstone; a forgotten key appends again.
	if v := write(t, st, keyedWithMetadata(1)); v != 5 {
		t.Errorf("Write after Delete: version %d, want 5", v)
	}
	if vs := versions(readAll(t, st)); !slices.Equal(vs, []int64{4, 5}) {
		t.Errorf("versions after Delete and Write: %v, want [4 5]", vs)
	}
	if n := len(readAll(t, other)); n != 1 {
		t.Errorf("another stream has %d events after Delete, want 1", n)
	}
}

func (k *kit) testDeleteExpectations(t *testing.T) {
	s := k.store(t)
	empty := stream(t, s, "empty")
	if v, err := empty.Delete(ctx(t)); err != nil || v != 0 {
		t.Errorf("Delete of a stream with no events: got %d, %v; want 0, nil", v, err)
	}
	_, err := empty.Delete(ctx(t), evstore.ExpectExists())
	wantErr(t, "Delete of a stream with no events, ExpectExists", err, evstore.ErrConflict)
	if n := len(readAll(t, empty)); n != 0 {
		t.Errorf("Delete of a stream with no events left %d events", n)
	}

	st := stream(t, s, "s")
	write(t, st, events("E", 3))
	_, err = st.Delete(ctx(t), evstore.ExpectVersion(2))
	var ce *evstore.ConflictError
	if !errors.As(err, &ce) || ce.Expected != 2 || ce.Actual != 3 {
		t.Errorf("Delete with ExpectVersion(2) of a stream at 3: got %v, want a *ConflictError 2/3", err)
	}
	if n := len(readAll(t, st)); n != 3 {
		t.Errorf("a refused Delete left %d events, want 3", n)
	}
	if v, err := st.Delete(ctx(t), evstore.ExpectVersion(3)); err != nil || v != 4 {
		t.Fatalf("Delete with ExpectVersion(3): got %d, %v; want 4, nil", v, err)
	}
	// A retry is a no-op, whatever its expectation.
	for _, opts := range [][]evstore.WriteOption{nil, {evstore.ExpectVersion(3)}, {evstore.ExpectExists()}} {
		if v, err := st.Delete(ctx(t), opts...); err != nil || v != 4 {
			t.Errorf("Delete again: got %d, %v; want 4, nil", v, err)
		}
	}
	if got := readAll(t, st); len(got) != 1 {
		t.Errorf("after repeated Deletes the stream has %d events, want its one tombstone", len(got))
	}
	// A stream written again after its tombstone is deleted again.
	write(t, st, events("E", 1))
	if v, err := st.Delete(ctx(t)); err != nil || v != 6 {
		t.Errorf("Delete after a Write after a Delete: got %d, %v; want 6, nil", v, err)
	}
}

func (k *kit) testTruncate(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, keyedWithMetadata(5))
	if err := st.Snapshot(ctx(t), []byte("at 3"), evstore.AtVersion(3)); err != nil {
		t.Fatal(err)
	}
	for _, before := range []int64{-1, 0, 6} {
		wantErr(t, "Truncate out of range", st.Truncate(ctx(t), before), evstore.ErrInvalidArgument)
	}
	if n := len(readAll(t, st)); n != 5 {
		t.Fatalf("refused Truncates left %d events, want 5", n)
	}
	if err := st.Truncate(ctx(t), 3); err != nil {
		t.Fatal(err)
	}
	if vs := versions(readAll(t, st)); !slices.Equal(vs, []int64{3, 4, 5}) {
		t.Errorf("after Truncate(3): versions %v, want [3 4 5]", vs)
	}
	if vs := versions(readAll(t, st, evstore.Backwards(), evstore.Limit(10))); !slices.Equal(vs, []int64{5, 4, 3}) {
		t.Errorf("after Truncate(3), backwards: versions %v, want [5 4 3]", vs)
	}
	if snap, err := st.LoadSnapshot(ctx(t), evstore.DefaultProjection); err != nil || snap == nil || snap.Version != 3 {
		t.Errorf("Truncate must keep the snapshot: got %v, %v", snap, err)
	}
	if _, found, _ := st.Lookup(ctx(t), "k1"); found {
		t.Error("Lookup(k1) after Truncate(3): found, want the key forgotten")
	}
	if v, found, _ := st.Lookup(ctx(t), "k3"); !found || v != 3 {
		t.Errorf("Lookup(k3) after Truncate(3): %d, %v; want 3, found", v, found)
	}
	m, err := st.Metrics(ctx(t))
	if err != nil || m.Version != 5 || m.EventCount != 3 {
		t.Errorf("Metrics after Truncate(3): got %+v, %v; want version 5, 3 events", m, err)
	}
	// The newest event always stays.
	if err := st.Truncate(ctx(t), 5); err != nil {
		t.Fatal(err)
	}
	if vs := versions(readAll(t, st)); !slices.Equal(vs, []int64{5}) {
		t.Errorf("after Truncate(5): versions %v, want [5]", vs)
	}
	if v := write(t, st, events("E", 1)); v != 6 {
		t.Errorf("Write after Truncate: version %d, want 6", v)
	}
}

// Truncating past a tombstone removes the tombstone event, not what it
// stands for: a snapshot below it is still refused, one between it and
// the cut is saved, the versions read show the cut (aggregate's
// ErrTruncated rule sees it), and Metrics and Streams count what is left.
func (k *kit) testTruncateTombstone(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, keyedWithMetadata(3))
	if v, err := st.Delete(ctx(t)); err != nil || v != 4 {
		t.Fatalf("Delete: got %d, %v; want 4, nil", v, err)
	}
	write(t, st, events("E", 3)) // 5 to 7
	if err := st.Snapshot(ctx(t), []byte("at 5"), evstore.AtVersion(5)); err != nil {
		t.Fatal(err)
	}
	if err := st.Truncate(ctx(t), 6); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, st)
	if vs := versions(got); !slices.Equal(vs, []int64{6, 7}) {
		t.Fatalf("after Truncate(6) past the tombstone at 4: versions %v, want [6 7]", vs)
	}
	// What aggregate.Load folds: from no snapshot, the first event is not
	// version 1 (ErrTruncated); from the snapshot at 5, 6 follows it.
	if snap, err := st.LoadSnapshot(ctx(t), evstore.DefaultProjection); err != nil || snap == nil || snap.Version != 5 {
		t.Errorf("Truncate must keep the snapshot at 5: got %v, %v", snap, err)
	}
	if vs := versions(readAll(t, st, evstore.After(5))); !slices.Equal(vs, []int64{6, 7}) {
		t.Errorf("events after the snapshot at 5: versions %v, want [6 7]", vs)
	}
	m, err := st.Metrics(ctx(t))
	if err != nil || m.Version != 7 || m.EventCount != 2 {
		t.Errorf("Metrics after Truncate(6): got %+v, %v; want version 7, 2 events", m, err)
	}
	for info, err := range s.Streams(ctx(t)) {
		if errors.Is(err, evstore.ErrUnsupported) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.StreamID == "s" && (info.EventCount != 2 || info.Version != 7) {
			t.Errorf("Streams lists s as %+v, want version 7, 2 events", info)
		}
	}
	// The tombstone's event is gone; what it stands for is not.
	for _, v := range []int64{1, 3} {
		wantErr(t, "a snapshot below a truncated tombstone", st.Snapshot(ctx(t), []byte("old"), evstore.AtVersion(v)), evstore.ErrInvalidArgument)
	}
	wantErr(t, "a snapshot ahead of the stream", st.Snapshot(ctx(t), []byte("ahead"), evstore.AtVersion(8)), evstore.ErrInvalidArgument)
	if snap, err := st.LoadSnapshot(ctx(t), evstore.DefaultProjection); err != nil || snap == nil || snap.Version != 5 || string(snap.State) != "at 5" {
		t.Errorf("refused snapshots replaced the one at 5: got %v, %v", snap, err)
	}
	for _, v := range []int64{4, 5, 7} {
		if err := st.Snapshot(ctx(t), []byte("fresh"), evstore.AtVersion(v)); err != nil {
			t.Errorf("a snapshot at %d, at or above the truncated tombstone at 4: %v", v, err)
		}
	}
	// Deleted again, and truncated at its new tombstone: the newer one is
	// the bound.
	if v, err := st.Delete(ctx(t)); err != nil || v != 8 {
		t.Fatalf("Delete again: got %d, %v; want 8, nil", v, err)
	}
	write(t, st, events("E", 1)) // 9
	if err := st.Truncate(ctx(t), 9); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a snapshot below the newer truncated tombstone", st.Snapshot(ctx(t), []byte("old"), evstore.AtVersion(7)), evstore.ErrInvalidArgument)
	if err := st.Snapshot(ctx(t), []byte("fresh"), evstore.AtVersion(8)); err != nil {
		t.Errorf("a snapshot at the newer truncated tombstone: %v", err)
	}
}

func (k *kit) testDeleteAll(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), events("E", 2))
	write(t, stream(t, s, "b"), events("E", 2))
	all := stream(t, s, evstore.All)
	_, err := all.Delete(ctx(t))
	wantErr(t, "Delete of All", err, evstore.ErrReadOnly)
	wantErr(t, "Truncate of All", all.Truncate(ctx(t), 1), evstore.ErrReadOnly)
	if _, err := stream(t, s, "a").Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range readAll(t, all) {
		got = append(got, e.StreamID+" "+e.Type)
	}
	if want := []string{"b E", "b E", "a " + evstore.Deleted}; !slices.Equal(got, want) {
		t.Errorf("@all after Delete of a: %q, want %q", got, want)
	}
	m, err := all.Metrics(ctx(t))
	if err != nil || m.EventCount != 3 {
		t.Errorf("Metrics of @all after Delete: got %+v, %v; want 3 events", m, err)
	}
	for info, err := range s.Streams(ctx(t)) {
		if errors.Is(err, evstore.ErrUnsupported) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.StreamID == "a" && (info.EventCount != 1 || info.Version != 3) {
			t.Errorf("Streams lists a as %+v, want version 3, 1 event", info)
		}
	}
}

// The tombstone takes a Sequence above every one handed out, also when
// the removed events were the store's newest.
func (k *kit) testDeleteNewSequence(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "newest")
	write(t, st, events("E", 3))
	head := stream(t, s, evstore.All).Version()
	if _, err := st.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	tomb := readAll(t, st)[0]
	if tomb.Sequence <= head {
		t.Errorf("tombstone Sequence %d, want above %d, the newest handed out before", tomb.Sequence, head)
	}
	write(t, stream(t, s, "next"), events("E", 1))
	if e := readAll(t, stream(t, s, "next"))[0]; e.Sequence <= tomb.Sequence {
		t.Errorf("the next event's Sequence %d, want above the tombstone's %d", e.Sequence, tomb.Sequence)
	}
}

// A watcher that is live gets the tombstone in order; one started after
// Delete replays no removed event.
func (k *kit) testDeleteWatch(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "w")
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	got := make(chan evstore.StoredEvent, 16)
	all := stream(t, s, evstore.All)
	go func() {
		for e, err := range all.Watch(c) {
			if err != nil {
				return
			}
			got <- e
		}
	}()
	// The watcher is live once it gets an event written after it started.
	ready := stream(t, s, "ready")
	for live := false; !live; {
		write(t, ready, events("R", 1))
		select {
		case <-got:
			live = true
		case <-time.After(10 * time.Millisecond):
		}
	}
	for len(got) > 0 {
		<-got
	}
	write(t, st, events("E", 2))
	if _, err := st.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// It gets the tombstone, after whichever removed events it had taken
	// before Delete returned (the ring gives none after).
	var types []string
	for len(types) == 0 || types[len(types)-1] != evstore.Deleted {
		select {
		case e := <-got:
			if e.StreamID == "w" {
				types = append(types, e.Type)
			}
		case <-time.After(time.Minute):
			t.Fatalf("the live watcher got %q in a minute, want the tombstone", types)
		}
	}
	if n := len(types); n > 3 || slices.ContainsFunc(types[:n-1], func(typ string) bool { return typ != "E" }) {
		t.Errorf("live watcher: %q, want up to two E, then %s", types, evstore.Deleted)
	}
	c2, cancel2 := context.WithTimeout(ctx(t), 10*time.Second)
	defer cancel2()
	for e, err := range stream(t, s, "w").Watch(c2, evstore.After(0)) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != evstore.Deleted {
			t.Errorf("a Watch started after Delete replayed a removed event: %+v", e)
		}
		break
	}
}

func (k *kit) testDeleteSnapshotBelow(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 3))
	if _, err := st.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a snapshot below the tombstone", st.Snapshot(ctx(t), []byte("old"), evstore.AtVersion(3)), evstore.ErrInvalidArgument)
	if err := st.Snapshot(ctx(t), []byte("fresh"), evstore.AtVersion(4)); err != nil {
		t.Errorf("a snapshot at the tombstone: %v", err)
	}
}

func (k *kit) testReservedType(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	for _, typ := range []string{evstore.Deleted, "$mine"} {
		_, err := st.Write(ctx(t), []evstore.CandidateEvent{{Type: typ}})
		wantErr(t, "Write of type "+typ, err, evstore.ErrInvalidEvent)
	}
	if n := len(readAll(t, st)); n != 0 {
		t.Errorf("refused writes left %d events", n)
	}
}

// A consumer gets the tombstone in order, and no removed event.
func (k *kit) testDeleteConsumer(t *testing.T) {
	s := k.store(t)
	if err := probeConsumers(t, s); errors.Is(err, evstore.ErrUnsupported) {
		t.Skipf("the backend has no consumers: %v", err)
	}
	write(t, stream(t, s, "gone"), events("E", 3))
	write(t, stream(t, s, "kept"), events("K", 1))
	if _, err := stream(t, s, "gone").Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startConsume(t, s, "c", rec)
	var got []string
	for _, e := range rec.waitFor(t, 2) {
		got = append(got, e.StreamID+" "+e.Type)
	}
	if want := []string{"kept K", "gone " + evstore.Deleted}; !slices.Equal(got, want) {
		t.Errorf("consumer: %q, want %q", got, want)
	}
}

func (k *kit) testErase(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 2))
	if _, err := st.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Erase(ctx(t)); err != nil && !errors.Is(err, evstore.ErrUnsupported) {
		t.Errorf("Erase: %v", err)
	}
}
