package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// dcbTests are the behaviour of tags, Store.Find, FailIfMatch and
// Store.Append (DESIGN.md, "Tags, queries and conditional appends"), which
// every backend with evstore.Finder and evstore.MultiAppender must have.
// A backend that lacks either has the whole group skipped (probeDCB): the
// Store answers ErrUnsupported for it, as for the SQLite and PostgreSQL
// backends until they implement both. Concurrency is the part that
// matters most, and the one a backend most easily gets wrong: a condition
// checked outside the write's transaction passes the sequential tests.
func (k *kit) dcbTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"TagsReadBack":        k.testTagsReadBack,
		"TagLimits":           k.testTagLimits,
		"TagFilter":           k.testTagFilter,
		"TagFilterWatch":      k.testTagFilterWatch,
		"TagFilterConsume":    k.testTagFilterConsume,
		"FindOrder":           k.testFindOrder,
		"FindTypes":           k.testFindTypes,
		"FindTags":            k.testFindTags,
		"FindAnyCriterion":    k.testFindAnyCriterion,
		"FindEverything":      k.testFindEverything,
		"FindAfterLimit":      k.testFindAfterLimit,
		"FindBadArguments":    k.testFindBadArguments,
		"FindDeleted":         k.testFindDeleted,
		"FindPages":           k.testFindPages,
		"ConditionWrite":      k.testConditionWrite,
		"ConditionAppend":     k.testConditionAppend,
		"ConditionRetry":      k.testConditionRetry,
		"ConditionBadInput":   k.testConditionBadInput,
		"AppendAtomic":        k.testAppendAtomic,
		"AppendCheckOnly":     k.testAppendCheckOnly,
		"AppendOrder":         k.testAppendOrder,
		"AppendRetry":         k.testAppendRetry,
		"AppendErrors":        k.testAppendErrors,
		"ConcurrentPairs":     k.testConcurrentPairs,
		"ConcurrentCapacity":  k.testConcurrentCapacity,
		"ConcurrentDisjoint":  k.testConcurrentDisjoint,
		"ConcurrentTransfers": k.testConcurrentTransfers,
	}
}

// probeDCB returns ErrUnsupported if the backend is no evstore.Finder or
// no evstore.MultiAppender.
func probeDCB(t *testing.T, s *evstore.Store) error {
	for _, err := range s.Find(ctx(t), evstore.Criteria{{}}) {
		if err != nil {
			return err
		}
	}
	_, err := s.Append(ctx(t), []evstore.StreamWrite{{StreamID: "probe"}})
	return err
}

// tagged returns an event of type typ, labelled by its Data, with tags.
func tagged(typ, label string, tags ...string) evstore.CandidateEvent {
	return evstore.CandidateEvent{Type: typ, Data: []byte(label), Tags: tags}
}

// labels returns the events' Data, which the tests here use as labels.
func labels(es []evstore.StoredEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.Data)
	}
	return out
}

// findAll collects a Find, failing the test on error.
func findAll(t *testing.T, s *evstore.Store, c evstore.Criteria, opts ...evstore.ReadOption) []evstore.StoredEvent {
	t.Helper()
	got, err := collect(s.Find(ctx(t), c, opts...))
	if err != nil {
		t.Fatalf("Find %v: %v", c, err)
	}
	return got
}

// everything returns every event of the store, by a Read of All.
func everything(t *testing.T, s *evstore.Store) []evstore.StoredEvent {
	t.Helper()
	return readAll(t, stream(t, s, evstore.All))
}

// unchanged checks that the store holds exactly the events before, after
// an operation that had to write nothing.
func unchanged(t *testing.T, s *evstore.Store, before []evstore.StoredEvent, what string) {
	t.Helper()
	if got := everything(t, s); !slices.Equal(sequences(got), sequences(before)) {
		t.Errorf("%s wrote something: the store went from sequences %v to %v", what, sequences(before), sequences(got))
	}
}

// wantCondition checks that err is a *ConditionError with the given
// After and Match, and that it is an ErrConflict.
func wantCondition(t *testing.T, what string, err error, after, match int64) {
	t.Helper()
	var ce *evstore.ConditionError
	if !errors.As(err, &ce) {
		t.Errorf("%s: got error %v, want a *ConditionError", what, err)
		return
	}
	if ce.After != after || ce.Match != match {
		t.Errorf("%s: got ConditionError{After: %d, Match: %d}, want {After: %d, Match: %d}", what, ce.After, ce.Match, after, match)
	}
	if !errors.Is(err, evstore.ErrConflict) {
		t.Errorf("%s: errors.Is(%v, ErrConflict) is false", what, err)
	}
}

// wantConflict checks that err is a *ConflictError for stream id.
func wantConflict(t *testing.T, what string, err error, id string, expected, actual int64) {
	t.Helper()
	var ce *evstore.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("%s: got error %v, want a *ConflictError", what, err)
		return
	}
	if ce.StreamID != id || ce.Expected != expected || ce.Actual != actual {
		t.Errorf("%s: got %+v, want a conflict on %q, expected %d, actual %d", what, *ce, id, expected, actual)
	}
}

// checkTags checks the Tags of events, by label: a nil want means the
// event must have nil Tags (not merely empty ones).
func checkTags(t *testing.T, where string, got []evstore.StoredEvent, want map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d events %v, want %d", where, len(got), labels(got), len(want))
	}
	for _, e := range got {
		w, ok := want[string(e.Data)]
		switch {
		case !ok:
			t.Errorf("%s: unexpected event %q", where, e.Data)
		case w == nil && e.Tags != nil:
			t.Errorf("%s: event %q has Tags %#v, want nil", where, e.Data, e.Tags)
		case !slices.Equal(e.Tags, w):
			t.Errorf("%s: event %q has Tags %q, want %q", where, e.Data, e.Tags, w)
		}
	}
}

// testTagsReadBack: tags are stored as a set and read back sorted (byte
// order), by Read of the stream and of All, by Watch (replay and live) and
// by Find; an event without tags reads back nil.
func (k *kit) testTagsReadBack(t *testing.T) {
	s := k.store(t)
	long := strings.Repeat("é", 127) + "x" // 255 bytes
	many := make([]string, 0, evstore.MaxTags+1)
	for i := range evstore.MaxTags {
		many = append(many, fmt.Sprintf("t%02d", evstore.MaxTags-1-i))
	}
	many = append(many, "t07") // 33 tags, 32 distinct
	manySorted := slices.Sorted(slices.Values(many[:evstore.MaxTags]))
	want := map[string][]string{
		"1": {"A", "a", "b", "é"},
		"2": nil,
		"3": nil,
		"4": {"course:c1"},
		"5": {"z", long}, // "é" is 0xc3 0xa9, after "z"
		"6": manySorted,
	}
	all := stream(t, s, evstore.All)
	// After(0) on an empty store: what they yield is written after they
	// start, unless they start late and replay it.
	liveAll := startWatch(t, all, evstore.After(0))
	liveS := startWatch(t, stream(t, s, "s"), evstore.After(0))

	write(t, stream(t, s, "s"), []evstore.CandidateEvent{
		tagged("E", "1", "b", "a", "b", "é", "A", "a"),
		tagged("E", "2"),
		{Type: "E", Data: []byte("3"), Tags: []string{}},
		tagged("E", "4", "course:c1", "course:c1"),
	})
	write(t, stream(t, s, "o"), []evstore.CandidateEvent{tagged("E", "5", "z", long)})
	if _, err := s.Append(ctx(t), []evstore.StreamWrite{{StreamID: "o", Events: []evstore.CandidateEvent{tagged("E", "6", many...)}}}); err != nil {
		t.Fatalf("Append: %v", err)
	}

	inS := map[string][]string{"1": want["1"], "2": nil, "3": nil, "4": want["4"]}
	checkTags(t, "Read s", readAll(t, stream(t, s, "s")), inS)
	checkTags(t, "Read s Backwards", readAll(t, stream(t, s, "s"), evstore.Backwards()), inS)
	checkTags(t, "Read @all", readAll(t, all), want)
	checkTags(t, "Read @all Backwards", readAll(t, all, evstore.Backwards()), want)
	checkTags(t, "Find everything", findAll(t, s, evstore.Criteria{{}}), want)
	checkTags(t, "Find everything Backwards", findAll(t, s, evstore.Criteria{{}}, evstore.Backwards()), want)
	checkTags(t, "Find by type", findAll(t, s, evstore.Criteria{{Types: []string{"E"}}}), want)
	checkTags(t, "Find course:c1", findAll(t, s, evstore.Criteria{{Tags: []string{"course:c1"}}}), map[string][]string{"4": want["4"]})
	checkTags(t, "Find t07", findAll(t, s, evstore.Criteria{{Tags: []string{"t07"}}}), map[string][]string{"6": manySorted})
	checkTags(t, "Watch s", liveS.next(t, 4), inS)
	checkTags(t, "Watch @all", liveAll.next(t, 6), want)
	checkTags(t, "Watch @all replay", startWatch(t, all, evstore.After(0)).next(t, 6), want)
	checkTags(t, "Watch s replay", startWatch(t, stream(t, s, "s"), evstore.After(0)).next(t, 4), inS)
}

