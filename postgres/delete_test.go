package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5"
)

func writeN(t *testing.T, st *evstore.Stream, n int, opts ...evstore.WriteOption) evstore.WriteReport {
	t.Helper()
	var r evstore.WriteReport
	evs := make([]evstore.CandidateEvent, n)
	for i := range evs {
		evs[i] = evstore.CandidateEvent{Type: "E", Data: []byte("secret")}
	}
	if _, err := st.Write(context.Background(), evs, append(opts, evstore.Report(&r))...); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDeleteNewestNoReuse: removing the newest events, by Delete, by
// Truncate then Delete, or by hand (something that does not know the
// counter), never makes a later append take a Sequence handed out before.
// Numbering from MAX(id), as before schema version 3, fails the last part.
func TestDeleteNewestNoReuse(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	s := testStore(t, schema, nil)
	var handed int64 // the highest Sequence handed out so far
	check := func(what string, first, last int64) {
		t.Helper()
		if first <= handed || last < first {
			t.Fatalf("%s took Sequences %d..%d, want above %d, the highest handed out before", what, first, last, handed)
		}
		handed = last
	}
	a, st := mustStream(t, s, "a"), mustStream(t, s, "s")
	r := writeN(t, a, 1)
	check("write a", r.First, r.Last)
	r = writeN(t, st, 3) // the store's newest events
	check("write s", r.First, r.Last)
	if err := st.Truncate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	var dr evstore.WriteReport
	if _, err := st.Delete(ctx, evstore.Report(&dr)); err != nil {
		t.Fatal(err)
	}
	check("delete s", dr.First, dr.Last)
	r = writeN(t, a, 1)
	check("write a after the delete", r.First, r.Last)

	// The newest events removed behind the Store's back: the counter
	// still remembers them.
	r = writeN(t, st, 2)
	check("write s again", r.First, r.Last)
	conn := testConn(t)
	if _, err := conn.Exec(ctx, "DELETE FROM "+pgx.Identifier{schema, "events"}.Sanitize()+" WHERE id >= $1", r.First); err != nil {
		t.Fatal(err)
	}
	r = writeN(t, a, 1)
	check("write after the newest events were removed by hand", r.First, r.Last)
	dr = evstore.WriteReport{}
	if _, err := mustStream(t, s, "b").Delete(ctx); err != nil { // nothing to delete
		t.Fatal(err)
	}
	writeN(t, mustStream(t, s, "b"), 1)
	if _, err := mustStream(t, s, "b").Delete(ctx, evstore.Report(&dr)); err != nil {
		t.Fatal(err)
	}
	if dr.First <= r.Last {
		t.Fatalf("tombstone at Sequence %d, want above %d", dr.First, r.Last)
	}

	// An append of code that does not know the counter (evstore before
	// version 3, numbering from MAX(id)) moves the numbering on too.
	if _, err := conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "events"}.Sanitize()+
		" (id, stream_id, event_type, timestamp, data, version) VALUES ($1, 'old', 'E', now(), '', 1)", dr.Last+10); err != nil {
		t.Fatal(err)
	}
	r = writeN(t, a, 1)
	if r.First != dr.Last+11 {
		t.Errorf("write after an append that skipped the counter: Sequence %d, want %d", r.First, dr.Last+11)
	}
}

