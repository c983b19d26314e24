package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) snapshotTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"SaveLoad":        k.testSnapshotSaveLoad,
		"PerProjection":   k.testSnapshotPerProjection,
		"Replace":         k.testSnapshotReplace,
		"All":             k.testSnapshotAll,
		"KeepsVersion":    k.testSnapshotKeepsVersion,
		"None":            k.testSnapshotNone,
		"BadArguments":    k.testSnapshotBadArguments,
		"RebuildFromSnap": k.testSnapshotRebuild,
		"AheadOfStream":   k.testSnapshotAhead,
		"ProjectionNames": k.testSnapshotProjectionNames,
	}
}

func loadSnapshot(t *testing.T, st *evstore.Stream, projection string) *evstore.Snapshot {
	t.Helper()
	snap, err := st.LoadSnapshot(ctx(t), projection)
	if err != nil {
		t.Fatalf("LoadSnapshot(%q): %v", projection, err)
	}
	return snap
}

func (k *kit) testSnapshotSaveLoad(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 3))
	before := time.Now().UTC().Add(-time.Second)
	if err := st.Snapshot(ctx(t), []byte(`{"count":3}`)); err != nil {
		t.Fatal(err)
	}
	snap := loadSnapshot(t, st, evstore.DefaultProjection)
	if snap == nil {
		t.Fatal("LoadSnapshot: got nil, want the saved snapshot")
	}
	if snap.StreamID != "s" || snap.Projection != evstore.DefaultProjection || snap.Version != 3 || string(snap.State) != `{"count":3}` {
		t.Errorf("got %+v, want stream s, projection default, version 3, state {\"count\":3}", *snap)
	}
	if snap.Timestamp.Before(before) || snap.Timestamp.After(time.Now().Add(time.Second)) || snap.Timestamp.Location() != time.UTC {
		t.Errorf("got timestamp %v, want now in UTC", snap.Timestamp)
	}
	if again := loadSnapshot(t, st, ""); again == nil || again.Version != 3 {
		t.Errorf(`LoadSnapshot(""): got %+v, want the default projection's`, again)
	}
}

func (k *kit) testSnapshotPerProjection(t *testing.T) {
	s := k.store(t)
	a, b := stream(t, s, "a"), stream(t, s, "b")
	write(t, a, events("E", 2))
	write(t, b, events("E", 1))
	for _, p := range []struct {
		st         *evstore.Stream
		projection string
		state      string
	}{{a, "totals", "T"}, {a, "counts", "C"}, {b, "totals", "B"}} {
		if err := p.st.Snapshot(ctx(t), []byte(p.state), evstore.Projection(p.projection), evstore.AtVersion(1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		st         *evstore.Stream
		projection string
		want       string
	}{{a, "totals", "T"}, {a, "counts", "C"}, {b, "totals", "B"}} {
		snap := loadSnapshot(t, c.st, c.projection)
		if snap == nil || string(snap.State) != c.want {
			t.Errorf("%s/%s: got %+v, want state %q", c.st.ID(), c.projection, snap, c.want)
		}
	}
	if snap := loadSnapshot(t, b, "counts"); snap != nil {
		t.Errorf("b/counts: got %+v, want nil", snap)
	}
}

func (k *kit) testSnapshotReplace(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 5))
	for _, v := range []int64{2, 5, 4} {
		if err := st.Snapshot(ctx(t), []byte{byte(v)}, evstore.AtVersion(v)); err != nil {
			t.Fatal(err)
		}
	}
	snap := loadSnapshot(t, st, "")
	if snap == nil || snap.Version != 4 || !bytes.Equal(snap.State, []byte{4}) {
		t.Errorf("got %+v, want the last saved (version 4)", snap)
	}
}

func (k *kit) testSnapshotAll(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "x"), events("E", 3))
	all := stream(t, s, evstore.All)
	err := all.Snapshot(ctx(t), []byte("state"))
	wantErr(t, "snapshot of @all without AtVersion", err, evstore.ErrInvalidArgument)
	if snap := loadSnapshot(t, all, ""); snap != nil {
		t.Errorf("refused snapshot was saved: %+v", snap)
	}
	seq := all.Version()
	if err := all.Snapshot(ctx(t), []byte("state"), evstore.AtVersion(seq)); err != nil {
		t.Fatal(err)
	}
	if snap := loadSnapshot(t, all, ""); snap == nil || snap.Version != seq || snap.StreamID != evstore.All {
		t.Errorf("got %+v, want @all at %d", snap, seq)
	}
}

func (k *kit) testSnapshotKeepsVersion(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 3))
	if err := st.Snapshot(ctx(t), []byte("x"), evstore.AtVersion(1)); err != nil {
		t.Fatal(err)
	}
	if st.Version() != 3 {
		t.Errorf("after snapshot at 1: got Version %d, want 3", st.Version())
	}
	all := stream(t, s, evstore.All)
	v := all.Version()
	if err := all.Snapshot(ctx(t), []byte("x"), evstore.AtVersion(1)); err != nil {
		t.Fatal(err)
	}
	if all.Version() != v {
		t.Errorf("@all after snapshot: got Version %d, want %d", all.Version(), v)
	}
}

