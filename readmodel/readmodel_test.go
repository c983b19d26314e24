package readmodel_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
)

// fakeDriver is a database/sql driver that readmodel does not support.
type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("fake driver: no connections")
}

func init() { sql.Register("readmodel-fake", fakeDriver{}) }

func TestNewBadArguments(t *testing.T) {
	db := sqliteDatabase(t, sqliteParams).conn(t)
	fake, err := sql.Open("readmodel-fake", "")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	apply, _ := recorder("x")
	tests := []struct {
		name  string
		db    *sql.DB
		pname string
		apply readmodel.ApplyFunc
		want  error
	}{
		{"nil db", nil, "p", apply, evstore.ErrInvalidArgument},
		{"nil apply", db, "p", nil, evstore.ErrInvalidArgument},
		{"empty name", db, "", apply, evstore.ErrInvalidArgument},
		{"name over 255 bytes", db, strings.Repeat("n", 256), apply, evstore.ErrInvalidArgument},
		{"name not UTF-8", db, "p\xff", apply, evstore.ErrInvalidArgument},
		{"name with NUL", db, "p\x00q", apply, evstore.ErrInvalidArgument},
		{"unsupported driver", fake, "p", apply, evstore.ErrUnsupported},
		{"name of 255 bytes", db, strings.Repeat("n", 255), apply, nil},
		{"name of many-byte runes", db, "проекция-ü", apply, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := readmodel.New(context.Background(), tt.db, tt.pname, tt.apply)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("New: got error %v, want %v", err, tt.want)
			}
			if err == nil && p.Name() != tt.pname {
				t.Errorf("Name: got %q, want %q", p.Name(), tt.pname)
			}
		})
	}
	// Nothing was created for a refused name.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + readmodel.PositionTable).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("position rows: got %d, want 2 (the two good names)", n)
	}
}

func TestHandleBadBatch(t *testing.T) {
	db := sqliteDatabase(t, sqliteParams).conn(t)
	createModel(t, db)
	apply, calls := recorder("p")
	p := newProjector(t, db, "p", apply)
	tests := []struct {
		name   string
		events []evstore.StoredEvent
	}{
		{"out of order", []evstore.StoredEvent{event(2), event(1)}},
		{"a repeat", []evstore.StoredEvent{event(1), event(2), event(2)}},
		{"Sequence 0", []evstore.StoredEvent{event(0), event(1)}},
		{"negative Sequence", []evstore.StoredEvent{event(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.Handle(context.Background(), tt.events); !errors.Is(err, evstore.ErrInvalidArgument) {
				t.Errorf("Handle: got error %v, want %v", err, evstore.ErrInvalidArgument)
			}
		})
	}
	if err := p.Handle(context.Background(), nil); err != nil {
		t.Errorf("Handle(nil): got error %v, want nil", err)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("apply calls: got %d, want 0", got)
	}
	if got := position(t, p); got != 0 {
		t.Errorf("Position: got %d, want 0", got)
	}
	if err := p.Rebuild(context.Background(), nil); !errors.Is(err, evstore.ErrInvalidArgument) {
		t.Errorf("Rebuild(nil): got error %v, want %v", err, evstore.ErrInvalidArgument)
	}
}

// TestExactlyOnce delivers overlapping and repeated batches, as a consumer
// that crashed between a commit and its acknowledgement would, and across a
// restart (a new Projector): every event is applied once, in order.
func TestExactlyOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		db := d.conn(t)
		createModel(t, db)
		apply, _ := recorder("p")
		p := newProjector(t, db, "p", apply)
		steps := []struct {
			name   string
			events []evstore.StoredEvent
			want   int64 // position after the batch
		}{
			{"first batch", events(1, 5), 5},
			{"overlapping", events(3, 8), 8},
			{"all seen", events(1, 8), 8},
			{"last one again", events(8, 8), 8},
			{"with a gap (a filter dropped 9)", events(10, 12), 12},
		}
		for _, s := range steps {
			if err := p.Handle(ctx, s.events); err != nil {
				t.Fatalf("%s: Handle: %v", s.name, err)
			}
			if got := position(t, p); got != s.want {
				t.Fatalf("%s: Position: got %d, want %d", s.name, got, s.want)
			}
		}

		// A restart: a new Projector (on a new pool) reads the position
		// and skips the redelivered part of its first batch.
		db2 := d.conn(t)
		p2 := newProjector(t, db2, "p", apply)
		if got := position(t, p2); got != 12 {
			t.Fatalf("Position after restart: got %d, want 12", got)
		}
		if err := p2.Handle(ctx, events(11, 14)); err != nil {
			t.Fatal(err)
		}
		want := append(seqs(1, 8), seqs(10, 14)...)
		if got := applied(t, db, "p"); !slices.Equal(got, want) {
			t.Errorf("applied: got %v, want %v", got, want)
		}
	})
}

