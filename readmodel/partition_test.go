package readmodel_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
	"github.com/go-event-sourcing/evstore/readmodel"
)

// A partitionedStore is a memory store with events of many streams.
type partitionedStore struct {
	*evstore.Store
	streams map[int64]string // Sequence -> stream id
	last    int64
}

// newPartitionedStore returns a store with n events, spread over 20
// streams, closed when the test ends.
func newPartitionedStore(t *testing.T, n int) *partitionedStore {
	t.Helper()
	store, err := memory.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := &partitionedStore{Store: store, streams: map[int64]string{}}
	for i := range n {
		s.write(t, fmt.Sprintf("account-%d", i%20))
	}
	return s
}

// write appends one event to stream id and returns its Sequence.
func (s *partitionedStore) write(t *testing.T, id string) int64 {
	t.Helper()
	st, err := s.Stream(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(t.Context(), []evstore.CandidateEvent{{Type: "Deposited", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	s.last++
	s.streams[s.last] = id
	return s.last
}

// of returns the Sequences of partition m of n (all if n is 0).
func (s *partitionedStore) of(m, n int) []int64 {
	var seqs []int64
	for seq := int64(1); seq <= s.last; seq++ {
		if n == 0 || evstore.PartitionOf(s.streams[seq], n) == m {
			seqs = append(seqs, seq)
		}
	}
	return seqs
}

// consume starts Store.Consume of name with p and opts, stopped when the
// test ends; its result arrives on the channel.
func (s *partitionedStore) consume(t *testing.T, ctx context.Context, name string, p evstore.Positioner, opts ...evstore.ConsumeOption) <-chan error {
	ctx, cancel := context.WithCancel(ctx)
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		opts = append(opts, evstore.BatchSize(16), evstore.ConsumeRetry(time.Millisecond, 10*time.Millisecond, 0))
		done <- s.Consume(ctx, name, p, opts...)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return done
}

// waitApplied waits until the model holds exactly want, applied by tag.
func waitApplied(t *testing.T, db *sql.DB, tag string, want []int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(applied(t, db, tag), want) {
		if time.Now().After(deadline) {
			t.Fatalf("applied by %s: got %v, want %v", tag, applied(t, db, tag), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPartitionsSharingAName runs two partitions of a consumer with one
// projector name: one position cannot serve both (each would move it
// past the other's events), so one of them is refused, with an error
// wrapping ErrInvalidArgument that ends its Consume, and the other
// applies every event of its partition. No event is skipped silently.
// (The code before this test ran both, and lost about half the events.)
func TestPartitionsSharingAName(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		store := newPartitionedStore(t, 200)
		db := d.conn(t)
		createModel(t, db)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var done [2]<-chan error
		for m := range done {
			apply, _ := recorder(fmt.Sprint(m))
			done[m] = store.consume(t, ctx, "balances", newProjector(t, d.conn(t), "balances", apply), evstore.Partition(m, 2))
		}
		var refused int
		var err error
		select {
		case err = <-done[0]:
			refused = 0
		case err = <-done[1]:
			refused = 1
		case <-time.After(10 * time.Second):
			t.Fatalf("both partitions ran on one projector for 10 s; applied %d of %d events", len(applied(t, db, "")), store.last)
		}
		if !errors.Is(err, evstore.ErrInvalidArgument) {
			t.Fatalf("partition %d's Consume: got error %v, want %v", refused, err, evstore.ErrInvalidArgument)
		}
		t.Logf("partition %d refused: %v", refused, err)
		running := 1 - refused
		waitApplied(t, db, fmt.Sprint(running), store.of(running, 2))
		cancel()
		if err := <-done[running]; err != nil {
			t.Errorf("partition %d's Consume: got error %v, want nil", running, err)
		}
		if got := applied(t, db, fmt.Sprint(refused)); len(got) != 0 {
			t.Errorf("applied by the refused partition: got %v, want none", got)
		}
	})
}

// TestPartitionNames gives each partition its own projector name: every
// event is applied once, by its partition.
func TestPartitionNames(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		store := newPartitionedStore(t, 200)
		db := d.conn(t)
		createModel(t, db)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var done [2]<-chan error
		for m := range done {
			apply, _ := recorder(fmt.Sprint(m))
			p := newProjector(t, d.conn(t), fmt.Sprintf("balances/%d", m), apply)
			done[m] = store.consume(t, ctx, "balances", p, evstore.Partition(m, 2))
		}
		waitApplied(t, db, "", seqs(1, store.last))
		cancel()
		for m := range done {
			if err := <-done[m]; err != nil {
				t.Errorf("partition %d's Consume: got error %v, want nil", m, err)
			}
			if got, want := applied(t, db, fmt.Sprint(m)), store.of(m, 2); !slices.Equal(got, want) {
				t.Errorf("applied by partition %d: got %v, want %v", m, got, want)
			}
		}
	})
}

// TestPartitionClaim runs one projector name under Consume calls split in
// different ways, one after the other: the first split claims it; another
// is refused until Rebuild; calls outside Consume are not checked.
func TestPartitionClaim(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		store := newPartitionedStore(t, 20)
		db := d.conn(t)
		createModel(t, db)
		steps := []struct {
			name      string
			rebuild   bool // Rebuild first
			m, n      int  // Partition(m, n); n = 0: none
			refused   bool
			wantClaim string // the claim stored after the step; "" for none
		}{
			{name: "first run, without partitions", wantClaim: "all"},
			{name: "Partition(0, 1) sees every event too", m: 0, n: 1, wantClaim: "all"},
			{name: "a partition", m: 0, n: 2, refused: true, wantClaim: "all"},
			{name: "Rebuild drops the claim", rebuild: true},
			{name: "a partition after Rebuild", m: 1, n: 2, wantClaim: "1/2"},
			{name: "the same partition again", m: 1, n: 2, wantClaim: "1/2"},
			{name: "another partition", m: 0, n: 2, refused: true, wantClaim: "1/2"},
			{name: "another partition count", m: 1, n: 3, refused: true, wantClaim: "1/2"},
			{name: "without partitions", refused: true, wantClaim: "1/2"},
		}
		for i, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				tag := fmt.Sprint(i)
				apply, _ := recorder(tag)
				p := newProjector(t, d.conn(t), "balances", apply)
				if s.rebuild {
					err := p.Rebuild(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, `DELETE FROM applied`)
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				} else {
					runStep(t, store, db, p, tag, s.m, s.n, s.refused)
				}
				if got := claimOf(t, db, "balances"); got != s.wantClaim {
					t.Errorf("stored claim: got %q, want %q", got, s.wantClaim)
				}
			})
		}

		// Outside Consume, a Projector is not checked: it applies what it
		// is given.
		apply, _ := recorder("direct")
		p := newProjector(t, db, "balances", apply)
		pos := position(t, p)
		if err := p.Handle(t.Context(), events(pos+1, pos+2)); err != nil {
			t.Errorf("Handle outside Consume: %v", err)
		}
		if got := claimOf(t, db, "balances"); got != "1/2" {
			t.Errorf("stored claim after Handle outside Consume: got %q, want %q", got, "1/2")
		}
	})
}

