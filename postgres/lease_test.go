package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5"
)

// These tests cover what is PostgreSQL's own in consumers' leases: two
// pools, sessions that end, the lease connection outside the pool,
// idle_session_timeout, the lock keys. storetest has the behaviour every
// backend shares.

const testTTL = 5 * time.Second

// testBackend opens a backend on schema, closed when the test ends.
func testBackend(t *testing.T, schema string, opts ...Option) *backend {
	t.Helper()
	b, err := open(context.Background(), testDSN(t), append([]Option{WithSchema(schema)}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// acquire calls AcquireLease, failing the test on an error; the lease may
// be nil.
func acquire(t *testing.T, b *backend, key evstore.ConsumerKey, ttl time.Duration) evstore.Lease {
	t.Helper()
	l, err := b.AcquireLease(context.Background(), key, ttl)
	if err != nil {
		t.Fatalf("acquire %+v: %v", key, err)
	}
	return l
}

// mustAcquire acquires key, which must be free.
func mustAcquire(t *testing.T, b *backend, key evstore.ConsumerKey) evstore.Lease {
	t.Helper()
	l := acquire(t, b, key, testTTL)
	if l == nil {
		t.Fatalf("acquire %+v: got no lease, want one", key)
	}
	return l
}

// mustBeHeld checks that key cannot be acquired, with or without the
// check through pg_locks that comes first.
func mustBeHeld(t *testing.T, b *backend, key evstore.ConsumerKey) {
	t.Helper()
	if l := acquire(t, b, key, testTTL); l != nil {
		l.Release(context.Background())
		t.Fatalf("acquire %+v: got a lease, want none", key)
	}
	l, err := b.tryLease(context.Background(), key, testTTL)
	if err != nil || l != nil {
		if l != nil {
			l.Release(context.Background())
		}
		t.Fatalf("acquire %+v without the pg_locks check: got %v, %v; want no lease", key, l, err)
	}
}

// checkpoint checks l's checkpoint.
func checkpoint(t *testing.T, l evstore.Lease, position int64, found bool) {
	t.Helper()
	if p, f := l.Checkpoint(); p != position || f != found {
		t.Errorf("checkpoint: got %d, %v; want %d, %v", p, f, position, found)
	}
}

// consumers lists b's consumers as "name p/n @position" strings.
func consumers(t *testing.T, b *backend) []string {
	t.Helper()
	var got []string
	for c, err := range b.ListConsumers(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d/%d @%d", c.Name, c.Partition, c.Members, c.Position))
	}
	return got
}

// pid returns the server process of l's connection.
func pid(l evstore.Lease) uint32 { return l.(*lease).conn.PgConn().PID() }

// leaseUntil returns the lease_until of key's row in schema (nil: NULL).
func leaseUntil(t *testing.T, conn *pgx.Conn, schema string, key evstore.ConsumerKey) *time.Time {
	t.Helper()
	var until *time.Time
	if err := conn.QueryRow(context.Background(), "SELECT lease_until FROM "+pgx.Identifier{schema}.Sanitize()+".evstore_consumers WHERE name = $1 AND members = $2 AND partition = $3",
		key.Name, key.Members, key.Partition).Scan(&until); err != nil {
		t.Fatal(err)
	}
	return until
}

// isHeld reports whether a session holds key's lock (pg_locks, through
// b's pool: the check AcquireLease makes first).
func isHeld(t *testing.T, b *backend, key evstore.ConsumerKey) bool {
	t.Helper()
	q := &b.sql.consumer
	var held bool
	if err := b.pool.QueryRow(context.Background(), q.held, q.prefix, key.Name, key.Members, key.Partition).Scan(&held); err != nil {
		t.Fatal(err)
	}
	return held
}

// terminate ends the session of l's connection, as a server restart, a
// connection reset or a pooler dropping it would, and waits until it has
// ended.
func terminate(t *testing.T, l evstore.Lease) {
	t.Helper()
	var ok bool
	if err := testConn(t).QueryRow(context.Background(), "SELECT pg_terminate_backend($1, 10000)", int32(pid(l))).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the holder's session: got %v, %v", ok, err)
	}
}

// TestLeaseTwoPools: two Stores' backends (two pools) contend for a lease;
// the standby gets it, with the checkpoint, as soon as the holder releases
// (which clears lease_until: there is no lease time to wait for).
func TestLeaseTwoPools(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	a, b := testBackend(t, schema), testBackend(t, schema)
	key := evstore.ConsumerKey{Name: "projector"}
	la := mustAcquire(t, a, key)
	checkpoint(t, la, 0, false)
	mustBeHeld(t, b, key)
	if err := la.Save(ctx, 10, false); err != nil {
		t.Fatal(err)
	}
	if err := la.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	mustBeHeld(t, b, key)
	if until := leaseUntil(t, conn, schema, key); until == nil {
		t.Error("lease_until of a held lease: got NULL, want a time")
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if until := leaseUntil(t, conn, schema, key); until != nil {
		t.Errorf("lease_until after Release: got %v, want NULL", until)
	}
	start := time.Now()
	lb := mustAcquire(t, b, key) // at once, no retry
	if took := time.Since(start); took >= testTTL/2 {
		t.Errorf("acquisition after a Release took %v, want at once", took)
	}
	checkpoint(t, lb, 10, true)
	if ga, gb := la.(*lease).generation, lb.(*lease).generation; gb <= ga {
		t.Errorf("generations: got %d then %d, want them to grow", ga, gb)
	}
	mustBeHeld(t, a, key)
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseSessionEnds: when the holder's session ends (here it is
// terminated, as the server does when the holder's process dies, or when
// it restarts), the standby takes the lock at once, but returns the lease
// only once the holder's lease time since its last renewal has passed
// (meanwhile the lock stays held); and the old holder can no longer save.
func TestLeaseSessionEnds(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	a, b, c := testBackend(t, schema), testBackend(t, schema), testBackend(t, schema)
	key := evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2}
	const ttl = time.Second
	la := acquire(t, a, key, ttl)
	if la == nil {
		t.Fatal("got no lease, want one")
	}
	renewed := time.Now()
	if err := la.Save(ctx, 5, false); err != nil {
		t.Fatal(err)
	}
	terminate(t, la)
	got := make(chan evstore.Lease, 1)
	go func() {
		l, err := b.AcquireLease(ctx, key, testTTL)
		if err != nil {
			t.Errorf("acquire: %v", err)
		}
		got <- l
	}()
	eventually(t, "the lock taken", 10*time.Second, func() bool { return isHeld(t, c, key) })
	mustBeHeld(t, c, key)
	lb := wait(t, "the acquisition", got, 10*time.Second)
	if lb == nil {
		t.Fatal("got no lease, want one")
	}
	took := time.Since(renewed)
	t.Logf("the acquisition returned %v after the holder's last renewal began (its lease time %v)", took.Round(time.Millisecond), ttl)
	if took < ttl || took > ttl+2*time.Second {
		t.Errorf("the acquisition returned %v after the holder's last renewal began, want its lease time (%v) after", took.Round(time.Millisecond), ttl)
	}
	checkpoint(t, lb, 5, true)
	if err := la.Save(ctx, 7, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("old holder's Save: got %v, want %v", err, evstore.ErrLeaseLost)
	}
	if err := la.Renew(ctx); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("old holder's Renew: got %v, want %v", err, evstore.ErrLeaseLost)
	}
	if err := la.Release(ctx); err != nil {
		t.Errorf("old holder's Release: %v", err)
	}
	if err := lb.Save(ctx, 8, false); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(consumers(t, b)), "[c 1/2 @8]"; got != want {
		t.Errorf("consumers: got %s, want %s", got, want)
	}
	lb.Release(ctx)
}

// TestLeaseWaitGivenUp: an acquisition that waits for the last holder's
// lease time gives up when its ctx ends, frees the lock, and leaves
// lease_until as it was, so that the next acquirer waits for the same
// time, not a lease time more.
func TestLeaseWaitGivenUp(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	a, b := testBackend(t, schema), testBackend(t, schema)
	key := evstore.ConsumerKey{Name: "w"}
	const ttl = time.Second
	la := acquire(t, a, key, ttl)
	if la == nil {
		t.Fatal("got no lease, want one")
	}
	if err := la.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	until := leaseUntil(t, conn, schema, key)
	if until == nil {
		t.Fatal("lease_until of a held lease: got NULL, want a time")
	}
	terminate(t, la)

	short, cancel := context.WithTimeout(ctx, ttl/5)
	start := time.Now()
	l, err := b.AcquireLease(short, key, ttl)
	cancel()
	if l != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire with a ctx that ends during the wait: got %v, %v; want %v", l, err, context.DeadlineExceeded)
	}
	if took := time.Since(start); took > ttl/2 {
		t.Errorf("acquire with a ctx that ends during the wait: returned after %v, want once it ended (%v)", took.Round(time.Millisecond), ttl/5)
	}
	if got := leaseUntil(t, conn, schema, key); got == nil || !got.Equal(*until) {
		t.Errorf("lease_until after a wait given up: got %v, want %v as it was", got, until)
	}
	eventually(t, "the lock freed", 10*time.Second, func() bool { return !isHeld(t, b, key) })

	lb := acquire(t, b, key, ttl)
	if lb == nil {
		t.Fatal("got no lease, want one")
	}
	if now := time.Now(); now.Before(*until) || now.After(until.Add(ttl)) {
		t.Errorf("the next acquisition returned at %v, want at the last holder's lease_until (%v)", now, until)
	}
	lb.Release(ctx)
}

// TestLeaseWaitOtherMembers: an instance that splits the consumer
// differently also waits for the lease time of a holder under another
// Members whose session ended; one of another partition under the same
// Members does not (their events are not the same).
func TestLeaseWaitOtherMembers(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	a, b := testBackend(t, schema), testBackend(t, schema)
	const ttl = time.Second
	holders := map[string]evstore.ConsumerKey{"m": {Name: "m"}, "p": {Name: "p", Partition: 0, Members: 2}}
	var until *time.Time
	for name, key := range holders {
		l := acquire(t, a, key, ttl)
		if l == nil {
			t.Fatalf("%s: got no lease, want one", name)
		}
		if name == "m" {
			until = leaseUntil(t, conn, schema, key)
		}
		terminate(t, l)
	}

	start := time.Now()
	l := acquire(t, b, evstore.ConsumerKey{Name: "p", Partition: 1, Members: 2}, ttl)
	if l == nil {
		t.Fatal("p 1/2: got no lease, want one")
	}
	if took := time.Since(start); took >= ttl/2 {
		t.Errorf("p 1/2: the acquisition took %v, want no wait for p 0/2", took.Round(time.Millisecond))
	}
	l.Release(ctx)
	l = acquire(t, b, evstore.ConsumerKey{Name: "m", Partition: 1, Members: 2}, ttl)
	if l == nil {
		t.Fatal("m 1/2: got no lease, want one")
	}
	if now := time.Now(); now.Before(*until) {
		t.Errorf("m 1/2: the acquisition returned %v before the lease_until of the holder of m 0/0", until.Sub(now))
	}
	t.Logf("m 1/2: the acquisition returned %v after the holder of m 0/0 was cut off (lease time %v)", time.Since(start).Round(time.Millisecond), ttl)
	l.Release(ctx)
}

// TestLeaseFencedByGeneration: a holder whose generation moved on (as a
// reset or a successor moves it) saves nothing.
func TestLeaseFencedByGeneration(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	b := testBackend(t, schema)
	// A short lease time: the lost lease is not released, so its
	// successor waits for it.
	l := acquire(t, b, evstore.ConsumerKey{Name: "c"}, 100*time.Millisecond)
	if l == nil {
		t.Fatal("got no lease, want one")
	}
	if err := l.Save(ctx, 3, false); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE "+pgx.Identifier{schema}.Sanitize()+".evstore_consumers SET generation = generation + 1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Save(ctx, 4, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Save: got %v, want %v", err, evstore.ErrLeaseLost)
	}
	if err := l.Renew(ctx); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("Renew: got %v, want %v", err, evstore.ErrLeaseLost)
	}
	if got, want := fmt.Sprint(consumers(t, b)), "[c 0/0 @3]"; got != want {
		t.Errorf("consumers: got %s, want %s", got, want)
	}
	// The lost lease's session is gone, and its lock with it.
	mustAcquire(t, testBackend(t, schema), evstore.ConsumerKey{Name: "c"}).Release(ctx)
	l.Release(ctx)
}