func (k *kit) testSnapshotNone(t *testing.T) {
	s := k.store(t)
	for _, id := range []string{"never-written", evstore.All} {
		if snap := loadSnapshot(t, stream(t, s, id), "anything"); snap != nil {
			t.Errorf("%s: got %+v, want nil", id, snap)
		}
	}
}

func (k *kit) testSnapshotBadArguments(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	cases := []struct {
		name string
		opts []evstore.SnapshotOption
	}{
		{"empty projection", []evstore.SnapshotOption{evstore.Projection("")}},
		{"negative version", []evstore.SnapshotOption{evstore.AtVersion(-1)}},
	}
	for _, c := range cases {
		wantErr(t, c.name, st.Snapshot(ctx(t), []byte("x"), c.opts...), evstore.ErrInvalidArgument)
	}
	if snap := loadSnapshot(t, st, ""); snap != nil {
		t.Errorf("refused snapshot was saved: %+v", snap)
	}
}

// testSnapshotRebuild is the pattern snapshots exist for: load the state,
// then read only the events after it.
func (k *kit) testSnapshotRebuild(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "counter")
	write(t, st, events("Increment", 5))
	if err := st.Snapshot(ctx(t), []byte("5"), evstore.Projection("counter")); err != nil {
		t.Fatal(err)
	}
	write(t, st, events("Increment", 2))
	snap := loadSnapshot(t, stream(t, s, "counter"), "counter")
	if snap == nil || snap.Version != 5 {
		t.Fatalf("got %+v, want version 5", snap)
	}
	rest := readAll(t, st, evstore.After(snap.Version))
	if got := versions(rest); len(got) != 2 || got[0] != 6 || got[1] != 7 {
		t.Errorf("events after the snapshot: got %v, want [6 7]", got)
	}
}

// testSnapshotAhead: a snapshot above the stream's version (on All, above
// the newest Sequence) would hide the events written after it, so it is
// refused, and the snapshot saved before stays.
func (k *kit) testSnapshotAhead(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	empty := stream(t, s, "empty")
	all := stream(t, s, evstore.All)
	write(t, stream(t, s, "other"), events("E", 2))
	write(t, st, events("E", 1))
	if err := st.Snapshot(ctx(t), []byte("at 1"), evstore.AtVersion(1)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		st      *evstore.Stream
		version int64
	}{{st, 2}, {st, 999}, {empty, 1}, {all, 4}, {all, 999}}
	for _, c := range cases {
		err := c.st.Snapshot(ctx(t), []byte("ahead"), evstore.AtVersion(c.version))
		wantErr(t, fmt.Sprintf("%s: AtVersion(%d)", c.st.ID(), c.version), err, evstore.ErrInvalidArgument)
	}
	if snap := loadSnapshot(t, st, ""); snap == nil || snap.Version != 1 || string(snap.State) != "at 1" {
		t.Errorf("s: got %+v, want the snapshot at 1 kept", snap)
	}
	for _, st := range []*evstore.Stream{empty, all} {
		if snap := loadSnapshot(t, st, ""); snap != nil {
			t.Errorf("%s: refused snapshot was saved: %+v", st.ID(), snap)
		}
	}
	for _, c := range []struct {
		st      *evstore.Stream
		version int64
	}{{empty, 0}, {all, 3}, {all, 0}} {
		if err := c.st.Snapshot(ctx(t), []byte("ok"), evstore.AtVersion(c.version)); err != nil {
			t.Errorf("%s: AtVersion(%d): %v", c.st.ID(), c.version, err)
		}
	}
}

// testSnapshotProjectionNames: names every backend can store alike, and
// the same error for the others.
func (k *kit) testSnapshotProjectionNames(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 1))
	for _, name := range []string{"nul\x00byte", "bad\xffutf8", strings.Repeat("p", evstore.MaxStreamIDLen+1)} {
		wantErr(t, fmt.Sprintf("Snapshot, projection %q", name), st.Snapshot(ctx(t), []byte("x"), evstore.Projection(name)), evstore.ErrInvalidArgument)
		_, err := st.LoadSnapshot(ctx(t), name)
		wantErr(t, fmt.Sprintf("LoadSnapshot, projection %q", name), err, evstore.ErrInvalidArgument)
	}
	for _, name := range []string{"p", "snake_case v2", "Größe", strings.Repeat("p", evstore.MaxStreamIDLen)} {
		if err := st.Snapshot(ctx(t), []byte(name), evstore.Projection(name)); err != nil {
			t.Errorf("projection %q: %v", name, err)
			continue
		}
		if snap := loadSnapshot(t, st, name); snap == nil || string(snap.State) != name {
			t.Errorf("projection %q: got %+v", name, snap)
		}
	}
}