// runStep runs Consume with Partition(m, n) (none if n is 0) on p: refused,
// it must return an error wrapping ErrInvalidArgument at once; else it
// must apply a new event of its partition.
func runStep(t *testing.T, store *partitionedStore, db *sql.DB, p *readmodel.Projector, tag string, m, n int, refused bool) {
	t.Helper()
	var opts []evstore.ConsumeOption
	if n > 0 {
		opts = append(opts, evstore.Partition(m, n))
	}
	seq := store.write(t, streamIn(m, n))
	done := store.consume(t, t.Context(), "balances", p, opts...)
	if refused {
		select {
		case err := <-done:
			if !errors.Is(err, evstore.ErrInvalidArgument) {
				t.Fatalf("Consume: got error %v, want %v", err, evstore.ErrInvalidArgument)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Consume not refused after 10 s")
		}
		if got := applied(t, db, tag); len(got) != 0 {
			t.Errorf("applied by a refused Consume: got %v, want none", got)
		}
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(applied(t, db, tag), seq) {
		select {
		case err := <-done:
			t.Fatalf("Consume: got error %v, want it to run", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %d not applied after 10 s", seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamIn returns a stream of partition m of n (any if n is 0).
func streamIn(m, n int) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("account-%d", i)
		if n == 0 || evstore.PartitionOf(id, n) == m {
			return id
		}
	}
}

// claimOf returns the partition claim stored for the projector name, ""
// for none.
func claimOf(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var c sql.NullString
	if err := db.QueryRow(`SELECT consumer_partition FROM `+readmodel.PositionTable+` WHERE name = $1`, name).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c.String
}

// TestPositionTableBeforePartitions opens a position table written before
// the partition claim existed: New adds the column, the rows keep their
// positions, and the first Consume claims the row.
func TestPositionTableBeforePartitions(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.conn(t)
		createModel(t, db)
		old := map[string]string{
			"sqlite": `CREATE TABLE ` + readmodel.PositionTable + ` (name TEXT NOT NULL PRIMARY KEY, position BIGINT NOT NULL, updated TEXT NOT NULL);
				INSERT INTO ` + readmodel.PositionTable + ` VALUES ('balances', 7, '2026-01-02T03:04:05.678')`,
			"pgx": `CREATE TABLE ` + readmodel.PositionTable + ` (name TEXT NOT NULL PRIMARY KEY, position BIGINT NOT NULL, updated TIMESTAMPTZ NOT NULL DEFAULT now());
				INSERT INTO ` + readmodel.PositionTable + ` (name, position) VALUES ('balances', 7)`,
		}
		if _, err := db.Exec(old[d.driver]); err != nil {
			t.Fatal(err)
		}
		apply, _ := recorder("p")
		p := newProjector(t, d.conn(t), "balances", apply)
		if got := position(t, p); got != 7 {
			t.Fatalf("Position: got %d, want 7", got)
		}
		if got := claimOf(t, db, "balances"); got != "" {
			t.Errorf("claim of an old row: got %q, want none", got)
		}
		if got := position(t, newProjector(t, d.conn(t), "balances", apply)); got != 7 {
			t.Errorf("a second New's Position: got %d, want 7", got)
		}

		store := newPartitionedStore(t, 10)
		runStep(t, store, db, p, "p", 1, 2, false)
		if got := claimOf(t, db, "balances"); got != "1/2" {
			t.Errorf("claim after Consume: got %q, want %q", got, "1/2")
		}
		var want []int64
		for _, s := range store.of(1, 2) {
			if s > 7 {
				want = append(want, s)
			}
		}
		if got := applied(t, db, "p"); !slices.Equal(got, want) {
			t.Errorf("applied: got %v, want %v (the events of partition 1 of 2 after 7)", got, want)
		}
	})
}
