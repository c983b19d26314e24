package storetest

import (
	"reflect"
	"slices"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) readTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"Options":         k.testReadOptions,
		"AllOrder":        k.testReadAll,
		"Pages":           k.testReadPages,
		"ConsistentView":  k.testReadConsistentView,
		"BreakReleases":   k.testReadBreak,
		"EmptyStream":     k.testReadEmpty,
		"HandleVersion":   k.testReadHandleVersion,
		"BreakVersion":    k.testReadBreakVersion,
		"BadOptionsError": k.testReadBadOptions,
		"MaxSequence":     k.testReadMaxSequence,
	}
}

func (k *kit) testReadOptions(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 10))
	cases := []struct {
		name string
		opts []evstore.ReadOption
		want []int64
	}{
		{"default", nil, span(1, 10)},
		{"After", []evstore.ReadOption{evstore.After(7)}, span(8, 10)},
		{"After end", []evstore.ReadOption{evstore.After(10)}, nil},
		{"After beyond", []evstore.ReadOption{evstore.After(99)}, nil},
		{"Limit", []evstore.ReadOption{evstore.Limit(3)}, span(1, 3)},
		{"Limit more than there are", []evstore.ReadOption{evstore.Limit(30)}, span(1, 10)},
		{"After Limit", []evstore.ReadOption{evstore.After(4), evstore.Limit(2)}, []int64{5, 6}},
		{"Backwards", []evstore.ReadOption{evstore.Backwards()}, []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"Backwards Limit", []evstore.ReadOption{evstore.Backwards(), evstore.Limit(2)}, []int64{10, 9}},
		{"Backwards After", []evstore.ReadOption{evstore.Backwards(), evstore.After(8)}, []int64{10, 9}},
		{"Backwards After Limit", []evstore.ReadOption{evstore.After(2), evstore.Limit(3), evstore.Backwards()}, []int64{10, 9, 8}},
		{"Before", []evstore.ReadOption{evstore.Before(4)}, span(1, 3)},
		{"Before 1", []evstore.ReadOption{evstore.Before(1)}, nil},
		{"After Before", []evstore.ReadOption{evstore.After(2), evstore.Before(5)}, []int64{3, 4}},
		{"Backwards Before Limit", []evstore.ReadOption{evstore.Backwards(), evstore.Before(8), evstore.Limit(2)}, []int64{7, 6}},
		{"Backwards After Before", []evstore.ReadOption{evstore.Backwards(), evstore.After(5), evstore.Before(8)}, []int64{7, 6}},
	}
	for _, c := range cases {
		if got := versions(readAll(t, st, c.opts...)); !slices.Equal(got, c.want) {
			t.Errorf("%s: got versions %v, want %v", c.name, got, c.want)
		}
	}
}

func (k *kit) testReadAll(t *testing.T) {
	s := k.store(t)
	a, b := stream(t, s, "a"), stream(t, s, "b")
	write(t, a, events("A", 2))
	write(t, b, events("B", 2))
	write(t, a, events("A", 1))
	all := stream(t, s, evstore.All)
	every := readAll(t, all)
	seqs := sequences(every)
	if len(seqs) != 5 || !slices.IsSorted(seqs) {
		t.Fatalf("@all sequences: got %v, want 5 increasing", seqs)
	}
	if got := sequences(readAll(t, all, evstore.After(seqs[2]))); !slices.Equal(got, seqs[3:]) {
		t.Errorf("@all After(%d): got %v, want %v", seqs[2], got, seqs[3:])
	}
	back := sequences(readAll(t, all, evstore.Backwards(), evstore.Limit(2)))
	if !slices.Equal(back, []int64{seqs[4], seqs[3]}) {
		t.Errorf("@all Backwards Limit 2: got %v, want [%d %d]", back, seqs[4], seqs[3])
	}
	if got := stream(t, s, evstore.All).Version(); got != seqs[4] {
		t.Errorf("@all Version: got %d, want %d", got, seqs[4])
	}
}

