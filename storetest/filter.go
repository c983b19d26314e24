package storetest

import (
	"encoding/json"
	"fmt"
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
