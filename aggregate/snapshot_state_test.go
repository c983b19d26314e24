package aggregate_test

import (
	"context"
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
)

type LimitSet struct{ Limit int64 }
type TagRemoved struct{ Tag string }

func (LimitSet) isEvent()   {}
func (TagRemoved) isEvent() {}

type Limits struct {
	Limit int64           `json:"limit,omitempty"`
	Tags  map[string]bool `json:"tags"`
}

// TestSnapshotDecodesIntoZeroState: a state loaded from a snapshot is the
// state the events give, even where Initial sets fields the events clear.
func TestSnapshotDecodesIntoZeroState(t *testing.T) {
	ctx := context.Background()
	c, err := codec.NewJSON[Event](codec.Type[LimitSet]("LimitSet"), codec.Type[TagRemoved]("TagRemoved"))
	if err != nil {
		t.Fatal(err)
	}
	d := aggregate.Decider[Limits, Event, Event]{
		Initial: func() Limits { return Limits{Limit: 100, Tags: map[string]bool{"new": true}} },
		Evolve: func(s Limits, e Event) Limits {
			switch e := e.(type) {
			case LimitSet:
				s.Limit = e.Limit
			case TagRemoved:
				m := map[string]bool{}
				for k, v := range s.Tags {
					if k != e.Tag {
						m[k] = v
					}
				}
				s.Tags = m
			}
			return s
		},
		Decide: func(s Limits, e Event) ([]Event, error) { return []Event{e}, nil },
	}
	for _, every := range []int{0, 1} {
		s := openMemory(t)
		var opts []aggregate.Option
		if every > 0 {
			opts = append(opts, aggregate.SnapshotEvery(every))
		}
		h := aggregate.New(s, d, c, opts...)
		if _, err := h.Handle(ctx, "x", LimitSet{0}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Handle(ctx, "x", TagRemoved{"new"}); err != nil {
			t.Fatal(err)
		}
		st, v, err := h.Load(ctx, "x")
		if err != nil || v != 2 || st.Limit != 0 || len(st.Tags) != 0 {
			t.Errorf("SnapshotEvery(%d): Load = %+v at %d, %v; want {Limit:0 Tags:map[]} at 2, what the events say", every, st, v, err)
		}
	}
}
