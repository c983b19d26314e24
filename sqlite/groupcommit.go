package sqlite

import (
	"context"
	"slices"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// Group commit. Concurrent Appends queue up; whoever gets the writer
// connection leads: it takes every queued call and runs them in one
// IMMEDIATE transaction, each inside its own savepoint, so each keeps its
// own atomicity, expected-version and idempotency checks, and a failing call
// rolls back alone. One commit then serves them all, which is what makes
// many small concurrent writes fast: the cost of a transaction is shared.

// An appendCall is one Append waiting in the queue.
type appendCall struct {
	ctx     context.Context
	req     evstore.AppendRequest
	version int64
	err     error
	done    chan struct{} // closed when version and err are set
}

// Append implements evstore.Backend.
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (int64, error) {
	call := &appendCall{ctx: ctx, req: req, done: make(chan struct{})}
	b.qmu.Lock()
	b.queue = append(b.queue, call)
	b.qmu.Unlock()
	for {
		select {
		case <-call.done:
			return call.version, call.err
		case conn := <-b.writer:
			b.lead(conn)
		case <-ctx.Done():
			if b.withdraw(call) {
				return 0, ctx.Err()
			}
			<-call.done // a leader has it: the outcome is decided there
			return call.version, call.err
		}
	}
}

// withdraw removes call from the queue, reporting whether it was still there.
func (b *backend) withdraw(call *appendCall) bool {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	i := slices.Index(b.queue, call)
	if i < 0 {
		return false
	}
	b.queue = slices.Delete(b.queue, i, i+1)
	return true
}

// maxGroup bounds how many calls one transaction takes, so that a steady
// stream of writers still sees commits.
const maxGroup = 1024

// drain takes the queued calls.
func (b *backend) drain() []*appendCall {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	calls := b.queue
	b.queue = nil
	return calls
}

// lead commits the queued calls as one group, then hands the writer
// connection on. Calls that queue up while the group is being written join
// it, up to maxGroup, so a busy writer commits less often.
func (b *backend) lead(conn *sqlite.Conn) {
	defer func() { b.writer <- conn }()
	calls := b.drain()
	if len(calls) == 0 {
		return
	}
	defer func() {
		for _, c := range calls {
			close(c.done)
		}
	}()
	ts := formatTimestamp(time.Now())
	if len(calls) == 1 {
		// Alone: the caller's ctx may interrupt the statements.
		c := calls[0]
		conn.SetInterrupt(c.ctx.Done())
		defer conn.SetInterrupt(nil)
		c.err = commit(c.ctx, conn, func() (err error) {
			c.version, err = appendTx(conn, c.req, ts)
			return err
		})
		if c.err != nil {
			c.version = 0
		}
		return
	}
	ctx := context.Background() // the group outlives any one caller's ctx
	err := commit(ctx, conn, func() error {
		for i := 0; i < len(calls); i++ {
			if i == len(calls)-1 && len(calls) < maxGroup {
				calls = append(calls, b.drain()...) // latecomers join
			}
			c := calls[i]
			if c.err = c.ctx.Err(); c.err != nil {
				continue
			}
			// A call that writes with one INSERT needs no savepoint: a
			// statement that fails leaves nothing behind.
			save := len(c.req.Events) > insertChunk
			if save {
				if err := exec(ctx, conn, "SAVEPOINT call"); err != nil {
					return err
				}
			}
			if c.version, c.err = appendTx(conn, c.req, ts); c.err != nil {
				c.version, c.err = 0, translate(c.err)
				if save {
					if err := exec(ctx, conn, "ROLLBACK TO call"); err != nil {
						return err
					}
				}
			}
			if save {
				if err := exec(ctx, conn, "RELEASE call"); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil { // nothing was written: calls that had not failed on their own fail now
		for _, c := range calls {
			if c.err == nil {
				c.version, c.err = 0, err
			}
		}
	}
}

// commit runs body in an IMMEDIATE transaction and commits it, or rolls
// it back if body or the commit fails.
func commit(ctx context.Context, conn *sqlite.Conn, body func() error) error {
	err := exec(ctx, conn, "BEGIN IMMEDIATE")
	if err == nil {
		if err = body(); err == nil {
			// Once the work is done, the commit goes ahead whatever ctx says.
			conn.SetInterrupt(nil)
			err = exec(context.Background(), conn, "COMMIT")
		}
	}
	if err != nil {
		rollback(conn)
		return interrupted(ctx, err)
	}
	return nil
}
