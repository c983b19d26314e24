package aggregate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/postgres"
	"github.com/go-event-sourcing/evstore/sqlite"
	"github.com/jackc/pgx/v5"
)

// The bank account of the tests: typed events, commands, a state and the
// rule that the balance never goes below zero.

type Event interface{ isEvent() }

type Opened struct {
	Owner string `json:"owner"`
}
type Deposited struct {
	Amount int64 `json:"amount"`
}
type Withdrawn struct {
	Amount int64 `json:"amount"`
}

func (Opened) isEvent()    {}
func (Deposited) isEvent() {}
func (Withdrawn) isEvent() {}

type Command interface{ isCommand() }

type Open struct{ Owner string }
type Deposit struct{ Amount int64 }
type Withdraw struct{ Amount int64 }

// Noop decides nothing.
type Noop struct{}

func (Open) isCommand()     {}
func (Deposit) isCommand()  {}
func (Withdraw) isCommand() {}
func (Noop) isCommand()     {}

type Account struct {
	Open    bool   `json:"open"`
	Owner   string `json:"owner"`
	Balance int64  `json:"balance"`
}

var (
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrNotOpen           = errors.New("account not open")
	ErrAlreadyOpen       = errors.New("account already open")
)

var account = aggregate.Decider[Account, Command, Event]{
	Evolve: func(a Account, e Event) Account {
		switch e := e.(type) {
		case Opened:
			a.Open, a.Owner = true, e.Owner
		case Deposited:
			a.Balance += e.Amount
		case Withdrawn:
			a.Balance -= e.Amount
		}
		return a
	},
	Decide: func(a Account, c Command) ([]Event, error) {
		switch c := c.(type) {
		case Open:
			if a.Open {
				return nil, ErrAlreadyOpen
			}
			return []Event{Opened(c)}, nil
		case Noop:
			return nil, nil
		}
		if !a.Open {
			return nil, ErrNotOpen
		}
		switch c := c.(type) {
		case Deposit:
			return []Event{Deposited(c)}, nil
		case Withdraw:
			if a.Balance < c.Amount {
				return nil, fmt.Errorf("withdraw %d of %d: %w", c.Amount, a.Balance, ErrInsufficientFunds)
			}
			return []Event{Withdrawn(c)}, nil
		}
		return nil, fmt.Errorf("unknown command %T", c)
	},
}

func accountCodec() (*codec.JSON[Event], error) {
	return codec.NewJSON[Event](
		codec.Type[Opened]("Opened"),
		codec.Type[Deposited]("Deposited"),
		codec.Type[Withdrawn]("Withdrawn"),
	)
}

func newCodec(t testing.TB) *codec.JSON[Event] {
	t.Helper()
	c, err := accountCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A backend opens a fresh, empty Store, closed when the test ends.
type backend struct {
	name string
	open func(t testing.TB) *evstore.Store
}

// backends returns the stores the tests run on: memory, SQLite, and
// PostgreSQL when EVSTORE_POSTGRES_DSN is set.
func backends() []backend {
	bs := []backend{{"memory", openMemory}, {"sqlite", openSQLite}}
	if os.Getenv("EVSTORE_POSTGRES_DSN") != "" {
		bs = append(bs, backend{"postgres", openPostgres})
	}
	return bs
}

func openMemory(t testing.TB) *evstore.Store {
	s, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openSQLite(t testing.TB) *evstore.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var schemas atomic.Int64

// openPostgres opens a Store on a schema of its own, dropped after the test.
func openPostgres(t testing.TB) *evstore.Store {
	dsn := os.Getenv("EVSTORE_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PostgreSQL tests need a server: set EVSTORE_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	schema := fmt.Sprintf("evstore_aggtest_%d_%d", os.Getpid(), schemas.Add(1))
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the drop
	return s
}

// storedEvents returns every event of a stream.
func storedEvents(t testing.TB, s *evstore.Store, id string) []evstore.StoredEvent {
	t.Helper()
	ctx := context.Background()
	st, err := s.Stream(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []evstore.StoredEvent
	for e, err := range st.Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
