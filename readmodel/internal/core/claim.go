package core

import (
	"context"
	"fmt"

	"github.com/go-event-sourcing/evstore"
)

// A projector keeps one position. Under Store.Consume with Partition(m, n)
// a partition sees only its share of the events, so two partitions (or
// two ways of splitting the consumer) sharing one projector would each
// move the position past the other's events, and skip them. The row's
// claim records the partition the projector runs as, from the first
// Handle or Position called by a Consume; a call from another one is
// refused, with an error wrapping evstore.ErrInvalidArgument (which ends
// Consume). Rebuild drops the claim. Calls outside Consume (no
// evstore.ConsumerOf in their ctx) neither check nor record it.

// A claim is the partition of a consumer that a projector runs as.
type claim struct {
	key  evstore.ConsumerKey
	text string // as stored in ClaimColumn: "all", or "m/n"
}

// claimAll is the claim of a consumer without partitions, or with
// Partition(0, 1): it sees every event.
const claimAll = "all"

// claimOf returns the claim of the Consume call that ctx belongs to, if
// any.
func claimOf(ctx context.Context) (claim, bool) {
	key, ok := evstore.ConsumerOf(ctx)
	if !ok {
		return claim{}, false
	}
	if key.Members <= 1 {
		return claim{key, claimAll}, true
	}
	return claim{key, fmt.Sprintf("%d/%d", key.Partition, key.Members)}, true
}

// claim records c in the row if it has none (inserting the row at 0 if it
// is missing), in a transaction of its own, and returns the row as it then
// is: with c, or with the claim another instance recorded first.
func (p *Projector) claim(ctx context.Context, c claim, found bool) (r row, err error) {
	tx, err := p.begin(ctx)
	if err != nil {
		return row{}, fmt.Errorf("readmodel %q: recording its partition: %w", p.name, err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback(ctx)
		}
	}()
	if found {
		_, err = tx.Exec(ctx, p.q.Claim, p.name, c.text)
	} else {
		_, err = tx.Exec(ctx, p.q.Insert, p.name, int64(0), c.text)
	}
	if err != nil {
		return row{}, fmt.Errorf("readmodel %q: recording its partition: %w", p.name, err)
	}
	if r, _, err = p.read(ctx, tx); err != nil {
		return row{}, fmt.Errorf("readmodel %q: %w", p.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return row{}, fmt.Errorf("readmodel %q: recording its partition: commit: %w", p.name, err)
	}
	committed = true
	return r, nil
}

// refuse returns the error of a call from consumer partition c on a
// projector that held claims.
func (p *Projector) refuse(c claim, held string) error {
	hint := "give each partition its own projector name"
	if c.key.Members > 1 {
		hint += fmt.Sprintf(" (say %q for Partition(%d, %d))", fmt.Sprintf("%s/%d", p.name, c.key.Partition), c.key.Partition, c.key.Members)
	}
	return fmt.Errorf("%w: readmodel %q: consumer %q %s cannot use this projector, which runs %s: "+
		"one position cannot serve two partitions of a consumer, or two ways of splitting it, without skipping events; "+
		"%s, or Rebuild the projector to run it split another way",
		evstore.ErrInvalidArgument, p.name, c.key.Name, describe(c.text), describe(held), hint)
}

// describe names a claim in an error.
func describe(text string) string {
	if text == claimAll {
		return "without partitions"
	}
	return "as partition " + text
}
