package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) filterTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"MatchesGoDefinition": k.testFilterMatchesDefinition,
		"Expected":            k.testFilterExpected,
		"Injection":           k.testFilterInjection,
		"Invalid":             k.testFilterInvalid,
		"ObjectPathsOnly":     k.testFilterObjectPathsOnly,
		"Float32":             k.testFilterFloat32,
		"RandomMatches":       k.testFilterRandom,
	}
}

// filterCorpus writes events covering the shapes filters distinguish.
func filterCorpus(t *testing.T, s *evstore.Store) {
	metas := []map[string]any{
		nil,
		{"region": "EMEA"},
		{"region": "emea", "prio": 1},
		{"region": "US", "prio": 2.5, "vip": true},
		{"region": "APAC", "vip": false, "tags": map[string]any{"prio": 1, "team": "core"}},
		{"prio": "1", "tags": map[string]any{"prio": "high"}},
		{"tags": []any{"a", "b"}, "region": nil},
		{"customer": "Zoë", "note": "100% sure_thing", "dotted.key": "x"},
		{"region": map[string]any{"name": "EMEA"}},
		{"n": 0, "flag": 1, "odd key": "sp ace"},
		{"big": int64(1)<<53 + 1, "huge": 9.930279521224108e+17, "tiny": 1e-300},
		{"big": float64(int64(1) << 53), "o": json.RawMessage(`{"k":"a","k":"b"}`)},
	}
	types := []string{"OrderCreated", "OrderPlaced", "ItemAdded", "orderCreated"}
	for i, m := range metas {
		id := fmt.Sprintf("order-%d", i%3)
		if i == 7 {
			id = "user_7"
		}
		write(t, stream(t, s, id), []evstore.CandidateEvent{{Type: types[i%len(types)], Metadata: m}})
	}
}

// filterCases are filters every backend must evaluate exactly as
// evstore.Filter.Match does.
var filterCases = []evstore.Filter{
	{evstore.Equals("stream_id", "order-1")},
	{evstore.In("stream_id", "order-1", "user_7")},
	{evstore.Like("stream_id", "order-%")},
	{evstore.Like("stream_id", "user\\_7")},
	{evstore.Like("stream_id", "ORDER_1")},
	{evstore.Equals("event_type", "OrderCreated")},
	{evstore.Like("event_type", "order%")},
	{evstore.Like("event_type", "%Placed")},
	{evstore.Equals("version", 2)},
	{evstore.In("version", 1, int64(3))},
	{evstore.Equals("metadata.region", "EMEA")},
	{evstore.Like("metadata.region", "emea")},
	{evstore.Like("metadata.region", "%A%")},
	{evstore.In("metadata.region", "US", "APAC", "nowhere")},
	{evstore.Equals("metadata.prio", 1)},
	{evstore.Equals("metadata.prio", 1.0)},
	{evstore.Equals("metadata.prio", "1")},
	{evstore.Equals("metadata.prio", 2.5)},
	{evstore.In("metadata.prio", 1, 2.5)},
	{evstore.Equals("metadata.vip", true)},
	{evstore.Equals("metadata.vip", false)},
	{evstore.Equals("metadata.flag", true)},
	{evstore.Equals("metadata.n", false)},
	{evstore.Equals("metadata.n", 0)},
	{evstore.Equals("metadata.tags.prio", 1)},
	{evstore.Equals("metadata.tags.prio", "high")},
	{evstore.Equals("metadata.tags.team", "core")},
	{evstore.Equals("metadata.region.name", "EMEA")},
	{evstore.Equals("metadata.customer", "Zoë")},
	{evstore.Like("metadata.customer", "zo_")},
	{evstore.Like("metadata.note", "100% sure%")},
	{evstore.Equals("metadata.odd key", "sp ace")},
	{evstore.Equals("metadata.missing", "x")},
	{evstore.Like("metadata.prio", "%")},
	{evstore.Equals("metadata.big", int64(1)<<53+1)},
	{evstore.Equals("metadata.big", float64(int64(1)<<53))},
	{evstore.Equals("metadata.huge", 9.930279521224108e+17)},
	{evstore.Equals("metadata.tiny", 1e-300)},
	{evstore.Equals("metadata.o.k", "b")},
	{evstore.Equals("metadata.o.k", "a")},
	{evstore.Equals("metadata.tags.0", "a")}, // paths step into objects only
	{evstore.In("metadata.tags.1", "b", "x")},
	{evstore.Like("metadata.tags.0", "%")},
	{evstore.Equals("stream_id", "order-1"), evstore.Equals("metadata.region", "EMEA")},
	{evstore.Like("stream_id", "order%"), evstore.In("event_type", "OrderCreated", "ItemAdded"), evstore.Equals("version", 1)},
}