// TestLeaseOutsideThePool: leases take no connection of the pool, so a
// Store holding more leases than its pool has connections still works,
// and Close closes the leases' connections.
func TestLeaseOutsideThePool(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema, conn := testSchema(t), testConn(t)
	bk, err := open(ctx, testDSN(t)+"&pool_max_conns=2", []Option{WithSchema(schema)})
	if err != nil {
		t.Fatal(err)
	}
	s := evstore.NewStore(bk)
	defer s.Close()
	const n = 5
	leases := make([]evstore.Lease, n)
	for i := range leases {
		leases[i] = mustAcquire(t, bk, evstore.ConsumerKey{Name: "wide", Partition: i, Members: n})
		if err := leases[i].Save(ctx, int64(i), false); err != nil {
			t.Fatal(err)
		}
	}
	if got := bk.pool.Stat().AcquiredConns(); got != 0 {
		t.Errorf("pool connections in use while %d leases are held: got %d, want 0", n, got)
	}
	if got, max := bk.pool.Stat().TotalConns(), bk.pool.Stat().MaxConns(); got > max {
		t.Errorf("pool connections: got %d, want at most %d", got, max)
	}
	ps := pids(leases)
	sessions := func() int {
		t.Helper()
		var got int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid = ANY($2)",
			leaseName, ps).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := sessions(); got != n {
		t.Errorf("lease sessions: got %d, want %d", got, n)
	}
	st := mustStream(t, s, "s")
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
		t.Fatalf("write while leases are held: %v", err)
	}
	for _, err := range st.Read(ctx) {
		if err != nil {
			t.Fatalf("read while leases are held: %v", err)
		}
	}
	for i := range leases {
		if err := leases[i].Renew(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for i, l := range leases {
		if err := l.Save(ctx, 100, false); !errors.Is(err, evstore.ErrClosed) {
			t.Errorf("lease %d after Close: Save got %v, want %v", i, err, evstore.ErrClosed)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); sessions() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("lease sessions after Close: got %d, want 0", sessions())
		}
	}
}

