package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5"
)

// find collects a Find.
func find(t *testing.T, s *evstore.Store, c evstore.Criteria, opts ...evstore.ReadOption) []evstore.StoredEvent {
	t.Helper()
	var got []evstore.StoredEvent
	for e, err := range s.Find(context.Background(), c, opts...) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	return got
}

// seqs returns the events' Sequences.
func seqs(es []evstore.StoredEvent) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Sequence
	}
	return out
}

// count returns the number of rows query selects.
func count(t *testing.T, bk *backend, query string, args ...any) int {
	t.Helper()
	var n int
	if err := bk.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTagsStored: tags of any text read back as written, from a Write of
// a few events (INSERT) and of many (COPY), with one row per tag in
// evstore_tags; Delete and Truncate remove their events' rows.
func TestTagsStored(t *testing.T) {
	ctx := context.Background()
	var bk *backend
	s := testStore(t, testSchema(t), func(b *backend) { bk = b })
	odd := []string{`a"b`, `c\d`, "{e,f}", " g ", "NULL", "ü 𝄞", "x'y", "\\\"", ","}
	want := slices.Sorted(slices.Values(odd))
	if _, err := mustStream(t, s, "odd").Write(ctx, []evstore.CandidateEvent{{Type: "E", Tags: odd}, {Type: "E"}}); err != nil {
		t.Fatal(err)
	}
	many := make([]evstore.CandidateEvent, copyRows+10)
	for i := range many {
		many[i] = evstore.CandidateEvent{Type: "M", Tags: []string{"many", "n:" + strconv.Itoa(i%3), `q"` + strconv.Itoa(i%2)}}
	}
	if _, err := mustStream(t, s, "many").Write(ctx, many); err != nil {
		t.Fatal(err)
	}
	var got []evstore.StoredEvent
	for e, err := range mustStream(t, s, evstore.All).Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 2+len(many) {
		t.Fatalf("read %d events, want %d", len(got), 2+len(many))
	}
	if !slices.Equal(got[0].Tags, want) {
		t.Errorf("odd tags: got %q, want %q", got[0].Tags, want)
	}
	if got[1].Tags != nil {
		t.Errorf("event without tags: got %#v, want nil", got[1].Tags)
	}
	for i, e := range got[2:] {
		if w := []string{"many", "n:" + strconv.Itoa(i%3), `q"` + strconv.Itoa(i%2)}; !slices.Equal(e.Tags, w) {
			t.Fatalf("event %d of the COPY: tags %q, want %q", i, e.Tags, w)
		}
	}
	if n, w := count(t, bk, "SELECT count(*) FROM "+bk.sql.tags), len(odd)+3*len(many); n != w {
		t.Errorf("evstore_tags has %d rows, want %d", n, w)
	}
	for _, tag := range odd {
		if es := find(t, s, evstore.Criteria{{Tags: []string{tag}}}); len(es) != 1 || es[0].Sequence != 1 {
			t.Errorf("Find tag %q: got %v, want [1]", tag, seqs(es))
		}
	}
	if es := find(t, s, evstore.Criteria{{Tags: []string{`q"1`, "n:2"}}}); len(es) != len(many)/6 {
		t.Errorf("Find two tags of the COPY: got %d events, want %d", len(es), len(many)/6)
	}

	if err := mustStream(t, s, "many").Truncate(ctx, 101); err != nil {
		t.Fatal(err)
	}
	if n, w := count(t, bk, "SELECT count(*) FROM "+bk.sql.tags), len(odd)+3*(len(many)-100); n != w {
		t.Errorf("after Truncate, evstore_tags has %d rows, want %d", n, w)
	}
	if _, err := mustStream(t, s, "many").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := mustStream(t, s, "odd").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, bk, "SELECT count(*) FROM "+bk.sql.tags); n != 0 {
		t.Errorf("after Delete, evstore_tags has %d rows, want none", n)
	}
}

