package aggregate_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
	"github.com/go-event-sourcing/evstore/memory"
)

// A bank account: commands decided against the state their events are
// written on, and a retried request (same command id) that is not
// decided again.
func Example() {
	ctx := context.Background()
	store, err := memory.Open(ctx)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	events, err := codec.NewJSON[Event](
		codec.Type[Opened]("Opened"),
		codec.Type[Deposited]("Deposited"),
		codec.Type[Withdrawn]("Withdrawn"),
	)
	if err != nil {
		panic(err)
	}
	accounts := aggregate.New(store, account, events, aggregate.SnapshotEvery(100))

	for _, req := range []struct {
		id  string
		cmd Command
	}{
		{"req-1", Open{Owner: "ada"}},
		{"req-2", Deposit{Amount: 50}},
		{"req-3", Withdraw{Amount: 30}},
		{"req-3", Withdraw{Amount: 30}}, // the client retries: its reply was lost
		{"req-4", Withdraw{Amount: 30}},
	} {
		r, err := accounts.Handle(ctx, "account-42", req.cmd,
			aggregate.CommandID(req.id),
			aggregate.Metadata(map[string]any{"request_id": req.id}))
		switch {
		case errors.Is(err, ErrInsufficientFunds):
			fmt.Printf("%s refused: %v\n", req.id, err)
		case err != nil:
			panic(err)
		case r.Duplicate:
			fmt.Printf("%s handled before: balance %d at version %d\n", req.id, r.State.Balance, r.Version)
		default:
			fmt.Printf("%s %v: balance %d at version %d\n", req.id, r.Events, r.State.Balance, r.Version)
		}
	}
	// Output:
	// req-1 [{ada}]: balance 0 at version 1
	// req-2 [{50}]: balance 50 at version 2
	// req-3 [{30}]: balance 20 at version 3
	// req-3 handled before: balance 20 at version 3
	// req-4 refused: withdraw 30 of 20: insufficient funds
}
