package evstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// This file holds how a caller waits for a consumer to have processed an
// event: read-your-writes through a read model.

// waitPoll is how often WaitConsumer reads the consumers' positions from
// the database, for consumers running in other processes; those of this
// Store wake it at once.
const waitPoll = 20 * time.Millisecond

// WaitConsumer waits until the consumer name has processed every event up
// to Sequence position: until every partition of one split of it (see
// Partition) has a position at or past it. That is what a service needs
// to read its own writes from a read model: an HTTP handler that appended
// events (Stream.Write with Report, or aggregate's Result.Sequence) waits
// for the projector before it answers with the projection:
//
//	res, err := accounts.Handle(ctx, id, deposit)
//	...
//	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
//	defer cancel()
//	if err := store.WaitConsumer(ctx, "balances", res.Sequence); err != nil {
//		// answer 202 Accepted: the projection will follow
//	}
//
// It returns nil once the position is reached, ctx's error when ctx ends
// first, and ErrClosed when the Store closes. A consumer that has not run
// yet is waited for. A consumer running in this Store wakes the wait as
// soon as its Handle returns, and while every partition of it runs here
// the wait costs the database nothing; the positions of consumers in
// other processes are read from the database every 20ms, by each waiter, and a Positioner's
// position there is the one it last reported, at most a second old. The
// partitions that do not select the event move past it when they handle a
// later batch, or within a second once caught up: with Partition, expect
// up to a second. Events a consumer never handles count as processed
// once it is past them: those its ConsumeFilter drops, and those before
// its StartFrom. A bad name or a negative position returns
// ErrInvalidArgument.
func (s *Store) WaitConsumer(ctx context.Context, name string, position int64) error {
	if err := checkConsumerName(name); err != nil {
		return err
	}
	if position < 0 {
		return fmt.Errorf("%w: wait for consumer %q: position %d is negative", ErrInvalidArgument, name, position)
	}
	cb, err := s.consumerBackend()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.life, cancel)() // Close ends the wait
	var stored map[ConsumerKey]int64          // as the database last said
	poll := time.NewTimer(0)
	defer poll.Stop()
	failures := 0
	for {
		// The active instances of this Store know best; the database
		// tells of the others.
		here, moved := s.progress.of(name)
		at := maps.Clone(stored)
		if at == nil {
			at = map[ConsumerKey]int64{}
		}
		maps.Copy(at, here)
		if reached(at, position) {
			return nil
		}
		// While a whole split of the consumer is active here, the
		// database has nothing newer to tell.
		due := poll.C
		if reached(here, 0) {
			due = nil
		}
		select {
		case <-ctx.Done():
			if s.closing() {
				return ErrClosed
			}
			return ctx.Err()
		case <-moved:
			continue
		case <-due:
		}
		rows, err := call(s, func() (map[ConsumerKey]int64, error) {
			rows := map[ConsumerKey]int64{}
			for info, err := range cb.ListConsumers(ctx) {
				if err != nil {
					return nil, err
				}
				if info.Name == name {
					rows[ConsumerKey{Name: name, Partition: info.Partition, Members: info.Members}] = info.Position
				}
			}
			return rows, nil
		})
		switch {
		case err == nil:
			stored, failures = rows, 0
			poll.Reset(waitPoll)
		case ctx.Err() != nil || errors.Is(err, ErrClosed):
			// the select above says why
			poll.Reset(0)
		case permanent(err):
			return err
		default: // a database out of reach for a while: try again
			failures++
			poll.Reset(min(waitPoll<<min(failures, 6), time.Second))
		}
	}
}

// reached reports whether every partition of one split in at, the
// positions of one consumer's keys, is at position or past it.
func reached(at map[ConsumerKey]int64, position int64) bool {
	done := map[int]int{} // Members: partitions there at or past position
	for k, p := range at {
		if p >= position {
			done[k.Members]++
		}
	}
	for members, n := range done {
		if n == max(members, 1) {
			return true
		}
	}
	return false
}

// A progressBoard holds how far the consumers active in a Store got, and
// wakes the WaitConsumer calls of a name when one of its keys moves.
type progressBoard struct {
	mu    sync.Mutex
	at    map[ConsumerKey]int64
	moved map[string]chan struct{} // by name: closed at the next move; none while nobody waits
}

// reach records that the consumer key, active in this Store, has
// processed every event up to position.
func (b *progressBoard) reach(key ConsumerKey, position int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.at == nil {
		b.at = map[ConsumerKey]int64{}
	}
	b.at[key] = position
	if ch, ok := b.moved[key.Name]; ok {
		close(ch)
		delete(b.moved, key.Name)
	}
}

// leave forgets key, which is no longer active in this Store: the
// database has its position, and it may be reset.
func (b *progressBoard) leave(key ConsumerKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.at, key)
}

// of returns the positions of the keys of name active in this Store, and
// a channel closed at the next move of one of them.
func (b *progressBoard) of(name string) (map[ConsumerKey]int64, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	at := map[ConsumerKey]int64{}
	for k, p := range b.at {
		if k.Name == name {
			at[k] = p
		}
	}
	ch, ok := b.moved[name]
	if !ok {
		if b.moved == nil {
			b.moved = map[string]chan struct{}{}
		}
		ch = make(chan struct{})
		b.moved[name] = ch
	}
	return at, ch
}
