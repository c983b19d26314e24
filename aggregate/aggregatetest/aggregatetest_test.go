package aggregatetest_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/aggregate/aggregatetest"
)

// A counter that counts up to a limit.
type Incremented struct{ By int }

type Increment struct{ By int }

var ErrLimit = errors.New("over the limit")

var counter = aggregate.Decider[int, Increment, Incremented]{
	Evolve: func(n int, e Incremented) int { return n + e.By },
	Decide: func(n int, c Increment) ([]Incremented, error) {
		switch {
		case c.By == 0:
			return nil, nil
		case n+c.By > 10:
			return nil, fmt.Errorf("%d + %d: %w", n, c.By, ErrLimit)
		}
		return []Incremented{{c.By}}, nil
	},
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(t testing.TB)
		want  string // in the failure; "" for none
	}{
		{"events as wanted", func(t testing.TB) { aggregatetest.Given(counter).When(Increment{2}).Then(t, Incremented{2}) }, ""},
		{"other events", func(t testing.TB) { aggregatetest.Given(counter).When(Increment{2}).Then(t, Incremented{3}) }, "got  events [aggregatetest_test.Incremented{By:2}]\nwant events [aggregatetest_test.Incremented{By:3}]"},
		{"no events wanted and none", func(t testing.TB) { aggregatetest.Given(counter).When(Increment{0}).Then(t) }, ""},
		{"events wanted, none", func(t testing.TB) { aggregatetest.Given(counter).When(Increment{0}).Then(t, Incremented{1}) }, "got  events []"},
		{"events wanted, error", func(t testing.TB) {
			aggregatetest.Given(counter, Incremented{9}).When(Increment{2}).Then(t, Incremented{2})
		}, "given [aggregatetest_test.Incremented{By:9}], when aggregatetest_test.Increment{By:2}: got error 9 + 2: over the limit"},
		{"error as wanted", func(t testing.TB) {
			aggregatetest.Given(counter, Incremented{9}).When(Increment{2}).ThenError(t, ErrLimit)
		}, ""},
		{"any error", func(t testing.TB) { aggregatetest.Given(counter, Incremented{9}).When(Increment{2}).ThenError(t, nil) }, ""},
		{"another error", func(t testing.TB) {
			aggregatetest.Given(counter, Incremented{9}).When(Increment{2}).ThenError(t, errors.New("other"))
		}, "got error 9 + 2: over the limit, want error other"},
		{"error wanted, events", func(t testing.TB) { aggregatetest.Given(counter).When(Increment{2}).ThenError(t, ErrLimit) }, "want error over the limit"},
		{"state as wanted", func(t testing.TB) {
			aggregatetest.Given(counter, Incremented{1}).When(Increment{2}).Then(t, Incremented{2}).ThenState(t, 3)
		}, ""},
		{"other state", func(t testing.TB) { aggregatetest.Given(counter).When(Increment{2}).ThenState(t, 3) }, "got  state 2\nwant state 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			tt.check(r)
			switch {
			case tt.want == "" && len(r.errs) > 0:
				t.Errorf("got failures %q, want none", r.errs)
			case tt.want != "" && (len(r.errs) != 1 || !strings.Contains(r.errs[0], tt.want)):
				t.Errorf("got failures %q, want one saying %q", r.errs, tt.want)
			}
		})
	}
}

func TestGivenState(t *testing.T) {
	d := counter
	d.Initial = func() int { return 5 }
	if got := aggregatetest.Given(d, Incremented{1}, Incremented{2}).State(); got != 8 {
		t.Errorf("got state %d, want 8", got)
	}
	events, err := aggregatetest.Given(d).When(Increment{6}).Events()
	if events != nil || !errors.Is(err, ErrLimit) {
		t.Errorf("Events: got %v, %v; want nil, ErrLimit", events, err)
	}
}

// A set of names, kept in a map that Evolve changes in place, as a state
// with a map or slice often is.
type Added struct{ Name string }

type Add struct{ Name string }

var set = aggregate.Decider[map[string]bool, Add, Added]{
	Initial: func() map[string]bool { return map[string]bool{} },
	Evolve: func(s map[string]bool, e Added) map[string]bool {
		s[e.Name] = true
		return s
	},
	Decide: func(s map[string]bool, c Add) ([]Added, error) {
		if s[c.Name] {
			return nil, nil
		}
		return []Added{{c.Name}}, nil
	},
}

// TestScenarioStateIsolated: a Scenario used for several commands decides
// each against the given state, whatever Evolve did to the state of an
// earlier step's ThenState or to a state State returned.
func TestScenarioStateIsolated(t *testing.T) {
	given := aggregatetest.Given(set, Added{"ada"})
	steps := []struct {
		cmd        Add
		wantEvents []Added
		wantState  map[string]bool
	}{
		{Add{"bo"}, []Added{{"bo"}}, map[string]bool{"ada": true, "bo": true}},
		{Add{"bo"}, []Added{{"bo"}}, map[string]bool{"ada": true, "bo": true}}, // bo is not in the given state
		{Add{"cy"}, []Added{{"cy"}}, map[string]bool{"ada": true, "cy": true}},
		{Add{"ada"}, nil, map[string]bool{"ada": true}},
	}
	for i, st := range steps {
		r := &recorder{TB: t}
		given.When(st.cmd).Then(r, st.wantEvents...).ThenState(r, st.wantState)
		for _, e := range r.errs {
			t.Errorf("step %d (%+v): %s", i, st.cmd, e)
		}
		given.State()["zed"] = true // a caller's change to a state it was given
	}
	if got, want := given.State(), map[string]bool{"ada": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("State after the steps: got %v, want %v", got, want)
	}
}
