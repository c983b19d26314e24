package aggregate_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
)

// TestDefaultAttemptsManyClients: with the default retry budget (no
// MaxAttempts), 32 clients sending commands to 20 accounts, each command
// to an account picked at random, have none given up for conflicts, on
// every store; and no update is lost: each account's events replay to the
// balance its accepted commands add up to, never below zero. (With the
// former default of 10 attempts, 3 to 9 of the 960 commands failed with
// ErrConflict on PostgreSQL in 5 runs of 6.)
func TestDefaultAttemptsManyClients(t *testing.T) {
	const (
		clients  = 32
		accounts = 20
		initial  = 50
	)
	perClient := 30
	if testing.Short() {
		perClient = 8
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s := b.open(t)
			h := aggregate.New(s, account, newCodec(t))
			for a := range accounts {
				if err := openAccount(ctx, h, fmt.Sprintf("acc-%d", a), initial); err != nil {
					t.Fatal(err)
				}
			}
			var (
				mu    sync.Mutex
				got   = make(map[string]*tally)
				total tally
				wg    sync.WaitGroup
			)
			for a := range accounts {
				got[fmt.Sprintf("acc-%d", a)] = new(tally)
			}
			for c := range clients {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(3, uint64(c)))
					for i := range perClient {
						id := fmt.Sprintf("acc-%d", rng.IntN(accounts))
						amount := rng.Int64N(10) + 1
						var cmd Command = Deposit{Amount: amount}
						if rng.IntN(2) == 0 {
							cmd = Withdraw{Amount: amount}
						}
						r, err := h.Handle(ctx, id, cmd, aggregate.CommandID(fmt.Sprintf("c%d-%d", c, i)))
						mu.Lock()
						switch tl := got[id]; {
						case errors.Is(err, ErrInsufficientFunds):
							tl.Refused++
							total.Refused++
						case errors.Is(err, evstore.ErrConflict):
							tl.GaveUp++
							total.GaveUp++
						case err != nil:
							t.Errorf("client %d command %d on %s: %v", c, i, id, err)
						case r.Duplicate || len(r.Events) != 1:
							t.Errorf("client %d command %d on %s: got %+v, want one fresh event", c, i, id, r)
						default:
							tl.Accepted++
							total.Accepted++
							if d, ok := cmd.(Deposit); ok {
								tl.Deposited += d.Amount
							} else {
								tl.Withdrawn += amount
							}
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if total.GaveUp != 0 || total.Accepted == 0 {
				t.Errorf("%d commands: got %d given up after the default %d attempts (%d accepted), want none", clients*perClient, total.GaveUp, aggregate.DefaultMaxAttempts, total.Accepted)
			}
			c := newCodec(t)
			for id, tl := range got {
				var a Account
				events := storedEvents(t, s, id)
				for _, e := range events {
					ev, err := c.Decode(e)
					if err != nil {
						t.Fatal(err)
					}
					if a = account.Evolve(a, ev); a.Balance < 0 {
						t.Errorf("%s version %d: balance %d, below zero", id, e.Version, a.Balance)
					}
				}
				if want := initial + tl.Deposited - tl.Withdrawn; a.Balance != want || len(events) != 2+tl.Accepted {
					t.Errorf("%s: got balance %d in %d events; want %d in %d (%+v)", id, a.Balance, len(events), want, 2+tl.Accepted, *tl)
				}
			}
			t.Logf("%d commands: %d accepted, %d refused for funds, %d given up", clients*perClient, total.Accepted, total.Refused, total.GaveUp)
		})
	}
}