// testTagLimits: a tag is 1 to 255 bytes of UTF-8 text without NUL bytes,
// and an event has at most 32 distinct tags; a bad tag is ErrInvalidEvent
// from Write (with or without FailIfMatch) and Append, with nothing of the
// write written.
func (k *kit) testTagLimits(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("Before", 1))
	before := everything(t, s)

	distinct := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("tag-%d", i)
		}
		return out
	}
	bad := map[string][]string{
		"empty":                 {"ok", ""},
		"256 bytes":             {strings.Repeat("x", evstore.MaxTagLen+1)},
		"256 bytes of 2-byte":   {strings.Repeat("é", 128)},
		"not UTF-8":             {"ok", "a\xffb"},
		"NUL":                   {"a\x00b"},
		"33 distinct":           distinct(evstore.MaxTags + 1),
		"33 distinct, repeated": append(distinct(evstore.MaxTags+1), "tag-0", "tag-1"),
	}
	ok := evstore.CandidateEvent{Type: "Fine", Tags: []string{"fine"}}
	cond := evstore.FailIfMatch(evstore.Criteria{{Types: []string{"Nothing"}}}, 0)
	for name, tags := range bad {
		ev := evstore.CandidateEvent{Type: "Bad", Tags: tags}
		_, err := st.Write(ctx(t), []evstore.CandidateEvent{ok, ev})
		wantErr(t, "Write, tags "+name, err, evstore.ErrInvalidEvent)
		_, err = st.Write(ctx(t), []evstore.CandidateEvent{ok, ev}, cond)
		wantErr(t, "Write with FailIfMatch, tags "+name, err, evstore.ErrInvalidEvent)
		_, err = s.Append(ctx(t), []evstore.StreamWrite{
			{StreamID: "a", Events: []evstore.CandidateEvent{ok}},
			{StreamID: "b", Events: []evstore.CandidateEvent{ok, ev}},
		})
		wantErr(t, "Append, tags "+name, err, evstore.ErrInvalidEvent)
		unchanged(t, s, before, "a write with tags "+name)
	}

	// The limits themselves are fine.
	good := map[string][]string{
		"255 bytes":             {strings.Repeat("x", evstore.MaxTagLen)},
		"255 bytes of 2-byte":   {strings.Repeat("é", 127) + "x"},
		"32 distinct":           distinct(evstore.MaxTags),
		"32 distinct, repeated": append(distinct(evstore.MaxTags), distinct(evstore.MaxTags)...),
		"unicode":               {"kurs:Zoë", "日本"},
	}
	for name, tags := range good {
		v := write(t, st, []evstore.CandidateEvent{{Type: "Good", Data: []byte(name), Tags: tags}})
		got := readAll(t, st, evstore.After(v-1))
		if want := slices.Compact(slices.Sorted(slices.Values(tags))); len(got) != 1 || !slices.Equal(got[0].Tags, want) {
			t.Errorf("tags %s: read back %d events, tags %q; want one with %d tags", name, len(got), tagsOf(got), len(want))
		}
	}
}

func tagsOf(es []evstore.StoredEvent) [][]string {
	out := make([][]string, len(es))
	for i, e := range es {
		out[i] = e.Tags
	}
	return out
}

// tagCorpus writes events with tags over streams a and b (and prefix+a,
// prefix+b when prefix is not empty), labelled prefix+"1".."7".
func tagCorpus(t *testing.T, s *evstore.Store, prefix string) {
	t.Helper()
	write(t, stream(t, s, prefix+"a"), []evstore.CandidateEvent{
		tagged("Enrolled", prefix+"1", "course:c1", "student:s1"),
		tagged("Enrolled", prefix+"2", "course:c2"),
		tagged("Note", prefix+"3"),
		tagged("Enrolled", prefix+"4", "COURSE:C1"),
	})
	write(t, stream(t, s, prefix+"b"), []evstore.CandidateEvent{
		tagged("Left", prefix+"5", "course:c10", "x_y"),
		tagged("Enrolled", prefix+"6", "course:c1"),
		tagged("Registered", prefix+"7", "student:s1"),
	})
}

// tagFilterCases are filters on "tag" and the labels of tagCorpus they
// select, in order.
var tagFilterCases = []struct {
	f    evstore.Filter
	want []string
}{
	{evstore.Filter{evstore.Equals("tag", "course:c1")}, []string{"1", "6"}},
	{evstore.Filter{evstore.Equals("tag", "course:c")}, nil},
	{evstore.Filter{evstore.Equals("tag", "nope")}, nil},
	{evstore.Filter{evstore.In("tag", "course:c2", "student:s1")}, []string{"1", "2", "7"}},
	{evstore.Filter{evstore.In("tag", "course:c1", "course:c2", "nope")}, []string{"1", "2", "6"}},
	{evstore.Filter{evstore.Like("tag", "course:c1%")}, []string{"1", "4", "5", "6"}},
	{evstore.Filter{evstore.Like("tag", "course:c_")}, []string{"1", "2", "4", "6"}},
	{evstore.Filter{evstore.Like("tag", "%:s_")}, []string{"1", "7"}},
	{evstore.Filter{evstore.Like("tag", "X_Y")}, []string{"5"}},
	{evstore.Filter{evstore.Like("tag", "%")}, []string{"1", "2", "4", "5", "6", "7"}},
	{evstore.Filter{evstore.Equals("tag", "course:c1"), evstore.Equals("tag", "student:s1")}, []string{"1"}},
	{evstore.Filter{evstore.Like("tag", "course:%"), evstore.Equals("event_type", "Enrolled")}, []string{"1", "2", "4", "6"}},
	{evstore.Filter{evstore.Equals("tag", "course:c1"), evstore.Equals("stream_id", "b")}, []string{"6"}},
}

// onlyIn keeps the labels of want that are in stream a (1-4) or b (5-7).
func onlyIn(want []string, id string) []string {
	var out []string
	for _, l := range want {
		if (id == "a") == (l <= "4") {
			out = append(out, l)
		}
	}
	return out
}

// testTagFilter: the "tag" filter field on Read, of a stream and of All:
// Equals has that tag, In one of them, Like a tag like the pattern.
func (k *kit) testTagFilter(t *testing.T) {
	s := k.store(t)
	tagCorpus(t, s, "")
	every := everything(t, s)
	for i, c := range tagFilterCases {
		for _, id := range []string{evstore.All, "a", "b"} {
			want := c.want
			if id != evstore.All {
				want = onlyIn(want, id)
			}
			got := readAll(t, stream(t, s, id), evstore.WithFilter(c.f))
			if !slices.Equal(labels(got), want) {
				t.Errorf("case %d %s, Read %s: got %v, want %v", i, describe(c.f), id, labels(got), want)
			}
			back := readAll(t, stream(t, s, id), evstore.WithFilter(c.f), evstore.Backwards())
			l := labels(back)
			slices.Reverse(l)
			if !slices.Equal(l, labels(got)) {
				t.Errorf("case %d %s, Read %s Backwards: got %v, want the reverse of %v", i, describe(c.f), id, labels(back), labels(got))
			}
		}
		// Filter.Match, which Watch applies to live events, agrees.
		var match []string
		for _, e := range every {
			if c.f.Match(e) {
				match = append(match, string(e.Data))
			}
		}
		if !slices.Equal(match, c.want) {
			t.Errorf("case %d %s: Filter.Match selects %v, want %v", i, describe(c.f), match, c.want)
		}
	}
	for _, f := range []evstore.Filter{{evstore.Equals("tag", 1)}, {evstore.In("tag")}, {evstore.Equals("tag", "a\x00b")}} {
		_, err := collect(stream(t, s, evstore.All).Read(ctx(t), evstore.WithFilter(f)))
		wantErr(t, "Read with filter "+describe(f), err, evstore.ErrInvalidFilter)
	}
}

// testTagFilterWatch: the "tag" filter on Watch, replayed and live, of a
// stream and of All.
func (k *kit) testTagFilterWatch(t *testing.T) {
	// End matches every one of these filters, so that its arrival shows
	// nothing else was yielded before it.
	end := tagged("Enrolled", "end", "course:c1", "course:c2", "student:s1")
	for i, c := range tagFilterCases {
		if !c.f.Match(evstore.StoredEvent{StreamID: "a", Type: end.Type, Tags: end.Tags}) {
			continue
		}
		s := k.store(t)
		tagCorpus(t, s, "")
		wAll := startWatch(t, stream(t, s, evstore.All), evstore.After(0), evstore.WithFilter(c.f))
		wA := startWatch(t, stream(t, s, "a"), evstore.After(0), evstore.WithFilter(c.f))
		if got := labels(wAll.next(t, len(c.want))); !slices.Equal(got, c.want) {
			t.Errorf("case %d %s, Watch @all replay: got %v, want %v", i, describe(c.f), got, c.want)
		}
		wantA := onlyIn(c.want, "a")
		if got := labels(wA.next(t, len(wantA))); !slices.Equal(got, wantA) {
			t.Errorf("case %d %s, Watch a replay: got %v, want %v", i, describe(c.f), got, wantA)
		}
		// Live: the same corpus again, on other streams, then End on a.
		prefix := fmt.Sprintf("live%d-", i)
		tagCorpus(t, s, prefix)
		write(t, stream(t, s, "a"), []evstore.CandidateEvent{end})
		var wantLive []string
		for _, l := range c.want {
			wantLive = append(wantLive, prefix+l)
		}
		wantLive = append(wantLive, "end")
		if got := labels(wAll.next(t, len(wantLive))); !slices.Equal(got, wantLive) {
			t.Errorf("case %d %s, Watch @all live: got %v, want %v", i, describe(c.f), got, wantLive)
		}
		if got := labels(wA.next(t, 1)); !slices.Equal(got, []string{"end"}) {
			t.Errorf("case %d %s, Watch a live: got %v, want [end]", i, describe(c.f), got)
		}
		wAll.cancel()
		wA.cancel()
	}
}