func (k *kit) testFilterMatchesDefinition(t *testing.T) {
	s := k.store(t)
	filterCorpus(t, s)
	for _, id := range []string{evstore.All, "order-1", "user_7"} {
		st := stream(t, s, id)
		every := readAll(t, st)
		for i, f := range filterCases {
			if err := f.Validate(); err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			var want []int64
			for _, e := range every {
				if f.Match(e) {
					want = append(want, e.Sequence)
				}
			}
			got := sequences(readAll(t, st, evstore.WithFilter(f)))
			if !slices.Equal(got, want) {
				t.Errorf("%s, filter case %d %v: got sequences %v, want %v", id, i, describe(f), got, want)
			}
		}
	}
}

// testFilterExpected pins a few results, so that Match itself is checked.
func (k *kit) testFilterExpected(t *testing.T) {
	s := k.store(t)
	filterCorpus(t, s)
	all := stream(t, s, evstore.All)
	cases := []struct {
		f    evstore.Filter
		want int
	}{
		{evstore.Filter{evstore.Equals("metadata.region", "EMEA")}, 1},
		{evstore.Filter{evstore.Like("metadata.region", "emea")}, 2},
		{evstore.Filter{evstore.Equals("metadata.prio", 1)}, 1},
		{evstore.Filter{evstore.Equals("metadata.vip", true)}, 1},
		{evstore.Filter{evstore.Equals("metadata.tags.prio", 1)}, 1},
		{evstore.Filter{evstore.Like("stream_id", "order%")}, 11},
		{evstore.Filter{evstore.Equals("metadata.big", int64(1)<<53+1)}, 2}, // as doubles, 2^53+1 is 2^53
		{evstore.Filter{evstore.Equals("metadata.o.k", "b")}, 1},            // the last of repeated keys, as stored
		{evstore.Filter{evstore.Equals("event_type", "OrderCreated")}, 3},
		{evstore.Filter{evstore.Like("event_type", "ordercreated")}, 6},
	}
	for _, c := range cases {
		if got := len(readAll(t, all, evstore.WithFilter(c.f))); got != c.want {
			t.Errorf("%v: got %d events, want %d", describe(c.f), got, c.want)
		}
	}
	// Filters combine with After, Limit and Backwards.
	f := evstore.WithFilter(evstore.Filter{evstore.Like("stream_id", "order%")})
	every := readAll(t, all, f)
	got := readAll(t, all, f, evstore.After(every[2].Sequence), evstore.Limit(2), evstore.Backwards())
	if want := []int64{every[10].Sequence, every[9].Sequence}; !slices.Equal(sequences(got), want) {
		t.Errorf("filter with After, Limit, Backwards: got %v, want %v", sequences(got), want)
	}
}

