package memory

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// Consumers' checkpoints and leases, as evstore.ConsumerBackend wants them:
// a map of rows under a lock of its own. A lease is a deadline and a
// generation; a holder whose generation is no longer the row's has lost it.

// consumers holds the consumer rows of a backend.
type consumers struct {
	mu   sync.Mutex
	rows map[evstore.ConsumerKey]*consumerRow
	now  func() time.Time // tests move the clock
}

// A consumerRow is one consumer (or partition) of the store.
type consumerRow struct {
	position   int64
	found      bool // it has a checkpoint of its own
	external   bool
	updated    time.Time
	generation int64
	leaseUntil time.Time // zero when released
}

func (r *consumerRow) leased(now time.Time) bool { return now.Before(r.leaseUntil) }

var _ evstore.ConsumerBackend = (*backend)(nil)

// otherSplitHeld reports whether an instance holds key's name under
// another Members (an instance that splits the consumer otherwise); c.mu
// is held.
func (c *consumers) otherSplitHeld(key evstore.ConsumerKey, now time.Time) bool {
	for k, r := range c.rows {
		if k.Name == key.Name && k.Members != key.Members && r.leased(now) {
			return true
		}
	}
	return false
}

// AcquireLease implements evstore.ConsumerBackend.
func (b *backend) AcquireLease(ctx context.Context, key evstore.ConsumerKey, ttl time.Duration) (evstore.Lease, error) {
	c := &b.consumers
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.otherSplitHeld(key, now) {
		return nil, nil
	}
	var others []evstore.CheckpointRow
	for k, r := range c.rows {
		if k.Name != key.Name || k.Members == key.Members {
			continue
		}
		others = append(others, evstore.CheckpointRow{Partition: k.Partition, Members: k.Members, Position: r.position, Found: r.found, Updated: r.updated})
	}
	r := c.rows[key]
	switch {
	case r == nil:
		r = &consumerRow{}
		c.rows[key] = r
	case r.leased(now):
		return nil, nil
	}
	r.generation++
	r.leaseUntil = now.Add(ttl)
	l := &lease{c: c, key: key, generation: r.generation, ttl: ttl, position: r.position, found: r.found}
	if !r.found {
		// A new split starts where an old one got to; the row keeps no
		// checkpoint of its own until the first save.
		l.position, l.found = evstore.InheritCheckpoint(others)
	}
	return l, nil
}

// A lease is one holder's evstore.Lease.
type lease struct {
	c          *consumers
	key        evstore.ConsumerKey
	generation int64
	ttl        time.Duration
	position   int64
	found      bool
}

func (l *lease) Checkpoint() (int64, bool) { return l.position, l.found }

// held returns the lease's row if the lease is still this holder's: the
// row's generation is the one AcquireLease gave, and no instance holds the
// name under another Members (which this holder's expired lease let in).
// c.mu is held.
func (l *lease) held() (*consumerRow, error) {
	r := l.c.rows[l.key]
	if r == nil || r.generation != l.generation || l.c.otherSplitHeld(l.key, l.c.now()) {
		return nil, fmt.Errorf("%w: consumer %q (partition %d of %d)", evstore.ErrLeaseLost, l.key.Name, l.key.Partition, l.key.Members)
	}
	return r, nil
}

func (l *lease) Save(ctx context.Context, position int64, external bool) error {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	r, err := l.held()
	if err != nil {
		return err
	}
	now := l.c.now()
	if !r.found || r.position != position {
		r.updated = now.UTC()
	}
	r.position, r.found, r.external = position, true, external
	r.leaseUntil = now.Add(l.ttl)
	return nil
}

func (l *lease) Renew(ctx context.Context) error {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	r, err := l.held()
	if err != nil {
		return err
	}
	r.leaseUntil = l.c.now().Add(l.ttl)
	return nil
}

func (l *lease) Release(ctx context.Context) error {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if r, err := l.held(); err == nil {
		r.leaseUntil = time.Time{}
	}
	return nil
}

// ListConsumers implements evstore.ConsumerBackend.
func (b *backend) ListConsumers(ctx context.Context) iter.Seq2[evstore.ConsumerInfo, error] {
	return func(yield func(evstore.ConsumerInfo, error) bool) {
		c := &b.consumers
		c.mu.Lock()
		list := make([]evstore.ConsumerInfo, 0, len(c.rows))
		for k, r := range c.rows {
			list = append(list, evstore.ConsumerInfo{Name: k.Name, Partition: k.Partition, Members: k.Members, Position: r.position, Updated: r.updated, External: r.external})
		}
		c.mu.Unlock()
		slices.SortFunc(list, func(a, b evstore.ConsumerInfo) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Members, b.Members), cmp.Compare(a.Partition, b.Partition))
		})
		for _, info := range list {
			if !yield(info, nil) {
				return
			}
		}
	}
}

// ResetConsumer implements evstore.ConsumerBackend.
func (b *backend) ResetConsumer(ctx context.Context, name string, position int64) error {
	c := &b.consumers
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var rows []*consumerRow
	for k, r := range c.rows {
		if k.Name != name {
			continue
		}
		if r.leased(now) {
			return fmt.Errorf("%w: consumer %q is running (partition %d of %d holds a lease); stop it before resetting it", evstore.ErrConflict, name, k.Partition, k.Members)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		r := &consumerRow{}
		c.rows[evstore.ConsumerKey{Name: name}] = r
		rows = append(rows, r)
	}
	for _, r := range rows {
		r.position, r.found, r.updated = position, true, now.UTC()
		r.generation++ // a holder whose lease expired unnoticed cannot save over it
	}
	return nil
}