// testReadPages reads more events than a backend page holds.
func (k *kit) testReadPages(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 3000))
	write(t, stream(t, s, "other"), events("O", 10))
	if got := versions(readAll(t, st)); !slices.Equal(got, span(1, 3000)) {
		t.Errorf("forward: got %d events, want versions 1..3000", len(got))
	}
	back := versions(readAll(t, st, evstore.Backwards()))
	want := span(1, 3000)
	slices.Reverse(want)
	if !slices.Equal(back, want) {
		t.Errorf("backwards: got %d events, want versions 3000..1", len(back))
	}
	if got := versions(readAll(t, st, evstore.After(1000), evstore.Limit(1500))); !slices.Equal(got, span(1001, 2500)) {
		t.Errorf("After 1000 Limit 1500: got %d events, want 1001..2500", len(got))
	}
	if n := len(readAll(t, stream(t, s, evstore.All))); n != 3010 {
		t.Errorf("@all: got %d events, want 3010", n)
	}
}

// testReadConsistentView writes while a Read is in progress: the Read
// returns what was there when it started, however many pages it spans.
func (k *kit) testReadConsistentView(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 2100))
	writer := stream(t, s, "s")
	all := stream(t, s, evstore.All)
	for _, reader := range []*evstore.Stream{st, all} {
		n := 0
		for _, err := range reader.Read(ctx(t)) {
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if n%700 == 0 {
				write(t, writer, events("During", 3))
			}
			n++
		}
		if n != 2100 && reader == st {
			t.Errorf("read of s saw %d events, want the 2100 there when it started", n)
		}
		if reader == all && n != 2100+3*3 {
			t.Errorf("read of @all saw %d events, want the %d there when it started", n, 2100+3*3)
		}
	}
}

func (k *kit) testReadBreak(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 2000))
	for range 20 { // more breaks than any backend has connections
		for e, err := range st.Read(ctx(t)) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Version == 3 {
				break
			}
		}
	}
	if v := write(t, st, events("E", 1)); v != 2001 {
		t.Errorf("write after broken reads: got %d, want 2001", v)
	}
}

func (k *kit) testReadEmpty(t *testing.T) {
	s := k.store(t)
	for _, id := range []string{"nothing-here", evstore.All} {
		if got := readAll(t, stream(t, s, id)); len(got) != 0 {
			t.Errorf("%s: got %d events, want 0", id, len(got))
		}
	}
}

func (k *kit) testReadHandleVersion(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, stream(t, s, "s"), events("E", 4))
	readAll(t, st)
	if st.Version() != 4 {
		t.Errorf("after reading: got Version %d, want 4", st.Version())
	}
}

// testReadBreakVersion: a loop that breaks after one event leaves the
// handle's Version at that event, not at the end of the page fetched
// ahead, so a default Watch goes on from the next event and a default
// Snapshot is filed at the event the state was built from.
func (k *kit) testReadBreakVersion(t *testing.T) {
	for _, id := range []string{"s", evstore.All} {
		t.Run(id, func(t *testing.T) {
			s := k.store(t)
			st := stream(t, s, id) // opened at version 0
			write(t, stream(t, s, "s"), events("E", 10))
			for e, err := range st.Read(ctx(t)) {
				if err != nil || e.Version != 1 {
					t.Fatalf("first event: got version %d, %v; want 1", e.Version, err)
				}
				break
			}
			if v := st.Version(); v != 1 {
				t.Errorf("after breaking at the first event: got Version %d, want 1", v)
			}
			var opts []evstore.SnapshotOption
			if id == evstore.All {
				opts = append(opts, evstore.AtVersion(st.Version()))
			}
			if err := st.Snapshot(ctx(t), []byte("one event"), opts...); err != nil {
				t.Fatal(err)
			}
			if snap := loadSnapshot(t, st, ""); snap == nil || snap.Version != 1 {
				t.Errorf("snapshot after a break at the first event: got %+v, want version 1", snap)
			}
			w := startWatch(t, st)
			if got := versions(w.next(t, 9)); !slices.Equal(got, span(2, 10)) {
				t.Errorf("default Watch after the break: got versions %v, want 2..10", got)
			}
			back := stream(t, s, id)
			for e, err := range back.Read(ctx(t), evstore.Backwards()) {
				if err != nil || e.Version != 10 {
					t.Fatalf("backwards: got version %d, %v; want 10", e.Version, err)
				}
				break
			}
			if v := back.Version(); v != 10 {
				t.Errorf("after a backwards break: got Version %d, want 10", v)
			}
		})
	}
}

