package aggregate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/codec"
)

// A BoundaryDecider is a Decider whose consistency boundary is not one
// stream but the events a query selects across the store: the Dynamic
// Consistency Boundary (dcb.events). A course's capacity and a student's
// enrolment limit are both rules about enrolments, which live in no one
// stream; a BoundaryDecider reads the enrolments of the course and of the
// student (Query), folds them (Initial, Evolve), decides (Decide), and
// its Handler appends the decision only if no event matching the query
// arrived meanwhile (evstore.FailIfMatch). No saga, no reservation stream.
type BoundaryDecider[S, C, E any] struct {
	// Query returns the events cmd's decision depends on: those whose
	// Criteria match. It must return at least one Criterion.
	Query func(cmd C) evstore.Criteria
	// Initial, Evolve and Decide are as in Decider; the state folds the
	// events Query selects, in Sequence order.
	Initial func() S
	Evolve  func(state S, event E) S
	Decide  func(state S, cmd C) ([]E, error)
	// Place returns the stream an event is appended to and its tags. The
	// tags are what later queries find it by: an event must carry the
	// tags of the criteria that should see it ("course:c1",
	// "student:s7"), or the condition cannot protect the rule.
	Place func(event E) (streamID string, tags []string)
}

// A BoundaryHandler runs commands of a BoundaryDecider against a Store:
// it finds the events of the command's query, folds them, decides, and
// appends the decision to the streams Place names, in one transaction,
// on the condition that no event matching the query was committed since
// the last one it read. When one was, it reads and decides again, as a
// Handler does after a conflict. It is safe for concurrent use.
type BoundaryHandler[S, C, E any] struct {
	store *evstore.Store
	d     BoundaryDecider[S, C, E]
	c     codec.Codec[E]
	cfg   config
}

// A BoundaryResult is what BoundaryHandler.Handle did with a command.
type BoundaryResult[S, E any] struct {
	// State is the state the decision was made on, evolved by the events
	// appended (for a Duplicate: the current state).
	State S
	// Position is the Sequence of the newest event the state folds: the
	// position the condition was checked after.
	Position int64
	// Events are the events this call appended; nil for a duplicate and
	// for a command that decided none.
	Events []E
	// Duplicate means the command (CommandID) was handled before.
	Duplicate bool
	// Sequence is the Sequence of the command's last event, for
	// Store.WaitConsumer; 0 when nothing of the command is in the store.
	Sequence int64
}

// NewBoundary returns a BoundaryHandler of d's commands on store, storing
// events with c. It panics if store, c, d.Query, d.Evolve, d.Decide or
// d.Place is nil, or on a bad option value, as New does. MaxAttempts
// applies; SnapshotEvery and the snapshot options do not (a state that
// spans streams has no stream to be a snapshot of).
func NewBoundary[S, C, E any](store *evstore.Store, d BoundaryDecider[S, C, E], c codec.Codec[E], opts ...Option) *BoundaryHandler[S, C, E] {
	switch {
	case store == nil:
		panic("aggregate: NewBoundary with a nil Store")
	case c == nil || isNilPointer(c):
		panic("aggregate: NewBoundary with a nil Codec")
	case d.Query == nil || d.Evolve == nil || d.Decide == nil || d.Place == nil:
		panic("aggregate: NewBoundary with a BoundaryDecider whose Query, Evolve, Decide or Place is nil")
	}
	return &BoundaryHandler[S, C, E]{store: store, d: d, c: c, cfg: newConfig(opts)}
}

// CommandTag is the tag a BoundaryHandler puts on the events of a command
// given a CommandID, by which it finds them again: "command:" and the id.
// With a BoundaryHandler an id is at most MaxTagLen-8 bytes.
func CommandTag(id string) string { return "command:" + id }