// testTagFilterConsume: the "tag" filter in ConsumeFilter.
func (k *kit) testTagFilterConsume(t *testing.T) {
	s := k.store(t)
	if err := probeConsumers(t, s); errors.Is(err, evstore.ErrUnsupported) {
		t.Skipf("the backend keeps no consumers: %v", err)
	}
	tagCorpus(t, s, "")
	rec := newRecorder()
	r := startConsume(t, s, "c1", rec, evstore.ConsumeFilter(evstore.Filter{evstore.Like("tag", "course:c1%")}), evstore.BatchSize(2))
	want := []string{"1", "4", "5", "6"}
	if got := labels(rec.waitFor(t, len(want))); !slices.Equal(got, want) {
		t.Errorf("catch-up: got %v, want %v", got, want)
	}
	tagCorpus(t, s, "live-")
	write(t, stream(t, s, "z"), []evstore.CandidateEvent{tagged("End", "end", "course:c1")})
	want = append(want, "live-1", "live-4", "live-5", "live-6", "end")
	if got := labels(rec.waitFor(t, len(want))); !slices.Equal(got, want) {
		t.Errorf("live: got %v, want %v", got, want)
	}
	if err := r.stop(t); err != nil {
		t.Error(err)
	}
}

// findCorpus writes eight events, one Write each, interleaving streams,
// labelled "1".."8"; it returns them as a Read of All gives them.
func findCorpus(t *testing.T, s *evstore.Store) []evstore.StoredEvent {
	t.Helper()
	for _, w := range []struct {
		id string
		e  evstore.CandidateEvent
	}{
		{"course-c1", tagged("CourseDefined", "1", "course:c1")},
		{"student-s1", tagged("Registered", "2", "student:s1")},
		{"student-s1", tagged("Enrolled", "3", "course:c1", "student:s1")},
		{"student-s2", tagged("Enrolled", "4", "student:s2", "course:c1")},
		{"course-c2", tagged("CourseDefined", "5", "course:c2")},
		{"student-s1", tagged("Enrolled", "6", "course:c2", "student:s1")},
		{"misc", tagged("Note", "7")},
		{"student-s2", tagged("Left", "8", "course:c1", "student:s2")},
	} {
		w.e.ID = "k" + string(w.e.Data)
		w.e.Metadata = map[string]any{"n": string(w.e.Data)}
		write(t, stream(t, s, w.id), []evstore.CandidateEvent{w.e})
	}
	every := everything(t, s)
	if got := labels(every); !slices.Equal(got, strings.Split("12345678", "")) {
		t.Fatalf("corpus: Read @all gives %v", got)
	}
	return every
}

// findCase is a Find and the labels of findCorpus it must yield, in order.
type findCase struct {
	c    evstore.Criteria
	opts []evstore.ReadOption
	want string // labels, "" for none
}

func runFindCases(t *testing.T, s *evstore.Store, cases []findCase) {
	t.Helper()
	for _, c := range cases {
		got := strings.Join(labels(findAll(t, s, c.c, c.opts...)), "")
		if got != c.want {
			t.Errorf("Find %+v (%d options): got %q, want %q", c.c, len(c.opts), got, c.want)
		}
	}
}

// testFindOrder: Find yields the matching events of every stream in
// Sequence order, each as Read gives it.
func (k *kit) testFindOrder(t *testing.T) {
	s := k.store(t)
	every := findCorpus(t, s)
	bySeq := map[int64]evstore.StoredEvent{}
	for _, e := range every {
		bySeq[e.Sequence] = e
	}
	got := findAll(t, s, evstore.Criteria{{Tags: []string{"course:c1"}}})
	if l := strings.Join(labels(got), ""); l != "1348" {
		t.Errorf("Find course:c1: got %q, want \"1348\"", l)
	}
	seqs := sequences(got)
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("Find course:c1: sequences %v, want strictly increasing", seqs)
	}
	for _, e := range got {
		if !reflect.DeepEqual(e, bySeq[e.Sequence]) {
			t.Errorf("Find yields %+v, Read @all %+v", e, bySeq[e.Sequence])
		}
	}
	back := findAll(t, s, evstore.Criteria{{Tags: []string{"course:c1"}}}, evstore.Backwards())
	slices.Reverse(back)
	if !reflect.DeepEqual(back, got) {
		t.Errorf("Find course:c1 Backwards: got %v, want %v reversed", labels(back), labels(got))
	}
}

// ofTypes and withTags build Criterion fields.
func ofTypes(ts ...string) []string  { return ts }
func withTags(ts ...string) []string { return ts }

// testFindTypes: a criterion with only types matches events of one of
// those types, whatever their tags.
func (k *kit) testFindTypes(t *testing.T) {
	s := k.store(t)
	findCorpus(t, s)
	runFindCases(t, s, []findCase{
		{c: evstore.Criteria{{Types: ofTypes("Enrolled")}}, want: "346"},
		{c: evstore.Criteria{{Types: ofTypes("Left", "Enrolled")}}, want: "3468"},
		{c: evstore.Criteria{{Types: ofTypes("Note")}}, want: "7"},
		{c: evstore.Criteria{{Types: ofTypes("Nothing")}}, want: ""},
		{c: evstore.Criteria{{Types: ofTypes("enrolled")}}, want: ""},
		{c: evstore.Criteria{{Types: ofTypes("Enrolled", "Enrolled")}}, want: "346"},
	})
}

// testFindTags: a criterion with tags matches events that carry every one
// of them; with types too, of one of those types.
func (k *kit) testFindTags(t *testing.T) {
	s := k.store(t)
	findCorpus(t, s)
	runFindCases(t, s, []findCase{
		{c: evstore.Criteria{{Tags: withTags("student:s1")}}, want: "236"},
		{c: evstore.Criteria{{Tags: withTags("course:c1", "student:s2")}}, want: "48"},
		{c: evstore.Criteria{{Tags: withTags("student:s2", "course:c1", "student:s2")}}, want: "48"},
		{c: evstore.Criteria{{Tags: withTags("course:c1", "course:c2")}}, want: ""},
		{c: evstore.Criteria{{Tags: withTags("course:c")}}, want: ""},
		{c: evstore.Criteria{{Tags: withTags("COURSE:C1")}}, want: ""},
		{c: evstore.Criteria{{Tags: withTags("course:c1", "nope")}}, want: ""},
		{c: evstore.Criteria{{Types: ofTypes("Enrolled"), Tags: withTags("course:c1")}}, want: "34"},
		{c: evstore.Criteria{{Types: ofTypes("Enrolled", "Left"), Tags: withTags("student:s2")}}, want: "48"},
		{c: evstore.Criteria{{Types: ofTypes("Registered"), Tags: withTags("course:c1")}}, want: ""},
	})
}

// testFindAnyCriterion: an event matches Criteria when it matches any one
// criterion, and is yielded once however many it matches.
func (k *kit) testFindAnyCriterion(t *testing.T) {
	s := k.store(t)
	findCorpus(t, s)
	runFindCases(t, s, []findCase{
		{c: evstore.Criteria{{Types: ofTypes("CourseDefined")}, {Tags: withTags("student:s2")}}, want: "1458"},
		{c: evstore.Criteria{{Tags: withTags("course:c1")}, {Types: ofTypes("Enrolled")}}, want: "13468"},
		{c: evstore.Criteria{{Tags: withTags("course:c1")}, {Tags: withTags("course:c1")}}, want: "1348"},
		{c: evstore.Criteria{{Types: ofTypes("Enrolled"), Tags: withTags("course:c2")}, {Types: ofTypes("Note")}, {Tags: withTags("nope")}}, want: "67"},
		{c: evstore.Criteria{{Tags: withTags("nope")}, {Types: ofTypes("Nothing")}}, want: ""},
		{c: evstore.Criteria{{Tags: withTags("course:c1")}, {Tags: withTags("course:c2")}}, opts: []evstore.ReadOption{evstore.Backwards(), evstore.Limit(4)}, want: "8654"},
	})
}

// testFindEverything: a criterion with neither types nor tags matches
// every event, tagged or not.
func (k *kit) testFindEverything(t *testing.T) {
	s := k.store(t)
	every := findCorpus(t, s)
	for _, c := range []evstore.Criteria{{{}}, {{Types: ofTypes("Nothing")}, {}}, {{}, {}}} {
		if got := findAll(t, s, c); !reflect.DeepEqual(got, every) {
			t.Errorf("Find %+v: got %v, want every event %v", c, labels(got), labels(every))
		}
	}
	empty := k.store(t)
	if got := findAll(t, empty, evstore.Criteria{{}}); len(got) != 0 {
		t.Errorf("Find on an empty store: got %v", labels(got))
	}
}