// TestStaleInstance runs two instances of one projector: the one whose
// position went stale gets a conflict and applies nothing, until Position.
func TestStaleInstance(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		dbA, dbB := d.conn(t), d.conn(t)
		createModel(t, dbA)
		applyA, _ := recorder("A")
		applyB, callsB := recorder("B")
		a := newProjector(t, dbA, "balances", applyA)
		b := newProjector(t, dbB, "balances", applyB)

		if err := a.Handle(ctx, events(1, 3)); err != nil {
			t.Fatal(err)
		}
		err := b.Handle(ctx, events(1, 3))
		var ce *evstore.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, evstore.ErrConflict) {
			t.Fatalf("stale Handle: got error %v, want a *evstore.ConflictError", err)
		}
		if want := (evstore.ConflictError{StreamID: "balances", Expected: 0, Actual: 3}); *ce != want {
			t.Errorf("conflict: got %+v, want %+v", *ce, want)
		}
		if got := callsB.Load(); got != 0 {
			t.Errorf("stale instance's apply calls: got %d, want 0", got)
		}
		// It stays stale (a retry of the batch conflicts again) until it
		// reads the position, then continues after it.
		if err := b.Handle(ctx, events(4, 4)); !errors.Is(err, evstore.ErrConflict) {
			t.Fatalf("stale Handle again: got error %v, want %v", err, evstore.ErrConflict)
		}
		if got := position(t, b); got != 3 {
			t.Fatalf("B's Position: got %d, want 3", got)
		}
		if err := b.Handle(ctx, events(4, 5)); err != nil {
			t.Fatal(err)
		}
		// Now A is the stale one.
		if err := a.Handle(ctx, events(4, 6)); !errors.As(err, &ce) || ce.Expected != 3 || ce.Actual != 5 {
			t.Fatalf("A's stale Handle: got error %v, want a conflict expecting 3, actual 5", err)
		}
		if got, want := applied(t, dbA, ""), seqs(1, 5); !slices.Equal(got, want) {
			t.Errorf("applied: got %v, want %v", got, want)
		}
		if got, want := applied(t, dbA, "B"), seqs(4, 5); !slices.Equal(got, want) {
			t.Errorf("applied by B: got %v, want %v", got, want)
		}
	})
}

var errBoom = errors.New("boom")

