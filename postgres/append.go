package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/groupcommit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

type appendCall = groupcommit.Call[evstore.AppendRequest]

// Append implements evstore.Backend. Concurrent Appends of one Store share
// a transaction (group commit); each runs in its own savepoint.
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (int64, error) {
	return groupcommit.Do(ctx, &b.queue, req, b.writer, b.commitGroup)
}

// commitGroup runs calls, and latecomers from more, in one transaction that
// holds the schema's append lock. The fast path checks every call in Go
// against heads and keys read in one round trip, and inserts all their
// events with one statement; should the database refuse that, the group is
// run again with each call in a savepoint, so only the failing call fails.
func (b *backend) commitGroup(_ struct{}, calls []*appendCall, more func() []*appendCall) {
	calls = append(calls, more()...)
	live := calls[:0:0]
	for _, c := range calls {
		if c.Err = c.Ctx.Err(); c.Err == nil {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return
	}
	// The group outlives any one caller's ctx, but not all of them: should
	// the server stop answering, callers still get their deadlines.
	ctx := live[0].Ctx
	if len(live) > 1 {
		var stop func()
		ctx, stop = groupcommit.Context(live)
		defer stop()
	}
	// Repeated keys are rare: first try without looking the keys up, and
	// let the unique index find them.
	err := b.inTx(ctx, func(tx pgx.Tx) error { return b.appendGroup(ctx, tx, live, false) })
	if errors.Is(err, errCheckKeys) || isUniqueViolation(err) {
		err = b.inTx(ctx, func(tx pgx.Tx) error { return b.appendGroup(ctx, tx, live, true) })
	}
	if err == nil {
		return
	}
	// A failed COMMIT may have committed all the same (the connection can
	// drop after the server did): running the group again could write it
	// twice, so only errors before the commit fall back to savepoints.
	if len(live) > 1 && !errors.Is(err, errCommit) {
		err = b.inTx(ctx, func(tx pgx.Tx) error { return b.appendEach(ctx, tx, live) })
	}
	if err != nil {
		// Nothing was written (or, after a failed COMMIT, nobody knows).
		// Every call gets the group's error, even one that had failed on
		// its own: its conflict may have been with a call rolled back.
		for _, c := range live {
			c.Version, c.Err = 0, interrupted(c.Ctx, err)
		}
	}
}

// begin takes the append lock and returns the newest Sequence.
func (b *backend) begin(ctx context.Context, batch *pgx.Batch) {
	batch.Queue(b.sql.lock, "evstore append "+b.cfg.schema)
	batch.Queue(b.sql.nextID)
}

// errCheckKeys stops an appendGroup that did not look keys up when it
// finds it needs to: a keyed call failed its expectation (it may be a
// retry, which succeeds whatever its expectation) or repeats a key.
var errCheckKeys = errors.New("idempotency keys must be looked up")

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// appendGroup is the fast path of commitGroup. Calls that fail their
// expectation get a *ConflictError; an error it returns is the database's,
// or errCheckKeys. With checkKeys it looks up the calls' idempotency keys
// first; without, it relies on the unique index to refuse a repeated key.
func (b *backend) appendGroup(ctx context.Context, tx pgx.Tx, calls []*appendCall, checkKeys bool) error {
	var streams, pairStreams, pairKeys []string
	seen := map[string]bool{}
	for _, c := range calls {
		if !seen[c.Req.StreamID] {
			seen[c.Req.StreamID] = true
			streams = append(streams, c.Req.StreamID)
		}
		for _, e := range c.Req.Events {
			if e.ID != "" {
				pairStreams, pairKeys = append(pairStreams, c.Req.StreamID), append(pairKeys, e.ID)
			}
		}
	}
	batch := &pgx.Batch{}
	b.begin(ctx, batch)
	batch.Queue(b.sql.heads, streams)
	if checkKeys && len(pairKeys) > 0 {
		batch.Queue(b.sql.existingPairs, pairStreams, pairKeys)
	}
	heads := map[string]int64{}
	type pair struct{ stream, key string }
	existing := map[pair]bool{}
	var next int64
	results := tx.SendBatch(ctx, batch)
	_, err := results.Exec()
	if err == nil {
		err = results.QueryRow().Scan(&next)
	}
	if err == nil {
		var stream string
		var head int64
		err = forEachRow(results, []any{&stream, &head}, func() { heads[stream] = head })
	}
	if err == nil && checkKeys && len(pairKeys) > 0 {
		var p pair
		err = forEachRow(results, []any{&p.stream, &p.key}, func() { existing[p] = true })
	}
	if cerr := results.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	var rows insertRows
	ts := time.Now().UTC().Truncate(time.Microsecond)
	for _, c := range calls {
		c.Version, c.Err = 0, nil // a second attempt starts afresh
		stream, head := c.Req.StreamID, heads[c.Req.StreamID]
		events := c.Req.Events
		keyed := false
		for _, e := range events {
			if e.ID != "" {
				keyed = true
				if !checkKeys && existing[pair{stream, e.ID}] {
					return errCheckKeys // a key of an earlier call of the group
				}
			}
		}
		if checkKeys && keyed {
			fresh := make([]evstore.EncodedEvent, 0, len(events))
			for _, e := range events {
				if e.ID == "" || !existing[pair{stream, e.ID}] {
					fresh = append(fresh, e)
				}
			}
			if len(fresh) == 0 {
				c.Version = head // a retry of a write that went through
				continue
			}
			events = fresh
		}
		if c.Err = c.Req.Expect.Check(stream, head); c.Err != nil {
			if keyed && !checkKeys {
				return errCheckKeys
			}
			continue
		}
		for _, e := range events {
			next++
			head++
			rows.add(next, stream, e, ts, head)
			if e.ID != "" {
				existing[pair{stream, e.ID}] = true
			}
		}
		heads[stream], c.Version = head, head
	}
	if len(rows.ids) == 0 {
		return nil
	}
	if b.beforeCommit != nil {
		b.beforeCommit()
	}
	if len(rows.ids) >= copyRows {
		if _, err := tx.CopyFrom(ctx, b.sql.eventsTable, columns, rows.source()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", b.channel)
		return err
	}
	batch = &pgx.Batch{}
	rows.queue(batch, b.sql.insert)
	batch.Queue("SELECT pg_notify($1, '')", b.channel)
	return tx.SendBatch(ctx, batch).Close()
}

// copyRows is how many rows make COPY, rather than INSERT, worth its setup.
const copyRows = 256

var columns = []string{"id", "stream_id", "idempotency_key", "event_type", "timestamp", "metadata", "data", "version"}

// forEachRow scans each row of the batch's next result into dest and
// calls f.
func forEachRow(results pgx.BatchResults, dest []any, f func()) error {
	rows, err := results.Query()
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dest, func() error { f(); return nil })
	return err
}

// insertRows collects rows for one INSERT ... SELECT FROM unnest(...).
type insertRows struct {
	ids, versions  []int64
	streams, types []string
	keys, metas    []*string
	times          []time.Time
	data           [][]byte
}

func (r *insertRows) add(id int64, stream string, e evstore.EncodedEvent, ts time.Time, version int64) {
	r.ids, r.versions = append(r.ids, id), append(r.versions, version)
	r.streams, r.types, r.times = append(r.streams, stream), append(r.types, e.Type), append(r.times, ts)
	data := e.Data
	if data == nil {
		data = []byte{}
	}
	r.data = append(r.data, data)
	var key, meta *string
	if e.ID != "" {
		key = &e.ID
	}
	if e.Metadata != nil {
		m := string(e.Metadata)
		meta = &m
	}
	r.keys, r.metas = append(r.keys, key), append(r.metas, meta)
}

// source returns the rows for CopyFrom.
func (r *insertRows) source() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(r.ids), func(i int) ([]any, error) {
		var meta any
		if r.metas[i] != nil {
			meta = json.RawMessage(*r.metas[i])
		}
		return []any{r.ids[i], r.streams[i], r.keys[i], r.types[i], r.times[i], meta, r.data[i], r.versions[i]}, nil
	})
}