// TestTagsOrphaned: rows of evstore_tags whose event was removed by code
// that does not know tags (evstore before schema version 4, by hand) are
// ignored by Find, by conditions and by the tag filter.
func TestTagsOrphaned(t *testing.T) {
	ctx := context.Background()
	var bk *backend
	s := testStore(t, testSchema(t), func(b *backend) { bk = b })
	if _, err := mustStream(t, s, "a").Write(ctx, []evstore.CandidateEvent{{Type: "E", Tags: []string{"t"}}, {Type: "E", Tags: []string{"t"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bk.pool.Exec(ctx, "DELETE FROM "+bk.sql.events+" WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []evstore.Criteria{{{Tags: []string{"t"}}}, {{Tags: []string{"t"}, Types: []string{"E"}}}} {
		if got := seqs(find(t, s, c, evstore.Limit(1))); !slices.Equal(got, []int64{2}) {
			t.Errorf("Find %v, limit 1: got %v, want [2]", c, got)
		}
	}
	_, err := s.Append(ctx, []evstore.StreamWrite{{StreamID: "b", Events: []evstore.CandidateEvent{{Type: "E"}}}},
		evstore.FailIfMatch(evstore.Criteria{{Tags: []string{"t"}}}, 0))
	var ce *evstore.ConditionError
	if !errors.As(err, &ce) || ce.Match != 2 {
		t.Errorf("condition after 0: got %v, want a match at 2", err)
	}
	var got []int64
	for e, err := range mustStream(t, s, evstore.All).Read(ctx, evstore.WithFilter(evstore.Filter{evstore.Equals("tag", "t")})) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Sequence)
	}
	if !slices.Equal(got, []int64{2}) {
		t.Errorf("tag filter: got %v, want [2]", got)
	}
}

// TestGroupConditions: a condition counts the events of the group's
// earlier calls (above its After), which are not in the database yet; a
// call whose condition fails fails alone, and the rest of the group
// commits, numbered without a gap.
func TestGroupConditions(t *testing.T) {
	ctx := context.Background()
	var bk *backend
	s := testStore(t, testSchema(t), func(b *backend) { bk = b })
	if _, err := mustStream(t, s, "old").Write(ctx, []evstore.CandidateEvent{{Type: "Old", Tags: []string{"x"}}}); err != nil {
		t.Fatal(err) // Sequence 1
	}
	tagX := evstore.Criteria{{Tags: []string{"x"}}}
	type call struct {
		name   string
		stream string
		event  evstore.CandidateEvent
		cond   []evstore.WriteOption
		match  int64 // the ConditionError's; 0: succeeds
	}
	calls := []call{
		{"plain write tagged x, at 2", "a", evstore.CandidateEvent{Type: "E", Tags: []string{"x"}}, nil, 0},
		{"after 2: x at 2 is not above it; at 3", "b", evstore.CandidateEvent{Type: "E", Tags: []string{"y"}}, []evstore.WriteOption{evstore.FailIfMatch(tagX, 2)}, 0},
		{"after 1: x at 2, in the group", "c", evstore.CandidateEvent{Type: "E"}, []evstore.WriteOption{evstore.FailIfMatch(tagX, 1)}, 2},
		{"after 0: x at 1, committed", "d", evstore.CandidateEvent{Type: "E"}, []evstore.WriteOption{evstore.FailIfMatch(tagX, 0)}, 1},
		{"type Old or tag z after 1: none; at 4", "e", evstore.CandidateEvent{Type: "E", Tags: []string{"z"}},
			[]evstore.WriteOption{evstore.FailIfMatch(evstore.Criteria{{Types: []string{"Old"}}, {Tags: []string{"z"}}}, 1)}, 0},
		{"tag z after 3: z at 4, in the group", "f", evstore.CandidateEvent{Type: "E"},
			[]evstore.WriteOption{evstore.FailIfMatch(evstore.Criteria{{Tags: []string{"z"}, Types: []string{"E"}}}, 3)}, 4},
		{"type E with y after 2: y at 3 (FailIfMatch on Write)", "g", evstore.CandidateEvent{Type: "E"},
			[]evstore.WriteOption{evstore.FailIfMatch(evstore.Criteria{{Types: []string{"E"}, Tags: []string{"y"}}}, 2)}, 3},
		{"last, at 5", "h", evstore.CandidateEvent{Type: "E"}, []evstore.WriteOption{evstore.FailIfMatch(tagX, 2)}, 0},
	}
	token := <-bk.writer // hold the writer: the calls queue up as one group
	results := make([]chan error, len(calls))
	reports := make([]evstore.WriteReport, len(calls))
	for i, c := range calls {
		results[i] = make(chan error, 1)
		go func() {
			var err error
			switch {
			case c.cond == nil:
				_, err = mustStream(t, s, c.stream).Write(ctx, []evstore.CandidateEvent{c.event}, evstore.Report(&reports[i]))
			case c.stream == "g":
				_, err = mustStream(t, s, c.stream).Write(ctx, []evstore.CandidateEvent{c.event}, append(c.cond, evstore.Report(&reports[i]))...)
			default:
				var out []evstore.WriteReport
				out, err = s.Append(ctx, []evstore.StreamWrite{{StreamID: c.stream, Events: []evstore.CandidateEvent{c.event}}}, c.cond...)
				if err == nil {
					reports[i] = out[0]
				}
			}
			results[i] <- err
		}()
		waitQueued(t, bk, i+1)
	}
	bk.writer <- token
	next := int64(2)
	for i, c := range calls {
		err := <-results[i]
		if c.match == 0 {
			if err != nil || reports[i].First != next {
				t.Errorf("%s: got %v, report %+v; want success at %d", c.name, err, reports[i], next)
			}
			next++
			continue
		}
		var ce *evstore.ConditionError
		if !errors.As(err, &ce) || ce.Match != c.match {
			t.Errorf("%s: got %v; want a ConditionError matching %d", c.name, err, c.match)
		}
	}
	if n := count(t, bk, "SELECT count(*) FROM "+bk.sql.events); n != int(next-1) {
		t.Errorf("%d events stored, want %d", n, next-1)
	}
}

// TestConditionsTwoStores: Stores on two pools (as two processes would
// be) append concurrently, each write tagged with its round and
// conditional on no event of the round after the head it read: in each
// round exactly one write succeeds, whichever Store and group it was in.
func TestConditionsTwoStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	schema := testSchema(t)
	stores := []*evstore.Store{testStore(t, schema, nil), testStore(t, schema, nil)}
	const rounds, perStore = 40, 4
	var failed atomic.Int64
	for round := range rounds {
		tag := "round:" + strconv.Itoa(round)
		claim := evstore.Criteria{{Tags: []string{tag}}}
		after := mustStream(t, stores[0], evstore.All).Version()
		var wg sync.WaitGroup
		var won atomic.Int64
		start := make(chan struct{})
		for w := range 2 * perStore {
			s := stores[w%2]
			wg.Go(func() {
				<-start
				_, err := s.Append(ctx, []evstore.StreamWrite{{
					StreamID: fmt.Sprintf("writer-%d", w),
					Events:   []evstore.CandidateEvent{{Type: "Claimed", Tags: []string{tag, "writer:" + strconv.Itoa(w)}}},
				}}, evstore.FailIfMatch(claim, after))
				var ce *evstore.ConditionError
				switch {
				case err == nil:
					won.Add(1)
				case errors.As(err, &ce):
					failed.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("round %d: %d writes succeeded, want exactly 1", round, n)
		}
		if es := find(t, stores[1], claim); len(es) != 1 {
			t.Fatalf("round %d: %d events claim it, want 1", round, len(es))
		}
	}
	t.Logf("%d conditional appends failed, as they should", failed.Load())
}

// TestMigrateV3: a schema at version 3 with events gets tags (the column,
// evstore_tags and the type index) on Open; its events read back without
// tags, and new ones carry theirs.
func TestMigrateV3(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	createV1(t, conn, schema) // events 1..3
	q := pgx.Identifier{schema}.Sanitize()
	for v := 2; v <= 3; v++ {
		if _, err := conn.Exec(ctx, strings.ReplaceAll(migrations[v-1](1), "{{schema}}", q)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "UPDATE "+q+".evstore_schema SET version = 3"); err != nil {
		t.Fatal(err)
	}
	if exists(t, conn, schema, "evstore_tags") {
		t.Fatal("evstore_tags exists at version 3")
	}
	s := testStore(t, schema, nil)
	if got := versionOf(t, conn, schema); got != SchemaVersion {
		t.Errorf("after Open: version %d, want %d", got, SchemaVersion)
	}
	for _, name := range []string{"evstore_tags", "evstore_tags_pkey", "evstore_events_type"} {
		if !exists(t, conn, schema, name) {
			t.Errorf("%s missing after the migration", name)
		}
	}
	if _, err := mustStream(t, s, "b").Write(ctx, []evstore.CandidateEvent{{Type: "Opened", Tags: []string{"new"}}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for e, err := range mustStream(t, s, evstore.All).Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s:%q", e.Sequence, e.Type, e.Tags))
	}
	if want := []string{`1:Opened:[]`, `2:Opened:[]`, `3:Closed:[]`, `4:Opened:["new"]`}; !slices.Equal(got, want) {
		t.Errorf("events: got %q, want %q", got, want)
	}
	if es := find(t, s, evstore.Criteria{{Types: []string{"Opened"}}}); !slices.Equal(seqs(es), []int64{1, 2, 4}) {
		t.Errorf("Find type Opened: got %v, want [1 2 4]", seqs(es))
	}
}

// TestFindPlans: on a store of 200,000 events, the generic plans (the
// pool's plan_cache_mode) of Find and of a condition's match walk the
// indexes in order and look each event up by its key: no sequential
// scan, of events or evstore_tags, no hash join, no bitmap scan (which
// would read a tag's every event, then sort them), no parallel workers,
// no JIT compilation (off on the pool's connections).
func TestFindPlans(t *testing.T) {
	var bk *backend
	testStore(t, testSchema(t), func(b *backend) { bk = b })
	fill(t, bk, 200_000)
	tag := func(s ...string) evstore.Criteria { return evstore.Criteria{{Tags: s}} }
	for _, tt := range []struct {
		name  string
		query string
		args  []any
		uses  []string // indexes the plan must use
	}{
		{name: "one tag", uses: []string{"evstore_tags_pkey", "events_pkey"}},
		{name: "two tags"},
		{name: "tag and types"},
		{name: "one type", uses: []string{"evstore_events_type"}},
		{name: "two types", uses: []string{"evstore_events_type"}},
		{name: "criteria", uses: []string{"evstore_tags_pkey", "evstore_events_type"}},
		{name: "tag backwards", uses: []string{"evstore_tags_pkey"}},
		{name: "condition: tag", uses: []string{"evstore_tags_pkey"}},
		{name: "condition: criteria", uses: []string{"evstore_tags_pkey", "evstore_events_type", "events_pkey"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := evstore.FindQuery{After: 1000, MaxSequence: 190_000, Limit: 4096} // a Find's page
			switch tt.name {
			case "one tag":
				q.Criteria = tag("course:7")
			case "two tags":
				q.Criteria = tag("course:7", "student:3")
			case "tag and types":
				q.Criteria = evstore.Criteria{{Tags: []string{"course:7"}, Types: []string{"Enrolled", "Left"}}}
			case "one type":
				q.Criteria = evstore.Criteria{{Types: []string{"Rare"}}}
			case "two types":
				q.Criteria = evstore.Criteria{{Types: []string{"Rare", "Left"}}}
			case "criteria":
				q.Criteria = evstore.Criteria{{Tags: []string{"course:7"}}, {Types: []string{"Rare"}}, {Tags: []string{"student:5"}, Types: []string{"Left"}}}
			case "tag backwards":
				q.Criteria, q.Backwards, q.Before = tag("course:7"), true, 150_000
			}
			var query string
			var args []any
			switch {
			case strings.HasPrefix(tt.name, "condition: tag"):
				var p probes
				p.add(0, &evstore.Condition{Criteria: tag("course:7", "student:3"), After: 1000})
				p.add(1, &evstore.Condition{Criteria: evstore.Criteria{{Tags: []string{"course:8"}, Types: []string{"Left"}}}, After: 1000})
				query, args = bk.sql.match, p.args()
			case strings.HasPrefix(tt.name, "condition"):
				var p probes
				p.add(0, &evstore.Condition{Criteria: evstore.Criteria{{Tags: []string{"course:7"}}, {Types: []string{"Rare", "Left"}}, {}}, After: 1000})
				query, args = bk.sql.match, p.args()
			default:
				query, args = bk.buildFind(q)
			}
			plan := genericPlan(t, bk, query, args)
			t.Logf("%s\n%s", query, plan)
			for _, no := range []string{"Seq Scan", "Hash Join", "Bitmap", "Gather", "JIT"} {
				if strings.Contains(plan, no) {
					t.Errorf("the plan has a %s", no)
				}
			}
			for _, ix := range tt.uses {
				if !strings.Contains(plan, ix) {
					t.Errorf("the plan does not use %s", ix)
				}
			}
		})
	}
}

// fill adds n events to bk's empty schema in bulk: streams of 100
// events; types Enrolled, Left and (one event in 10,000) Rare; each event
// tagged with one of 500 courses, one of 7,919 students, and one of n/100
// spreads (spread:0, spread:1, ...), each of which has 100 events across
// the store, whatever its size.
func fill(t testing.TB, bk *backend, n int) {
	t.Helper()
	ctx := context.Background()
	sql := []string{
		"INSERT INTO " + bk.sql.events + " (" + readColumns + ") SELECT g, 's' || (g / 100), NULL, " +
			"CASE WHEN g % 10000 = 0 THEN 'Rare' WHEN g % 3 = 0 THEN 'Left' ELSE 'Enrolled' END, now(), NULL, ''::bytea, g % 100 + 1, " +
			"ARRAY['course:' || (g % 500), 'spread:' || (g % ($1 / 100)), 'student:' || (g % 7919)] FROM generate_series(1, $1::bigint) g",
		"INSERT INTO " + bk.sql.tags + " (tag, seq) SELECT unnest(tags), id FROM " + bk.sql.events,
		"UPDATE " + strings.TrimSuffix(bk.sql.events, ".events") + ".evstore_sequence SET last = $1",
	}
	for _, s := range sql {
		args := []any{n}
		if !strings.Contains(s, "$1") {
			args = nil
		}
		if _, err := bk.pool.Exec(ctx, s, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bk.pool.Exec(ctx, "ANALYZE "+bk.sql.events+", "+bk.sql.tags); err != nil {
		t.Fatal(err)
	}
}

// genericPlan returns the plan that a pool connection (force_generic_plan)
// makes for query, whatever its arguments.
func genericPlan(t *testing.T, bk *backend, query string, args []any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := bk.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "PREPARE evstore_plan AS "+query); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "DEALLOCATE evstore_plan")
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = literal(a)
	}
	rows, err := conn.Query(ctx, "EXPLAIN EXECUTE evstore_plan("+strings.Join(lits, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// literal returns a as SQL text: a number, a string or an array of them.
func literal(a any) string {
	switch x := a.(type) {
	case string:
		return quote(x)
	case []string:
		return quote(arrayLiteral(x))
	case []*string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = "NULL"
			if s != nil {
				q[i] = quote(*s)
			}
		}
		return "ARRAY[" + strings.Join(q, ", ") + "]::text[]"
	case []int32, []int64:
		return quote(strings.NewReplacer("[", "{", "]", "}", " ", ",").Replace(fmt.Sprint(x)))
	}
	return fmt.Sprint(a)
}

// TestGroupFallbackConditions: when the database refuses one call of a
// group and the group runs again call by call, each in a savepoint, a
// condition still counts the events of the calls before it, which the
// transaction holds but has not committed.
func TestGroupFallbackConditions(t *testing.T) {
	ctx := context.Background()
	var bk *backend
	s := testStore(t, testSchema(t), func(b *backend) { bk = b })
	if _, err := bk.pool.Exec(ctx, "ALTER TABLE "+bk.sql.events+" ADD CONSTRAINT no_poison CHECK (event_type <> 'Poison')"); err != nil {
		t.Fatal(err)
	}
	tagX := evstore.Criteria{{Tags: []string{"x"}}}
	writes := []func() error{
		func() error {
			_, err := mustStream(t, s, "a").Write(ctx, []evstore.CandidateEvent{{Type: "Good", Tags: []string{"x"}}})
			return err
		},
		func() error {
			_, err := mustStream(t, s, "b").Write(ctx, []evstore.CandidateEvent{{Type: "Poison"}})
			return err
		},
		func() error {
			_, err := mustStream(t, s, "c").Write(ctx, []evstore.CandidateEvent{{Type: "Good"}}, evstore.FailIfMatch(tagX, 0))
			return err
		},
		func() error {
			_, err := s.Append(ctx, []evstore.StreamWrite{{StreamID: "d", Events: []evstore.CandidateEvent{{Type: "Good"}}}},
				evstore.FailIfMatch(evstore.Criteria{{Types: []string{"Poison"}}}, 0))
			return err
		},
	}
	token := <-bk.writer
	results := make([]chan error, len(writes))
	for i, w := range writes {
		results[i] = make(chan error, 1)
		go func() { results[i] <- w() }()
		waitQueued(t, bk, i+1)
	}
	bk.writer <- token
	var ce *evstore.ConditionError
	if err := <-results[0]; err != nil {
		t.Errorf("plain write: %v", err)
	}
	if err := <-results[1]; err == nil || errors.As(err, &ce) {
		t.Errorf("poison write: got %v, want the database's refusal", err)
	}
	if err := <-results[2]; !errors.As(err, &ce) || ce.Match != 1 {
		t.Errorf("condition on x: got %v, want a match at 1, the group's first write", err)
	}
	if err := <-results[3]; err != nil {
		t.Errorf("condition on the refused type: got %v, want success at 2", err)
	}
	if n := count(t, bk, "SELECT count(*) FROM "+bk.sql.events); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}
