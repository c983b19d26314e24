package main

// This file is the bank's business logic: what an account is, what can be
// asked of it, and what happens. It does no I/O, so main_test.go tests
// its rules with aggregatetest, without a store.

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
)

// An Event is a fact about an account. The interface is sealed (its
// method is unexported), so a type switch over Event lists every event
// there is, and the codec refuses to register any other type.
type Event interface{ isEvent() }

// The events, in the past tense: they happened and are never changed.
type (
	Opened struct {
		Owner string `json:"owner"`
	}
	Deposited struct {
		Cents int64 `json:"cents"`
	}
	Withdrawn struct {
		Cents int64 `json:"cents"`
	}
)

func (Opened) isEvent()    {}
func (Deposited) isEvent() {}
func (Withdrawn) isEvent() {}

// A Command asks something of an account, in the imperative: it may be
// refused. The account is the stream, so commands do not name it.
type Command interface{ isCommand() }

type (
	Open     struct{ Owner string }
	Deposit  struct{ Cents int64 }
	Withdraw struct{ Cents int64 }
)

func (Open) isCommand()     {}
func (Deposit) isCommand()  {}
func (Withdraw) isCommand() {}

func (c Open) String() string     { return "open for " + c.Owner }
func (c Deposit) String() string  { return "deposit " + dollars(c.Cents) }
func (c Withdraw) String() string { return "withdraw " + dollars(c.Cents) }

// Account is the state that Decide needs, and nothing more: whether the
// account is open, and its balance. Its JSON form is what SnapshotEvery
// saves (so its fields are exported).
type Account struct {
	Open  bool   `json:"open"`
	Owner string `json:"owner"`
	Cents int64  `json:"cents"`
}

// The rules an account enforces. Decide returns them (wrapped, with the
// figures), so callers test them with errors.Is.
var (
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrNotOpen           = errors.New("account not open")
	ErrAlreadyOpen       = errors.New("account already open")
	ErrInvalidAmount     = errors.New("amount must be positive")
)

// refused tells a command the rules refused from a failure of the store.
func refused(err error) bool {
	for _, rule := range []error{ErrInsufficientFunds, ErrNotOpen, ErrAlreadyOpen, ErrInvalidAmount} {
		if errors.Is(err, rule) {
			return true
		}
	}
	return false
}

// account is the decider: the three pure functions that are the whole of
// an account's logic. aggregate.Handler does the rest (load, decide,
// append, retry).
var account = aggregate.Decider[Account, Command, Event]{
	// Initial is the state of a stream with no events: no account yet.
	Initial: func() Account { return Account{} },

	// Evolve folds one event into the state. It cannot refuse: an event
	// is a fact, already written.
	Evolve: func(a Account, e Event) Account {
		switch e := e.(type) {
		case Opened:
			a.Open, a.Owner = true, e.Owner
		case Deposited:
			a.Cents += e.Cents
		case Withdrawn:
			a.Cents -= e.Cents
		}
		return a
	},

	// Decide checks a command against the state and says what happens:
	// events, or an error that refuses it.
	Decide: func(a Account, c Command) ([]Event, error) {
		switch c := c.(type) {
		case Open:
			if a.Open {
				return nil, ErrAlreadyOpen
			}
			return []Event{Opened(c)}, nil // the event has the command's fields
		case Deposit:
			if err := canMove(a, c.Cents); err != nil {
				return nil, err
			}
			return []Event{Deposited(c)}, nil
		case Withdraw:
			if err := canMove(a, c.Cents); err != nil {
				return nil, err
			}
			if c.Cents > a.Cents {
				return nil, fmt.Errorf("withdraw %s of %s: %w", dollars(c.Cents), dollars(a.Cents), ErrInsufficientFunds)
			}
			return []Event{Withdrawn(c)}, nil
		}
		return nil, fmt.Errorf("unknown command %T", c)
	},
}

// canMove checks what deposits and withdrawals have in common.
func canMove(a Account, cents int64) error {
	switch {
	case !a.Open:
		return ErrNotOpen
	case cents <= 0:
		return fmt.Errorf("%s: %w", dollars(cents), ErrInvalidAmount)
	}
	return nil
}

// newCodec returns the table of stored type names: each event type is
// registered once, here, and Decode yields the Go type (a value, as
// registered) for a type switch over Event.
func newCodec() (*codec.JSON[Event], error) {
	return codec.NewJSON[Event](
		codec.Type[Opened]("Opened"),
		codec.Type[Deposited]("Deposited"),
		codec.Type[Withdrawn]("Withdrawn"),
		// The bank's first version stored deposits as MoneyDeposited, in
		// whole dollars. Those events are still in the store, as written;
		// the upcast reads them as today's Deposited, in cents.
		codec.Upcast("MoneyDeposited", upcastMoneyDeposited),
	)
}

// upcastMoneyDeposited rewrites a version 1 deposit, {"dollars":100} under
// "MoneyDeposited", into a Deposited: {"cents":10000} under "Deposited".
func upcastMoneyDeposited(e evstore.StoredEvent) (evstore.StoredEvent, error) {
	var v1 struct {
		Dollars int64 `json:"dollars"`
	}
	if err := json.Unmarshal(e.Data, &v1); err != nil {
		return e, err
	}
	data, err := json.Marshal(Deposited{Cents: v1.Dollars * 100})
	if err != nil {
		return e, err
	}
	e.Type, e.Data = "Deposited", data // e is a copy; its old Data is left as it was
	return e, nil
}

// dollars formats cents as dollars and cents: 1250 is "12.50".
func dollars(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}
