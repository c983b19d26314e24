package evstore

// This file holds the append rule: what a Write does with a stream, given
// what its Backend read of the stream inside the write's transaction. Every
// Backend calls PlanAppend, so the rule lives here once.

// A KeySet tells PlanAppend which idempotency keys a stream already has.
// Has reports whether the stream holds an event with key (never "").
type KeySet interface {
	Has(key string) bool
}

// KeyMap is a KeySet held in a map, for backends that look keys up in bulk.
type KeyMap map[string]bool

// Has reports whether m holds key.
func (m KeyMap) Has(key string) bool { return m[key] }

// An AppendPlan is what PlanAppend tells a Backend to do.
type AppendPlan struct {
	// LookupKeys means that the request's keys must be looked up before
	// anything can be decided: call PlanAppend again with a KeySet.
	LookupKeys bool
	// Events are the events to insert, as versions Head+1, Head+2, ...
	// Empty for a retry whose events the stream already has.
	Events []EncodedEvent
	// Head is the stream's version before the write.
	Head int64
	// Version is the stream's version after the write.
	Version int64
	// Optimistic means that the keys were not looked up: the Backend
	// inserts Events relying on its unique (stream, key) index, and when
	// the index refuses a key it undoes the insert and calls PlanAppend
	// again with a KeySet.
	Optimistic bool
}

// PlanAppend applies the append rule to req, for a stream at version head
// (0 when it has no events). keys tells which of req's keys the stream
// already has; nil means they have not been looked up.
//
// The rule: events whose key the stream has are dropped; if none is left,
// the write is a retry of one that went through and succeeds at head
// whatever req.Expect says. Otherwise req.Expect is checked against head
// (a *ConflictError on a mismatch), and the events left continue the
// stream with no gap.
//
// Looking keys up costs a query, and repeated keys are rare, so without
// keys PlanAppend answers optimistically where it can: a stream with no
// events has no keys; a request that meets its expectation inserts every
// event (Optimistic), and the unique index catches a repeat. Only a keyed
// request that fails its expectation, which may be a retry, needs
// LookupKeys.
func PlanAppend(req AppendRequest, head int64, keys KeySet) (AppendPlan, error) {
	plan := AppendPlan{Head: head, Events: req.Events}
	if head > 0 && hasKeys(req.Events) {
		if keys == nil {
			if req.Expect.Check(req.StreamID, head) != nil {
				return AppendPlan{LookupKeys: true, Head: head}, nil
			}
			plan.Optimistic = true
		} else {
			plan.Events = dropKnown(req.Events, keys)
			if len(plan.Events) == 0 {
				plan.Version = head // a retry of a write that went through
				return plan, nil
			}
		}
	}
	if err := req.Expect.Check(req.StreamID, head); err != nil {
		return AppendPlan{Head: head}, err
	}
	plan.Version = head + int64(len(plan.Events))
	return plan, nil
}

func hasKeys(events []EncodedEvent) bool {
	for i := range events {
		if events[i].ID != "" {
			return true
		}
	}
	return false
}

// dropKnown returns the events whose key keys does not hold; it returns
// events itself when it drops nothing.
func dropKnown(events []EncodedEvent, keys KeySet) []EncodedEvent {
	for i := range events {
		if events[i].ID == "" || !keys.Has(events[i].ID) {
			continue
		}
		fresh := append(make([]EncodedEvent, 0, len(events)-1), events[:i]...)
		for _, e := range events[i+1:] {
			if e.ID == "" || !keys.Has(e.ID) {
				fresh = append(fresh, e)
			}
		}
		return fresh
	}
	return events
}

// A StreamsPlan is what PlanStreams tells a Backend to do with a
// StreamsRequest.
type StreamsPlan struct {
	// LookupKeys means that the keys of the request's streams must be
	// looked up before anything can be decided: call PlanStreams again
	// with them.
	LookupKeys bool
	// Writes holds one plan for each of the request's writes, in order:
	// the events to insert (none for a retry or a check), the stream's
	// version before and after, and whether the insert is Optimistic, as
	// in PlanAppend.
	Writes []AppendPlan
}

// PlanStreams applies the rule of Store.Append (and of a Write with
// FailIfMatch) to req, for streams at versions heads (one per write).
// keys[i] tells which of write i's keys its stream already has; a nil
// keys means they have not been looked up. match is the Sequence of the
// first event above req.Condition.After that matches its Criteria,
// committed or written by an earlier call of the same commit group; 0 for
// none (or no condition).
//
// The rule: a write whose events all exist already (by key) is a retry and
// is skipped, its expectation unchecked; when every event of the request
// exists already, the request succeeds as a no-op whatever its
// expectations and condition. Otherwise the expectation of every other
// write is checked (a *ConflictError), then the condition (a
// *ConditionError), and nothing is written unless all hold. A write with
// no events appends nothing and only checks its expectation.
//
// Without keys PlanStreams answers optimistically, as PlanAppend does,
// and asks for them (LookupKeys) only when a check fails and the request
// has keyed events on streams that have events.
func PlanStreams(req StreamsRequest, heads []int64, keys []KeySet, match int64) (StreamsPlan, error) {
	known := keys != nil
	plan := StreamsPlan{Writes: make([]AppendPlan, len(req.Writes))}
	given, fresh := 0, 0
	keyed := false // some write has keys that its stream may hold
	for i, w := range req.Writes {
		p := AppendPlan{Head: heads[i], Events: w.Events}
		if heads[i] > 0 && hasKeys(w.Events) {
			keyed = true
			if known && keys[i] != nil {
				p.Events = dropKnown(w.Events, keys[i])
			}
		}
		given += len(w.Events)
		fresh += len(p.Events)
		plan.Writes[i] = p
	}
	if given > 0 && fresh == 0 {
		for i := range plan.Writes { // a retry of a request that went through
			plan.Writes[i].Version = heads[i]
		}
		return plan, nil
	}
	var err error
	for i, w := range req.Writes {
		if len(w.Events) > 0 && len(plan.Writes[i].Events) == 0 {
			continue // this write is a retry
		}
		if err = w.Expect.Check(w.StreamID, heads[i]); err != nil {
			break
		}
	}
	if err == nil && req.Condition != nil && match > 0 {
		err = &ConditionError{After: req.Condition.After, Match: match}
	}
	if err != nil {
		if !known && keyed {
			return StreamsPlan{LookupKeys: true}, nil
		}
		return StreamsPlan{}, err
	}
	for i := range plan.Writes {
		p := &plan.Writes[i]
		p.Version = p.Head + int64(len(p.Events))
		p.Optimistic = !known && p.Head > 0 && hasKeys(p.Events)
	}
	return plan, nil
}