// testFilterObjectPathsOnly: a metadata path steps into objects only, so
// a numeric key is an object key and never an array index, in SQL as in
// Filter.Match.
func (k *kit) testFilterObjectPathsOnly(t *testing.T) {
	s := k.store(t)
	metas := []string{
		`{"tags":["x"]}`,
		`{"tags":{"0":"x"}}`,
		`{"tags":[["x"]]}`,
		`{"tags":{"0":{"0":"x"}}}`,
		`{"tags":[{"0":"x"}]}`,
		`{"tags":{"0":["x"]}}`,
	}
	st := stream(t, s, "paths")
	var seqs []int64 // Sequence of each written event, by metas index
	for _, raw := range metas {
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatal(err)
		}
		v := write(t, st, []evstore.CandidateEvent{{Type: "P", Metadata: m}})
		seqs = append(seqs, readAll(t, st, evstore.After(v-1))[0].Sequence)
	}
	all := stream(t, s, evstore.All)
	cases := []struct {
		f    evstore.Filter
		want []int // indexes into metas
	}{
		{evstore.Filter{evstore.Equals("metadata.tags.0", "x")}, []int{1}},
		{evstore.Filter{evstore.In("metadata.tags.0", "y", "x")}, []int{1}},
		{evstore.Filter{evstore.Like("metadata.tags.0", "X")}, []int{1}},
		{evstore.Filter{evstore.Like("metadata.tags.0", "%")}, []int{1}},
		{evstore.Filter{evstore.Equals("metadata.tags.0.0", "x")}, []int{3}},
		{evstore.Filter{evstore.In("metadata.tags.0.0", "x", 1)}, []int{3}},
		{evstore.Filter{evstore.Like("metadata.tags.0.0", "_")}, []int{3}},
		{evstore.Filter{evstore.Equals("metadata.0", "x")}, nil},
	}
	for _, c := range cases {
		var want []int64
		for _, i := range c.want {
			want = append(want, seqs[i])
		}
		for _, id := range []string{evstore.All, "paths"} {
			every := readAll(t, stream(t, s, id))
			var match []int64
			for _, e := range every {
				if c.f.Match(e) {
					match = append(match, e.Sequence)
				}
			}
			if !slices.Equal(match, want) {
				t.Errorf("%s, %v: Match selects %v, want %v", id, describe(c.f), match, want)
			}
			if got := sequences(readAll(t, stream(t, s, id), evstore.WithFilter(c.f))); !slices.Equal(got, want) {
				t.Errorf("%s, %v: Read got sequences %v, want %v", id, describe(c.f), got, want)
			}
		}
		w := startWatch(t, all, evstore.After(0), evstore.WithFilter(c.f))
		if got := sequences(w.next(t, len(want))); !slices.Equal(got, want) {
			t.Errorf("%v: replaying Watch got %v, want %v", describe(c.f), got, want)
		}
		w.quiet(t)
	}
}

// testFilterFloat32: a float32 in a filter matches the same float32 written
// in metadata, though encoding/json writes it with 32-bit precision (0.1,
// not 0.10000000149011612).
func (k *kit) testFilterFloat32(t *testing.T) {
	s := k.store(t)
	values := []float32{0.1, -0.3, 1.5, 3.4e38, 1e-30}
	st := stream(t, s, "ratios")
	for _, f := range values {
		write(t, st, []evstore.CandidateEvent{{Type: "R", Metadata: map[string]any{"ratio": f}}})
	}
	all := stream(t, s, evstore.All)
	for i, f := range values {
		want := []int64{int64(i + 1)}
		for _, filter := range []evstore.Filter{
			{evstore.Equals("metadata.ratio", f)},
			{evstore.In("metadata.ratio", "x", f)},
		} {
			got := readAll(t, st, evstore.WithFilter(filter))
			if !slices.Equal(versions(got), want) {
				t.Errorf("ratio %v, %v: got versions %v, want %v", f, describe(filter), versions(got), want)
			}
			for _, e := range readAll(t, st) {
				if match, wantMatch := filter.Match(e), e.Version == want[0]; match != wantMatch {
					t.Errorf("ratio %v, %v: Match(version %d, metadata %v) = %v, want %v", f, describe(filter), e.Version, e.Metadata, match, wantMatch)
				}
			}
		}
	}
	// The live path (Filter.Match) agrees.
	filter := evstore.Filter{evstore.Equals("metadata.ratio", float32(0.1))}
	w := startWatch(t, all, evstore.WithFilter(filter))
	v := write(t, st, []evstore.CandidateEvent{{Type: "R", Metadata: map[string]any{"ratio": float32(0.1)}}})
	if got := versions(w.next(t, 1)); !slices.Equal(got, []int64{v}) {
		t.Errorf("live Watch with %v: got versions %v, want [%d]", describe(filter), got, v)
	}
}