// Load returns the state that cmd is decided on, and its position: Initial
// evolved by every event that d.Query(cmd) selects, in Sequence order, and
// the Sequence of the last of them (0 for none). Events of evstore's own
// types (a tombstone) are skipped; an event the codec cannot decode is an
// error.
func (h *BoundaryHandler[S, C, E]) Load(ctx context.Context, cmd C) (S, int64, error) {
	crit := h.d.Query(cmd)
	if len(crit) == 0 {
		var zero S
		return zero, 0, fmt.Errorf("aggregate: load: %w: Query returned no criteria", evstore.ErrInvalidArgument)
	}
	return h.load(ctx, crit)
}

func (h *BoundaryHandler[S, C, E]) load(ctx context.Context, crit evstore.Criteria) (S, int64, error) {
	state := h.initial()
	var pos int64
	for e, err := range h.store.Find(ctx, crit) {
		if err != nil {
			var zero S
			return zero, 0, fmt.Errorf("aggregate: load: %w", err)
		}
		pos = e.Sequence
		if strings.HasPrefix(e.Type, "$") {
			continue // evstore's own: a tombstone
		}
		ev, err := h.c.Decode(e)
		if err != nil {
			var zero S
			return zero, 0, fmt.Errorf("aggregate: load: event %d: %w", e.Sequence, err)
		}
		state = h.d.Evolve(state, ev)
	}
	return state, pos, nil
}

func (h *BoundaryHandler[S, C, E]) initial() S {
	if h.d.Initial == nil {
		var zero S
		return zero
	}
	return h.d.Initial()
}

// Handle runs cmd: it loads the state of d.Query(cmd) (Load), calls
// Decide, and appends the events with Store.Append, each to the stream
// and with the tags Place gives it, under evstore.FailIfMatch(query,
// position). If an event matching the query was committed after the
// position, the append fails with nothing written, and Handle loads and
// decides again, after a randomized wait that doubles with each attempt,
// up to MaxAttempts attempts; then it returns an error wrapping
// evstore.ErrConflict (and the last *evstore.ConditionError).
//
// An error from Decide is returned as it is, with a BoundaryResult
// holding the state; nothing is written. Decide returning no events
// writes nothing and succeeds.
//
// With CommandID, the command's events also carry CommandTag(id) (and
// idempotency keys as Handler gives them, per stream), and Handle first
// looks the tag up (one indexed Find): a command found there returns
// Duplicate with the current state, without calling Decide. The condition
// also covers the tag, so that of two concurrent calls with one id, one
// appends and the other returns Duplicate.
func (h *BoundaryHandler[S, C, E]) Handle(ctx context.Context, cmd C, opts ...HandleOption) (BoundaryResult[S, E], error) {
	var hc handleConfig
	for _, o := range opts {
		o(&hc)
	}
	if err := hc.check(); err != nil {
		return BoundaryResult[S, E]{}, err
	}
	crit := h.d.Query(cmd)
	if len(crit) == 0 {
		return BoundaryResult[S, E]{}, fmt.Errorf("aggregate: handle: %w: Query returned no criteria", evstore.ErrInvalidArgument)
	}
	cond := crit
	var tag string
	if hc.idSet {
		if tag = CommandTag(hc.id); len(tag) > evstore.MaxTagLen {
			return BoundaryResult[S, E]{}, fmt.Errorf("%w: CommandID %q: at most %d bytes with a BoundaryHandler (it becomes the tag %q)", evstore.ErrInvalidArgument, hc.id, evstore.MaxTagLen-len(CommandTag("")), CommandTag(""))
		}
		cond = append(crit[:len(crit):len(crit)], evstore.Criterion{Tags: []string{tag}})
	}
	for attempt := 1; ; attempt++ {
		if hc.idSet {
			if r, found, err := h.duplicate(ctx, crit, tag); err != nil || found {
				return r, err
			}
		}
		state, pos, err := h.load(ctx, crit)
		if err != nil {
			return BoundaryResult[S, E]{}, err
		}
		events, err := h.d.Decide(state, cmd)
		if err != nil || len(events) == 0 {
			if hc.idSet { // a concurrent call with this id may have won meanwhile
				if r, found, lerr := h.duplicate(ctx, crit, tag); lerr != nil || found {
					return r, lerr
				}
			}
			return BoundaryResult[S, E]{State: state, Position: pos}, err
		}
		writes, err := h.writes(events, &hc, tag)
		if err != nil {
			return BoundaryResult[S, E]{}, fmt.Errorf("aggregate: handle: %w", err)
		}
		reports, err := h.store.Append(ctx, writes, evstore.FailIfMatch(cond, pos))
		switch {
		case errors.Is(err, evstore.ErrConflict):
			if attempt >= h.cfg.maxAttempts {
				return BoundaryResult[S, E]{}, fmt.Errorf("aggregate: handle: %d attempts, each met a concurrent write to its boundary: %w", attempt, err)
			}
			if err := backoff(ctx, h.cfg, attempt); err != nil {
				return BoundaryResult[S, E]{}, fmt.Errorf("aggregate: handle: waiting to retry after a conflict: %w", err)
			}
			continue
		case err != nil:
			return BoundaryResult[S, E]{}, fmt.Errorf("aggregate: handle: %w", err)
		}
		var last int64
		appended := 0
		for _, r := range reports {
			appended += r.Appended
			last = max(last, r.Last)
		}
		if appended == 0 { // every key was there: the command was handled
			if r, found, err := h.duplicate(ctx, crit, tag); err != nil || found {
				return r, err
			}
			return BoundaryResult[S, E]{State: state, Position: pos, Duplicate: true}, nil
		}
		for _, e := range events {
			state = h.d.Evolve(state, e)
		}
		return BoundaryResult[S, E]{State: state, Position: pos, Events: events, Sequence: last}, nil
	}
}

