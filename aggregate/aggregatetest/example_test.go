package aggregatetest_test

import (
	"fmt"
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate/aggregatetest"
)

// A decider's rules read as the scenarios they were written from. In a
// test, pass the test's t; here a stand-in prints what a failing check
// would report.
func Example() {
	t := &printer{}

	// Given the counter is at 9, when 1 is added, then it is incremented by 1.
	aggregatetest.Given(counter, Incremented{4}, Incremented{5}).
		When(Increment{1}).
		Then(t, Incremented{1}).
		ThenState(t, 10)

	// Given the counter is at 9, when 2 are added, the limit refuses it.
	aggregatetest.Given(counter, Incremented{9}).
		When(Increment{2}).
		ThenError(t, ErrLimit)

	// A wrong expectation reports what Decide did instead.
	aggregatetest.Given(counter).
		When(Increment{3}).
		Then(t, Incremented{2})
	// Output:
	// FAIL: given [], when aggregatetest_test.Increment{By:3}:
	// got  events [aggregatetest_test.Incremented{By:3}]
	// want events [aggregatetest_test.Incremented{By:2}]
}

// printer is a testing.TB that prints failures.
type printer struct{ testing.TB }

func (*printer) Helper() {}
func (*printer) Errorf(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
}