// testFilterRandom: random filters over random nested metadata select,
// in the backend, exactly the events Filter.Match selects.
func (k *kit) testFilterRandom(t *testing.T) {
	s := k.store(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		m, _ := randomJSON(r, 0, true).(map[string]any)
		e := evstore.CandidateEvent{Type: randomPick(r, randomStrings) + "T", Metadata: m}
		write(t, stream(t, s, randomStrings[i%len(randomStrings)]+"-s"), []evstore.CandidateEvent{e})
	}
	all := stream(t, s, evstore.All)
	every := readAll(t, all)
	hits := 0
	for range 400 {
		f := randomFilter(r, every)
		if err := f.Validate(); err != nil {
			t.Fatalf("%v: %v", describe(f), err)
		}
		var want []int64
		for _, e := range every {
			if f.Match(e) {
				want = append(want, e.Sequence)
			}
		}
		if len(want) > 0 {
			hits++
		}
		if got := sequences(readAll(t, all, evstore.WithFilter(f))); !slices.Equal(got, want) {
			t.Errorf("%v: got sequences %v, want %v (Filter.Match)", describe(f), got, want)
		}
	}
	if hits < 50 {
		t.Errorf("only %d of 400 random filters matched an event: the test checks too little", hits)
	}
}

var (
	randomKeys    = []string{"a", "b", "0", "1"}
	randomStrings = []string{"x", "X", "", "0", "1", "a%", "_", "ü", "true", "%s"}
	randomNumbers = []any{0, 1, 1.5, -2, 1e20, float32(0.1), int64(1) << 53}
)

func randomPick[T any](r *rand.Rand, from []T) T { return from[r.IntN(len(from))] }

// randomJSON returns a random JSON value: objects and arrays down to a
// few levels, keys that look like array indexes, every scalar type.
func randomJSON(r *rand.Rand, depth int, object bool) any {
	kind := r.IntN(8)
	if object {
		kind = 0
	} else if depth >= 3 {
		kind = 2 + r.IntN(6)
	}
	switch kind {
	case 0:
		m := map[string]any{}
		for range 1 + r.IntN(3) {
			m[randomPick(r, randomKeys)] = randomJSON(r, depth+1, false)
		}
		return m
	case 1:
		a := make([]any, 1+r.IntN(2))
		for i := range a {
			a[i] = randomJSON(r, depth+1, false)
		}
		return a
	case 2, 3:
		return randomPick(r, randomStrings)
	case 4, 5:
		return randomPick(r, randomNumbers)
	case 6:
		return r.IntN(2) == 0
	}
	return nil
}

// randomFilter returns a valid filter of one or two clauses, most of them
// on a path and value found in one of events' metadata, walking into
// arrays by index as well as into objects.
func randomFilter(r *rand.Rand, events []evstore.StoredEvent) evstore.Filter {
	var f evstore.Filter
	for range 1 + r.IntN(2) {
		var field string
		var value any
		switch n := r.IntN(10); {
		case n == 0:
			field, value = "stream_id", randomPick(r, randomStrings)+"-s"
		case n == 1:
			field, value = "event_type", randomPick(r, randomStrings)+"T"
		case n < 4:
			field = "metadata"
			for range 1 + r.IntN(3) {
				field += "." + randomPick(r, randomKeys)
			}
		default:
			var v any = randomPick(r, events).Metadata
			field = "metadata"
			for step := 0; step < 4; step++ {
				switch x := v.(type) {
				case map[string]any:
					keys := slices.Sorted(maps.Keys(x))
					key := randomPick(r, keys)
					field, v = field+"."+key, x[key]
				case []any:
					if len(x) > 0 {
						i := r.IntN(len(x))
						field, v = field+"."+fmt.Sprint(i), x[i]
					}
				}
				if field != "metadata" && r.IntN(3) == 0 {
					break
				}
			}
			if field == "metadata" {
				field += ".a"
			}
			switch v.(type) {
			case string, float64, bool:
				value = v
			}
		}
		pick := func() any {
			if value != nil && r.IntN(3) > 0 {
				return value
			}
			if field == "stream_id" || field == "event_type" {
				return randomPick(r, randomStrings)
			}
			switch r.IntN(3) {
			case 0:
				return randomPick(r, randomStrings)
			case 1:
				return randomPick(r, randomNumbers)
			}
			return r.IntN(2) == 0
		}
		switch r.IntN(3) {
		case 0:
			f = append(f, evstore.Equals(field, pick()))
		case 1:
			f = append(f, evstore.In(field, pick(), pick()))
		default:
			pattern, ok := value.(string)
			if !ok || r.IntN(2) == 0 {
				pattern = randomPick(r, randomStrings)
			}
			f = append(f, evstore.Like(field, pattern))
		}
	}
	return f
}