// pids returns the server processes of leases' connections.
func pids(leases []evstore.Lease) []int32 {
	var ps []int32
	for _, l := range leases {
		ps = append(ps, int32(pid(l)))
	}
	return ps
}

// TestLeaseMembers: instances with the same Members hold their partitions
// side by side; one with another Members waits until none of them runs,
// then starts from their lowest checkpoint.
func TestLeaseMembers(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	a, b := testBackend(t, schema), testBackend(t, schema)
	p0 := mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2})
	p1 := mustAcquire(t, b, evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2})
	mustAcquire(t, b, evstore.ConsumerKey{Name: "other", Partition: 0, Members: 3}).Release(ctx)
	if err := p0.Save(ctx, 20, false); err != nil {
		t.Fatal(err)
	}
	if err := p1.Save(ctx, 10, false); err != nil {
		t.Fatal(err)
	}
	for _, key := range []evstore.ConsumerKey{{Name: "c"}, {Name: "c", Partition: 0, Members: 3}, {Name: "c", Partition: 2, Members: 3}} {
		mustBeHeld(t, b, key)
	}
	p0.Release(ctx)
	mustBeHeld(t, a, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 3}) // partition 1 of 2 still runs
	p1.Release(ctx)
	q2 := mustAcquire(t, a, evstore.ConsumerKey{Name: "c", Partition: 2, Members: 3})
	checkpoint(t, q2, 10, true)
	mustBeHeld(t, b, evstore.ConsumerKey{Name: "c", Partition: 1, Members: 2})
	mustBeHeld(t, b, evstore.ConsumerKey{Name: "c"})
	q0 := mustAcquire(t, b, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 3})
	checkpoint(t, q0, 10, true)
	q0.Release(ctx)
	q2.Release(ctx)
	// Back to 2 members: their own checkpoints come first.
	p0 = mustAcquire(t, b, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 2})
	checkpoint(t, p0, 20, true)
	p0.Release(ctx)
	// 3 members again: their keys were leased but never saved, so they
	// still start from the lowest checkpoint of 2 members.
	q0 = mustAcquire(t, b, evstore.ConsumerKey{Name: "c", Partition: 0, Members: 3})
	checkpoint(t, q0, 10, true)
	q0.Release(ctx)
}