// testFindAfterLimit: After (a Sequence), Before, MaxSequence, Limit and
// Backwards, as in Read of All.
func (k *kit) testFindAfterLimit(t *testing.T) {
	s := k.store(t)
	every := findCorpus(t, s)
	seq := func(label int) int64 { return every[label-1].Sequence }
	c1 := evstore.Criteria{{Tags: withTags("course:c1")}} // 1 3 4 8
	after, limit, back := evstore.After, evstore.Limit, evstore.Backwards()
	runFindCases(t, s, []findCase{
		{c: c1, opts: []evstore.ReadOption{after(0)}, want: "1348"},
		{c: c1, opts: []evstore.ReadOption{after(seq(3))}, want: "48"},
		{c: c1, opts: []evstore.ReadOption{after(seq(3) - 1)}, want: "348"},
		{c: c1, opts: []evstore.ReadOption{after(seq(2))}, want: "348"},
		{c: c1, opts: []evstore.ReadOption{after(seq(8))}, want: ""},
		{c: c1, opts: []evstore.ReadOption{after(seq(8) + 1000)}, want: ""},
		{c: c1, opts: []evstore.ReadOption{limit(2)}, want: "13"},
		{c: c1, opts: []evstore.ReadOption{limit(1)}, want: "1"},
		{c: c1, opts: []evstore.ReadOption{limit(100)}, want: "1348"},
		{c: c1, opts: []evstore.ReadOption{after(seq(1)), limit(2)}, want: "34"},
		{c: c1, opts: []evstore.ReadOption{back}, want: "8431"},
		{c: c1, opts: []evstore.ReadOption{back, limit(3)}, want: "843"},
		{c: c1, opts: []evstore.ReadOption{back, after(seq(3))}, want: "84"},
		{c: c1, opts: []evstore.ReadOption{after(seq(1)), limit(1), back}, want: "8"},
		{c: c1, opts: []evstore.ReadOption{back, after(seq(8))}, want: ""},
		{c: c1, opts: []evstore.ReadOption{evstore.Before(seq(4))}, want: "13"},
		{c: c1, opts: []evstore.ReadOption{back, evstore.Before(seq(8)), limit(2)}, want: "43"},
		{c: c1, opts: []evstore.ReadOption{after(seq(1)), evstore.Before(seq(8))}, want: "34"},
		{c: c1, opts: []evstore.ReadOption{evstore.MaxSequence(seq(4))}, want: "134"},
		{c: c1, opts: []evstore.ReadOption{back, evstore.MaxSequence(seq(7))}, want: "431"},
	})
}

// testFindBadArguments: Find takes After, Before, MaxSequence, Limit and
// Backwards only (with their arguments in range), and
// non-empty Criteria; anything else is ErrInvalidArgument, yielded as the
// one and only pair.
func (k *kit) testFindBadArguments(t *testing.T) {
	s := k.store(t)
	findCorpus(t, s)
	good := evstore.Criteria{{Tags: withTags("course:c1")}}
	for _, c := range []struct {
		what string
		c    evstore.Criteria
		opts []evstore.ReadOption
	}{
		{"a Filter", good, []evstore.ReadOption{evstore.WithFilter(evstore.Filter{evstore.Equals("event_type", "Enrolled")})}},
		{"a tag Filter", good, []evstore.ReadOption{evstore.WithFilter(evstore.Filter{evstore.Equals("tag", "course:c1")})}},
		{"nil Criteria", nil, nil},
		{"empty Criteria", evstore.Criteria{}, nil},
		{"After(-1)", good, []evstore.ReadOption{evstore.After(-1)}},
		{"Limit(0)", good, []evstore.ReadOption{evstore.Limit(0)}},
		{"Limit(-1)", good, []evstore.ReadOption{evstore.Limit(-1)}},
		{"Before(0)", good, []evstore.ReadOption{evstore.Before(0)}},
		{"MaxSequence(0)", good, []evstore.ReadOption{evstore.MaxSequence(0)}},
		{"an empty tag", evstore.Criteria{{Tags: withTags("course:c1", "")}}, nil},
		{"a 256-byte tag", evstore.Criteria{{Tags: withTags(strings.Repeat("x", 256))}}, nil},
		{"a NUL in a tag", evstore.Criteria{{}, {Tags: withTags("a\x00")}}, nil},
		{"an empty type", evstore.Criteria{{Types: ofTypes("")}}, nil},
	} {
		n := 0
		var err error
		for _, e := range s.Find(ctx(t), c.c, c.opts...) {
			n++
			err = e
		}
		if n != 1 {
			t.Errorf("Find with %s: yielded %d pairs, want one error", c.what, n)
		}
		wantErr(t, "Find with "+c.what, err, evstore.ErrInvalidArgument)
	}
}

// testFindDeleted: the events Stream.Delete and Stream.Truncate remove
// are not found; Find sees what a Read of All sees.
func (k *kit) testFindDeleted(t *testing.T) {
	s := k.store(t)
	findCorpus(t, s)
	if _, err := stream(t, s, "student-s2").Delete(ctx(t)); errors.Is(err, evstore.ErrUnsupported) {
		t.Skipf("the backend deletes nothing: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	runFindCases(t, s, []findCase{
		{c: evstore.Criteria{{Tags: withTags("course:c1")}}, want: "13"},
		{c: evstore.Criteria{{Tags: withTags("student:s2")}}, want: ""},
		{c: evstore.Criteria{{Types: ofTypes("Left")}}, want: ""},
	})
	if err := stream(t, s, "student-s1").Truncate(ctx(t), 3); err != nil {
		t.Fatal(err)
	}
	runFindCases(t, s, []findCase{
		{c: evstore.Criteria{{Tags: withTags("student:s1")}}, want: "6"},
		{c: evstore.Criteria{{Types: ofTypes("Enrolled")}}, want: "6"},
	})
	if got, every := findAll(t, s, evstore.Criteria{{}}), everything(t, s); !reflect.DeepEqual(got, every) {
		t.Errorf("Find everything after Delete and Truncate: got sequences %v, Read @all %v", sequences(got), sequences(every))
	}
}

// testFindPages: a Find of more events than one page of the Store's reads
// (4096) yields them all, in order, and sees one view: an event written
// while it runs is not yielded.
func (k *kit) testFindPages(t *testing.T) {
	s := k.store(t)
	const n = 5000
	st := stream(t, s, "many")
	batch := make([]evstore.CandidateEvent, 0, 500)
	for i := range n {
		batch = append(batch, tagged("A", strconv.Itoa(i), "a"))
		if i%5 == 0 {
			batch = append(batch, tagged("B", "b", "b"))
		}
		if len(batch) >= 500 {
			write(t, st, batch)
			batch = batch[:0]
		}
	}
	write(t, st, batch)
	c := evstore.Criteria{{Tags: withTags("a")}}
	check := func(what string, got []evstore.StoredEvent, from, step, count int) {
		t.Helper()
		if len(got) != count {
			t.Errorf("%s: got %d events, want %d", what, len(got), count)
			return
		}
		for i, e := range got {
			if want := strconv.Itoa(from + i*step); string(e.Data) != want {
				t.Errorf("%s: event %d is %q, want %q", what, i, e.Data, want)
				return
			}
		}
	}
	var got []evstore.StoredEvent
	for e, err := range s.Find(ctx(t), c) {
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			write(t, stream(t, s, "late"), []evstore.CandidateEvent{tagged("A", "late", "a")})
		}
		got = append(got, e)
	}
	check("Find while writing", got, 0, 1, n)
	check("Find Limit", findAll(t, s, c, evstore.Limit(4097)), 0, 1, 4097)
	check("Find After Limit", findAll(t, s, c, evstore.After(got[10].Sequence), evstore.Limit(4500)), 11, 1, 4500)
	back := findAll(t, s, c, evstore.Backwards())
	if len(back) != n+1 || string(back[0].Data) != "late" {
		t.Fatalf("Find Backwards: got %d events, the first %q; want %d, the first late", len(back), labels(back[:1]), n+1)
	}
	check("Find Backwards", back[1:], n-1, -1, n)
	if got := len(findAll(t, s, evstore.Criteria{{Types: ofTypes("B")}})); got != n/5 {
		t.Errorf("Find B: got %d events, want %d", got, n/5)
	}
}

