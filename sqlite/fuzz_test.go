package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// fuzzStore is one in-memory store with a corpus, shared by fuzz runs.
var fuzzStore = sync.OnceValue(func() *evstore.Store {
	ctx := context.Background()
	s, err := Open(ctx, ":memory:")
	if err != nil {
		panic(err)
	}
	metas := []map[string]any{
		nil, {"region": "EMEA"}, {"region": "emea", "n": 1}, {"n": 2.5, "b": true},
		{"n": "1", "o": map[string]any{"k": "v", "n": 1}}, {"a": []any{1, "x"}, "b": false},
		{"Zoë": "ü", "odd key": "_%"}, {"big": int64(1) << 53},
	}
	for i, m := range metas {
		st, _ := s.Stream(ctx, []string{"order-1", "order_2", "Zoë"}[i%3])
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: []string{"Created", "placed", "ÉVÉNEMENT"}[i%3], Metadata: m}}); err != nil {
			panic(err)
		}
	}
	return s
})

// FuzzFilter: any clause either fails Validate with ErrInvalidFilter or
// selects, in SQL, exactly the events Filter.Match selects.
func FuzzFilter(f *testing.F) {
	f.Add("metadata.region", uint8(0), "EMEA", 0.0, false, uint8(0))
	f.Add("metadata.n", uint8(0), "", 1.0, false, uint8(1))
	f.Add("metadata.b", uint8(1), "", 0.0, true, uint8(2))
	f.Add("event_type", uint8(2), "%ED", 0.0, false, uint8(0))
	f.Add("stream_id", uint8(2), "order\\_%", 0.0, false, uint8(0))
	f.Add("version", uint8(0), "", 1.0, false, uint8(3))
	f.Add("metadata.o.k", uint8(2), "_", 0.0, false, uint8(0))
	f.Add("metadata.'; DROP TABLE events; --", uint8(0), "x') OR 1=1 --", 0.0, false, uint8(0))
	f.Fuzz(func(t *testing.T, field string, op uint8, s string, x float64, b bool, kind uint8) {
		var value any
		switch kind % 4 {
		case 0:
			value = s
		case 1:
			value = x
		case 2:
			value = b
		case 3:
			value = int64(x)
		}
		var c evstore.Clause
		switch op % 3 {
		case 0:
			c = evstore.Equals(field, value)
		case 1:
			c = evstore.In(field, value, s)
		case 2:
			c = evstore.Like(field, s)
		}
		filter := evstore.Filter{c}
		if err := filter.Validate(); err != nil {
			if !errors.Is(err, evstore.ErrInvalidFilter) {
				t.Fatalf("Validate: %v does not wrap ErrInvalidFilter", err)
			}
			return
		}
		ctx := context.Background()
		all, err := fuzzStore().Stream(ctx, evstore.All)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []int64
		for e, err := range all.Read(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if filter.Match(e) {
				want = append(want, e.Sequence)
			}
		}
		for e, err := range all.Read(ctx, evstore.WithFilter(filter)) {
			if err != nil {
				t.Fatalf("Read with %v %q: %v", field, s, err)
			}
			got = append(got, e.Sequence)
		}
		if !slices.Equal(got, want) {
			t.Errorf("field %q op %d value %#v: SQL selected %v, Match %v", field, op%3, value, got, want)
		}
	})
}

// FuzzMetadataRoundTrip: metadata decoded from any JSON object is either
// refused with ErrInvalidEvent or reads back equal.
func FuzzMetadataRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`{"a":1}`, `{"s":"Zoë ✓","n":-1.5e-7,"b":true,"z":null}`, `{"o":{"p":[1,"x",{"q":false}]}}`,
		`{"big":9007199254740993}`, `{"e":"\u00e9\ud83d\ude00"}`, `{"k":"a","k":"b"}`, `{"":""}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		ctx := context.Background()
		st, err := fuzzStore().Stream(ctx, "roundtrip")
		if err != nil {
			t.Fatal(err)
		}
		v, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "M", Metadata: m}})
		if err != nil {
			if !errors.Is(err, evstore.ErrInvalidEvent) {
				t.Fatalf("Write: %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		var got map[string]any
		for e, err := range st.Read(ctx, evstore.After(v-1)) {
			if err != nil {
				t.Fatal(err)
			}
			got = e.Metadata
		}
		if len(m) == 0 {
			m = nil
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("metadata %s: read back %#v, want %#v", raw, got, m)
		}
	})
}

// FuzzStreamIDAndType: any stream id and type are refused with the right
// sentinel or read back exactly.
func FuzzStreamIDAndType(f *testing.F) {
	for _, seed := range [][2]string{{"order-1", "Created"}, {"Zoë/ü", "ÉVÉNEMENT"}, {"a\x00b", "T"}, {"x", "\xff"}, {"", "T"}, {"@all", "T"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, id, typ string) {
		ctx := context.Background()
		st, err := fuzzStore().Stream(ctx, id)
		if err != nil {
			if !errors.Is(err, evstore.ErrInvalidStreamID) {
				t.Fatalf("Stream(%q): %v does not wrap ErrInvalidStreamID", id, err)
			}
			return
		}
		v, err := st.Write(ctx, []evstore.CandidateEvent{{Type: typ}})
		switch {
		case id == evstore.All:
			if !errors.Is(err, evstore.ErrReadOnly) {
				t.Fatalf("write to @all: %v", err)
			}
			return
		case err != nil:
			if !errors.Is(err, evstore.ErrInvalidEvent) {
				t.Fatalf("Write type %q: %v does not wrap ErrInvalidEvent", typ, err)
			}
			return
		}
		for e, err := range st.Read(ctx, evstore.After(v-1)) {
			if err != nil {
				t.Fatal(err)
			}
			if e.StreamID != id || e.Type != typ {
				t.Errorf("read back %q %q, want %q %q", e.StreamID, e.Type, id, typ)
			}
		}
	})
}
