// Package aggregatetest tests deciders the way their rules are stated:
// given these events happened, when this command comes, then these events
// happen (or the command is refused). It runs the Decider's functions
// alone, with no store, so such tests are fast and need no setup.
//
//	func TestWithdrawal(t *testing.T) {
//		funded := []Event{Opened{}, Deposited{Amount: 10}}
//		aggregatetest.Given(account, funded...).
//			When(Withdraw{Amount: 4}).
//			Then(t, Withdrawn{Amount: 4})
//
//		aggregatetest.Given(account, funded...).
//			When(Withdraw{Amount: 40}).
//			ThenError(t, ErrInsufficientFunds)
//	}
//
// (Go infers the event type E from every argument of Given, so a history
// of several event types is passed as a []E, as funded is here.)
//
// Given evolves the Decider's Initial state with the events, When decides
// the command against it, and Then compares the decision with the events
// wanted (reflect.DeepEqual, in order; no events wanted means none
// decided). ThenError wants Decide to fail with an error that errors.Is
// the one given. ThenState checks the state after the decided events too.
// A failed check reports the difference with t.Errorf and the test goes
// on, as with any got/want check.
//
// A Scenario can be used for several commands, each decided against the
// given state: it keeps the given events and builds the state afresh, from
// Initial, for every When, ThenState and State, so an Evolve that changes
// a map or slice state in place cannot carry one step's events into the
// next. Initial must return a new state on every call for that to hold.
package aggregatetest
