package readmodel_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPostgresTimeouts: on PostgreSQL, a Projector's transactions run
// with lock_timeout LockTimeout and idle_in_transaction_session_timeout
// IdleTimeout, unless the session has timeouts of its own, and leave the
// session's settings as they were.
func TestPostgresTimeouts(t *testing.T) {
	type settings struct{ lock, idle string }
	defaults := settings{readmodel.LockTimeout.String(), readmodel.IdleTimeout.String()} // "10s", "5s": PostgreSQL's form too
	tests := []struct {
		name    string
		session string // the session's settings, before the call
		call    string // "Handle" or "Rebuild"
		want    settings
		after   settings
	}{
		{"Handle", "", "Handle", defaults, settings{"0", "0"}},
		{"Rebuild", "", "Rebuild", defaults, settings{"0", "0"}},
		{"Handle in a session with a lock_timeout", "SET lock_timeout = '3s'", "Handle", settings{"3s", defaults.idle}, settings{"3s", "0"}},
		{"Handle in a session with both", "SET lock_timeout = '3s'; SET idle_in_transaction_session_timeout = '1min'", "Handle", settings{"3s", "1min"}, settings{"3s", "1min"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := postgresDatabase(t)
			db := d.conn(t)
			db.SetMaxOpenConns(1) // one session: the one set and checked
			createModel(t, db)
			if tt.session != "" {
				if _, err := db.Exec(tt.session); err != nil {
					t.Fatal(err)
				}
			}
			var got settings
			show := func(ctx context.Context, tx *sql.Tx) error {
				return tx.QueryRowContext(ctx, `SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')`).Scan(&got.lock, &got.idle)
			}
			p := newProjector(t, db, "p", func(ctx context.Context, tx *sql.Tx, _ evstore.StoredEvent) error { return show(ctx, tx) })
			var err error
			if tt.call == "Handle" {
				err = p.Handle(t.Context(), events(1, 1))
			} else {
				err = p.Rebuild(t.Context(), show)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("settings in the transaction: got %+v, want %+v", got, tt.want)
			}
			var after settings
			if err := db.QueryRow(`SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')`).Scan(&after.lock, &after.idle); err != nil {
				t.Fatal(err)
			}
			if after != tt.after {
				t.Errorf("settings of the session after it: got %+v, want %+v", after, tt.after)
			}
		})
	}
}

// TestPostgresFrozenHolder: an instance frozen inside a batch's
// transaction (SIGSTOP, a debugger, a VM paused) keeps the position row
// locked. Its successor's Handle does not wait for it without bound: the
// server ends a Projector's session idle in a transaction after
// IdleTimeout, and the successor's Handle then goes on; a holder that did
// not set that timeout (a session of another program) makes the Handle
// fail after LockTimeout, and a retry succeeds once the holder is gone.
// The timeouts are shortened here; TestPostgresTimeouts checks the real
// ones.
func TestPostgresFrozenHolder(t *testing.T) {
	tests := []struct {
		name string
		// hold locks the row as a frozen instance would, and returns a
		// function that ends that instance.
		hold    func(t *testing.T, d database) (thaw func())
		lock    time.Duration // the successor's lock timeout
		wantErr bool          // the successor's first Handle fails (lock_timeout)
	}{
		{"a frozen Projector", holdByFrozenProjector, readmodel.LockTimeout, false},
		{"a session without the timeouts", holdBySession, 300 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := postgresDatabase(t)
			db := d.conn(t)
			createModel(t, db)
			apply, _ := recorder("successor")
			if err := newProjector(t, db, "p", apply).Handle(t.Context(), events(1, 3)); err != nil {
				t.Fatal(err)
			}
			thaw := tt.hold(t, d)
			defer thaw()

			// The successor, a new process, takes over (Store.Consume:
			// after the lease passes) and starts from the position, which
			// New and Position read without waiting.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			succ, err := readmodel.New(ctx, d.conn(t), "p", apply)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			readmodel.SetTimeouts(succ, tt.lock, readmodel.IdleTimeout)
			if got, err := succ.Position(ctx); err != nil || got != 3 {
				t.Fatalf("Position: got %d, %v, want 3, nil", got, err)
			}
			err = succ.Handle(ctx, events(4, 6))
			if ctx.Err() != nil {
				t.Fatalf("Handle: still waiting for the row after 5 s (error %v)", err)
			}
			var pe *pgconn.PgError
			switch {
			case tt.wantErr && !(errors.As(err, &pe) && pe.Code == "55P03"):
				t.Fatalf("Handle: got error %v, want lock_timeout's (SQLSTATE 55P03)", err)
			case tt.wantErr:
				thaw()
				if err := succ.Handle(ctx, events(4, 6)); err != nil {
					t.Fatalf("Handle once the holder is gone: %v", err)
				}
			case err != nil:
				t.Fatalf("Handle: got error %v, want nil", err)
			}
			thaw()
			if got, want := applied(t, db, ""), seqs(1, 6); !slices.Equal(got, want) {
				t.Errorf("applied: got %v, want %v", got, want)
			}
		})
	}
}

// holdByFrozenProjector starts a Handle whose ApplyFunc blocks, as if its
// process were stopped, inside its transaction (the server sees the
// session idle in it), with an idle timeout of 300 ms.
func holdByFrozenProjector(t *testing.T, d database) func() {
	frozen, thawed := make(chan struct{}), make(chan struct{})
	p := newProjector(t, d.conn(t), "p", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO applied (projector, seq) VALUES ('frozen', $1)`, e.Sequence); err != nil {
			return err
		}
		close(frozen)
		<-thawed
		return nil
	})
	readmodel.SetTimeouts(p, readmodel.LockTimeout, 300*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- p.Handle(context.Background(), events(4, 4)) }()
	select {
	case <-frozen:
	case err := <-done:
		t.Fatalf("the holder's Handle: %v", err)
	}
	var once bool
	return func() {
		if once {
			return
		}
		once = true
		close(thawed)
		// Its session was ended: its commit fails, and it applied nothing.
		if err := <-done; err == nil {
			t.Errorf("the frozen holder's Handle: got nil error, want its session's end")
		}
	}
}

// holdBySession locks the row in a transaction of a plain session, which
// sets no timeouts, until thawed.
func holdBySession(t *testing.T, d database) func() {
	tx, err := d.conn(t).BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE ` + readmodel.PositionTable + ` SET position = position WHERE name = 'p'`); err != nil {
		t.Fatal(err)
	}
	return func() { tx.Rollback() }
}