// injection are strings that would change a query built by pasting text.
var injection = []string{
	`'; DROP TABLE events; --`,
	`" OR 1=1 --`,
	`x') OR ('1'='1`,
	`$.a') = 1 OR json_extract(metadata, '$`,
	`%' OR stream_id LIKE '%`,
	"\x00nul",
	`\'`,
}

func (k *kit) testFilterInjection(t *testing.T) {
	s := k.store(t)
	filterCorpus(t, s)
	all := stream(t, s, evstore.All)
	before := len(readAll(t, all))
	for _, bad := range injection {
		for _, f := range []evstore.Filter{
			{evstore.Equals("stream_id", bad)},
			{evstore.In("event_type", bad, "x")},
			{evstore.Like("stream_id", bad)},
			{evstore.Equals("metadata.region", bad)},
			{evstore.Like("metadata.region", bad)},
		} {
			if err := f.Validate(); err != nil { // NUL bytes are refused
				wantErr(t, describe(f), err, evstore.ErrInvalidFilter)
				continue
			}
			if got := readAll(t, all, evstore.WithFilter(f)); len(got) != 0 {
				t.Errorf("%v matched %d events, want 0", describe(f), len(got))
			}
		}
		// As a metadata key, the string is either refused or one key.
		f := evstore.Filter{evstore.Equals("metadata."+bad, "x")}
		if f.Validate() == nil {
			if got := readAll(t, all, evstore.WithFilter(f)); len(got) != 0 {
				t.Errorf("%v matched %d events, want 0", describe(f), len(got))
			}
		}
	}
	if after := len(readAll(t, all)); after != before {
		t.Errorf("events after injection attempts: got %d, want %d", after, before)
	}
	write(t, stream(t, s, "order-1"), events("StillWorks", 1))
}

func (k *kit) testFilterInvalid(t *testing.T) {
	s := k.store(t)
	filterCorpus(t, s)
	bad := []evstore.Filter{
		{evstore.Equals("nope", "x")},
		{evstore.Equals("metadata", "x")},
		{evstore.Equals("metadata.", "x")},
		{evstore.Equals("metadata.a..b", "x")},
		{evstore.In("stream_id")},
		{evstore.Equals("version", "one")},
		{evstore.Equals("stream_id", 7)},
		{evstore.Equals("metadata.a", map[string]any{"x": 1})},
		{evstore.Like("version", "1%")},
		{{}},
	}
	for _, f := range bad {
		for _, st := range []*evstore.Stream{stream(t, s, evstore.All), stream(t, s, "order-1")} {
			got, err := collect(st.Read(ctx(t), evstore.WithFilter(f)))
			wantErr(t, fmt.Sprintf("Read with %v", describe(f)), err, evstore.ErrInvalidFilter)
			if len(got) != 0 {
				t.Errorf("Read with %v: got %d events before the error", describe(f), len(got))
			}
		}
	}
}

func describe(f evstore.Filter) string {
	s := "["
	for i, c := range f {
		if i > 0 {
			s += " AND "
		}
		s += fmt.Sprintf("%s%v op%d %v", c.Field(), c.Path(), c.Op(), c.Values())
	}
	return s + "]"
}