// TestDeleteConcurrentSequences: group-committed writes and deletes from
// several Stores hand out each Sequence once, and a reader of All on
// another Store sees them in increasing order, tombstones included.
func TestDeleteConcurrentSequences(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := testSchema(t)
	stores := []*evstore.Store{testStore(t, schema, nil), testStore(t, schema, nil)}
	const workers, rounds = 8, 15
	var mu sync.Mutex
	seen := map[int64]string{}
	var failed error
	record := func(what string, r evstore.WriteReport) {
		mu.Lock()
		defer mu.Unlock()
		for q := r.First; r.Appended > 0 && q <= r.Last; q++ {
			if prev, dup := seen[q]; dup && failed == nil {
				failed = fmt.Errorf("Sequence %d handed out twice: %s and %s", q, prev, what)
			}
			seen[q] = what
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			st, err := s.Stream(ctx, fmt.Sprintf("s%d", w%4)) // two workers per stream
			if err != nil {
				t.Error(err)
				return
			}
			for i := range rounds {
				var r evstore.WriteReport
				if i%3 == 2 {
					_, err = st.Delete(ctx, evstore.Report(&r))
				} else {
					_, err = st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}, {Type: "E"}}, evstore.Report(&r))
				}
				if err != nil {
					t.Error(err)
					return
				}
				record(fmt.Sprintf("worker %d round %d", w, i), r)
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	reader := testStore(t, schema, nil)
	all := mustStream(t, reader, evstore.All)
	var last int64
	for e, err := range all.Read(ctx, evstore.After(0), evstore.Limit(100000)) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Sequence <= last {
			t.Fatalf("All: Sequence %d after %d", e.Sequence, last)
		}
		if _, ok := seen[e.Sequence]; !ok {
			t.Errorf("All: Sequence %d was handed to no write or delete", e.Sequence)
		}
		last = e.Sequence
	}
}

// TestSnapshotBelowTruncatedTombstone: the tombstone's version is kept
// when a Truncate removes the tombstone itself.
func TestSnapshotBelowTruncatedTombstone(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, testSchema(t), nil)
	st := mustStream(t, s, "s")
	writeN(t, st, 3)
	if _, err := st.Delete(ctx); err != nil { // tombstone at 4
		t.Fatal(err)
	}
	writeN(t, st, 2) // 5, 6
	if err := st.Truncate(ctx, 6); err != nil {
		t.Fatal(err)
	}
	err := st.Snapshot(ctx, []byte("old"), evstore.AtVersion(3))
	if !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("snapshot at 3, below the truncated tombstone at 4: got %v, want ErrInvalidArgument", err)
	}
	if err := st.Snapshot(ctx, []byte("new"), evstore.AtVersion(5)); err != nil {
		t.Errorf("snapshot at 5: %v", err)
	}
	// The tombstone of one stream does not bound another's snapshots.
	other := mustStream(t, s, "other")
	writeN(t, other, 2)
	if err := other.Snapshot(ctx, []byte("x"), evstore.AtVersion(1)); err != nil {
		t.Errorf("snapshot of another stream: %v", err)
	}
}

// TestSnapshotDeleteRace: a snapshot saved while a Delete of its stream
// runs is either removed by it or refused; none survives below the
// tombstone.
func TestSnapshotDeleteRace(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	s, saver := testStore(t, schema, nil), testStore(t, schema, nil)
	for i := range 40 {
		id := fmt.Sprintf("s%d", i)
		writeN(t, mustStream(t, s, id), 3)
		st, sv := mustStream(t, s, id), mustStream(t, saver, id)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 5 {
				_ = sv.Snapshot(ctx, []byte("state"), evstore.AtVersion(3))
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := st.Delete(ctx); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		snap, err := st.LoadSnapshot(ctx, evstore.DefaultProjection)
		if err != nil {
			t.Fatal(err)
		}
		if snap != nil && snap.Version < 4 {
			t.Fatalf("%s: a snapshot at version %d survived the Delete (tombstone at 4)", id, snap.Version)
		}
	}
}

// TestTruncateRange: the range is checked against the stream's version in
// the transaction, and Truncate counts what it removed.
func TestTruncateRange(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	b, err := open(ctx, testDSN(t), []Option{WithSchema(schema)})
	if err != nil {
		t.Fatal(err)
	}
	s := evstore.NewStore(b)
	t.Cleanup(func() { s.Close() })
	writeN(t, mustStream(t, s, "s"), 5)
	for _, before := range []int64{0, 6, 100} {
		if _, err := b.TruncateStream(ctx, "s", before); !errors.Is(err, evstore.ErrInvalidArgument) {
			t.Errorf("TruncateStream(%d): %v, want ErrInvalidArgument", before, err)
		}
	}
	if _, err := b.TruncateStream(ctx, "none", 1); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("TruncateStream of a stream with no events: %v, want ErrInvalidArgument", err)
	}
	for _, c := range []struct{ before, want int64 }{{3, 2}, {3, 0}, {5, 2}} {
		if n, err := b.TruncateStream(ctx, "s", c.before); err != nil || n != c.want {
			t.Errorf("TruncateStream(%d): %d, %v; want %d", c.before, n, err, c.want)
		}
	}
	m, err := b.Metrics(ctx, "s")
	if err != nil || m.EventCount != 1 || m.Version != 5 {
		t.Errorf("Metrics: %+v, %v; want 1 event at version 5", m, err)
	}
}

