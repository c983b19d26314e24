package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/logtest"
	"github.com/go-event-sourcing/evstore/storetest"
	"github.com/jackc/pgx/v5"
)

// testDSN returns the test server's address, or skips the test saying how
// to run it.
func testDSN(t testing.TB) string {
	t.Helper()
	d := os.Getenv("EVSTORE_POSTGRES_DSN")
	if d == "" {
		t.Skip("PostgreSQL tests need a server: set EVSTORE_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return d
}

var testSchemas atomic.Int64

// testSchema returns a new schema name, dropped when the test ends.
func testSchema(t testing.TB) string {
	name := fmt.Sprintf("evstore_itest_%d_%d", os.Getpid(), testSchemas.Add(1))
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testDSN(t))
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return name
}

// testStore opens a Store on schema; setup may adjust the backend first.
// The Store is closed when the test ends.
func testStore(t testing.TB, schema string, setup func(*backend), opts ...Option) *evstore.Store {
	t.Helper()
	b, err := open(context.Background(), testDSN(t), append([]Option{WithSchema(schema)}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(b)
	}
	s := evstore.NewStore(b)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the behaviour every backend must have.
func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(tb testing.TB) *evstore.Store { return openOnly(tb, testSchema(tb)) })
}

func BenchmarkStore(b *testing.B) {
	testDSN(b)
	storetest.Bench(b, func(tb testing.TB) *evstore.Store { return openOnly(tb, testSchema(tb)) })
}

// openOnly opens a Store that the caller closes (the kit does).
func openOnly(tb testing.TB, schema string) *evstore.Store {
	tb.Helper()
	s, err := Open(context.Background(), testDSN(tb), WithSchema(schema))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustStream(t *testing.T, s *evstore.Store, id string) *evstore.Stream {
	t.Helper()
	st, err := s.Stream(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// collect watches st until it has n events, or fails after timeout.
func collect(ctx context.Context, st *evstore.Stream, n int, opts ...evstore.ReadOption) ([]evstore.StoredEvent, error) {
	var got []evstore.StoredEvent
	for e, err := range st.Watch(ctx, opts...) {
		if err != nil {
			return got, err
		}
		got = append(got, e)
		if len(got) == n {
			return got, nil
		}
	}
	return got, ctx.Err()
}

// TestGlobalOrder: writers whose transactions stay open for random times
// never make a reader of @all skip a Sequence.
func TestGlobalOrder(t *testing.T) {
	schema := testSchema(t)
	const writers, batches, batch = 16, 125, 10 // 20,000 events
	const total = writers * batches * batch
	s := testStore(t, schema, func(b *backend) {
		b.beforeCommit = func() { time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Watchers on other Stores (other pools) see the writes only through
	// the database, as other application servers would.
	var wg sync.WaitGroup
	results := make([][]evstore.StoredEvent, 4)
	errs := make([]error, 4)
	for i := range results {
		other := testStore(t, schema, nil, WithPollInterval(50*time.Millisecond))
		all := mustStream(t, other, evstore.All)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = collect(ctx, all, total, evstore.After(0))
		}()
	}
	// Readers polling with After(n), as a catch-up subscriber would.
	readerErr := make(chan error, 2)
	for range 2 {
		go func() {
			reader := mustStream(t, testStore(t, schema, nil), evstore.All)
			var last int64
			for last < total && ctx.Err() == nil {
				for e, err := range reader.Read(ctx, evstore.After(last)) {
					if err != nil {
						readerErr <- err
						return
					}
					if e.Sequence != last+1 {
						readerErr <- fmt.Errorf("reader after %d got Sequence %d", last, e.Sequence)
						return
					}
					last = e.Sequence
				}
			}
			readerErr <- ctx.Err()
		}()
	}
	var wwg sync.WaitGroup
	for w := range writers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			st := mustStream(t, s, fmt.Sprintf("w-%d", w))
			for i := range batches {
				events := make([]evstore.CandidateEvent, batch)
				for j := range events {
					events[j] = evstore.CandidateEvent{Type: "E", ID: fmt.Sprintf("%d-%d", i, j)}
				}
				if _, err := st.Write(ctx, events); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wwg.Wait()
	wg.Wait()
	for i, got := range results {
		if errs[i] != nil {
			t.Errorf("watcher %d: %v after %d events", i, errs[i], len(got))
			continue
		}
		for j, e := range got {
			if e.Sequence != int64(j+1) {
				t.Errorf("watcher %d: event %d has Sequence %d, want %d", i, j, e.Sequence, j+1)
				break
			}
		}
	}
	for range 2 {
		if err := <-readerErr; err != nil {
			t.Error(err)
		}
	}
}

// TestListenerReconnects: when the listening connection is killed, the
// store reconnects and keeps delivering other servers' writes.
func TestListenerReconnects(t *testing.T) {
	schema := testSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A long poll: deliveries within seconds come from notifications.
	var logs logtest.Recorder
	watched := testStore(t, schema, nil, WithPollInterval(time.Minute), WithLogger(logs.Logger()))
	writer := mustStream(t, testStore(t, schema, nil), "s")
	got := make(chan evstore.StoredEvent, 100)
	all := mustStream(t, watched, evstore.All) // before any write: Watch starts at its Version
	go func() {
		for e, err := range all.Watch(ctx) {
			if err != nil {
				return
			}
			got <- e
		}
	}()
	expect := func(v int64) {
		t.Helper()
		select {
		case e := <-got:
			if e.Version != v {
				t.Fatalf("got version %d, want %d", e.Version, v)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("version %d not delivered within 10s", v)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the listener start
	for v := int64(1); v <= 3; v++ {
		if _, err := writer.Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
			t.Fatal(err)
		}
		expect(v)
	}
	conn, err := pgx.Connect(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var killed int
	if err := conn.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE $2",
		listenerName, "LISTEN %"+mustChannel(schema)+"%").Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listeners, want 1", killed)
	}
	for v := int64(4); v <= 6; v++ {
		time.Sleep(100 * time.Millisecond)
		if _, err := writer.Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
			t.Fatal(err)
		}
		expect(v)
	}
	// The loss and the reconnection are logged.
	for _, want := range []struct {
		level slog.Level
		msg   string
	}{{slog.LevelWarn, "listener lost; reconnecting"}, {slog.LevelInfo, "listener reconnected"}} {
		if _, ok := logs.Find(want.level, want.msg); !ok {
			t.Errorf("no %v record %q", want.level, want.msg)
		}
	}
}

func mustChannel(schema string) string { return fmt.Sprintf("evstore_%08x", hash(schema)) }

// TestTwoServers: two Stores on one schema act as two application servers.
func TestTwoServers(t *testing.T) {
	schema := testSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := testStore(t, schema, nil, WithPollInterval(100*time.Millisecond))
	b := testStore(t, schema, nil, WithPollInterval(100*time.Millisecond))
	const perServer, workers = 40, 4
	total := 2 * perServer * workers
	watchers := make(chan []evstore.StoredEvent, 2)
	for _, s := range []*evstore.Store{a, b} {
		all := mustStream(t, s, evstore.All)
		go func() {
			got, _ := collect(ctx, all, total)
			watchers <- got
		}()
	}
	time.Sleep(200 * time.Millisecond)
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for _, s := range []*evstore.Store{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := mustStream(t, s, "shared")
				expected := st.Version()
				for i := 0; i < perServer; {
					v, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E", Data: fmt.Appendf(nil, "%p-%d-%d", s, w, i)}}, evstore.ExpectVersion(expected))
					var ce *evstore.ConflictError
					switch {
					case errors.As(err, &ce):
						conflicts.Add(1)
						expected = ce.Actual
						continue
					case err != nil:
						t.Error(err)
						return
					}
					expected = v
					i++
				}
			}()
		}
	}
	wg.Wait()
	var versions []int64
	seen := map[string]bool{}
	for e, err := range mustStream(t, a, "shared").Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, e.Version)
		if seen[string(e.Data)] {
			t.Errorf("event %s written twice", e.Data)
		}
		seen[string(e.Data)] = true
	}
	want := make([]int64, total)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("got %d versions, want 1..%d with no gap or repeat", len(versions), total)
	}
	for range 2 {
		if got := <-watchers; len(got) != total {
			t.Errorf("a watcher saw %d of %d events", len(got), total)
		}
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

// TestGroupFallback: when the database refuses one call of a group (here a
// CHECK constraint), the group is run again call by call, and only that
// call fails.
func TestGroupFallback(t *testing.T) {
	schema := testSchema(t)
	var bk *backend
	s := testStore(t, schema, func(b *backend) { bk = b })
	ctx := context.Background()
	if _, err := bk.pool.Exec(ctx, "ALTER TABLE "+bk.sql.events+" ADD CONSTRAINT no_poison CHECK (event_type <> 'Poison')"); err != nil {
		t.Fatal(err)
	}
	types := []string{"Good", "Poison", "Good"}
	token := <-bk.writer // hold the writer: the calls queue up as one group
	results := make([]chan error, len(types))
	for i, typ := range types {
		results[i] = make(chan error, 1)
		go func() {
			_, err := mustStream(t, s, fmt.Sprintf("s-%d", i)).Write(ctx, []evstore.CandidateEvent{{Type: typ}})
			results[i] <- err
		}()
		waitQueued(t, bk, i+1)
	}
	bk.writer <- token
	for i, typ := range types {
		err := <-results[i]
		if (typ == "Poison") != (err != nil) {
			t.Errorf("%s write: got error %v", typ, err)
		}
	}
	var n int
	for e, err := range mustStream(t, s, evstore.All).Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "Good" {
			t.Errorf("stored a %s event", e.Type)
		}
		n++
	}
	if n != 2 {
		t.Errorf("got %d events, want the 2 good ones", n)
	}
}

// waitQueued waits until n calls are queued on bk.
func waitQueued(t *testing.T, bk *backend, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for bk.queue.Len() < n {
		if time.Now().After(deadline) {
			t.Fatal("calls did not queue")
		}
		time.Sleep(time.Millisecond)
	}
}

// withAppName returns dsn (a URL) with the application_name name, which
// must be made of plain characters.
func withAppName(dsn, name string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&application_name=" + name
	}
	return dsn + "?application_name=" + name
}

// TestGroupFailureFailsEveryCall: when a group's transaction breaks (here
// its connection is killed before COMMIT), every call gets that error,
// including one whose expectation had failed against another call of the
// group: that call is rolled back, so the conflict never was.
func TestGroupFailureFailsEveryCall(t *testing.T) {
	schema := testSchema(t)
	name := "evstore_group_failure_" + schema
	ctx := context.Background()
	bk, err := open(ctx, withAppName(testDSN(t), name), []Option{WithSchema(schema)})
	if err != nil {
		t.Fatal(err)
	}
	s := evstore.NewStore(bk)
	t.Cleanup(func() { s.Close() })
	killer, err := pgx.Connect(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)

	token := <-bk.writer
	bk.beforeCommit = func() {
		if _, err := killer.Exec(ctx, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'", name); err != nil {
			t.Error(err)
		}
	}
	opts := [][]evstore.WriteOption{nil, {evstore.ExpectVersion(0)}}
	results := make([]chan error, len(opts))
	for i := range opts {
		results[i] = make(chan error, 1)
		go func() {
			_, err := mustStream(t, s, "s").Write(ctx, []evstore.CandidateEvent{{Type: "E"}}, opts[i]...)
			results[i] <- err
		}()
		waitQueued(t, bk, i+1)
	}
	bk.writer <- token
	for i := range opts {
		if err := <-results[i]; !errors.Is(err, ErrCommitUnknown) || errors.Is(err, evstore.ErrConflict) {
			t.Errorf("call %d: got %v; want the group's failed COMMIT (ErrCommitUnknown), not a conflict", i, err)
		}
	}
	token = <-bk.writer
	bk.beforeCommit = nil
	bk.writer <- token
	if v, err := mustStream(t, s, "s").Write(ctx, []evstore.CandidateEvent{{Type: "E"}}, evstore.ExpectVersion(0)); err != nil || v != 1 {
		t.Errorf("write after the failed group: got %d, %v; want 1 (nothing was stored)", v, err)
	}
}

// TestGroupHonoursDeadlines: a group waits for the server on behalf of all
// its callers, but once every caller's deadline has passed it gives up, and
// each gets its own ctx error. Here another session holds the append lock,
// so the group cannot start.
func TestGroupHonoursDeadlines(t *testing.T) {
	schema := testSchema(t)
	var bk *backend
	s := testStore(t, schema, func(b *backend) { bk = b })
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", "evstore append "+schema); err != nil {
		t.Fatal(err)
	}
	token := <-bk.writer
	results := make([]chan error, 2)
	for i := range results {
		results[i] = make(chan error, 1)
		go func() {
			wctx, cancel := context.WithTimeout(ctx, time.Duration(100*(i+1))*time.Millisecond)
			defer cancel()
			_, err := mustStream(t, s, fmt.Sprintf("s-%d", i)).Write(wctx, []evstore.CandidateEvent{{Type: "E"}})
			results[i] <- err
		}()
		waitQueued(t, bk, i+1)
	}
	bk.writer <- token
	for i := range results {
		select {
		case err := <-results[i]:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("call %d: got %v, want context.DeadlineExceeded", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("call %d still waits for the lock 20s after its deadline", i)
		}
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", "evstore append "+schema); err != nil {
		t.Fatal(err)
	}
	if v, err := mustStream(t, s, "s-0").Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil || v != 1 {
		t.Errorf("write after the lock is free: got %d, %v; want 1", v, err)
	}
}
