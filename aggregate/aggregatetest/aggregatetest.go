package aggregatetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate"
)

// A Scenario is a Decider's state after the events given to Given.
//
// A Scenario keeps the events, not a state: State, When and ThenState
// each build the state afresh, from Initial and the given events, so that
// an Evolve that changes a map or slice state in place, or a caller that
// changes a state it was given, cannot change what a later step of the
// same Scenario sees. Initial must therefore return a new state on every
// call (a new map, not a shared one), as a Handler needs it to as well.
type Scenario[S, C, E any] struct {
	d     aggregate.Decider[S, C, E]
	given []E
}

// Given returns the state of a stream whose history is events: d's Initial
// state (the zero S if Initial is nil) evolved by each event in turn.
func Given[S, C, E any](d aggregate.Decider[S, C, E], events ...E) *Scenario[S, C, E] {
	return &Scenario[S, C, E]{d: d, given: events}
}

// state builds the state of the given events, from Initial.
func (s *Scenario[S, C, E]) state() S {
	var state S
	if s.d.Initial != nil {
		state = s.d.Initial()
	}
	for _, e := range s.given {
		state = s.d.Evolve(state, e)
	}
	return state
}

// State returns the state the events given to Given lead to, built afresh
// on every call.
func (s *Scenario[S, C, E]) State() S { return s.state() }

// When decides cmd against the scenario's state, built afresh.
func (s *Scenario[S, C, E]) When(cmd C) *Outcome[S, C, E] {
	events, err := s.d.Decide(s.state(), cmd)
	return &Outcome[S, C, E]{s: s, cmd: cmd, events: events, err: err}
}

// An Outcome is what Decide made of a command in a Scenario.
type Outcome[S, C, E any] struct {
	s      *Scenario[S, C, E]
	cmd    C
	events []E
	err    error
}

// Events returns what Decide returned, for checks Then does not make.
func (o *Outcome[S, C, E]) Events() ([]E, error) { return o.events, o.err }

// Then checks that Decide accepted the command and decided exactly want,
// in order; no want means no events. It returns o, so that ThenState can
// follow.
func (o *Outcome[S, C, E]) Then(t testing.TB, want ...E) *Outcome[S, C, E] {
	t.Helper()
	switch {
	case o.err != nil:
		t.Errorf("%s: got error %v, want events %s", o.title(), o.err, list(want))
	case len(o.events) == 0 && len(want) == 0:
	case !reflect.DeepEqual(o.events, want):
		t.Errorf("%s:\ngot  events %s\nwant events %s", o.title(), list(o.events), list(want))
	}
	return o
}

// ThenError checks that Decide refused the command with an error that
// errors.Is want; a nil want accepts any error.
func (o *Outcome[S, C, E]) ThenError(t testing.TB, want error) {
	t.Helper()
	switch {
	case o.err == nil:
		t.Errorf("%s: got events %s, want error %v", o.title(), list(o.events), want)
	case want != nil && !errors.Is(o.err, want):
		t.Errorf("%s: got error %v, want error %v", o.title(), o.err, want)
	}
}

// ThenState checks the state after the given and the decided events
// against want (reflect.DeepEqual). The state is built afresh from the
// given events, then evolved by the decided ones.
func (o *Outcome[S, C, E]) ThenState(t testing.TB, want S) {
	t.Helper()
	if o.err != nil {
		t.Errorf("%s: got error %v, want state %#v", o.title(), o.err, want)
		return
	}
	got := o.s.state()
	for _, e := range o.events {
		got = o.s.d.Evolve(got, e)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\ngot  state %#v\nwant state %#v", o.title(), got, want)
	}
}

func (o *Outcome[S, C, E]) title() string {
	return fmt.Sprintf("given %s, when %#v", list(o.s.given), o.cmd)
}

// list prints events one per item, with their types.
func list[E any](events []E) string {
	if len(events) == 0 {
		return "[]"
	}
	parts := make([]string, len(events))
	for i, e := range events {
		parts[i] = fmt.Sprintf("%#v", e)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
