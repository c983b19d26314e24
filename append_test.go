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
