package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/groupcommit"
	"github.com/jackc/pgx/v5"
)

type appendCall = groupcommit.Call[evstore.AppendRequest]

// Append implements evstore.Backend. Concurrent Appends of one Store share
// a transaction (group commit); each runs in its own savepoint.
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (int64, error) {
	return groupcommit.Do(ctx, &b.queue, req, b.writer, b.commitGroup)
}

// commitGroup runs calls, and latecomers from more, in one transaction that
// holds the schema's append lock.
func (b *backend) commitGroup(_ struct{}, calls []*appendCall, more func() []*appendCall) {
	ctx := context.Background() // the group outlives any one caller's ctx
	if len(calls) == 1 {
		ctx = calls[0].Ctx
	}
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, b.sql.lock, "evstore append "+b.cfg.schema); err != nil {
			return err
		}
		var next int64
		if err := tx.QueryRow(ctx, b.sql.nextID).Scan(&next); err != nil {
			return err
		}
		ts := time.Now().UTC().Truncate(time.Microsecond)
		wrote := false
		for i := 0; i < len(calls); i++ {
			if i == len(calls)-1 {
				calls = append(calls, more()...)
			}
			c := calls[i]
			if c.Err = c.Ctx.Err(); c.Err != nil {
				continue
			}
			if len(calls) == 1 {
				c.Version, c.Err = b.appendTx(ctx, tx, c.Req, ts, &next)
				if c.Err != nil {
					return c.Err
				}
			} else if err := b.inSavepoint(ctx, tx, c, ts, &next); err != nil {
				return err
			}
			wrote = wrote || c.Err == nil
		}
		if !wrote {
			return nil
		}
		if b.beforeCommit != nil {
			b.beforeCommit()
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", b.channel)
		return err
	})
	if err != nil { // nothing was written
		err = translate(err)
		for _, c := range calls {
			if c.Err == nil || len(calls) == 1 {
				c.Version, c.Err = 0, err
			}
		}
	}
}

// inSavepoint runs one call of a group in a savepoint, so that its failure
// undoes only its own work.
func (b *backend) inSavepoint(ctx context.Context, tx pgx.Tx, c *appendCall, ts time.Time, next *int64) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	saved := *next
	if c.Version, c.Err = b.appendTx(ctx, sp, c.Req, ts, next); c.Err != nil {
		c.Version, c.Err, *next = 0, translate(c.Err), saved
		return sp.Rollback(ctx)
	}
	return sp.Commit(ctx)
}

// inTx runs f in a transaction and commits it.
func (b *backend) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(context.Background()) // the work is done: commit whatever ctx says
}

// appendTx does one Append inside the group's transaction; next is the
// Sequence of the store's newest event, advanced as events are inserted.
func (b *backend) appendTx(ctx context.Context, tx pgx.Tx, req evstore.AppendRequest, ts time.Time, next *int64) (int64, error) {
	var cur int64
	if err := tx.QueryRow(ctx, b.sql.streamHead, req.StreamID).Scan(&cur); err != nil {
		return 0, err
	}
	events := req.Events
	if cur > 0 {
		var keys []string
		for _, e := range events {
			if e.ID != "" {
				keys = append(keys, e.ID)
			}
		}
		if len(keys) > 0 {
			existing, err := b.existing(ctx, tx, req.StreamID, keys)
			if err != nil {
				return 0, err
			}
			if len(existing) > 0 {
				fresh := make([]evstore.EncodedEvent, 0, len(events))
				for _, e := range events {
					if _, ok := existing[e.ID]; !ok || e.ID == "" {
						fresh = append(fresh, e)
					}
				}
				if events = fresh; len(events) == 0 {
					return cur, nil // a retry of a write that went through
				}
			}
		}
	}
	if err := req.Expect.Check(req.StreamID, cur); err != nil {
		return 0, err
	}
	n := len(events)
	ids, versions := make([]int64, n), make([]int64, n)
	streams, types := make([]string, n), make([]string, n)
	keys, metas := make([]*string, n), make([]*string, n)
	times, data := make([]time.Time, n), make([][]byte, n)
	for i, e := range events {
		ids[i], versions[i] = *next+int64(i)+1, cur+int64(i)+1
		streams[i], types[i], times[i] = req.StreamID, e.Type, ts
		data[i] = e.Data
		if data[i] == nil {
			data[i] = []byte{}
		}
		if e.ID != "" {
			keys[i] = &e.ID
		}
		if e.Metadata != nil {
			m := string(e.Metadata)
			metas[i] = &m
		}
	}
	if _, err := tx.Exec(ctx, b.sql.insert, ids, streams, keys, types, times, metas, data, versions); err != nil {
		return 0, fmt.Errorf("insert into %s: %w", req.StreamID, err)
	}
	*next += int64(n)
	return cur + int64(n), nil
}

// existing returns which of keys the stream has.
func (b *backend) existing(ctx context.Context, tx pgx.Tx, stream string, keys []string) (map[string]struct{}, error) {
	rows, err := tx.Query(ctx, b.sql.existingKeys, stream, keys)
	if err != nil {
		return nil, err
	}
	found := map[string]struct{}{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, err
		}
		found[k] = struct{}{}
	}
	return found, rows.Err()
}