// TestApplyErrorRollsBack fails the third event of a batch: nothing of the
// batch stays, the position does not move, and the retry applies it all.
func TestApplyErrorRollsBack(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		db := d.conn(t)
		createModel(t, db)
		record, _ := recorder("p")
		fail := int64(3)
		apply := func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
			if err := record(ctx, tx, e); err != nil {
				return err
			}
			if e.Sequence == fail {
				return errBoom
			}
			return nil
		}
		p := newProjector(t, db, "p", apply)
		if err := p.Handle(ctx, events(1, 2)); err != nil {
			t.Fatal(err)
		}
		fail = 5
		err := p.Handle(ctx, events(3, 6))
		if !errors.Is(err, errBoom) {
			t.Fatalf("Handle: got error %v, want %v", err, errBoom)
		}
		if !strings.Contains(err.Error(), "event 5") {
			t.Errorf("error %q does not name event 5", err)
		}
		if got, want := applied(t, db, ""), seqs(1, 2); !slices.Equal(got, want) {
			t.Errorf("applied after the failure: got %v, want %v", got, want)
		}
		if got := position(t, p); got != 2 {
			t.Errorf("Position after the failure: got %d, want 2", got)
		}
		// The position this Projector knows did not move either: the retry
		// succeeds without a conflict.
		fail = 0
		if err := p.Handle(ctx, events(3, 6)); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if got, want := applied(t, db, ""), seqs(1, 6); !slices.Equal(got, want) {
			t.Errorf("applied after the retry: got %v, want %v", got, want)
		}
	})
}

// TestApplyPanicRollsBack: a panic in the ApplyFunc leaves no transaction
// (and, on SQLite, no write lock) behind.
func TestApplyPanicRollsBack(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		db := d.conn(t)
		db.SetMaxOpenConns(1) // a leaked transaction would hold the only connection
		createModel(t, db)
		record, _ := recorder("p")
		panicky := true
		p := newProjector(t, db, "p", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
			if err := record(ctx, tx, e); err != nil {
				return err
			}
			if panicky && e.Sequence == 2 {
				panic("apply bug")
			}
			return nil
		})
		func() {
			defer func() {
				if r := recover(); r != "apply bug" {
					t.Errorf("recovered %v, want the ApplyFunc's panic", r)
				}
			}()
			p.Handle(ctx, events(1, 3))
		}()
		if got := applied(t, db, ""); len(got) != 0 {
			t.Errorf("applied after the panic: got %v, want none", got)
		}
		panicky = false
		if err := p.Handle(ctx, events(1, 3)); err != nil {
			t.Fatal(err)
		}
		if got, want := applied(t, db, ""), seqs(1, 3); !slices.Equal(got, want) {
			t.Errorf("applied: got %v, want %v", got, want)
		}
	})
}

