package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/codec"
)

// A Decider is the business logic of an aggregate, as three pure
// functions: no I/O, no clock, no randomness that is not in the command.
type Decider[S, C, E any] struct {
	// Initial returns the state of a stream with no events; nil means the
	// zero S. A state holding maps or slices must be a new one on every
	// call, since Evolve may change it in place.
	Initial func() S
	// Evolve returns the state after event. It must not fail: an event is
	// a fact, and the state has to take it into account.
	Evolve func(state S, event E) S
	// Decide returns the events that cmd causes in state, or an error if
	// cmd is refused. No events means there is nothing to do.
	Decide func(state S, cmd C) ([]E, error)
}

// A Handler runs commands against the streams of a Store: it loads a
// stream's state, decides, and appends the decision, retrying when another
// writer got there first. It is safe for concurrent use.
type Handler[S, C, E any] struct {
	store *evstore.Store
	d     Decider[S, C, E]
	c     codec.Codec[E]
	cfg   config
}

// A Result is what Handle did with a command.
type Result[S, E any] struct {
	// State is the stream's state after the command's events (for a
	// Duplicate: the current state).
	State S
	// Version is the stream's version after the command.
	Version int64
	// Events are the events this call appended; nil for a duplicate and
	// for a command that decided none.
	Events []E
	// Duplicate means the command (CommandID) was handled before: nothing
	// was decided or written by this call.
	Duplicate bool
	// Sequence is the position in evstore.All of the command's last event,
	// for read-your-writes: a read model that has processed the events up
	// to Sequence reflects the command, so it is the position to pass to
	// Store.WaitConsumer before reading one. It holds:
	//   - when this call appended events, the Sequence of the last of them
	//     (evstore.WriteReport.Last);
	//   - for a Duplicate, the Sequence of the last event the command
	//     appended when it was handled, found by its keys (see CommandID:
	//     one lookup and one short read); 0 only if those events were
	//     removed in the meantime;
	//   - 0 when nothing of the command is in the stream: Decide refused it
	//     or decided no events. There is then nothing to wait for.
	Sequence int64
}

// New returns a Handler that runs d's commands against store's streams,
// storing events with c. It panics if store, c, d.Evolve or d.Decide is
// nil, or on an option value that is a programmer error (MaxAttempts or
// SnapshotEvery below 1), as time.NewTicker does on a bad duration.
func New[S, C, E any](store *evstore.Store, d Decider[S, C, E], c codec.Codec[E], opts ...Option) *Handler[S, C, E] {
	switch {
	case store == nil:
		panic("aggregate: New with a nil Store")
	case c == nil || isNilPointer(c):
		panic("aggregate: New with a nil Codec")
	case d.Evolve == nil || d.Decide == nil:
		panic("aggregate: New with a Decider whose Evolve or Decide is nil")
	}
	return &Handler[S, C, E]{store: store, d: d, c: c, cfg: newConfig(opts)}
}

