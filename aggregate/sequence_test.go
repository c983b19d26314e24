package aggregate_test

import (
	"context"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
)

// pair deposits Amount twice: a command of two events.
type pair struct{ Amount int64 }

func (pair) isCommand() {}

// sequenceOf returns the Sequence of the event at version v of stream id,
// or 0 for v == 0.
func sequenceOf(t *testing.T, s *evstore.Store, id string, v int64) int64 {
	t.Helper()
	if v == 0 {
		return 0
	}
	for _, e := range storedEvents(t, s, id) {
		if e.Version == v {
			return e.Sequence
		}
	}
	t.Fatalf("%s has no version %d", id, v)
	return 0
}

// TestResultSequence: Result.Sequence is the Sequence of the last event
// the call appended; for a Duplicate, of the last event the command
// appended when it was handled; 0 when the call decided no events or was
// refused. Two streams are written in turn, so Sequences are not versions.
func TestResultSequence(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			d := account
			d.Decide = func(a Account, c Command) ([]Event, error) {
				if p, ok := c.(pair); ok {
					return []Event{Deposited(p), Deposited(p)}, nil
				}
				return account.Decide(a, c)
			}
			h := aggregate.New(s, d, newCodec(t))
			steps := []struct {
				stream    string
				cmd       Command
				id        string // command id; "" for none
				wantDup   bool
				wantError bool
				wantAt    int64 // the version of the event whose Sequence is wanted; 0 for Sequence 0
			}{
				{"acc-1", Open{Owner: "ada"}, "open", false, false, 1},
				{"acc-2", Open{Owner: "bo"}, "", false, false, 1},
				{"acc-1", pair{5}, "p", false, false, 3}, // the second of two events
				{"acc-2", Deposit{1}, "", false, false, 2},
				{"acc-1", Deposit{1}, "d", false, false, 4},
				{"acc-1", pair{5}, "p", true, false, 3}, // a duplicate of two events, with one after them
				{"acc-1", Open{Owner: "ada"}, "open", true, false, 1},
				{"acc-1", Deposit{1}, "d", true, false, 4}, // a duplicate of the stream's last event
				{"acc-1", Withdraw{1000}, "w", false, true, 0},
				{"acc-1", Noop{}, "n", false, false, 0},
				{"acc-1", Noop{}, "", false, false, 0},
			}
			for i, st := range steps {
				var opts []aggregate.HandleOption
				if st.id != "" {
					opts = append(opts, aggregate.CommandID(st.id))
				}
				r, err := h.Handle(ctx, st.stream, st.cmd, opts...)
				if (err != nil) != st.wantError || r.Duplicate != st.wantDup {
					t.Fatalf("step %d (%s %#v): got %+v, %v; want duplicate %v, error %v", i, st.stream, st.cmd, r, err, st.wantDup, st.wantError)
				}
				if want := sequenceOf(t, s, st.stream, st.wantAt); r.Sequence != want {
					t.Errorf("step %d (%s %#v): got Sequence %d, want %d (%s version %d)", i, st.stream, st.cmd, r.Sequence, want, st.stream, st.wantAt)
				}
			}
		})
	}
}