// testConditionWrite: Stream.Write with FailIfMatch fails with a
// *ConditionError, writing nothing, when an event matching the criteria
// has a Sequence above after, and succeeds otherwise; the write's own
// events do not count.
func (k *kit) testConditionWrite(t *testing.T) {
	s := k.store(t)
	o, st := stream(t, s, "o"), stream(t, s, "s")
	write(t, o, []evstore.CandidateEvent{tagged("Enrolled", "m1", "course:c1", "student:s9")})
	write(t, o, []evstore.CandidateEvent{tagged("Enrolled", "x", "course:c2")})
	every := everything(t, s)
	m1, x := every[0].Sequence, every[1].Sequence
	c1 := evstore.Criteria{{Tags: withTags("course:c1")}}
	enrol := []evstore.CandidateEvent{tagged("Enrolled", "e", "course:c1", "student:s1")}

	_, err := st.Write(ctx(t), enrol, evstore.FailIfMatch(c1, 0))
	wantCondition(t, "Write after 0 with a match above", err, 0, m1)
	_, err = st.Write(ctx(t), enrol, evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("Left")}, {Tags: withTags("student:s9")}}, m1-1))
	wantCondition(t, "Write with a match of its second criterion", err, m1-1, m1)
	_, err = st.Write(ctx(t), enrol, evstore.ExpectVersion(0), evstore.FailIfMatch(c1, 0))
	wantCondition(t, "Write with ExpectVersion that holds and a match", err, 0, m1)
	_, err = st.Write(ctx(t), enrol, evstore.ExpectVersion(3), evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("Nothing")}}, 0))
	wantConflict(t, "Write with ExpectVersion that fails and no match", err, "s", 3, 0)
	_, err = st.Write(ctx(t), enrol, evstore.ExpectExists(), evstore.FailIfMatch(c1, 0))
	wantErr(t, "Write with ExpectExists that fails and a match", err, evstore.ErrConflict)
	unchanged(t, s, every, "a Write whose condition failed")
	if st.Version() != 0 {
		t.Errorf("handle Version after failed writes: %d, want 0", st.Version())
	}

	// Matches at or below after, or of other criteria, do not count; nor
	// do the write's own events.
	var r evstore.WriteReport
	v, err := st.Write(ctx(t), enrol, evstore.FailIfMatch(c1, m1), evstore.Report(&r))
	if err != nil || v != 1 {
		t.Fatalf("Write with no match above after: got %d, %v; want 1, nil", v, err)
	}
	e := everything(t, s)[2]
	if r.Version != 1 || r.Appended != 1 || r.First != e.Sequence || r.Last != e.Sequence {
		t.Errorf("Report of a conditional Write: got %+v, want version 1, 1 appended at %d", r, e.Sequence)
	}
	if v, err := st.Write(ctx(t), events("E", 2), evstore.ExpectVersion(1), evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("Nothing")}, {Tags: withTags("course:c3")}}, 0)); err != nil || v != 3 {
		t.Errorf("Write with no match at all: got %d, %v; want 3, nil", v, err)
	}
	if v, err := st.Write(ctx(t), events("E", 1), evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("Enrolled"), Tags: withTags("course:c2")}}, x)); err != nil || v != 4 {
		t.Errorf("Write with its match at after: got %d, %v; want 4, nil", v, err)
	}
	// The first match above after is named: s's enrolment, not the later
	// ones.
	write(t, o, []evstore.CandidateEvent{tagged("Enrolled", "m3", "course:c1")})
	every = everything(t, s)
	_, err = st.Write(ctx(t), enrol, evstore.FailIfMatch(c1, m1))
	wantCondition(t, "Write with several matches above after", err, m1, e.Sequence)
	_, err = st.Write(ctx(t), enrol, evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("E")}}, 0))
	wantCondition(t, "Write with a match of the stream's own events", err, 0, every[3].Sequence)
	unchanged(t, s, every, "a Write whose condition failed")
	// A Write with no events checks nothing.
	if v, err := st.Write(ctx(t), nil, evstore.FailIfMatch(c1, 0)); err != nil || v != 4 {
		t.Errorf("Write of no events with a failing condition: got %d, %v; want 4, nil", v, err)
	}
}

// testConditionAppend: Store.Append with FailIfMatch, as Write.
func (k *kit) testConditionAppend(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), []evstore.CandidateEvent{tagged("Enrolled", "m1", "course:c1")})
	write(t, stream(t, s, "b"), []evstore.CandidateEvent{tagged("Other", "x", "course:c2")})
	every := everything(t, s)
	m1, x := every[0].Sequence, every[1].Sequence
	c1 := evstore.Criteria{{Tags: withTags("course:c1")}}
	writes := func(ea, eb int64) []evstore.StreamWrite {
		return []evstore.StreamWrite{
			{StreamID: "a", Events: []evstore.CandidateEvent{tagged("Enrolled", "a", "course:c1")}, Options: []evstore.WriteOption{evstore.ExpectVersion(ea)}},
			{StreamID: "b", Events: []evstore.CandidateEvent{tagged("Enrolled", "b", "course:c1")}, Options: []evstore.WriteOption{evstore.ExpectVersion(eb)}},
			{StreamID: "c", Events: events("C", 2)},
		}
	}
	_, err := s.Append(ctx(t), writes(1, 1), evstore.FailIfMatch(c1, 0))
	wantCondition(t, "Append after 0 with a match above", err, 0, m1)
	_, err = s.Append(ctx(t), writes(1, 1), evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("Other")}}, m1))
	wantCondition(t, "Append after m1 with a match above", err, m1, x)
	_, err = s.Append(ctx(t), writes(1, 0), evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("Nothing")}}, 0))
	wantConflict(t, "Append with an expectation that fails and no match", err, "b", 0, 1)
	_, err = s.Append(ctx(t), writes(1, 0), evstore.FailIfMatch(c1, 0))
	wantErr(t, "Append with an expectation that fails and a match", err, evstore.ErrConflict)
	unchanged(t, s, every, "an Append whose condition failed")

	// Its own events match c1 but do not count.
	out, err := s.Append(ctx(t), writes(1, 1), evstore.FailIfMatch(c1, m1))
	if err != nil {
		t.Fatalf("Append with no match above after: %v", err)
	}
	if len(out) != 3 || out[0].Version != 2 || out[1].Version != 2 || out[2].Version != 2 || out[2].Appended != 2 {
		t.Errorf("Append reports: got %+v, want versions 2, 2, 2", out)
	}
	after := everything(t, s)
	if len(after) != len(every)+4 {
		t.Fatalf("Append wrote %d events, want 4", len(after)-len(every))
	}
	_, err = s.Append(ctx(t), writes(2, 2), evstore.FailIfMatch(c1, m1))
	wantCondition(t, "Append with the previous Append's events above after", err, m1, after[2].Sequence)
	unchanged(t, s, after, "an Append whose condition failed")
}

// testConditionRetry: a write whose events all exist already (by key) is a
// retry and succeeds whatever its condition; one with new events is
// checked.
func (k *kit) testConditionRetry(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	c := evstore.Criteria{{Tags: withTags("course:c1")}}
	k1 := evstore.CandidateEvent{ID: "k1", Type: "Enrolled", Data: []byte("k1"), Tags: []string{"course:c1"}}
	k2 := evstore.CandidateEvent{ID: "k2", Type: "Enrolled", Data: []byte("k2"), Tags: []string{"course:c1"}}
	if v, err := st.Write(ctx(t), []evstore.CandidateEvent{k1}, evstore.FailIfMatch(c, 0)); err != nil || v != 1 {
		t.Fatalf("first Write: got %d, %v; want 1, nil", v, err)
	}
	write(t, stream(t, s, "o"), []evstore.CandidateEvent{tagged("Enrolled", "o", "course:c1")})
	every := everything(t, s)

	var r evstore.WriteReport
	for _, opts := range [][]evstore.WriteOption{
		{evstore.FailIfMatch(c, 0)},
		{evstore.FailIfMatch(c, 0), evstore.ExpectVersion(0)},
		{evstore.FailIfMatch(evstore.Criteria{{}}, 0), evstore.ExpectVersion(5)},
	} {
		v, err := st.Write(ctx(t), []evstore.CandidateEvent{k1, k1}, append(opts, evstore.Report(&r))...)
		if err != nil || v != 1 || r.Appended != 0 {
			t.Errorf("Write retry with a failing condition: got %d, %v, %+v; want 1, nil, nothing appended", v, err, r)
		}
	}
	_, err := st.Write(ctx(t), []evstore.CandidateEvent{k1, k2}, evstore.FailIfMatch(c, 0))
	wantCondition(t, "Write of a known and a new event", err, 0, every[0].Sequence)
	if _, found, err := st.Lookup(ctx(t), "k2"); err != nil || found {
		t.Errorf("Lookup(k2) after the failed write: found %v, %v; want not found", found, err)
	}

	a := evstore.CandidateEvent{ID: "a1", Type: "Enrolled", Data: []byte("a1"), Tags: []string{"course:c1"}}
	b := evstore.CandidateEvent{ID: "b1", Type: "Enrolled", Data: []byte("b1"), Tags: []string{"course:c1"}}
	head := every[len(every)-1].Sequence
	w := []evstore.StreamWrite{{StreamID: "a", Events: []evstore.CandidateEvent{a}}, {StreamID: "b", Events: []evstore.CandidateEvent{b}}}
	if _, err := s.Append(ctx(t), w, evstore.FailIfMatch(c, head)); err != nil {
		t.Fatalf("first Append: %v", err)
	}
	write(t, stream(t, s, "o"), []evstore.CandidateEvent{tagged("Enrolled", "o2", "course:c1")})
	every = everything(t, s)
	out, err := s.Append(ctx(t), w, evstore.FailIfMatch(c, head))
	if err != nil || len(out) != 2 || out[0] != (evstore.WriteReport{Version: 1}) || out[1] != (evstore.WriteReport{Version: 1}) {
		t.Errorf("Append retry with a failing condition: got %+v, %v; want two reports of version 1, nothing appended", out, err)
	}
	unchanged(t, s, every, "an Append retry")
}

// testConditionBadInput: empty Criteria, a bad criterion and a negative
// after are refused with ErrInvalidArgument, nothing written.
func (k *kit) testConditionBadInput(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 1))
	every := everything(t, s)
	good := evstore.Criteria{{Types: ofTypes("Nothing")}}
	for _, c := range []struct {
		what string
		opt  evstore.WriteOption
	}{
		{"nil Criteria", evstore.FailIfMatch(nil, 0)},
		{"empty Criteria", evstore.FailIfMatch(evstore.Criteria{}, 0)},
		{"negative after", evstore.FailIfMatch(good, -1)},
		{"an empty tag", evstore.FailIfMatch(evstore.Criteria{{Tags: withTags("")}}, 0)},
		{"a 256-byte tag", evstore.FailIfMatch(evstore.Criteria{good[0], {Tags: withTags(strings.Repeat("t", 256))}}, 0)},
		{"an empty type", evstore.FailIfMatch(evstore.Criteria{{Types: ofTypes("")}}, 0)},
	} {
		_, err := st.Write(ctx(t), events("E", 1), c.opt)
		wantErr(t, "Write, FailIfMatch with "+c.what, err, evstore.ErrInvalidArgument)
		_, err = s.Append(ctx(t), []evstore.StreamWrite{{StreamID: "s", Events: events("E", 1)}, {StreamID: "t", Events: events("E", 1)}}, c.opt)
		wantErr(t, "Append, FailIfMatch with "+c.what, err, evstore.ErrInvalidArgument)
		unchanged(t, s, every, "a write with FailIfMatch with "+c.what)
	}
}

