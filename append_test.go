package evstore

import (
	"errors"
	"slices"
	"testing"
)

func TestPlanAppend(t *testing.T) {
	ev := func(keys ...string) []EncodedEvent {
		out := make([]EncodedEvent, len(keys))
		for i, k := range keys {
			out[i] = EncodedEvent{ID: k, Type: "E"}
		}
		return out
	}
	keysOf := func(events []EncodedEvent) []string {
		out := []string{}
		for _, e := range events {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		name   string
		events []EncodedEvent
		expect Expectation
		head   int64
		keys   KeyMap // nil: not looked up
		// want
		lookup     bool
		optimistic bool
		insert     []string // keys of the events to insert ("" for keyless)
		version    int64
		conflict   *ConflictError
	}{
		{name: "new stream, keyless", events: ev("", ""), head: 0, insert: []string{"", ""}, version: 2},
		{name: "new stream, keyed: no key can exist", events: ev("a", "b"), head: 0, insert: []string{"a", "b"}, version: 2},
		{name: "new stream, expect 0", events: ev("a"), expect: Expect(ExpectVersion(0)), insert: []string{"a"}, version: 1},
		{name: "new stream, expect exists", events: ev("a"), expect: Expect(ExpectExists()),
			conflict: &ConflictError{Expected: AnyExisting, Actual: 0}},
		{name: "new stream, expect 3", events: ev(""), expect: Expect(ExpectVersion(3)),
			conflict: &ConflictError{Expected: 3, Actual: 0}},
		{name: "keyless append", events: ev("", ""), head: 5, insert: []string{"", ""}, version: 7},
		{name: "keyless conflict needs no keys", events: ev(""), head: 5, expect: Expect(ExpectVersion(4)),
			conflict: &ConflictError{Expected: 4, Actual: 5}},
		{name: "keyed, expectation holds: optimistic", events: ev("a", ""), head: 5, expect: Expect(ExpectVersion(5)),
			optimistic: true, insert: []string{"a", ""}, version: 7},
		{name: "keyed, any version: optimistic", events: ev("a"), head: 5, optimistic: true, insert: []string{"a"}, version: 6},
		{name: "keyed, expectation fails: may be a retry", events: ev("a"), head: 5, expect: Expect(ExpectVersion(4)), lookup: true},
		{name: "keyed, new stream, expect exists: no retry possible", events: ev("a"), head: 0, expect: Expect(ExpectExists()),
			conflict: &ConflictError{Expected: AnyExisting, Actual: 0}},
		{name: "full retry, stale expectation", events: ev("a", "b"), head: 5, expect: Expect(ExpectVersion(0)),
			keys: KeyMap{"a": true, "b": true}, version: 5},
		{name: "full retry, any version", events: ev("a"), head: 5, keys: KeyMap{"a": true}, version: 5},
		{name: "part retry drops the known keys", events: ev("a", "x", "", "b"), head: 5, expect: Expect(ExpectVersion(5)),
			keys: KeyMap{"a": true, "b": true, "x": false}, insert: []string{"x", ""}, version: 7},
		{name: "part retry still checks the expectation", events: ev("a", "x"), head: 5, expect: Expect(ExpectVersion(4)),
			keys: KeyMap{"a": true}, conflict: &ConflictError{Expected: 4, Actual: 5}},
		{name: "keys looked up, none known", events: ev("a"), head: 5, expect: Expect(ExpectVersion(5)),
			keys: KeyMap{}, insert: []string{"a"}, version: 6},
		{name: "keyless events of a full retry are kept", events: ev("a", ""), head: 2, expect: Expect(ExpectVersion(0)),
			keys: KeyMap{"a": true}, conflict: &ConflictError{Expected: 0, Actual: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var keys KeySet
			if tc.keys != nil {
				keys = tc.keys
			}
			req := AppendRequest{StreamID: "s", Events: tc.events, Expect: tc.expect}
			plan, err := PlanAppend(req, tc.head, keys)
			if tc.conflict != nil {
				var ce *ConflictError
				if !errors.As(err, &ce) || ce.Expected != tc.conflict.Expected || ce.Actual != tc.conflict.Actual || ce.StreamID != "s" {
					t.Fatalf("got %+v, %v; want conflict expected %d actual %d", plan, err, tc.conflict.Expected, tc.conflict.Actual)
				}
				if len(plan.Events) != 0 {
					t.Errorf("a conflict plans %d events, want none", len(plan.Events))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan.LookupKeys != tc.lookup {
				t.Fatalf("LookupKeys: got %v, want %v", plan.LookupKeys, tc.lookup)
			}
			if tc.lookup {
				if tc.keys != nil {
					t.Fatal("bad case: LookupKeys with keys given")
				}
				return
			}
			if plan.Optimistic != tc.optimistic {
				t.Errorf("Optimistic: got %v, want %v", plan.Optimistic, tc.optimistic)
			}
			if got := keysOf(plan.Events); !slices.Equal(got, append([]string{}, tc.insert...)) {
				t.Errorf("events to insert: got keys %q, want %q", got, tc.insert)
			}
			if plan.Head != tc.head || plan.Version != tc.version {
				t.Errorf("got head %d version %d, want %d %d", plan.Head, plan.Version, tc.head, tc.version)
			}
		})
	}
}

// TestPlanAppendKeepsRequest: dropping keys never changes the caller's slice.
func TestPlanAppendKeepsRequest(t *testing.T) {
	events := []EncodedEvent{{ID: "a", Type: "E"}, {ID: "b", Type: "E"}, {ID: "c", Type: "E"}}
	plan, err := PlanAppend(AppendRequest{StreamID: "s", Events: events}, 3, KeyMap{"b": true})
	if err != nil {
		t.Fatal(err)
	}
	if events[0].ID != "a" || events[1].ID != "b" || events[2].ID != "c" {
		t.Errorf("request events changed: %v", events)
	}
	if len(plan.Events) != 2 || plan.Events[0].ID != "a" || plan.Events[1].ID != "c" {
		t.Errorf("got %v, want a and c", plan.Events)
	}
}

func TestPlanStreams(t *testing.T) {
	ev := func(keys ...string) []EncodedEvent {
		out := make([]EncodedEvent, len(keys))
		for i, k := range keys {
			out[i] = EncodedEvent{ID: k, Type: "E"}
		}
		return out
	}
	cond := &Condition{Criteria: Criteria{{Types: []string{"E"}}}, After: 5}
	tests := []struct {
		name   string
		writes []AppendRequest
		cond   *Condition
		heads  []int64
		keys   []KeySet // nil: not looked up
		match  int64
		// want
		lookup    bool
		inserts   []int // events to insert, per write
		versions  []int64
		optimism  []bool
		conflict  string // the stream of a *ConflictError
		condition bool   // a *ConditionError
	}{
		{name: "two new streams", writes: []AppendRequest{{StreamID: "a", Events: ev("", "")}, {StreamID: "b", Events: ev("")}},
			heads: []int64{0, 0}, inserts: []int{2, 1}, versions: []int64{2, 1}, optimism: []bool{false, false}},
		{name: "expectations hold", writes: []AppendRequest{{StreamID: "a", Events: ev(""), Expect: Expect(ExpectVersion(3))}, {StreamID: "b", Expect: Expect(ExpectExists())}},
			heads: []int64{3, 1}, inserts: []int{1, 0}, versions: []int64{4, 1}, optimism: []bool{false, false}},
		{name: "a check-only write fails the call", writes: []AppendRequest{{StreamID: "a", Events: ev("")}, {StreamID: "b", Expect: Expect(ExpectVersion(0))}},
			heads: []int64{0, 2}, conflict: "b"},
		{name: "keyed on streams with events: optimistic", writes: []AppendRequest{{StreamID: "a", Events: ev("k")}, {StreamID: "b", Events: ev("")}},
			heads: []int64{4, 0}, inserts: []int{1, 1}, versions: []int64{5, 1}, optimism: []bool{true, false}},
		{name: "condition fails, keyed: look keys up first", writes: []AppendRequest{{StreamID: "a", Events: ev("k")}},
			cond: cond, heads: []int64{4}, match: 7, lookup: true},
		{name: "condition fails, no keys", writes: []AppendRequest{{StreamID: "a", Events: ev("")}},
			cond: cond, heads: []int64{4}, match: 7, condition: true},
		{name: "condition fails, keys looked up, some new", writes: []AppendRequest{{StreamID: "a", Events: ev("k", "n")}},
			cond: cond, heads: []int64{4}, keys: []KeySet{KeyMap{"k": true}}, match: 7, condition: true},
		{name: "every event exists: a no-op whatever the condition and expectations", writes: []AppendRequest{{StreamID: "a", Events: ev("k"), Expect: Expect(ExpectVersion(0))}, {StreamID: "b", Events: ev("j")}},
			cond: cond, heads: []int64{4, 2}, keys: []KeySet{KeyMap{"k": true}, KeyMap{"j": true}}, match: 7, inserts: []int{0, 0}, versions: []int64{4, 2}, optimism: []bool{false, false}},
		{name: "a retried write is skipped, its expectation unchecked", writes: []AppendRequest{{StreamID: "a", Events: ev("k"), Expect: Expect(ExpectVersion(0))}, {StreamID: "b", Events: ev("")}},
			heads: []int64{4, 2}, keys: []KeySet{KeyMap{"k": true}, nil}, inserts: []int{0, 1}, versions: []int64{4, 3}, optimism: []bool{false, false}},
		{name: "expectation checked before the condition", writes: []AppendRequest{{StreamID: "a", Events: ev(""), Expect: Expect(ExpectVersion(1))}},
			cond: cond, heads: []int64{4}, match: 7, conflict: "a"},
		{name: "no match: the condition holds", writes: []AppendRequest{{StreamID: "a", Events: ev("")}},
			cond: cond, heads: []int64{4}, inserts: []int{1}, versions: []int64{5}, optimism: []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := PlanStreams(StreamsRequest{Writes: tt.writes, Condition: tt.cond}, tt.heads, tt.keys, tt.match)
			var ce *ConflictError
			var cond *ConditionError
			switch {
			case tt.conflict != "":
				if !errors.As(err, &ce) || ce.StreamID != tt.conflict {
					t.Fatalf("got %+v, %v; want a conflict on %s", plan, err, tt.conflict)
				}
				return
			case tt.condition:
				if !errors.As(err, &cond) || cond.Match != tt.match || cond.After != tt.cond.After || !errors.Is(err, ErrConflict) {
					t.Fatalf("got %+v, %v; want a ConditionError at %d", plan, err, tt.match)
				}
				return
			case err != nil:
				t.Fatal(err)
			case plan.LookupKeys != tt.lookup:
				t.Fatalf("LookupKeys = %v, want %v", plan.LookupKeys, tt.lookup)
			case tt.lookup:
				return
			}
			for i, p := range plan.Writes {
				if len(p.Events) != tt.inserts[i] || p.Version != tt.versions[i] || p.Head != tt.heads[i] || p.Optimistic != tt.optimism[i] {
					t.Errorf("write %d: %d events, head %d, version %d, optimistic %v; want %d, %d, %d, %v",
						i, len(p.Events), p.Head, p.Version, p.Optimistic, tt.inserts[i], tt.heads[i], tt.versions[i], tt.optimism[i])
				}
			}
		})
	}
}