func (r *insertRows) queue(batch *pgx.Batch, insert string) {
	batch.Queue(insert, r.ids, r.streams, r.keys, r.types, r.times, r.metas, r.data, r.versions)
}

// appendEach is the slow path of commitGroup: each call in a savepoint.
func (b *backend) appendEach(ctx context.Context, tx pgx.Tx, calls []*appendCall) error {
	batch := &pgx.Batch{}
	b.begin(ctx, batch)
	results := tx.SendBatch(ctx, batch)
	var next int64
	_, err := results.Exec()
	if err == nil {
		err = results.QueryRow().Scan(&next)
	}
	if cerr := results.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	ts := time.Now().UTC().Truncate(time.Microsecond)
	wrote := false
	for _, c := range calls {
		c.Version, c.Err = 0, nil
		if err := b.inSavepoint(ctx, tx, c, ts, &next); err != nil {
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
	_, err = tx.Exec(ctx, "SELECT pg_notify($1, '')", b.channel)
	return err
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
	// READ COMMITTED whatever the server's default: each statement must see
	// what the previous holder of the append lock committed.
	tx, err := b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(context.Background()); err != nil { // the work is done: commit whatever ctx says
		return fmt.Errorf("%w: %w", errCommit, err)
	}
	return nil
}

// errCommit marks an error of COMMIT itself: the outcome is unknown.
var errCommit = errors.New("evstore/postgres: commit failed; the write may or may not have been stored")

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
