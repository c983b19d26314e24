package readmodel_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore/readmodel"
)

// TestNewRace starts replicas at once on a fresh database, round after
// round, as a deployment starting its replicas together would: every New
// succeeds. On PostgreSQL, the CREATE TABLE IF NOT EXISTS of the replicas
// that lose the race fails, with one of several errors (the code before
// this test failed with SQLSTATE 42710 in a few of its 100 rounds; on
// SQLite, with SQLITE_BUSY in a few of its 10).
func TestNewRace(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		for round := range 10 {
			d := sqliteDatabase(t, sqliteParams)
			dbs := make([]*sql.DB, 8)
			for i := range dbs {
				dbs[i] = d.conn(t)
			}
			raceNew(t, round, dbs)
			for _, db := range dbs {
				db.Close()
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		d := postgresDatabase(t)
		admin := d.conn(t)
		// One connection per replica for every round, pointed at the
		// round's schema: no connection setup to spread the start.
		dbs := make([]*sql.DB, 16)
		for i := range dbs {
			dbs[i] = d.conn(t)
			dbs[i].SetMaxOpenConns(1)
		}
		for round := range 100 {
			schema := fmt.Sprintf("evstore_rmrace_%d_%d", os.Getpid(), schemas.Add(1))
			if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
			for _, db := range dbs {
				if _, err := db.Exec("SET search_path TO " + schema); err != nil {
					t.Fatal(err)
				}
			}
			raceNew(t, round, dbs)
		}
	})
}

// raceNew calls New on each of dbs at once, and checks that each succeeds.
func raceNew(t *testing.T, round int, dbs []*sql.DB) {
	t.Helper()
	apply, _ := recorder("p")
	start := make(chan struct{})
	errs := make(chan error, len(dbs))
	for i, db := range dbs {
		go func() {
			<-start
			_, err := readmodel.New(t.Context(), db, fmt.Sprintf("p%d", i%2), apply)
			errs <- err
		}()
	}
	close(start)
	for range dbs {
		if err := <-errs; err != nil {
			t.Errorf("round %d: New: got error %v, want nil", round, err)
		}
	}
}

// holdRow begins a transaction on a connection of its own that writes the
// projector's position row and then does nothing, as a Handle of a frozen
// process would: on PostgreSQL it locks the row, on SQLite it holds the
// file's write lock. The transaction ends with the test.
func holdRow(t *testing.T, d database, name string) {
	t.Helper()
	db := d.conn(t)
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(`UPDATE `+readmodel.PositionTable+` SET position = position WHERE name = $1`, name); err != nil {
		t.Fatal(err)
	}
}

// TestNewWhileRowIsHeld: a new process's New, while another instance's
// transaction holds the position row (a frozen process), reads the
// position and returns; it needs no lock.
func TestNewWhileRowIsHeld(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.conn(t)
		createModel(t, db)
		apply, _ := recorder("p")
		if err := newProjector(t, db, "p", apply).Handle(t.Context(), events(1, 3)); err != nil {
			t.Fatal(err)
		}
		holdRow(t, d, "p")

		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		p, err := readmodel.New(ctx, d.conn(t), "p", apply)
		if err != nil {
			t.Fatalf("New while the row is held: got error %v, want nil", err)
		}
		if got, err := p.Position(ctx); err != nil || got != 3 {
			t.Errorf("Position: got %d, %v, want 3, nil", got, err)
		}
	})
}

// TestNewHonoursCtx: New returns when its ctx ends, also while it waits
// for a lock to create the table.
func TestNewHonoursCtx(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		apply, _ := recorder("p")
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := readmodel.New(cancelled, d.conn(t), "p", apply); !errors.Is(err, context.Canceled) {
			t.Errorf("New with a cancelled ctx: got error %v, want %v", err, context.Canceled)
		}

		// Another connection holds what creating the table needs: the
		// write lock (SQLite), or the table's name, in a transaction that
		// creates it and does not end (PostgreSQL).
		tx, err := d.conn(t).BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`CREATE TABLE ` + readmodel.PositionTable + ` (name TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := readmodel.New(ctx, d.conn(t), "p", apply)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || ctx.Err() == nil {
				t.Errorf("New: got error %v before its ctx ended, want the ctx's end", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("New did not return 3 s after its ctx ended")
		}
	})
}
