package sqlite

import (
	"context"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/groupcommit"
	"zombiezen.com/go/sqlite"
)

// Group commit. Concurrent Appends queue up; whoever gets the writer
// connection leads and runs every queued call in one IMMEDIATE
// transaction, each inside its own savepoint where it needs one, so each
// keeps its own atomicity, expected-version and idempotency checks, and a
// failing call rolls back alone. One commit then serves them all, which is
// what makes many small concurrent writes fast: the cost of a transaction
// is shared. Calls that queue while the group is being written join it, up
// to maxGroup.

// maxGroup bounds how many calls one transaction takes, so that a steady
// stream of writers still sees commits.
const maxGroup = 1024

type appendCall = groupcommit.Call[groupcommit.Request]

// commitGroup runs calls, and latecomers from more, in one transaction.
func (b *backend) commitGroup(conn *sqlite.Conn, calls []*appendCall, more func() []*appendCall) {
	ts := formatTimestamp(time.Now())
	if len(calls) == 1 {
		// Alone: the caller's ctx may interrupt the statements.
		c := calls[0]
		conn.SetInterrupt(c.Ctx.Done())
		defer conn.SetInterrupt(nil)
		c.Err = b.commit(c.Ctx, conn, func() error { return b.run(conn, c, ts) })
		if c.Err != nil {
			c.Report, c.Reports = evstore.WriteReport{}, nil
		}
		return
	}
	ctx := context.Background() // the group outlives any one caller's ctx
	err := b.commit(ctx, conn, func() error {
		for i := 0; i < len(calls); i++ {
			if i == len(calls)-1 && len(calls) < maxGroup {
				calls = append(calls, more()...)
			}
			c := calls[i]
			if c.Err = c.Ctx.Err(); c.Err != nil {
				continue
			}
			// A call that writes with one INSERT needs no savepoint: a
			// statement that fails leaves nothing behind.
			save := c.Req.Many != nil || len(c.Req.One.Events) > insertChunk
			if save {
				if err := exec(ctx, conn, "SAVEPOINT call"); err != nil {
					return err
				}
			}
			if c.Err = b.run(conn, c, ts); c.Err != nil {
				stop := broken(conn, c.Err)
				c.Report, c.Reports, c.Err = evstore.WriteReport{}, nil, translate(c.Err)
				if stop {
					return c.Err // every call of the group fails with it
				}
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
	if err != nil {
		// Nothing was written. Every call gets the group's error, even one
		// that had failed on its own: its conflict may have been with a
		// call now rolled back.
		for _, c := range calls {
			c.Report, c.Reports, c.Err = evstore.WriteReport{}, nil, err
		}
	}
}

// run writes one call inside the group's transaction.
func (b *backend) run(conn *sqlite.Conn, c *appendCall, ts string) (err error) {
	if c.Req.Many != nil {
		c.Reports, err = appendStreamsTx(conn, &b.heads, *c.Req.Many, ts, !b.noTags)
		return err
	}
	c.Report, err = appendTx(conn, &b.heads, c.Req.One, ts)
	return err
}

// commit runs body in an IMMEDIATE transaction and commits it, or rolls
// it back if body or the commit fails.
func (b *backend) commit(ctx context.Context, conn *sqlite.Conn, body func() error) error {
	defer func() {
		if p := recover(); p != nil {
			// The writer connection must not go back in a transaction.
			b.heads.forget()
			b.heads.rollback()
			rollback(conn)
			panic(p)
		}
	}()
	err := exec(ctx, conn, "BEGIN IMMEDIATE")
	if err == nil {
		err = b.heads.begin(conn)
	}
	if err == nil {
		if err = body(); err == nil {
			if b.beforeCommit != nil {
				b.beforeCommit()
			}
			// Once the work is done, the commit goes ahead whatever ctx says.
			conn.SetInterrupt(nil)
			err = exec(context.Background(), conn, "COMMIT")
		}
	}
	if err != nil {
		if conn.AutocommitEnabled() {
			// SQLite ended the transaction itself: trust no version.
			b.heads.forget()
		}
		b.heads.rollback()
		rollback(conn)
		return interrupted(ctx, err)
	}
	b.heads.commit()
	return nil
}
