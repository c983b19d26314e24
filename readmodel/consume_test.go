package readmodel_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/memory"
)

// TestConsume runs a Projector under Store.Consume, rebuilds it while it
// runs, and checks that the model ends with every event once.
func TestConsume(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store, err := memory.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		write := func(n int) {
			t.Helper()
			s, err := store.Stream(ctx, "account-1")
			if err != nil {
				t.Fatal(err)
			}
			batch := make([]evstore.CandidateEvent, n)
			for i := range batch {
				batch[i] = evstore.CandidateEvent{Type: "Deposited", Data: []byte(`{}`)}
			}
			if _, err := s.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		db := d.conn(t)
		createModel(t, db)
		apply, _ := recorder("p")
		p := newProjector(t, db, "p", apply)

		write(600)
		done := make(chan error, 1)
		go func() {
			done <- store.Consume(ctx, "p", p, evstore.BatchSize(50), evstore.ConsumeRetry(time.Millisecond, 10*time.Millisecond, 0))
		}()
		waitFor := func(what string, want []int64) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for !slices.Equal(applied(t, db, ""), want) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: applied %d events, want %d", what, len(applied(t, db, "")), len(want))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		waitFor("catch-up", seqs(1, 600))

		err = p.Rebuild(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM applied`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		write(100)
		waitFor("after Rebuild", seqs(1, 700))

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Consume: got error %v, want nil", err)
		}
		if got := position(t, p); got != 700 {
			t.Errorf("Position: got %d, want 700", got)
		}
	})
}
