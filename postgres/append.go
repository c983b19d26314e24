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

var _ evstore.MultiAppender = (*backend)(nil)

// Append implements evstore.Backend. Concurrent Appends of one Store share
// a transaction (group commit).
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (evstore.WriteReport, error) {
	return groupcommit.Do(ctx, &b.queue, groupcommit.Request{One: req}, b.writer, b.commitGroup)
}

// AppendStreams implements evstore.MultiAppender. Its calls join the
// group commit of Appends: each is planned in the group's transaction
// (see appendGroup), and fails alone.
func (b *backend) AppendStreams(ctx context.Context, req evstore.StreamsRequest) ([]evstore.WriteReport, error) {
	return groupcommit.DoMany(ctx, &b.queue, groupcommit.Request{Many: &req}, b.writer, b.commitGroup)
}

// commitGroup runs calls, and latecomers from more, in one transaction that
// holds the schema's append lock. It plans every call in Go (PlanAppend,
// PlanStreams)
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
			c.Report, c.Reports, c.Err = evstore.WriteReport{}, nil, interrupted(c.Ctx, err)
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

// appendGroup writes calls in tx, each call as PlanAppend (a call of one
// write) or PlanStreams (a call of several, or with a condition) plans
// it: calls that fail their expectation or condition get a
// *ConflictError or *ConditionError; an error it returns is the
// database's, or errCheckKeys. With checkKeys it looks up the calls'
// idempotency keys first; without, it relies on the unique index to
// refuse a repeated key.
//
// A condition's match is the first event above its After that matches
// its criteria: among committed events, by one statement for the group's
// conditions (see condition.go) in the round trip that reads the heads
// (under the append lock, so that nothing commits in between), or else
// among the events of the group's earlier calls, which
// are planned here but not inserted yet (evstore.Criteria.Matches).
// Committed events come before the group's, so the query's match, when
// there is one, is the smaller.
func (b *backend) appendGroup(ctx context.Context, tx pgx.Tx, calls []*appendCall, checkKeys bool) error {
	var streams, pairStreams, pairKeys []string
	seen := map[string]bool{}
	var conds probes
	for _, c := range calls {
		for _, w := range writesOf(c) {
			if !seen[w.StreamID] {
				seen[w.StreamID] = true
				streams = append(streams, w.StreamID)
			}
			for _, e := range w.Events {
				if checkKeys && e.ID != "" {
					pairStreams, pairKeys = append(pairStreams, w.StreamID), append(pairKeys, e.ID)
				}
			}
		}
		if c.Req.Many != nil && c.Req.Many.Condition != nil {
			conds.add(conds.n, c.Req.Many.Condition)
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(b.sql.lock, "evstore append "+b.cfg.schema)
	batch.Queue(b.sql.allHead)
	batch.Queue(b.sql.heads, streams)
	if len(pairKeys) > 0 {
		batch.Queue(b.sql.existingPairs, pairStreams, pairKeys)
	}
	if conds.n > 0 {
		batch.Queue(b.sql.match, conds.args()...)
	}
	heads := map[string]int64{}
	keys := map[streamKey]bool{}
	matches := make([]int64, conds.n) // the committed match of each condition, in order
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
	if err == nil && conds.n > 0 {
		err = conds.scan(results, matches)
	}
	if cerr := results.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	var rows insertRows
	g := groupEvents{first: next + 1}
	ts := time.Now().UTC().Truncate(time.Microsecond)
	// insert adds the events of plan, a write to stream, to the rows,
	// numbered from next+1, and returns the write's report.
	insert := func(stream string, plan evstore.AppendPlan) evstore.WriteReport {
		r := evstore.WriteReport{Version: plan.Version}
		if len(plan.Events) == 0 {
			return r // a retry of a write that went through, or a check
		}
		r.Appended, r.First = len(plan.Events), next+1
		for i, e := range plan.Events {
			next++
			rows.add(next, stream, e, ts, plan.Head+int64(i)+1)
			g.events = append(g.events, &plan.Events[i])
			if e.ID != "" {
				keys[streamKey{stream, e.ID}] = true
			}
		}
		r.Last, heads[stream] = next, plan.Version
		return r
	}
	for _, c := range calls {
		c.Report, c.Reports, c.Err = evstore.WriteReport{}, nil, nil // a second attempt starts afresh
		if c.Req.Many == nil {
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
			c.Report = insert(stream, plan)
			continue
		}
		req := *c.Req.Many
		callHeads := make([]int64, len(req.Writes))
		var known []evstore.KeySet
		if checkKeys {
			known = make([]evstore.KeySet, len(req.Writes))
		}
		for i, w := range req.Writes {
			callHeads[i] = heads[w.StreamID]
			if checkKeys {
				known[i] = streamKeys{keys, w.StreamID}
			}
		}
		var match int64
		if req.Condition != nil {
			if match, matches = matches[0], matches[1:]; match == 0 {
				match = g.match(req.Condition)
			}
		}
		plan, err := evstore.PlanStreams(req, callHeads, known, match)
		switch {
		case err != nil:
			c.Err = err
			continue
		case plan.LookupKeys:
			return errCheckKeys
		}
		c.Reports = make([]evstore.WriteReport, len(req.Writes))
		for i, w := range req.Writes {
			c.Reports[i] = insert(w.StreamID, plan.Writes[i])
		}
	}
	if len(rows.ids) == 0 {
		return nil
	}
	// The tags and the counter move on with the events, in the same round
	// trip.
	batch = &pgx.Batch{}
	if len(rows.ids) >= copyRows {
		if _, err := tx.CopyFrom(ctx, b.sql.eventsTable, columns, rows.source()); err != nil {
			return err
		}
	} else {
		rows.queue(batch, b.sql.insert)
	}
	if len(rows.tags) > 0 && !b.noTagTable {
		batch.Queue(b.sql.insertTags, rows.tags, rows.tagSeqs)
	}
	batch.Queue(b.sql.setLast, next)
	batch.Queue("SELECT pg_notify($1, '')", b.channel)
	return tx.SendBatch(ctx, batch).Close()
}

// writesOf returns the writes of a call.
func writesOf(c *appendCall) []evstore.AppendRequest {
	if c.Req.Many != nil {
		return c.Req.Many.Writes
	}
	return []evstore.AppendRequest{c.Req.One}
}

// groupEvents are the events a group has planned so far, numbered from
// first: the ones a condition must count besides the committed ones.
type groupEvents struct {
	first  int64
	events []*evstore.EncodedEvent
}

// match returns the Sequence of the first of the events above cond.After
// that cond's Criteria match, or 0.
func (g *groupEvents) match(cond *evstore.Condition) int64 {
	for i, e := range g.events {
		if seq := g.first + int64(i); seq > cond.After && cond.Criteria.Matches(e.Type, e.Tags) {
			return seq
		}
	}
	return 0
}

// copyRows is how many rows make COPY, rather than INSERT, worth its setup.
const copyRows = 256

var columns = []string{"id", "stream_id", "idempotency_key", "event_type", "timestamp", "metadata", "data", "version", "tags"}

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

// insertRows collects rows for one INSERT ... SELECT FROM unnest(...),
// and the rows of their tags in evstore_tags.
type insertRows struct {
	ids, versions     []int64
	streams, types    []string
	keys, metas, lits []*string // lits: each event's tags as array text
	times             []time.Time
	data              [][]byte
	tagLists          [][]string
	tags              []string // the rows of evstore_tags: tag,
	tagSeqs           []int64  // and Sequence
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
	var lit *string
	if len(e.Tags) > 0 {
		l := arrayLiteral(e.Tags)
		lit = &l
	}
	r.lits, r.tagLists = append(r.lits, lit), append(r.tagLists, e.Tags)
	for _, t := range e.Tags {
		r.tags, r.tagSeqs = append(r.tags, t), append(r.tagSeqs, id)
	}
}

// source returns the rows for CopyFrom.
func (r *insertRows) source() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(r.ids), func(i int) ([]any, error) {
		var meta any
		if r.metas[i] != nil {
			meta = json.RawMessage(*r.metas[i])
		}
		return []any{r.ids[i], r.streams[i], r.keys[i], r.types[i], r.times[i], meta, r.data[i], r.versions[i], r.tagLists[i]}, nil
	})
}

func (r *insertRows) queue(batch *pgx.Batch, insert string) {
	batch.Queue(insert, r.ids, r.streams, r.keys, r.types, r.times, r.metas, r.data, r.versions, r.lits)
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
			c.Report, c.Reports, c.Err = evstore.WriteReport{}, nil, translate(err)
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
