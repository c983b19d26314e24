package aggregate_test

import (
	"context"
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate"
)

type tagged struct {
	Withdraw
	hold chan struct{} // B's Decide waits on it
}

func (tagged) isCommand() {}

// TestSameIDWhileDeciding: a call whose Decide refuses the command while
// another call with the same id writes it reports Duplicate, the
// command's one outcome.
func TestSameIDWhileDeciding(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	plain := aggregate.New(s, account, newCodec(t))
	plain.Handle(ctx, "acc", Open{Owner: "a"})
	inDecide := make(chan struct{})
	d := account
	d.Decide = func(a Account, c Command) ([]Event, error) {
		if tc, ok := c.(tagged); ok {
			if tc.hold != nil {
				close(inDecide)
				<-tc.hold
			}
			return account.Decide(a, tc.Withdraw)
		}
		return account.Decide(a, c)
	}
	h := aggregate.New(s, d, newCodec(t))
	hold := make(chan struct{})
	done := make(chan error)
	results := make(chan aggregate.Result[Account, Event], 1)
	go func() {
		r, err := h.Handle(ctx, "acc", tagged{Withdraw{10}, hold}, aggregate.CommandID("w"))
		results <- r
		done <- err
	}()
	<-inDecide // B loaded balance 0 and looked "w" up: not found
	if _, err := plain.Handle(ctx, "acc", Deposit{10}); err != nil {
		t.Fatal(err)
	}
	a, err := h.Handle(ctx, "acc", tagged{Withdraw: Withdraw{10}}, aggregate.CommandID("w"))
	if err != nil || len(a.Events) != 1 || a.Duplicate {
		t.Fatalf("A: got %+v, %v; want it to append the withdrawal", a, err)
	}
	close(hold)
	b := <-results
	if err := <-done; err != nil || !b.Duplicate || b.Events != nil || b.Version != a.Version || b.Sequence != a.Sequence {
		t.Errorf("B, the same command id, decided against a stale balance: got %+v, %v; want Duplicate at version %d, Sequence %d, not a refusal", b, err, a.Version, a.Sequence)
	}
}