// testAppendAtomic: Store.Append writes to several streams, each with its
// own expectation, all or nothing.
func (k *kit) testAppendAtomic(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), events("A", 2))
	write(t, stream(t, s, "b"), events("B", 1))
	out, err := s.Append(ctx(t), []evstore.StreamWrite{
		{StreamID: "a", Events: events("A", 2), Options: []evstore.WriteOption{evstore.ExpectVersion(2)}},
		{StreamID: "b", Events: events("B", 1), Options: []evstore.WriteOption{evstore.ExpectExists()}},
		{StreamID: "c", Events: events("C", 3), Options: []evstore.WriteOption{evstore.ExpectVersion(0)}},
		{StreamID: "d", Events: events("D", 1)},
	})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	for i, want := range []struct {
		id       string
		version  int64
		appended int
	}{{"a", 4, 2}, {"b", 2, 1}, {"c", 3, 3}, {"d", 1, 1}} {
		if len(out) != 4 {
			t.Fatalf("Append returned %d reports, want 4", len(out))
		}
		got := readAll(t, stream(t, s, want.id))
		if !slices.Equal(versions(got), span(1, want.version)) {
			t.Errorf("stream %s: versions %v after Append, want 1..%d", want.id, versions(got), want.version)
		}
		fresh := got[len(got)-want.appended:]
		r := out[i]
		if r.Version != want.version || r.Appended != want.appended || r.First != fresh[0].Sequence || r.Last != fresh[len(fresh)-1].Sequence {
			t.Errorf("report %d (%s): got %+v, want version %d, %d appended, Sequences %d to %d", i, want.id, r, want.version, want.appended, fresh[0].Sequence, fresh[len(fresh)-1].Sequence)
		}
	}
	every := everything(t, s)

	for _, c := range []struct {
		what           string
		failing        evstore.StreamWrite
		id             string
		expect, actual int64
	}{
		{"ExpectVersion below", evstore.StreamWrite{StreamID: "b", Events: events("B", 1), Options: []evstore.WriteOption{evstore.ExpectVersion(1)}}, "b", 1, 2},
		{"ExpectVersion above", evstore.StreamWrite{StreamID: "b", Events: events("B", 1), Options: []evstore.WriteOption{evstore.ExpectVersion(3)}}, "b", 3, 2},
		{"ExpectVersion(0) of a stream that exists", evstore.StreamWrite{StreamID: "b", Events: events("B", 1), Options: []evstore.WriteOption{evstore.ExpectVersion(0)}}, "b", 0, 2},
		{"ExpectExists of a new stream", evstore.StreamWrite{StreamID: "e", Events: events("E", 1), Options: []evstore.WriteOption{evstore.ExpectExists()}}, "e", evstore.AnyExisting, 0},
		{"ExpectVersion of a new stream", evstore.StreamWrite{StreamID: "e", Events: events("E", 1), Options: []evstore.WriteOption{evstore.ExpectVersion(1)}}, "e", 1, 0},
	} {
		for pos := range 3 {
			w := []evstore.StreamWrite{
				{StreamID: "a", Events: events("A", 1), Options: []evstore.WriteOption{evstore.ExpectVersion(4)}},
				{StreamID: "c", Events: events("C", 2)},
				{StreamID: "f", Events: events("F", 1), Options: []evstore.WriteOption{evstore.ExpectVersion(0)}},
			}
			w[pos] = c.failing
			_, err := s.Append(ctx(t), w)
			wantConflict(t, fmt.Sprintf("Append with %s as write %d", c.what, pos), err, c.id, c.expect, c.actual)
			unchanged(t, s, every, "an Append with "+c.what)
		}
	}
}

// testAppendCheckOnly: a write with no events appends nothing and only
// checks its expectation.
func (k *kit) testAppendCheckOnly(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), events("A", 2))
	out, err := s.Append(ctx(t), []evstore.StreamWrite{
		{StreamID: "b", Events: events("B", 1)},
		{StreamID: "a", Options: []evstore.WriteOption{evstore.ExpectVersion(2)}},
		{StreamID: "n", Options: []evstore.WriteOption{evstore.ExpectVersion(0)}},
		{StreamID: "a2", Events: []evstore.CandidateEvent{}},
	})
	if err != nil {
		t.Fatalf("Append with checks that hold: %v", err)
	}
	want := []evstore.WriteReport{{Version: 1, Appended: 1}, {Version: 2}, {Version: 0}, {Version: 0}}
	if len(out) == len(want) {
		want[0].First, want[0].Last = out[0].First, out[0].First
	}
	if !slices.Equal(out, want) {
		t.Errorf("reports: got %+v, want %+v", out, want)
	}
	if n := len(readAll(t, stream(t, s, "a"))); n != 2 {
		t.Errorf("a check-only write left a with %d events, want 2", n)
	}
	every := everything(t, s)
	if len(every) != 3 {
		t.Fatalf("the store has %d events, want 3", len(every))
	}
	for _, c := range []struct {
		what  string
		check evstore.StreamWrite
		id    string
		e, a  int64
	}{
		{"ExpectVersion that fails", evstore.StreamWrite{StreamID: "a", Options: []evstore.WriteOption{evstore.ExpectVersion(1)}}, "a", 1, 2},
		{"ExpectVersion(0) that fails", evstore.StreamWrite{StreamID: "a", Options: []evstore.WriteOption{evstore.ExpectVersion(0)}}, "a", 0, 2},
		{"ExpectExists that fails", evstore.StreamWrite{StreamID: "n", Options: []evstore.WriteOption{evstore.ExpectExists()}}, "n", evstore.AnyExisting, 0},
	} {
		_, err := s.Append(ctx(t), []evstore.StreamWrite{{StreamID: "b", Events: events("B", 1)}, c.check})
		wantConflict(t, "Append with a check-only "+c.what, err, c.id, c.e, c.a)
		_, err = s.Append(ctx(t), []evstore.StreamWrite{c.check, {StreamID: "b", Events: events("B", 1), Options: []evstore.WriteOption{evstore.ExpectVersion(1)}}})
		wantConflict(t, "Append with a check-only "+c.what+" first", err, c.id, c.e, c.a)
		_, err = s.Append(ctx(t), []evstore.StreamWrite{c.check})
		wantConflict(t, "Append of only a check-only "+c.what, err, c.id, c.e, c.a)
		unchanged(t, s, every, "an Append with a check-only "+c.what)
	}
	if out, err := s.Append(ctx(t), []evstore.StreamWrite{{StreamID: "a", Options: []evstore.WriteOption{evstore.ExpectExists()}}}); err != nil || !slices.Equal(out, []evstore.WriteReport{{Version: 2}}) {
		t.Errorf("Append of one check that holds: got %+v, %v; want version 2, nothing appended", out, err)
	}
	unchanged(t, s, every, "an Append of checks only")
}

// testAppendOrder: Append numbers its events in the order of its writes,
// not of their streams' names, and returns one report per write, in order.
func (k *kit) testAppendOrder(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "m"), events("Old", 1))
	before := everything(t, s)
	w := []evstore.StreamWrite{
		{StreamID: "z", Events: []evstore.CandidateEvent{tagged("E", "z1"), tagged("E", "z2")}},
		{StreamID: "m", Events: []evstore.CandidateEvent{tagged("E", "m2")}, Options: []evstore.WriteOption{evstore.ExpectVersion(1)}},
		{StreamID: "q", Options: []evstore.WriteOption{evstore.ExpectVersion(0)}},
		{StreamID: "a", Events: []evstore.CandidateEvent{tagged("E", "a1"), tagged("E", "a2"), tagged("E", "a3")}},
	}
	out, err := s.Append(ctx(t), w)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(w) {
		t.Fatalf("Append returned %d reports for %d writes", len(out), len(w))
	}
	got := everything(t, s)[len(before):]
	if l := strings.Join(labels(got), " "); l != "z1 z2 m2 a1 a2 a3" {
		t.Errorf("Read @all after Append: got %q, want the writes' order \"z1 z2 m2 a1 a2 a3\"", l)
	}
	if seqs := sequences(got); len(seqs) == 6 {
		if out[0].First != seqs[0] || out[0].Last != seqs[1] || out[1].First != seqs[2] || out[1].Last != seqs[2] || out[3].First != seqs[3] || out[3].Last != seqs[5] {
			t.Errorf("reports %+v do not match the Sequences %v", out, seqs)
		}
	}
	if out[0].Version != 2 || out[1].Version != 2 || out[2] != (evstore.WriteReport{}) || out[3].Version != 3 {
		t.Errorf("reports: got %+v, want versions 2, 2, 0, 3", out)
	}
	for _, id := range []string{"z", "m", "a"} {
		for _, e := range readAll(t, stream(t, s, id)) {
			if e.StreamID != id {
				t.Errorf("stream %s holds an event of %s", id, e.StreamID)
			}
		}
	}
}

