package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/aggregate/aggregatetest"
	"github.com/go-event-sourcing/evstore/memory"
)

// The account's rules, as given/when/then: pure, no store. The histories
// are []Event: Given infers its type parameters from all its arguments,
// so a bare Opened{} among them would not be taken for an Event.
func TestAccountRules(t *testing.T) {
	opened := []Event{Opened{Owner: "Alice"}}
	funded := []Event{Opened{Owner: "Alice"}, Deposited{Cents: 10_00}, Withdrawn{Cents: 4_00}}

	aggregatetest.Given(account).When(Open{Owner: "Alice"}).Then(t, Opened{Owner: "Alice"})
	aggregatetest.Given(account, opened...).When(Open{Owner: "Alice"}).ThenError(t, ErrAlreadyOpen)

	aggregatetest.Given(account).When(Deposit{Cents: 10_00}).ThenError(t, ErrNotOpen)
	aggregatetest.Given(account, opened...).When(Deposit{Cents: 0}).ThenError(t, ErrInvalidAmount)
	aggregatetest.Given(account, opened...).When(Deposit{Cents: 10_00}).
		Then(t, Deposited{Cents: 10_00}).
		ThenState(t, Account{Open: true, Owner: "Alice", Cents: 10_00})

	// No withdrawal beyond the balance; all of it is fine.
	aggregatetest.Given(account, funded...).When(Withdraw{Cents: 6_01}).ThenError(t, ErrInsufficientFunds)
	aggregatetest.Given(account, funded...).When(Withdraw{Cents: 6_00}).
		Then(t, Withdrawn{Cents: 6_00}).
		ThenState(t, Account{Open: true, Owner: "Alice"})
	aggregatetest.Given(account, funded...).When(Withdraw{Cents: -1}).ThenError(t, ErrInvalidAmount)
	aggregatetest.Given(account).When(Withdraw{Cents: 1}).ThenError(t, ErrNotOpen)
}

// A version 1 deposit, in whole dollars, decodes as today's Deposited.
func TestUpcast(t *testing.T) {
	events, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(evstore.StoredEvent{Type: "MoneyDeposited", Data: []byte(`{"dollars":12}`)})
	if want := (Deposited{Cents: 12_00}); err != nil || got != want {
		t.Errorf("Decode: got %#v, %v; want %#v", got, err, want)
	}
}

// Handle returns Decide's refusal as it is, for errors.Is, and writes
// nothing; a retry of an accepted command is a Duplicate.
func TestHandle(t *testing.T) {
	ctx := context.Background()
	store, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	accounts := aggregate.New(store, account, events)
	for _, c := range []struct {
		id  string
		cmd Command
	}{{"a", Open{Owner: "Alice"}}, {"b", Deposit{Cents: 5_00}}, {"c", Withdraw{Cents: 5_00}}} {
		if _, err := accounts.Handle(ctx, "account-alice", c.cmd, aggregate.CommandID(c.id)); err != nil {
			t.Fatalf("%v: %v", c.cmd, err)
		}
	}
	r, err := accounts.Handle(ctx, "account-alice", Withdraw{Cents: 1}, aggregate.CommandID("d"))
	if !errors.Is(err, ErrInsufficientFunds) || r.Version != 3 {
		t.Errorf("withdraw beyond the balance: got version %d, error %v; want version 3, ErrInsufficientFunds", r.Version, err)
	}
	r, err = accounts.Handle(ctx, "account-alice", Withdraw{Cents: 5_00}, aggregate.CommandID("c"))
	if err != nil || !r.Duplicate || r.Version != 3 || r.Events != nil {
		t.Errorf("retry of c: got %+v, %v; want a Duplicate at version 3", r, err)
	}
}

