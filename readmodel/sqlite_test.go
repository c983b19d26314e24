package readmodel_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// TestSQLiteConcurrentWriters runs two Projectors with different names on
// one SQLite file, each through its own *sql.DB (as two processes would),
// writing at the same time into one shared table that every apply reads
// first: with the documented DSN no call fails with SQLITE_BUSY. Without
// _txlock=immediate too, since Handle's first statement is a write.
func TestSQLiteConcurrentWriters(t *testing.T) {
	for _, tt := range []struct{ name, params string }{
		{"documented DSN", sqliteParams},
		{"deferred transactions", "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := sqliteDatabase(t, tt.params)
			setup := d.conn(t)
			if _, err := setup.Exec(`CREATE TABLE totals (name TEXT PRIMARY KEY, n BIGINT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			const batches, size = 100, 10
			names := []string{"left", "right"}
			var wg sync.WaitGroup
			errs := make(chan error, len(names))
			for _, name := range names {
				db := d.conn(t)
				p := newProjector(t, db, name, func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
					var n int64
					err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM totals`).Scan(&n)
					if err != nil {
						return err
					}
					_, err = tx.ExecContext(ctx, `INSERT INTO totals (name, n) VALUES ($1, 1)
						ON CONFLICT (name) DO UPDATE SET n = n + 1`, name)
					return err
				})
				wg.Go(func() {
					for b := range int64(batches) {
						if err := p.Handle(context.Background(), events(b*size+1, (b+1)*size)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("Handle: %v", err)
			}
			for _, name := range names {
				var n int64
				if err := setup.QueryRow(`SELECT n FROM totals WHERE name = $1`, name).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != batches*size {
					t.Errorf("%s applied %d events, want %d", name, n, batches*size)
				}
			}
		})
	}
}

// sqliteBusySnapshot is SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY | 2<<8.
const sqliteBusySnapshot = 517

// TestSQLiteReadFirstFails shows why Handle writes first: a deferred
// transaction that reads, and then writes after another connection
// committed, fails at once with SQLITE_BUSY_SNAPSHOT, which the busy
// timeout does not retry.
func TestSQLiteReadFirstFails(t *testing.T) {
	d := sqliteDatabase(t, "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	db1, db2 := d.conn(t), d.conn(t)
	if _, err := db1.Exec(`CREATE TABLE t (n BIGINT)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db1.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := db2.Exec(`INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(`INSERT INTO t VALUES (2)`)
	var code interface{ Code() int }
	if !errors.As(err, &code) || code.Code() != sqliteBusySnapshot {
		t.Fatalf("write after a read and another commit: got error %v, want SQLITE_BUSY_SNAPSHOT (%d)", err, sqliteBusySnapshot)
	}
	t.Logf("as expected: %v", err)
}

// TestSQLiteReadersSeeWholeBatches: readers of the model, on another pool,
// see whole batches only.
func TestSQLiteReadersSeeWholeBatches(t *testing.T) {
	d := sqliteDatabase(t, sqliteParams)
	db := d.conn(t)
	createModel(t, db)
	apply, _ := recorder("p")
	p := newProjector(t, db, "p", apply)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	reader := d.conn(t)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got := applied(t, reader, "")
			if len(got)%8 != 0 || !slices.Equal(got, seqs(1, int64(len(got)))) {
				t.Errorf("a reader saw %d events, not whole batches of 8 in order", len(got))
				return
			}
		}
	})
	for b := range int64(50) {
		if err := p.Handle(context.Background(), events(b*8+1, b*8+8)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
