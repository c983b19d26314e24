package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// FuzzFilter: any clause either fails Validate with ErrInvalidFilter or
// selects, in SQL, exactly the events Filter.Match selects. The corpus has
// arrays and objects with numeric keys: paths step into objects only.
func FuzzFilter(f *testing.F) {
	testDSN(f)
	s := testStore(f, testSchema(f), nil)
	ctx := context.Background()
	metas := []map[string]any{
		nil, {"region": "EMEA"}, {"region": "emea", "n": 1}, {"n": 2.5, "b": true},
		{"n": "1", "o": map[string]any{"k": "v", "n": 1}}, {"a": []any{1, "x"}, "b": false},
		{"a": map[string]any{"0": 1, "1": "x"}}, {"a": []any{map[string]any{"0": "y"}}},
		{"a": map[string]any{"0": []any{"y"}}}, {"Zoë": "ü", "odd key": "_%"}, {"big": int64(1) << 53},
		{"r": float32(0.1)},
	}
	for i, m := range metas {
		st, err := s.Stream(ctx, []string{"order-1", "order_2", "Zoë"}[i%3])
		if err != nil {
			f.Fatal(err)
		}
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: []string{"Created", "placed", "ÉVÉNEMENT"}[i%3], Metadata: m}}); err != nil {
			f.Fatal(err)
		}
	}
	all, err := s.Stream(ctx, evstore.All)
	if err != nil {
		f.Fatal(err)
	}
	var every []evstore.StoredEvent
	for e, err := range all.Read(ctx) {
		if err != nil {
			f.Fatal(err)
		}
		every = append(every, e)
	}

	f.Add("metadata.region", uint8(0), "EMEA", 0.0, false, uint8(0))
	f.Add("metadata.n", uint8(0), "", 1.0, false, uint8(1))
	f.Add("metadata.b", uint8(1), "", 0.0, true, uint8(2))
	f.Add("event_type", uint8(2), "%ED", 0.0, false, uint8(0))
	f.Add("stream_id", uint8(2), "order\\_%", 0.0, false, uint8(0))
	f.Add("version", uint8(0), "", 1.0, false, uint8(3))
	f.Add("metadata.o.k", uint8(2), "_", 0.0, false, uint8(0))
	f.Add("metadata.a.0", uint8(0), "", 1.0, false, uint8(1))
	f.Add("metadata.a.1", uint8(1), "x", 0.0, false, uint8(0))
	f.Add("metadata.a.1", uint8(2), "X", 0.0, false, uint8(0))
	f.Add("metadata.a.0.0", uint8(0), "y", 0.0, false, uint8(0))
	f.Add("metadata.r", uint8(0), "", 0.1, false, uint8(4))
	f.Add("metadata.'; DROP TABLE events; --", uint8(0), "x') OR 1=1 --", 0.0, false, uint8(0))
	f.Fuzz(func(t *testing.T, field string, op uint8, str string, x float64, b bool, kind uint8) {
		var value any
		switch kind % 5 {
		case 0:
			value = str
		case 1:
			value = x
		case 2:
			value = b
		case 3:
			value = int64(x)
		case 4:
			value = float32(x)
		}
		var c evstore.Clause
		switch op % 3 {
		case 0:
			c = evstore.Equals(field, value)
		case 1:
			c = evstore.In(field, value, str)
		case 2:
			c = evstore.Like(field, str)
		}
		filter := evstore.Filter{c}
		if err := filter.Validate(); err != nil {
			if !errors.Is(err, evstore.ErrInvalidFilter) {
				t.Fatalf("Validate: %v does not wrap ErrInvalidFilter", err)
			}
			return
		}
		var want, got []int64
		for _, e := range every {
			if filter.Match(e) {
				want = append(want, e.Sequence)
			}
		}
		for e, err := range all.Read(ctx, evstore.WithFilter(filter)) {
			if err != nil {
				t.Fatalf("Read with %v %q: %v", field, str, err)
			}
			got = append(got, e.Sequence)
		}
		if !slices.Equal(got, want) {
			t.Errorf("field %q op %d value %#v: SQL selected %v, Match %v", field, op%3, value, got, want)
		}
	})
}
