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

type appendCall = groupcommit.Call[groupcommit.Request]

// Append implements evstore.Backend. Concurrent Appends of one Store share
// a transaction (group commit).
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (evstore.WriteReport, error) {
	return groupcommit.Do(ctx, &b.queue, groupcommit.Request{One: req}, b.writer, b.commitGroup)
}

// commitGroup runs calls, and latecomers from more, in one transaction that
// holds the schema's append lock. It plans every call in Go (PlanAppend)
// against heads, and keys where needed, read in one round trip, and
// inserts all their events with one statement. Repeated keys are rare, so
// the first try does not look keys up and lets the unique index find them;
// should the database refuse the group, it runs again with the keys, and
// then with each call in a savepoint, so that only the failing call fails.
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
	err := b.inTx(ctx, func(tx pgx.Tx) error { return b.appendGroup(ctx, tx, live, false) })
	if errors.Is(err, errCheckKeys) || isUniqueViolation(err) {
		err = b.inTx(ctx, func(tx pgx.Tx) error { return b.appendGroup(ctx, tx, live, true) })
	}
	// A failed COMMIT may have committed all the same (the connection can
	// drop after the server did): running the group again could write it
	// twice, so only errors before the commit fall back to savepoints.
	if err != nil && len(live) > 1 && !errors.Is(err, ErrCommitUnknown) {
		err = b.inTx(ctx, func(tx pgx.Tx) error { return b.appendEach(ctx, tx, live) })
	}
	if err != nil {
		// Nothing was written (or, after a failed COMMIT, nobody knows).
		// Every call gets the group's error, even one that had failed on
		// its own: its conflict may have been with a call rolled back.
		for _, c := range live {
			c.Report, c.Err = evstore.WriteReport{}, interrupted(c.Ctx, err)
		}
	}
}

// errCheckKeys stops an appendGroup that did not look keys up when a call
// needs them (PlanAppend's LookupKeys).
var errCheckKeys = errors.New("idempotency keys must be looked up")

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// A streamKey is an idempotency key of a stream.
type streamKey struct{ stream, key string }

// streamKeys is the evstore.KeySet of one stream within a group's keys.
type streamKeys struct {
	all    map[streamKey]bool
	stream string
}

func (k streamKeys) Has(key string) bool { return k.all[streamKey{k.stream, key}] }

// appendGroup writes calls in tx, each call as PlanAppend plans it: calls
// that fail their expectation get a *ConflictError; an error it returns
// is the database's, or errCheckKeys. With checkKeys it looks up the
// calls' idempotency keys first; without, it relies on the unique index
// to refuse a repeated key.
func (b *backend) appendGroup(ctx context.Context, tx pgx.Tx, calls []*appendCall, checkKeys bool) error {
	var streams, pairStreams, pairKeys []string
	seen := map[string]bool{}
	for _, c := range calls {
		if !seen[c.Req.One.StreamID] {
			seen[c.Req.One.StreamID] = true
			streams = append(streams, c.Req.One.StreamID)
		}
		for _, e := range c.Req.One.Events {
			if checkKeys && e.ID != "" {
				pairStreams, pairKeys = append(pairStreams, c.Req.One.StreamID), append(pairKeys, e.ID)
			}
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(b.sql.lock, "evstore append "+b.cfg.schema)
	batch.Queue(b.sql.allHead)
	batch.Queue(b.sql.heads, streams)
	if len(pairKeys) > 0 {
		batch.Queue(b.sql.existingPairs, pairStreams, pairKeys)
	}
	heads := map[string]int64{}
	keys := map[streamKey]bool{}
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
	if err == nil && len(pairKeys) > 0 {
		var k streamKey
		err = forEachRow(results, []any{&k.stream, &k.key}, func() { keys[k] = true })
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
		c.Report, c.Err = evstore.WriteReport{}, nil // a second attempt starts afresh
		stream := c.Req.One.StreamID
		var known evstore.KeySet
		if checkKeys {
			known = streamKeys{keys, stream}
		}
		plan, err := evstore.PlanAppend(c.Req.One, heads[stream], known)
		switch {
		case err != nil:
			c.Err = err
			continue
		case plan.LookupKeys:
			return errCheckKeys
		}
		c.Report.Version = plan.Version
		if len(plan.Events) == 0 {
			continue // a retry of a write that went through
		}
		c.Report.Appended, c.Report.First = len(plan.Events), next+1
		for i, e := range plan.Events {
			next++
			rows.add(next, stream, e, ts, plan.Head+int64(i)+1)
			if e.ID != "" {
				keys[streamKey{stream, e.ID}] = true
			}
		}
		c.Report.Last, heads[stream] = next, plan.Version
	}
	if len(rows.ids) == 0 {
		return nil
	}
	// The counter moves on with the events, in the same round trip.
	batch = &pgx.Batch{}
	if len(rows.ids) >= copyRows {
		if _, err := tx.CopyFrom(ctx, b.sql.eventsTable, columns, rows.source()); err != nil {
			return err
		}
	} else {
		rows.queue(batch, b.sql.insert)
	}
	batch.Queue(b.sql.setLast, next)
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

// appendEach is the slow path of commitGroup: each call on its own, keys
// looked up, in a savepoint, so that a call the database refuses fails
// alone and undoes only its own work.
func (b *backend) appendEach(ctx context.Context, tx pgx.Tx, calls []*appendCall) error {
	for _, c := range calls {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		if err := b.appendGroup(ctx, sp, []*appendCall{c}, true); err != nil {
			c.Report, c.Err = evstore.WriteReport{}, translate(err)
			if err := sp.Rollback(ctx); err != nil {
				return err
			}
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
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
	if b.beforeCommit != nil {
		b.beforeCommit()
	}
	if err := tx.Commit(context.Background()); err != nil { // the work is done: commit whatever ctx says
		return fmt.Errorf("%w: %w", ErrCommitUnknown, err)
	}
	return nil
}

// ErrCommitUnknown means that a Write's COMMIT failed in a way that leaves
// its outcome unknown: the connection broke after the server may have
// committed. The events may or may not be stored. Retrying the Write is
// safe when its events carry idempotency keys (the retry then appends
// only what is missing); without keys it may append them twice.
var ErrCommitUnknown = errors.New("evstore/postgres: commit failed; the write may or may not have been stored")