// TestResetConsumer: a reset is refused while any partition of the name
// is leased, and a holder whose session ended unnoticed cannot save over
// it.
func TestResetConsumer(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	a, b := testBackend(t, schema), testBackend(t, schema)
	p0 := mustAcquire(t, a, evstore.ConsumerKey{Name: "r", Partition: 0, Members: 2})
	if err := p0.Save(ctx, 30, false); err != nil {
		t.Fatal(err)
	}
	p0.Release(ctx)
	p1 := mustAcquire(t, a, evstore.ConsumerKey{Name: "r", Partition: 1, Members: 2})
	if err := b.ResetConsumer(ctx, "r", 0); !errors.Is(err, evstore.ErrConflict) {
		t.Fatalf("reset while leased: got %v, want %v", err, evstore.ErrConflict)
	} else {
		t.Logf("reset while leased: %v", err)
	}
	if err := p1.Save(ctx, 40, false); err != nil {
		t.Fatalf("save after a refused reset: %v", err)
	}
	// The holder's session ends uncleanly. Its handler may still run
	// until its lease time passes: the reset is refused until then, and
	// goes ahead before the holder notices: its next Save must fail.
	if _, err := testConn(t).Exec(ctx, "SELECT pg_terminate_backend($1, 10000)", int32(pid(p1))); err != nil {
		t.Fatal(err)
	}
	if err := b.ResetConsumer(ctx, "r", 2); !errors.Is(err, evstore.ErrConflict) {
		t.Fatalf("reset right after the holder's session ended: got %v, want %v", err, evstore.ErrConflict)
	}
	deadline := time.Now().Add(testTTL + 10*time.Second)
	for err := b.ResetConsumer(ctx, "r", 2); err != nil; err = b.ResetConsumer(ctx, "r", 2) {
		if !errors.Is(err, evstore.ErrConflict) || time.Now().After(deadline) {
			t.Fatalf("reset once the holder's lease time passed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p1.Save(ctx, 41, false); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("save after the reset: got %v, want %v", err, evstore.ErrLeaseLost)
	}
	p1.Release(ctx)
	if err := b.ResetConsumer(ctx, "new", 7); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(consumers(t, b)), "[new 0/0 @7 r 0/2 @2 r 1/2 @2]"; got != want {
		t.Errorf("consumers: got %s, want %s", got, want)
	}
	l := mustAcquire(t, a, evstore.ConsumerKey{Name: "new"})
	checkpoint(t, l, 7, true)
	l.Release(ctx)
}

// TestListConsumersByteOrder: names are listed in byte order, whatever the
// database's collation.
func TestListConsumersByteOrder(t *testing.T) {
	ctx := context.Background()
	b := testBackend(t, testSchema(t))
	for _, name := range []string{"é", "b", "a", "B", "a b", "_"} {
		if err := b.ResetConsumer(ctx, name, 1); err != nil {
			t.Fatal(err)
		}
	}
	mustAcquire(t, b, evstore.ConsumerKey{Name: "a", Partition: 1, Members: 2}).Release(ctx)
	mustAcquire(t, b, evstore.ConsumerKey{Name: "a", Partition: 0, Members: 2}).Release(ctx)
	want := "[B 0/0 @1 _ 0/0 @1 a 0/0 @1 a 0/2 @0 a 1/2 @0 a b 0/0 @1 b 0/0 @1 é 0/0 @1]"
	if got := fmt.Sprint(consumers(t, b)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestLeaseOnMigratedSchema: consumers work on a schema written before
// schema versions, once Open has migrated it.
func TestLeaseOnMigratedSchema(t *testing.T) {
	ctx := context.Background()
	schema := testSchema(t)
	createV0(t, testConn(t), schema)
	b := testBackend(t, schema)
	l := mustAcquire(t, b, evstore.ConsumerKey{Name: "c"})
	if err := l.Save(ctx, 3, false); err != nil {
		t.Fatal(err)
	}
	l.Release(ctx)
	if got, want := fmt.Sprint(consumers(t, b)), "[c 0/0 @3]"; got != want {
		t.Errorf("consumers: got %s, want %s", got, want)
	}
}

// TestLeaseIdleSession: a holder that stops calling Renew (as a stopped
// process does) loses its lease after about ttl, since the server ends its
// idle session; one that renews every ttl/3 keeps it.
func TestLeaseIdleSession(t *testing.T) {
	ctx := context.Background()
	schema, conn := testSchema(t), testConn(t)
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 140000 {
		t.Skipf("server version %d has no idle_session_timeout", version)
	}
	a, b := testBackend(t, schema), testBackend(t, schema)
	const ttl = time.Second
	key := evstore.ConsumerKey{Name: "idle"}

	// Renewing: the standby never gets it.
	la := acquire(t, a, key, ttl)
	if la == nil {
		t.Fatal("got no lease, want one")
	}
	for range 6 { // 2 ttl
		time.Sleep(ttl / 3)
		if err := la.Renew(ctx); err != nil {
			t.Fatalf("renew: %v", err)
		}
		mustBeHeld(t, b, key)
	}

	// Stopped: the standby gets it after about ttl.
	start := time.Now()
	var lb evstore.Lease
	for lb == nil {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the standby did not get the lease within 30s")
		}
		time.Sleep(20 * time.Millisecond)
		lb = acquire(t, b, key, ttl)
	}
	t.Logf("standby took over %v after the holder stopped renewing (ttl %v)", time.Since(start).Round(time.Millisecond), ttl)
	if err := la.Renew(ctx); !errors.Is(err, evstore.ErrLeaseLost) {
		t.Errorf("stopped holder's Renew: got %v, want %v", err, evstore.ErrLeaseLost)
	}
	la.Release(ctx)
	lb.Release(ctx)
}

// TestConsumerUpdated: Updated is zero before the first checkpoint, and
// moves only with the position.
func TestConsumerUpdated(t *testing.T) {
	ctx := context.Background()
	b := testBackend(t, testSchema(t))
	l := mustAcquire(t, b, evstore.ConsumerKey{Name: "u"})
	defer l.Release(ctx)
	updated := func() time.Time {
		t.Helper()
		for c, err := range b.ListConsumers(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			return c.Updated
		}
		t.Fatal("no consumer listed")
		return time.Time{}
	}
	if got := updated(); !got.IsZero() {
		t.Errorf("before a checkpoint: Updated %v, want zero", got)
	}
	if err := l.Save(ctx, 0, false); err != nil {
		t.Fatal(err)
	}
	first := updated()
	if first.IsZero() || first.Location() != time.UTC {
		t.Errorf("after the first checkpoint: Updated %v, want a UTC time", first)
	}
	time.Sleep(2 * time.Millisecond)
	if err := l.Save(ctx, 0, true); err != nil {
		t.Fatal(err)
	}
	if got := updated(); !got.Equal(first) {
		t.Errorf("after a checkpoint at the same position: Updated %v, want %v", got, first)
	}
	if err := l.Save(ctx, 5, true); err != nil {
		t.Fatal(err)
	}
	if got := updated(); !got.After(first) {
		t.Errorf("after the position moved: Updated %v, want after %v", got, first)
	}
}

// BenchmarkAcquireHeld measures a standby's try on a held lease: one
// query through the pool, no connection opened.
func BenchmarkAcquireHeld(b *testing.B) {
	schema := testSchema(b)
	holder, err := open(context.Background(), testDSN(b), []Option{WithSchema(schema)})
	if err != nil {
		b.Fatal(err)
	}
	defer holder.Close()
	standby, err := open(context.Background(), testDSN(b), []Option{WithSchema(schema)})
	if err != nil {
		b.Fatal(err)
	}
	defer standby.Close()
	key := evstore.ConsumerKey{Name: "bench", Partition: 1, Members: 4}
	l, err := holder.AcquireLease(context.Background(), key, testTTL)
	if err != nil || l == nil {
		b.Fatalf("acquire: %v, %v", l, err)
	}
	defer l.Release(context.Background())
	for b.Loop() {
		if l, err := standby.AcquireLease(context.Background(), key, testTTL); err != nil || l != nil {
			b.Fatalf("standby: got %v, %v; want no lease", l, err)
		}
	}
}

// BenchmarkLeaseSave measures a checkpoint's save on the lease's
// connection.
func BenchmarkLeaseSave(b *testing.B) {
	bk, err := open(context.Background(), testDSN(b), []Option{WithSchema(testSchema(b))})
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close()
	l, err := bk.AcquireLease(context.Background(), evstore.ConsumerKey{Name: "bench"}, testTTL)
	if err != nil || l == nil {
		b.Fatalf("acquire: %v, %v", l, err)
	}
	defer l.Release(context.Background())
	var pos int64
	for b.Loop() {
		pos++
		if err := l.Save(context.Background(), pos, false); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStatementCtx: a lease's statement ignores its ctx's cancellation but
// ends at its deadline or after the timeout, whichever is first.
func TestStatementCtx(t *testing.T) {
	type key struct{}
	const timeout = time.Hour
	now := time.Now()
	soon, late := now.Add(time.Minute), now.Add(2*timeout)
	cancelled, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	cancel()
	withDeadline := func(d time.Time) context.Context {
		ctx, cancel := context.WithDeadline(cancelled, d)
		t.Cleanup(cancel)
		return ctx
	}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want time.Time // zero: now plus timeout
	}{
		{"no deadline", context.Background(), time.Time{}},
		{"cancelled", cancelled, time.Time{}},
		{"deadline before the timeout", withDeadline(soon), soon},
		{"deadline after the timeout", withDeadline(late), time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			ctx, cancel := statementCtx(tt.ctx, timeout)
			defer cancel()
			after := time.Now()
			got, ok := ctx.Deadline()
			if !ok {
				t.Fatal("no deadline")
			}
			if tt.want.IsZero() {
				if got.Before(before.Add(timeout)) || got.After(after.Add(timeout)) {
					t.Errorf("deadline: got %v, want between %v and %v", got, before.Add(timeout), after.Add(timeout))
				}
			} else if !got.Equal(tt.want) {
				t.Errorf("deadline: got %v, want %v", got, tt.want)
			}
			if err := ctx.Err(); err != nil {
				t.Errorf("Err: got %v, want nil", err)
			}
			if tt.ctx == cancelled {
				if got := ctx.Value(key{}); got != "v" {
					t.Errorf("value: got %v, want v", got)
				}
			}
		})
	}
}

// TestLeaseDeadline: Save and Renew complete whatever their ctx's
// cancellation says, but not beyond its deadline: one that passed, or one
// that comes while a partition keeps the server from answering, loses the
// lease (long before the lease time, 10s here).
func TestLeaseDeadline(t *testing.T) {
	ctx := context.Background()
	const ttl = 10 * time.Second
	schema := testSchema(t)
	p, dsn := newProxy(t)
	cut, err := open(ctx, dsn, []Option{WithSchema(schema)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cut.Close() })
	t.Cleanup(p.Close) // first: the partition may leave the lease's session on the server
	other := testBackend(t, schema)
	take := func(name string) evstore.Lease {
		t.Helper()
		l := acquire(t, cut, evstore.ConsumerKey{Name: name}, ttl)
		if l == nil {
			t.Fatalf("acquire %q: got no lease, want one", name)
		}
		t.Cleanup(func() { l.Release(ctx) })
		return l
	}

	l := take("cancelled")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Save(cancelled, 1, false); err != nil {
		t.Errorf("Save with a cancelled ctx: %v", err)
	}
	if err := l.Renew(cancelled); err != nil {
		t.Errorf("Renew with a cancelled ctx: %v", err)
	}

	for _, tt := range []struct {
		name string
		call func(evstore.Lease, context.Context) error
	}{
		{"Save", func(l evstore.Lease, ctx context.Context) error { return l.Save(ctx, 2, false) }},
		{"Renew", func(l evstore.Lease, ctx context.Context) error { return l.Renew(ctx) }},
	} {
		l := take("passed " + tt.name)
		passed, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Millisecond))
		err := tt.call(l, passed)
		cancel()
		if !errors.Is(err, evstore.ErrLeaseLost) {
			t.Errorf("%s after the deadline: got %v, want %v", tt.name, err, evstore.ErrLeaseLost)
		}
		// Lost: its lock is free at once (a successor would then wait for
		// the lease time: its handler may still run).
		if isHeld(t, other, evstore.ConsumerKey{Name: "passed " + tt.name}) {
			t.Errorf("%s after the deadline: the lock is still held", tt.name)
		}
	}

	leases := []evstore.Lease{take("cut Save"), take("cut Renew")}
	p.set(partition)
	for i, tt := range []struct {
		name string
		call func(evstore.Lease, context.Context) error
	}{
		{"Save", func(l evstore.Lease, ctx context.Context) error { return l.Save(ctx, 3, false) }},
		{"Renew", func(l evstore.Lease, ctx context.Context) error { return l.Renew(ctx) }},
	} {
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		start := time.Now()
		err := tt.call(leases[i], dctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, evstore.ErrLeaseLost) {
			t.Errorf("%s cut off: got %v, want %v", tt.name, err, evstore.ErrLeaseLost)
		}
		if took >= ttl/2 {
			t.Errorf("%s cut off, with a deadline 200ms away: returned after %v, want about then, not the lease time (%v)", tt.name, took.Round(time.Millisecond), ttl)
		}
	}
}

// TestConsumeSchemaDamaged: a consumers table that is not the one evstore
// made (a column gone) is ErrCorrupt, which ends Consume, rather than an
// outage waited for in silence.
func TestConsumeSchemaDamaged(t *testing.T) {
	schema := testSchema(t)
	s := openStore(t, testDSN(t), schema)
	if _, err := testConn(t).Exec(context.Background(), "ALTER TABLE "+pgx.Identifier{schema, "evstore_consumers"}.Sanitize()+" DROP COLUMN lease_until"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Consume(ctx, "c", evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error { return nil }))
	if !errors.Is(err, evstore.ErrCorrupt) {
		t.Fatalf("Consume on a damaged consumers table: got %v, want %v", err, evstore.ErrCorrupt)
	}
}