// testAppendRetry: a write whose events all exist is skipped and its
// expectation not checked; when every event of the call exists, the call
// is a no-op whatever its expectations and condition.
func (k *kit) testAppendRetry(t *testing.T) {
	s := k.store(t)
	ev := func(key string) evstore.CandidateEvent {
		return evstore.CandidateEvent{ID: key, Type: "K", Data: []byte(key), Tags: []string{"t"}}
	}
	sw := func(id string, expect evstore.WriteOption, keys ...string) evstore.StreamWrite {
		w := evstore.StreamWrite{StreamID: id}
		for _, k := range keys {
			w.Events = append(w.Events, ev(k))
		}
		if expect != nil {
			w.Options = []evstore.WriteOption{expect}
		}
		return w
	}
	first := []evstore.StreamWrite{sw("a", evstore.ExpectVersion(0), "a1", "a2"), sw("b", evstore.ExpectVersion(0), "b1")}
	if _, err := s.Append(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	every := everything(t, s)
	matchAll := evstore.FailIfMatch(evstore.Criteria{{Tags: withTags("t")}}, 0)
	noop := []evstore.WriteReport{{Version: 2}, {Version: 1}}
	for _, c := range []struct {
		what   string
		writes []evstore.StreamWrite
		opts   []evstore.WriteOption
		want   []evstore.WriteReport
	}{
		{"the same Append", first, nil, noop},
		{"the same Append with a failing condition", first, []evstore.WriteOption{matchAll}, noop},
		{"repeats of its keys", []evstore.StreamWrite{sw("a", evstore.ExpectVersion(0), "a2", "a1", "a2"), sw("b", evstore.ExpectExists(), "b1", "b1")}, nil, noop},
		{"a check that fails", []evstore.StreamWrite{sw("a", evstore.ExpectVersion(0), "a1"), sw("b", nil, "b1"), sw("c", evstore.ExpectExists())}, []evstore.WriteOption{matchAll}, []evstore.WriteReport{{Version: 2}, {Version: 1}, {Version: 0}}},
	} {
		out, err := s.Append(ctx(t), c.writes, c.opts...)
		if err != nil || !slices.Equal(out, c.want) {
			t.Errorf("retry, %s: got %+v, %v; want %+v, nil", c.what, out, err, c.want)
		}
		unchanged(t, s, every, "a retry, "+c.what)
	}

	// A part retry: a's write is skipped (its expectation unchecked), b's
	// fresh one is checked and written.
	_, err := s.Append(ctx(t), []evstore.StreamWrite{sw("a", evstore.ExpectVersion(0), "a1", "a2"), sw("b", evstore.ExpectVersion(0), "b1", "b2")})
	wantConflict(t, "Append with a retried write and a fresh one that conflicts", err, "b", 0, 1)
	_, err = s.Append(ctx(t), []evstore.StreamWrite{sw("a", evstore.ExpectVersion(0), "a1"), sw("b", evstore.ExpectVersion(1), "b2")}, matchAll)
	wantCondition(t, "Append with a retried write, a fresh one and a failing condition", err, 0, every[0].Sequence)
	_, err = s.Append(ctx(t), []evstore.StreamWrite{sw("a", evstore.ExpectVersion(0), "a1"), sw("b", evstore.ExpectVersion(1), "b2"), sw("c", evstore.ExpectExists())})
	wantConflict(t, "Append with a retried write, a fresh one and a check that fails", err, "c", evstore.AnyExisting, 0)
	unchanged(t, s, every, "a failed part retry")
	out, err := s.Append(ctx(t), []evstore.StreamWrite{sw("a", evstore.ExpectVersion(0), "a1", "a2"), sw("b", evstore.ExpectVersion(1), "b1", "b2")})
	if err != nil || len(out) != 2 || out[0] != (evstore.WriteReport{Version: 2}) || out[1].Version != 2 || out[1].Appended != 1 {
		t.Fatalf("Append with a retried write and a fresh one: got %+v, %v; want a skipped, b2 appended", out, err)
	}
	if got := labels(readAll(t, stream(t, s, "b"))); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("b after the part retry: %v, want [b1 b2]", got)
	}
	if got := labels(readAll(t, stream(t, s, "a"))); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("a after the part retry: %v, want [a1 a2]", got)
	}
}

// testAppendErrors: All is ErrReadOnly; the same stream twice, no writes,
// FailIfMatch in a StreamWrite's Options and an expectation in Append's
// options are ErrInvalidArgument; nothing is written in any case.
func (k *kit) testAppendErrors(t *testing.T) {
	s := k.store(t)
	write(t, stream(t, s, "a"), events("A", 1))
	every := everything(t, s)
	ok := evstore.StreamWrite{StreamID: "a", Events: events("A", 1)}
	nothing := evstore.Criteria{{Types: ofTypes("Nothing")}}
	for _, c := range []struct {
		what   string
		writes []evstore.StreamWrite
		opts   []evstore.WriteOption
		want   error
	}{
		{"a write to All", []evstore.StreamWrite{ok, {StreamID: evstore.All, Events: events("E", 1)}}, nil, evstore.ErrReadOnly},
		{"a check of All", []evstore.StreamWrite{ok, {StreamID: evstore.All}}, nil, evstore.ErrReadOnly},
		{"the same stream twice", []evstore.StreamWrite{ok, {StreamID: "b", Events: events("B", 1)}, {StreamID: "a", Events: events("A", 1)}}, nil, evstore.ErrInvalidArgument},
		{"the same stream twice, once a check", []evstore.StreamWrite{{StreamID: "a", Options: []evstore.WriteOption{evstore.ExpectVersion(1)}}, ok}, nil, evstore.ErrInvalidArgument},
		{"nil writes", nil, nil, evstore.ErrInvalidArgument},
		{"no writes", []evstore.StreamWrite{}, nil, evstore.ErrInvalidArgument},
		{"no writes, with a condition", []evstore.StreamWrite{}, []evstore.WriteOption{evstore.FailIfMatch(nothing, 0)}, evstore.ErrInvalidArgument},
		{"FailIfMatch in a StreamWrite", []evstore.StreamWrite{ok, {StreamID: "b", Events: events("B", 1), Options: []evstore.WriteOption{evstore.FailIfMatch(nothing, 0)}}}, nil, evstore.ErrInvalidArgument},
		{"ExpectVersion in Append's options", []evstore.StreamWrite{ok}, []evstore.WriteOption{evstore.ExpectVersion(1)}, evstore.ErrInvalidArgument},
		{"ExpectExists in Append's options", []evstore.StreamWrite{ok}, []evstore.WriteOption{evstore.ExpectExists()}, evstore.ErrInvalidArgument},
		{"an empty stream ID", []evstore.StreamWrite{ok, {StreamID: "", Events: events("E", 1)}}, nil, evstore.ErrInvalidStreamID},
		{"an event without a type", []evstore.StreamWrite{ok, {StreamID: "b", Events: []evstore.CandidateEvent{{Data: []byte("x")}}}}, nil, evstore.ErrInvalidEvent},
	} {
		out, err := s.Append(ctx(t), c.writes, c.opts...)
		wantErr(t, "Append with "+c.what, err, c.want)
		if err == nil {
			t.Errorf("Append with %s returned %+v", c.what, out)
		}
		unchanged(t, s, every, "an Append with "+c.what)
	}
}

// checkSequences checks that the store's Sequences strictly increase and
// that every stream's versions are 1, 2, 3, ... with no gap.
func checkSequences(t *testing.T, s *evstore.Store) []evstore.StoredEvent {
	t.Helper()
	every := everything(t, s)
	next := map[string]int64{}
	for i, e := range every {
		if i > 0 && e.Sequence <= every[i-1].Sequence {
			t.Errorf("Sequence %d follows %d", e.Sequence, every[i-1].Sequence)
		}
		if next[e.StreamID]++; e.Version != next[e.StreamID] {
			t.Errorf("stream %s: version %d at Sequence %d, want %d", e.StreamID, e.Version, e.Sequence, next[e.StreamID])
		}
	}
	return every
}

// testConcurrentPairs: appends made at once whose conditions each match
// the others' events never both succeed, and one of them does; the
// losers' ConditionErrors name the winner's event. Each round has four
// rivals, by Stream.Write and by Store.Append, on tags or on types.
func (k *kit) testConcurrentPairs(t *testing.T) {
	s := k.store(t)
	const rounds, rivals = 50, 4
	handles := make([]*evstore.Stream, rivals)
	for i := range handles {
		handles[i] = stream(t, s, fmt.Sprintf("p%d", i))
	}
	for r := range rounds {
		typ, tag := "R", fmt.Sprintf("round:%d", r)
		c := evstore.Criteria{{Tags: withTags(tag)}}
		if r%2 == 1 {
			typ, tag = fmt.Sprintf("R%d", r), "other"
			c = evstore.Criteria{{Types: ofTypes(typ)}, {Tags: withTags("nope")}}
		}
		head := int64(0)
		if every := everything(t, s); len(every) > 0 {
			head = every[len(every)-1].Sequence
		}
		start := make(chan struct{})
		errs := make([]error, rivals)
		var wg sync.WaitGroup
		for i, h := range handles {
			wg.Go(func() {
				ev := []evstore.CandidateEvent{tagged(typ, strconv.Itoa(i), tag)}
				<-start
				if i%2 == 0 {
					_, errs[i] = h.Write(ctx(t), ev, evstore.FailIfMatch(c, head))
				} else {
					_, errs[i] = s.Append(ctx(t), []evstore.StreamWrite{{StreamID: h.ID(), Events: ev}}, evstore.FailIfMatch(c, head))
				}
			})
		}
		close(start)
		wg.Wait()
		found := findAll(t, s, c)
		if len(found) != 1 {
			t.Fatalf("round %d: %d events match, want 1 (errors: %v)", r, len(found), errs)
		}
		for i, err := range errs {
			if strconv.Itoa(i) == string(found[0].Data) {
				if err != nil {
					t.Errorf("round %d: rival %d's event is in but its write failed: %v", r, i, err)
				}
				continue
			}
			wantCondition(t, fmt.Sprintf("round %d: rival %d, which lost", r, i), err, head, found[0].Sequence)
		}
	}
	if every := checkSequences(t, s); len(every) != rounds {
		t.Errorf("%d events in the store, want %d", len(every), rounds)
	}
}