// duplicate looks for the events of the command tagged tag: found, it
// returns the Result of a Duplicate, with the current state.
func (h *BoundaryHandler[S, C, E]) duplicate(ctx context.Context, crit evstore.Criteria, tag string) (BoundaryResult[S, E], bool, error) {
	var seq int64
	for e, err := range h.store.Find(ctx, evstore.Criteria{{Tags: []string{tag}}}, evstore.Backwards(), evstore.Limit(1)) {
		if err != nil {
			return BoundaryResult[S, E]{}, false, fmt.Errorf("aggregate: handle: look up command tag %q: %w", tag, err)
		}
		seq = e.Sequence
	}
	if seq == 0 {
		return BoundaryResult[S, E]{}, false, nil
	}
	state, pos, err := h.load(ctx, crit)
	if err != nil {
		return BoundaryResult[S, E]{}, false, err
	}
	return BoundaryResult[S, E]{State: state, Position: pos, Duplicate: true, Sequence: seq}, true, nil
}

// writes places the decided events in their streams, in the order of
// their first appearance, with the command's tag, keys and metadata.
func (h *BoundaryHandler[S, C, E]) writes(events []E, hc *handleConfig, tag string) ([]evstore.StreamWrite, error) {
	var writes []evstore.StreamWrite
	index := map[string]int{}
	for i, e := range events {
		ce, err := h.c.Encode(e)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		stream, tags := h.d.Place(e)
		if stream == evstore.All {
			return nil, fmt.Errorf("event %d: %w: Place named %s", i, evstore.ErrInvalidArgument, evstore.All)
		}
		ce.Tags = append(append(ce.Tags, tags...), tagIf(tag)...)
		ce.Metadata = hc.metadata
		w, ok := index[stream]
		if !ok {
			w = len(writes)
			index[stream] = w
			writes = append(writes, evstore.StreamWrite{StreamID: stream})
		}
		if hc.idSet {
			ce.ID = key(hc.id, len(writes[w].Events))
		}
		writes[w].Events = append(writes[w].Events, ce)
	}
	return writes, nil
}

func tagIf(tag string) []string {
	if tag == "" {
		return nil
	}
	return []string{tag}
}