// TestRebuild drops the model and starts again from 0, also under a second
// instance that keeps running.
func TestRebuild(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		db, dbOther := d.conn(t), d.conn(t)
		createModel(t, db)
		apply, _ := recorder("p")
		p := newProjector(t, db, "p", apply)
		other := newProjector(t, dbOther, "p", apply)
		if err := p.Handle(ctx, events(1, 5)); err != nil {
			t.Fatal(err)
		}
		if got := position(t, other); got != 5 {
			t.Fatalf("other's Position: got %d, want 5", got)
		}
		drop := func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM applied`)
			return err
		}

		// A failing drop changes nothing.
		err := p.Rebuild(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if err := drop(ctx, tx); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Rebuild: got error %v, want %v", err, errBoom)
		}
		if got, want := applied(t, db, ""), seqs(1, 5); !slices.Equal(got, want) {
			t.Errorf("applied after a failed Rebuild: got %v, want %v", got, want)
		}
		if got := position(t, p); got != 5 {
			t.Errorf("Position after a failed Rebuild: got %d, want 5", got)
		}

		if err := p.Rebuild(ctx, drop); err != nil {
			t.Fatal(err)
		}
		if got := applied(t, db, ""); len(got) != 0 {
			t.Errorf("applied after Rebuild: got %v, want none", got)
		}
		// Both instances learn of it through a conflict, then Position.
		for _, q := range []*readmodel.Projector{p, other} {
			if err := q.Handle(ctx, events(6, 7)); !errors.Is(err, evstore.ErrConflict) {
				t.Errorf("Handle after Rebuild: got error %v, want %v", err, evstore.ErrConflict)
			}
		}
		if got := position(t, other); got != 0 {
			t.Fatalf("Position after Rebuild: got %d, want 0", got)
		}
		if err := other.Handle(ctx, events(1, 7)); err != nil {
			t.Fatal(err)
		}
		if got, want := applied(t, db, ""), seqs(1, 7); !slices.Equal(got, want) {
			t.Errorf("applied after the replay: got %v, want %v", got, want)
		}
	})
}

// TestPositionRow covers the row's life: New keeps an existing position,
// and a deleted row counts as position 0.
func TestPositionRow(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		db := d.conn(t)
		createModel(t, db)
		apply, _ := recorder("p")
		p := newProjector(t, db, "p", apply)
		if err := p.Handle(ctx, events(1, 4)); err != nil {
			t.Fatal(err)
		}
		if got := position(t, newProjector(t, db, "p", apply)); got != 4 {
			t.Errorf("a new Projector's Position: got %d, want 4", got)
		}
		if got := position(t, newProjector(t, db, "q", apply)); got != 0 {
			t.Errorf("another name's Position: got %d, want 0", got)
		}

		if _, err := db.Exec(`DELETE FROM `+readmodel.PositionTable+` WHERE name = $1`, "p"); err != nil {
			t.Fatal(err)
		}
		err := p.Handle(ctx, events(5, 5))
		var ce *evstore.ConflictError
		if !errors.As(err, &ce) || ce.Expected != 4 || ce.Actual != 0 {
			t.Fatalf("Handle without a row: got error %v, want a conflict expecting 4, actual 0", err)
		}
		if got := position(t, p); got != 0 {
			t.Fatalf("Position without a row: got %d, want 0", got)
		}
		if err := p.Handle(ctx, events(1, 2)); err != nil {
			t.Fatalf("Handle from 0 without a row: %v", err)
		}
		if got := position(t, p); got != 2 {
			t.Errorf("Position: got %d, want 2", got)
		}
	})
}

// TestConcurrentHandles calls one Projector from several goroutines: the
// calls take turns, and each event is applied once.
func TestConcurrentHandles(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		db := d.conn(t)
		createModel(t, db)
		apply, _ := recorder("p")
		p := newProjector(t, db, "p", apply)
		done := make(chan error)
		for range 4 {
			go func() {
				var err error
				for s := int64(1); s <= 50 && err == nil; s += 5 {
					err = p.Handle(ctx, events(s, s+4))
				}
				done <- err
			}()
		}
		for range 4 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
		if got, want := applied(t, db, ""), seqs(1, 50); !slices.Equal(got, want) {
			t.Errorf("applied: got %v, want %v", got, want)
		}
	})
}

// TestRacingInstances runs two instances of one projector at once, each
// through its own pool, each driving Handle as Store.Consume does (on a
// conflict, Position, then the events after it): every event is applied
// exactly once, in order.
func TestRacingInstances(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		const last = 300
		setup := d.conn(t)
		createModel(t, setup)
		var wg sync.WaitGroup
		var conflicts atomic.Int64
		start := make(chan struct{})
		for _, tag := range []string{"A", "B"} {
			apply, _ := recorder(tag)
			p := newProjector(t, d.conn(t), "racing", apply)
			wg.Go(func() {
				<-start
				ctx := context.Background()
				pos := int64(0)
				for pos < last {
					err := p.Handle(ctx, events(pos+1, min(pos+7, last)))
					switch {
					case errors.Is(err, evstore.ErrConflict):
						conflicts.Add(1)
						if pos, err = p.Position(ctx); err != nil {
							t.Error(err)
							return
						}
					case err != nil:
						t.Error(err)
						return
					default:
						pos = min(pos+7, last)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if got, want := applied(t, setup, ""), seqs(1, last); !slices.Equal(got, want) {
			t.Errorf("applied: got %v, want %v", got, want)
		}
		t.Logf("%d conflicts", conflicts.Load())
	})
}