// testConcurrentCapacity: students enrol in courses of limited capacity,
// each at most in two, concurrently, each enrolment a Find, a decision and
// an append with FailIfMatch on what the Find read, retried on a
// ConditionError. The limits hold: no course is over its capacity, no
// student over theirs.
func (k *kit) testConcurrentCapacity(t *testing.T) {
	s := k.store(t)
	// Every course fills: were one short, the other students would hold
	// (students-capacity+1)*limit places in the other courses, more than
	// they have.
	const students, courses, capacity, limit = 16, 6, 3, 2
	handles := make([]*evstore.Stream, students)
	for i := range handles {
		handles[i] = stream(t, s, fmt.Sprintf("student-%d", i))
	}
	var enrolled [courses]atomic.Int64
	var conditionErrors atomic.Int64
	type miss struct {
		c   evstore.Criteria
		err *evstore.ConditionError
	}
	var mu sync.Mutex
	var misses []miss
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range students {
		wg.Go(func() {
			<-start
			student := fmt.Sprintf("student:s%d", i)
			mine := 0
			for j := 0; j < courses && mine < limit; j++ {
				course := j // every student in the same order: most contention
				tag := fmt.Sprintf("course:c%d", course)
				c := evstore.Criteria{{Types: ofTypes("Enrolled"), Tags: withTags(tag)}, {Types: ofTypes("Enrolled"), Tags: withTags(student)}}
				for attempt := 0; ; attempt++ {
					if attempt == 1000 {
						t.Errorf("student %d, course %d: 1000 attempts", i, course)
						return
					}
					found, err := collect(s.Find(ctx(t), c))
					if err != nil {
						t.Errorf("student %d: Find: %v", i, err)
						return
					}
					inCourse, last := 0, int64(0)
					mine = 0
					for _, e := range found {
						if slices.Contains(e.Tags, tag) {
							inCourse++
						}
						if slices.Contains(e.Tags, student) {
							mine++
						}
						last = e.Sequence
					}
					if inCourse >= capacity || mine >= limit {
						break
					}
					runtime.Gosched() // deciding takes a while: let rivals read too
					ev := tagged("Enrolled", fmt.Sprintf("s%d-c%d", i, course), tag, student)
					ev.ID = string(ev.Data)
					if i%2 == 0 {
						_, err = handles[i].Write(ctx(t), []evstore.CandidateEvent{ev}, evstore.FailIfMatch(c, last))
					} else {
						_, err = s.Append(ctx(t), []evstore.StreamWrite{{StreamID: handles[i].ID(), Events: []evstore.CandidateEvent{ev}}}, evstore.FailIfMatch(c, last))
					}
					var ce *evstore.ConditionError
					if errors.As(err, &ce) {
						conditionErrors.Add(1)
						mu.Lock()
						misses = append(misses, miss{c, ce})
						mu.Unlock()
						if ce.After != last || ce.Match <= last {
							t.Errorf("student %d: %+v, want After %d and Match above it", i, *ce, last)
						}
						continue
					}
					if err != nil {
						t.Errorf("student %d: write: %v", i, err)
						return
					}
					enrolled[course].Add(1)
					mine++
					break
				}
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("%d condition errors retried", conditionErrors.Load())

	for course := range courses {
		n := len(findAll(t, s, evstore.Criteria{{Types: ofTypes("Enrolled"), Tags: withTags(fmt.Sprintf("course:c%d", course))}}))
		if n != capacity || enrolled[course].Load() != capacity {
			t.Errorf("course %d: %d enrolments stored, %d reported; want %d (its capacity)", course, n, enrolled[course].Load(), capacity)
		}
	}
	for i := range students {
		if n := len(readAll(t, handles[i])); n > limit {
			t.Errorf("student %d: %d enrolments, over the limit of %d", i, n, limit)
		}
	}
	every := checkSequences(t, s)
	bySeq := map[int64]evstore.StoredEvent{}
	for _, e := range every {
		bySeq[e.Sequence] = e
	}
	for _, m := range misses {
		if e, ok := bySeq[m.err.Match]; !ok || !m.c.Matches(e.Type, e.Tags) {
			t.Errorf("a ConditionError names Sequence %d, %+v, which does not match %+v", m.err.Match, e, m.c)
		}
	}
}

// testConcurrentDisjoint: appends whose conditions select disjoint events
// never fail each other, whether by tag or by type, to their own streams
// or to one they share.
func (k *kit) testConcurrentDisjoint(t *testing.T) {
	s := k.store(t)
	const workers, each = 16, 25
	shared := stream(t, s, "shared")
	own := make([]*evstore.Stream, workers)
	for w := range own {
		own[w] = stream(t, s, fmt.Sprintf("own-%d", w))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			typ, tag := fmt.Sprintf("T%d", w), fmt.Sprintf("account:%d", w)
			c := evstore.Criteria{{Tags: withTags(tag)}}
			if w%2 == 1 {
				c = evstore.Criteria{{Types: ofTypes(typ)}}
			}
			for i := range each {
				found, err := collect(s.Find(ctx(t), c))
				if err != nil {
					t.Errorf("worker %d: Find: %v", w, err)
					return
				}
				if len(found) != i {
					t.Errorf("worker %d: Find gives %d events, want %d", w, len(found), i)
					return
				}
				last := int64(0)
				if i > 0 {
					last = found[i-1].Sequence
				}
				ev := tagged(typ, fmt.Sprintf("%d-%d", w, i), tag, "everyone")
				runtime.Gosched() // let the others append in between
				switch w % 4 {
				case 0, 1:
					_, err = shared.Write(ctx(t), []evstore.CandidateEvent{ev}, evstore.FailIfMatch(c, last))
				case 2:
					_, err = s.Append(ctx(t), []evstore.StreamWrite{
						{StreamID: own[w].ID(), Events: []evstore.CandidateEvent{ev}, Options: []evstore.WriteOption{evstore.ExpectVersion(int64(i))}},
						{StreamID: "shared", Events: events("Log", 1)},
					}, evstore.FailIfMatch(c, last))
				case 3:
					_, err = own[w].Write(ctx(t), []evstore.CandidateEvent{ev}, evstore.ExpectVersion(int64(i)), evstore.FailIfMatch(c, last))
				}
				if err != nil {
					t.Errorf("worker %d, append %d: %v", w, i, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	every := checkSequences(t, s)
	if want := workers*each + workers/4*each; len(every) != want {
		t.Errorf("the store holds %d events, want %d", len(every), want)
	}
	if n := len(findAll(t, s, evstore.Criteria{{Tags: withTags("everyone")}})); n != workers*each {
		t.Errorf("Find everyone: %d events, want %d", n, workers*each)
	}
}

// testConcurrentTransfers: concurrent Appends to overlapping pairs of
// streams, each with its expectations, retried on conflicts, are all or
// nothing: every transfer is in both its streams exactly once, the debit
// before the credit.
func (k *kit) testConcurrentTransfers(t *testing.T) {
	s := k.store(t)
	const accounts, workers, each = 4, 8, 10
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	handles := make([]*evstore.Stream, accounts)
	for i := range handles {
		handles[i] = stream(t, s, fmt.Sprintf("account-%d", i))
	}
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := 0; i < each; {
				from, to := (w+i)%accounts, (w+i+1+i%2)%accounts
				mf, err := handles[from].Metrics(ctx(t))
				if err != nil {
					t.Error(err)
					return
				}
				mt, err := handles[to].Metrics(ctx(t))
				if err != nil {
					t.Error(err)
					return
				}
				label := fmt.Sprintf("%d-%d", w, i)
				runtime.Gosched() // let rivals read the same versions
				_, err = s.Append(ctx(t), []evstore.StreamWrite{
					{StreamID: handles[from].ID(), Events: []evstore.CandidateEvent{tagged("Debit", label)}, Options: []evstore.WriteOption{evstore.ExpectVersion(mf.Version)}},
					{StreamID: handles[to].ID(), Events: []evstore.CandidateEvent{tagged("Credit", label)}, Options: []evstore.WriteOption{evstore.ExpectVersion(mt.Version)}},
				})
				var ce *evstore.ConflictError
				switch {
				case errors.As(err, &ce):
					conflicts.Add(1)
				case err != nil:
					t.Errorf("worker %d: Append: %v", w, err)
					return
				default:
					i++
				}
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("%d conflicts retried", conflicts.Load())
	every := checkSequences(t, s)
	type seen struct {
		debit, credit int64
		n             int
	}
	got := map[string]*seen{}
	for _, e := range every {
		x := got[string(e.Data)]
		if x == nil {
			x = &seen{}
			got[string(e.Data)] = x
		}
		x.n++
		if e.Type == "Debit" {
			x.debit = e.Sequence
		} else {
			x.credit = e.Sequence
		}
	}
	if len(got) != workers*each {
		t.Errorf("%d transfers stored, want %d", len(got), workers*each)
	}
	for label, x := range got {
		if x.n != 2 || x.debit == 0 || x.credit == 0 || x.debit > x.credit {
			t.Errorf("transfer %s: %d events, debit at %d, credit at %d; want one of each, the debit first", label, x.n, x.debit, x.credit)
		}
	}
}
