package evstore

import "context"

// This file holds how an active consumer reads: a page of events ahead,
// the next page on another goroutine.

// fetch returns the next events after pos, up to Sequence head, that the
// consumer selects: at most one batch of them. scanned is the Sequence up
// to which every event has been considered. It reads ahead, a page of the
// Store's read size at a time, and hands the page out batch by batch while
// the next page is read on another goroutine.
func (c *consumer) fetch(ctx context.Context, pos, head int64) (events []StoredEvent, scanned int64, err error) {
	if !c.buffered(pos) {
		if pos >= head {
			return nil, pos, nil
		}
		next := c.next
		c.next = nil
		if next == nil || next.from != pos {
			c.drop(next)
			next = c.readAhead(ctx, pos, head)
		}
		r := <-next.done
		if r.err != nil {
			return nil, pos, r.err
		}
		c.ahead = r
		if c.ahead.to < next.head { // a full page: read the next one meanwhile
			c.next = c.readAhead(ctx, c.ahead.to, next.head)
		}
	}
	// The events before the cursor have been handed out: the handler
	// may have changed them, so nothing here looks at them again.
	rest := c.ahead.events[c.ahead.next:]
	n := len(rest)
	if c.cfg.members == 0 {
		n = min(n, c.cfg.batch)
		events = rest[:n:n] // the handler cannot append over the next batch
	} else {
		for i, e := range rest {
			if PartitionOf(e.StreamID, c.cfg.members) != c.cfg.member {
				continue
			}
			if len(events) == c.cfg.batch {
				n = i
				break
			}
			events = append(events, e)
		}
	}
	c.ahead.next += n
	if c.ahead.at = c.ahead.to; c.ahead.next < len(c.ahead.events) {
		c.ahead.at = c.ahead.events[c.ahead.next-1].Sequence
	}
	return events, c.ahead.at, nil
}

// buffered reports whether the events after pos are in the page being
// handed out, so that fetch returns them without reading: pos is where
// the page's cursor is, and the page goes on after it.
func (c *consumer) buffered(pos int64) bool { return pos == c.ahead.at && pos < c.ahead.to }

// forget drops the pages read ahead, so that the next fetch reads from the
// database: after a failed Handle, which may have changed its events, the
// retry gets them as stored.
func (c *consumer) forget() {
	c.drop(c.next)
	c.next, c.ahead = nil, readAhead{}
}

// readAhead holds every event the consumer selects with a Sequence in
// (at, to] when it is read, and a cursor: the events before index next
// have been handed out, and every event up to Sequence at has been
// considered.
type readAhead struct {
	to     int64
	events []StoredEvent
	err    error
	at     int64
	next   int
}

// A pageRead is a page being read on a goroutine of its own.
type pageRead struct {
	from, head int64
	done       chan readAhead
}

// readAhead reads, on a goroutine, the page of selected events after from
// and up to head.
func (c *consumer) readAhead(ctx context.Context, from, head int64) *pageRead {
	r := &pageRead{from: from, head: head, done: make(chan readAhead, 1)}
	go func() {
		q := Query{StreamID: All, After: from, MaxSequence: head, Filter: c.cfg.filter, Limit: max(c.cfg.batch, c.s.readPage)}
		// A new slice each time, the handler may keep the batches it got;
		// no larger than the Sequences in range (a live read is small).
		page, err := c.s.read(ctx, q, make([]StoredEvent, 0, min(int64(q.Limit), head-from)))
		ra := readAhead{to: head, events: page, err: err, at: from}
		if len(page) == q.Limit {
			ra.to = page[len(page)-1].Sequence
		}
		r.done <- ra
	}()
	return r
}

// drop waits for a page read that is no longer wanted.
func (c *consumer) drop(r *pageRead) {
	if r != nil {
		<-r.done
	}
}