func (k *kit) testReadBadOptions(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 2))
	cases := []struct {
		name   string
		opts   []evstore.ReadOption
		target error
	}{
		{"After(-1)", []evstore.ReadOption{evstore.After(-1)}, evstore.ErrInvalidArgument},
		{"Limit(0)", []evstore.ReadOption{evstore.Limit(0)}, evstore.ErrInvalidArgument},
		{"Limit(-1)", []evstore.ReadOption{evstore.Limit(-1)}, evstore.ErrInvalidArgument},
		{"Before(0)", []evstore.ReadOption{evstore.Before(0)}, evstore.ErrInvalidArgument},
		{"MaxSequence(-1)", []evstore.ReadOption{evstore.MaxSequence(-1)}, evstore.ErrInvalidArgument},
		{"unknown field", []evstore.ReadOption{evstore.WithFilter(evstore.Filter{evstore.Equals("nope", 1)})}, evstore.ErrInvalidFilter},
		{"empty In", []evstore.ReadOption{evstore.WithFilter(evstore.Filter{evstore.In("event_type")})}, evstore.ErrInvalidFilter},
	}
	for _, c := range cases {
		got, err := collect(st.Read(ctx(t), c.opts...))
		wantErr(t, c.name, err, c.target)
		if len(got) != 0 {
			t.Errorf("%s: got %d events before the error, want 0", c.name, len(got))
		}
	}
	if got := versions(readAll(t, st)); !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Errorf("after bad reads: got %v, want [1 2]", got)
	}
}

// testReadMaxSequence: MaxSequence leaves out the events committed after
// it, on a stream and on All, forwards and backwards, across pages: a
// Read made in several calls sees one view.
func (k *kit) testReadMaxSequence(t *testing.T) {
	s := k.store(t)
	st, other := stream(t, s, "s"), stream(t, s, "other")
	write(t, st, events("E", 3))
	write(t, other, events("O", 2))
	all := stream(t, s, evstore.All)
	horizon := sequences(readAll(t, all, evstore.Backwards(), evstore.Limit(1)))[0]
	write(t, st, events("Later", 2))
	write(t, other, events("Later", 1))
	if got := versions(readAll(t, st, evstore.MaxSequence(horizon))); !slices.Equal(got, span(1, 3)) {
		t.Errorf("s MaxSequence: got versions %v, want 1..3", got)
	}
	if got := versions(readAll(t, st, evstore.MaxSequence(horizon), evstore.Backwards(), evstore.Limit(2))); !slices.Equal(got, []int64{3, 2}) {
		t.Errorf("s MaxSequence Backwards Limit 2: got versions %v, want [3 2]", got)
	}
	seqs := sequences(readAll(t, all, evstore.MaxSequence(horizon)))
	if len(seqs) != 5 || seqs[4] != horizon {
		t.Errorf("@all MaxSequence(%d): got sequences %v, want the 5 events up to it", horizon, seqs)
	}
	if got := sequences(readAll(t, all, evstore.MaxSequence(horizon), evstore.Backwards(), evstore.Before(horizon), evstore.Limit(1))); !slices.Equal(got, seqs[3:4]) {
		t.Errorf("@all MaxSequence Backwards Before: got %v, want %v", got, seqs[3:4])
	}
	if n := len(readAll(t, all)); n != 8 {
		t.Errorf("@all without MaxSequence: got %d events, want 8", n)
	}
}