// newConfig returns the defaults with opts applied: New's and
// NewBoundary's.
func newConfig(opts []Option) config {
	cfg := config{
		maxAttempts: DefaultMaxAttempts,
		projection:  DefaultSnapshotProjection,
		backoffBase: backoffBase,
		backoffMax:  backoffMax,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// initial returns the state of a stream with no events.
func (h *Handler[S, C, E]) initial() S {
	if h.d.Initial == nil {
		var zero S
		return zero
	}
	return h.d.Initial()
}

// Load returns the state of stream streamID and its version: the snapshot,
// if the Handler keeps them (SnapshotEvery) and the stream has one that
// decodes into S, evolved by the events after it; otherwise Initial evolved
// by every event. A stream with no events is at version 0 in the Initial
// state. An event the codec cannot decode is an error: the state would be
// wrong without it. evstore.All is refused with an error wrapping
// evstore.ErrInvalidArgument: it holds every stream's events, and its
// positions are Sequences, not an aggregate's versions.
func (h *Handler[S, C, E]) Load(ctx context.Context, streamID string) (S, int64, error) {
	if err := notAll("load", streamID); err != nil {
		var zero S
		return zero, 0, err
	}
	st, err := h.store.Stream(ctx, streamID)
	if err != nil {
		var zero S
		return zero, 0, fmt.Errorf("aggregate: load %q: %w", streamID, err)
	}
	return h.load(ctx, st, st.Version())
}

// ErrTruncated means that Load met a stream truncated (Stream.Truncate)
// past the state it can start from: no snapshot at the cut or after it,
// so folding what is left would give a wrong state. Save snapshots
// (SnapshotEvery) before truncating a decider's stream. A tombstone
// (Stream.Delete) is no truncation: the state starts again from Initial
// after it.
var ErrTruncated = errors.New("aggregate: stream truncated before a snapshot")

// load returns the stream's state and version. head is the stream's
// version when st was opened, or -1 if it may have moved since st last
// saw it: when the state is known at head (the snapshot is at head, or the
// stream had no events), load reads no events. That state may be stale by
// now, but a write that expects its version then conflicts.
func (h *Handler[S, C, E]) load(ctx context.Context, st *evstore.Stream, head int64) (S, int64, error) {
	state, version, ok := h.fromSnapshot(ctx, st, head)
	if !ok {
		state, version = h.initial(), 0
	}
	if version == head {
		return state, version, nil
	}
	for e, err := range st.Read(ctx, evstore.After(version)) {
		if err != nil {
			var zero S
			return zero, 0, fmt.Errorf("aggregate: load %q: %w", st.ID(), err)
		}
		if e.Type == evstore.Deleted {
			// The stream's life starts again after its tombstone.
			state, version = h.initial(), e.Version
			continue
		}
		if e.Version != version+1 {
			// Truncate removed events the state needs.
			var zero S
			return zero, 0, fmt.Errorf("%w: load %q: the events after version %d start at %d, and no snapshot covers them", ErrTruncated, st.ID(), version, e.Version)
		}
		ev, err := h.c.Decode(e)
		if err != nil {
			var zero S
			return zero, 0, fmt.Errorf("aggregate: load %q: %w", st.ID(), err)
		}
		state = h.d.Evolve(state, ev)
		version = e.Version
	}
	return state, version, nil
}

// fromSnapshot returns the stream's snapshot as a state, or ok == false
// when the Handler keeps none, the stream has none, or it does not decode
// into S (an S of another shape). A failure to load it is not an error:
// the events alone give the same state.
func (h *Handler[S, C, E]) fromSnapshot(ctx context.Context, st *evstore.Stream, head int64) (state S, version int64, ok bool) {
	if h.cfg.snapshotEvery == 0 || head == 0 {
		return state, 0, false
	}
	snap, err := st.LoadSnapshot(ctx, h.cfg.projection)
	if err != nil || snap == nil {
		return state, 0, false
	}
	state, ok = decodeState[S](snap.State)
	return state, snap.Version, ok
}

// decodeState decodes a snapshot strictly: a field S does not have, or
// anything after the JSON value, means a snapshot of another S. It decodes
// into a zero S, not Initial's: the snapshot holds the whole state, and a
// field left out (omitempty) or a map entry an event removed must not
// come back from Initial.
func decodeState[S any](data []byte) (S, bool) {
	var state S
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&state); err != nil {
		var zero S
		return zero, false
	}
	if _, err := dec.Token(); err == nil {
		var zero S
		return zero, false
	}
	return state, true
}

// key returns the idempotency key of event i of the command with id; see
// CommandID.
func key(id string, i int) string {
	if i == 0 {
		return id
	}
	return id + "/" + strconv.Itoa(i)
}

// Handle runs cmd against stream streamID: it loads the state, calls
// Decide, and appends the events it returns with ExpectVersion of the
// loaded version, so that nothing was written in between. When another
// write did come in between, Handle loads the state again and decides
// again, after a short randomized wait that doubles with each attempt, up
// to MaxAttempts attempts; then it returns an error wrapping
// evstore.ErrConflict (and the last *evstore.ConflictError).
//
// An error from Decide is returned as it is, with a Result holding the
// state it was decided against; nothing is written. Decide returning no
// events writes nothing and succeeds.
//
// With CommandID, Handle first looks the command's key up in the stream
// (one indexed lookup, right after loading and before deciding). A command
// found there returns Duplicate with the current state, without calling
// Decide, even if Decide would now refuse it. Once a command's events are
// written, every later Handle of its id is a Duplicate; until then (a
// crash before the write, a Decide that returned no events or an error),
// a retry decides afresh, as if the first attempt had never been made,
// because it left nothing behind. Of two concurrent calls with one id, one
// appends and the other returns Duplicate.
//
// With SnapshotEvery(n), a command that moves the stream across a multiple
// of n saves the new state as the stream's snapshot before Handle returns;
// see OnSnapshotError for what a failure to save it does.
//
// evstore.All is refused, before anything is read or decided, with an
// error wrapping evstore.ErrInvalidArgument, as Load refuses it: it is no
// aggregate's stream (and cannot be written to).
func (h *Handler[S, C, E]) Handle(ctx context.Context, streamID string, cmd C, opts ...HandleOption) (Result[S, E], error) {
	var hc handleConfig
	for _, o := range opts {
		o(&hc)
	}
	if err := notAll("handle", streamID); err != nil {
		return Result[S, E]{}, err
	}
	if err := hc.check(); err != nil {
		return Result[S, E]{}, err
	}
	st, err := h.store.Stream(ctx, streamID)
	if err != nil {
		return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: %w", streamID, err)
	}
	head := st.Version()
	for attempt := 1; ; attempt++ {
		state, version, err := h.load(ctx, st, head)
		head = -1 // a retry reads what came in between
		if err != nil {
			return Result[S, E]{}, err
		}
		if hc.idSet {
			// Looked up after loading: a write of this id that the load
			// missed is either found here or comes after the load, so
			// that the write below conflicts with it.
			at, found, err := st.Lookup(ctx, hc.id)
			if err != nil {
				return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: look up command %q: %w", streamID, hc.id, err)
			}
			if found {
				return h.duplicate(ctx, st, hc.id, state, version, at)
			}
		}
		events, err := h.d.Decide(state, cmd)
		if err != nil || len(events) == 0 {
			// A concurrent call with this id may have written while this
			// one decided: then its outcome is the command's.
			if hc.idSet {
				at, found, lerr := st.Lookup(ctx, hc.id)
				if lerr != nil {
					return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: look up command %q: %w", streamID, hc.id, lerr)
				}
				if found {
					return h.duplicate(ctx, st, hc.id, state, version, at)
				}
			}
			return Result[S, E]{State: state, Version: version}, err
		}
		batch, err := h.encode(events, &hc)
		if err != nil {
			return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: %w", streamID, err)
		}
		var r evstore.WriteReport
		_, err = st.Write(ctx, batch, evstore.ExpectVersion(version), evstore.Report(&r))
		switch {
		case errors.Is(err, evstore.ErrConflict):
			if attempt >= h.cfg.maxAttempts {
				return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: %d attempts, each met a concurrent write: %w", streamID, attempt, err)
			}
			if err := backoff(ctx, h.cfg, attempt); err != nil {
				return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: waiting to retry after a conflict: %w", streamID, err)
			}
			continue
		case err != nil:
			return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: %w", streamID, err)
		case r.Appended == 0:
			// Every key was there: a concurrent call with this id won.
			return h.duplicate(ctx, st, hc.id, state, version, 0)
		case r.Appended != len(batch):
			return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: command %q: %d of its %d events were appended, the others' keys were in the stream already: another writer used keys of this command id", streamID, hc.id, r.Appended, len(batch))
		}
		for _, e := range events {
			state = h.d.Evolve(state, e)
		}
		h.snapshot(ctx, st, state, version, r.Version)
		return Result[S, E]{State: state, Version: r.Version, Events: events, Sequence: r.Last}, nil
	}
}

// duplicate returns the Result of command id, handled before, whose first
// key is at version at (0: not looked up yet): the state loaded, or a
// fresh one if the load predates the command, and the Sequence of the
// command's last event.
func (h *Handler[S, C, E]) duplicate(ctx context.Context, st *evstore.Stream, id string, state S, version, at int64) (Result[S, E], error) {
	if at == 0 {
		v, found, err := st.Lookup(ctx, id)
		if err != nil {
			return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: look up command %q: %w", st.ID(), id, err)
		}
		if found {
			at = v
		}
	}
	if at > version {
		var err error
		if state, version, err = h.load(ctx, st, -1); err != nil {
			return Result[S, E]{}, err
		}
	}
	seq, err := lastSequence(ctx, st, id, at)
	if err != nil {
		return Result[S, E]{}, fmt.Errorf("aggregate: handle on %q: command %q was handled; reading its events: %w", st.ID(), id, err)
	}
	return Result[S, E]{State: state, Version: version, Duplicate: true, Sequence: seq}, nil
}

// lastSequence returns the Sequence of the last event of command id, whose
// first event is at version at: the events from at on whose keys are the
// command's (key(id, 0), key(id, 1), ...), at consecutive versions, as one
// Write appends them. It reads a few events at a time, 2 first, as most
// commands decide one or two. It returns 0 if the first event is not the
// command's (at == 0, or the event was removed since the lookup).
func lastSequence(ctx context.Context, st *evstore.Stream, id string, at int64) (int64, error) {
	if at < 1 {
		return 0, nil
	}
	var seq int64
	v, i := at, 0
	for n := 2; ; n = min(2*n, 256) {
		got := 0
		for e, err := range st.Read(ctx, evstore.After(v-1), evstore.Limit(n)) {
			if err != nil {
				return 0, err
			}
			got++
			if e.Version != v || e.ID != key(id, i) {
				return seq, nil
			}
			seq, v, i = e.Sequence, v+1, i+1
		}
		if got < n {
			return seq, nil
		}
	}
}

// encode turns the decided events into a batch with the command's keys
// and metadata.
func (h *Handler[S, C, E]) encode(events []E, hc *handleConfig) ([]evstore.CandidateEvent, error) {
	batch := make([]evstore.CandidateEvent, len(events))
	for i, e := range events {
		ce, err := h.c.Encode(e)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if hc.idSet {
			ce.ID = key(hc.id, i)
		}
		ce.Metadata = hc.metadata
		batch[i] = ce
	}
	return batch, nil
}

// backoff sleeps before retry attempt+1: between half and all of
// base << (attempt-1), capped at max.
func backoff(ctx context.Context, cfg config, attempt int) error {
	d := cfg.backoffMax
	if shift := attempt - 1; shift < 30 && cfg.backoffBase<<shift < d {
		d = cfg.backoffBase << shift
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapshot saves state, at version to, if the command that moved the
// stream from version from crossed a multiple of SnapshotEvery.
func (h *Handler[S, C, E]) snapshot(ctx context.Context, st *evstore.Stream, state S, from, to int64) {
	n := int64(h.cfg.snapshotEvery)
	if n == 0 || from/n == to/n {
		return
	}
	data, err := json.Marshal(state)
	if err == nil {
		err = st.Snapshot(ctx, data, evstore.Projection(h.cfg.projection), evstore.AtVersion(to))
	}
	if err != nil && h.cfg.onSnapshotErr != nil {
		h.cfg.onSnapshotErr(st.ID(), to, fmt.Errorf("aggregate: snapshot of %q at version %d: %w", st.ID(), to, err))
	}
}

// notAll refuses evstore.All as the stream of an aggregate.
func notAll(op, streamID string) error {
	if streamID == evstore.All {
		return fmt.Errorf("aggregate: %s on %q: %w: %s holds every stream's events, not an aggregate's; name the aggregate's stream", op, streamID, evstore.ErrInvalidArgument, evstore.All)
	}
	return nil
}

func validText(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }

// isNilPointer reports whether v is a nil pointer in an interface.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