// Example runs the program twice on one directory; the test checks every
// line both runs print. The second run sends every request again: the
// accepted ones are duplicates, the refused ones are refused again, and
// the read model applies nothing twice.
func Example() {
	dir, err := os.MkdirTemp("", "evstore-bank-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for i := range 2 {
		fmt.Printf("=== Run %d ===\n", i+1)
		if err := run(context.Background(), os.Stdout, dir); err != nil {
			panic(err)
		}
	}
	// Output:
	// === Run 1 ===
	// The read model is new: it has applied no event yet.
	//
	// The bank's first version opened alice's account and stored a deposit as MoneyDeposited {"dollars":100}:
	//   2 new events.
	//
	// Today's version handles requests (the command id and the correlation id are the request id):
	//   req-1 alice: deposit 25.00: appended [Deposited{Cents:2500}]; balance 125.00, version 3
	//   req-2 bob: open for Bob: appended [Opened{Owner:Bob}]; balance 0.00, version 1
	//   req-3 bob: deposit 40.00: appended [Deposited{Cents:4000}]; balance 40.00, version 2
	//   req-4 alice: withdraw 100.00 (the reply is lost): appended [Withdrawn{Cents:10000}]; balance 25.00, version 4
	//   req-4 alice: withdraw 100.00 (the client retries): a duplicate, not decided again; balance 25.00, version 4
	//       (deciding it now would refuse it: withdraw 100.00 of 25.00: insufficient funds)
	//   req-5 alice: withdraw 50.00: refused: withdraw 50.00 of 25.00: insufficient funds
	//   req-6 carol: deposit 10.00: refused: account not open
	//
	// The stream account-alice, as stored, and as Decode reads it:
	//   v1 Opened         key v1-opened  {"owner":"Alice"} -> Opened{Owner:Alice}
	//   v2 MoneyDeposited key v1-deposit {"dollars":100}   -> Deposited{Cents:10000}
	//   v3 Deposited      key req-1      {"cents":2500}    -> Deposited{Cents:2500} correlation_id=req-1
	//   v4 Withdrawn      key req-4      {"cents":10000}   -> Withdrawn{Cents:10000} correlation_id=req-4
	// Its snapshot "account.v1", saved by SnapshotEvery(3), is at version 3: {"open":true,"owner":"Alice","cents":12500}.
	// Load starts from it and reads only the events after it (1 here): balance 25.00, version 4.
	//
	// Waiting for the consumer "balances" (a readmodel.Projector) to catch up...
	// The read model has applied the events up to Sequence 6, the newest.
	// Balances:
	//   alice  Alice    25.00
	//   bob    Bob      40.00
	//
	// Run the program again on the same directory (-dir): every request is then a retry.
	// === Run 2 ===
	// The read model was kept by an earlier run: it has applied the events up to Sequence 6.
	//
	// The bank's first version opened alice's account and stored a deposit as MoneyDeposited {"dollars":100}:
	//   No new event: the store had both already (by their IDs).
	//
	// Today's version handles requests (the command id and the correlation id are the request id):
	//   req-1 alice: deposit 25.00: a duplicate, not decided again; balance 25.00, version 4
	//   req-2 bob: open for Bob: a duplicate, not decided again; balance 40.00, version 2
	//       (deciding it now would refuse it: account already open)
	//   req-3 bob: deposit 40.00: a duplicate, not decided again; balance 40.00, version 2
	//   req-4 alice: withdraw 100.00 (the reply is lost): a duplicate, not decided again; balance 25.00, version 4
	//       (deciding it now would refuse it: withdraw 100.00 of 25.00: insufficient funds)
	//   req-4 alice: withdraw 100.00 (the client retries): a duplicate, not decided again; balance 25.00, version 4
	//       (deciding it now would refuse it: withdraw 100.00 of 25.00: insufficient funds)
	//   req-5 alice: withdraw 50.00: refused: withdraw 50.00 of 25.00: insufficient funds
	//   req-6 carol: deposit 10.00: refused: account not open
	//
	// The stream account-alice, as stored, and as Decode reads it:
	//   v1 Opened         key v1-opened  {"owner":"Alice"} -> Opened{Owner:Alice}
	//   v2 MoneyDeposited key v1-deposit {"dollars":100}   -> Deposited{Cents:10000}
	//   v3 Deposited      key req-1      {"cents":2500}    -> Deposited{Cents:2500} correlation_id=req-1
	//   v4 Withdrawn      key req-4      {"cents":10000}   -> Withdrawn{Cents:10000} correlation_id=req-4
	// Its snapshot "account.v1", saved by SnapshotEvery(3), is at version 3: {"open":true,"owner":"Alice","cents":12500}.
	// Load starts from it and reads only the events after it (1 here): balance 25.00, version 4.
	//
	// Waiting for the consumer "balances" (a readmodel.Projector) to catch up...
	// The read model has applied the events up to Sequence 6, the newest.
	// Balances:
	//   alice  Alice    25.00
	//   bob    Bob      40.00
	//
	// Nothing was decided or applied twice: this run's requests appended no event, and the
	// read model went on after Sequence 6, where its position said it had stopped.
}