// TestErase: Erase vacuums evstore's tables, on a pool connection (VACUUM
// refuses to run in a transaction), and a ctx that ended stops it.
func TestErase(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	s := testStore(t, schema, nil)
	st := mustStream(t, s, "s")
	writeN(t, st, 3)
	if _, err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	conn := testConn(t)
	count := func() (n int64) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'events'", schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	if err := s.Erase(ctx); err != nil {
		t.Fatal(err)
	}
	var after int64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		if after = count(); after > before || time.Now().After(deadline) {
			break
		}
	}
	if after <= before {
		t.Errorf("events' vacuum_count %d after Erase, want above %d", after, before)
	}
	var dead int64
	if err := conn.QueryRow(ctx, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'events'", schema).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	// VACUUM leaves the rows a transaction of another session may still
	// see (other packages' tests run on this server at the same time):
	// say how many, but they are no failure of Erase.
	t.Logf("events has %d dead rows after Erase", dead)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Erase(c); !errors.Is(err, context.Canceled) {
		t.Errorf("Erase with an ended ctx: %v, want context.Canceled", err)
	}
}

// TestMigrateSequence: version 3 starts the counter at the newest event of
// a schema migrated from an older version.
func TestMigrateSequence(t *testing.T) {
	conn := testConn(t)
	schema := testSchema(t)
	createV1(t, conn, schema) // events 1..3
	s := testStore(t, schema, nil)
	if got := rows(t, conn, schema, "evstore_sequence"); len(got) != 1 || got[0] != "(t,3)" {
		t.Errorf("evstore_sequence after migration: %q, want [(t,3)]", got)
	}
	r := writeN(t, mustStream(t, s, "b"), 1)
	if r.First != 4 {
		t.Errorf("first write after migration at Sequence %d, want 4", r.First)
	}
}

// TestDeleteOtherStore: a Store on the same database whose watcher is
// live gets the tombstone, and a Read or Watch it starts after the Delete
// returned yields no removed event.
func TestDeleteOtherStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := testSchema(t)
	a, b := testStore(t, schema, nil), testStore(t, schema, nil, WithPollInterval(50*time.Millisecond))
	live := make(chan evstore.StoredEvent, 16)
	// The handle is taken here, before anything is written: Watch starts
	// at its Version, and a goroutine scheduled late must not start
	// after the tombstone.
	all := mustStream(t, b, evstore.All)
	go func() {
		for e, err := range all.Watch(ctx) {
			if err != nil {
				return
			}
			live <- e
		}
	}()
	st := mustStream(t, a, "s")
	writeN(t, st, 2)
	if _, err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case e := <-live:
			if e.Type != evstore.Deleted {
				continue // written before the Delete: may have been fetched first
			}
		case <-ctx.Done():
			t.Fatal("the other Store's live watcher got no tombstone")
		}
		break
	}
	for e, err := range mustStream(t, b, "s").Read(ctx, evstore.After(0)) {
		if err != nil || e.Type != evstore.Deleted {
			t.Errorf("the other Store's Read after Delete: %+v, %v; want only the tombstone", e, err)
		}
	}
	c, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	n := 0
	for e, err := range mustStream(t, b, "s").Watch(c, evstore.After(0)) {
		if err != nil {
			break
		}
		if n++; e.Type != evstore.Deleted {
			t.Errorf("the other Store's Watch after Delete yielded %+v", e)
		}
	}
	if n != 1 {
		t.Errorf("the other Store's Watch after Delete yielded %d events, want the tombstone", n)
	}
}
