package aggregate_test

import (
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate/aggregatetest"
)

// The account's rules, stated as given/when/then.
func TestAccountRules(t *testing.T) {
	opened := []Event{Opened{Owner: "ada"}, Deposited{Amount: 10}}
	aggregatetest.Given(account).When(Open{Owner: "ada"}).Then(t, Opened{Owner: "ada"})
	aggregatetest.Given(account, opened...).When(Open{Owner: "bo"}).ThenError(t, ErrAlreadyOpen)
	aggregatetest.Given(account).When(Deposit{Amount: 1}).ThenError(t, ErrNotOpen)
	aggregatetest.Given(account, opened...).When(Withdraw{Amount: 4}).
		Then(t, Withdrawn{Amount: 4}).
		ThenState(t, Account{Open: true, Owner: "ada", Balance: 6})
	aggregatetest.Given(account, opened...).When(Withdraw{Amount: 10}).Then(t, Withdrawn{Amount: 10})
	aggregatetest.Given(account, opened...).When(Withdraw{Amount: 11}).ThenError(t, ErrInsufficientFunds)
	aggregatetest.Given(account, opened...).When(Noop{}).Then(t)
}
