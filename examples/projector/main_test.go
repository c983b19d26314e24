package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// Example runs the program twice on one directory; the test checks every
// line both runs print. The second run writes nothing new and applies
// nothing twice: its balances are the first run's.
func Example() {
	dir, err := os.MkdirTemp("", "evstore-projector-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for i := range 2 {
		fmt.Printf("=== Run %d ===\n", i+1)
		if err := run(context.Background(), os.Stdout, dir); err != nil {
			panic(err)
		}
	}
	// Output:
	// === Run 1 ===
	// The read model is new: it has applied no event yet.
	//
	// Writing 5 events...
	//   5 new events.
	// Started the consumer "balances"; waiting for the read model to catch up...
	// The read model has caught up: it has applied the events up to Sequence 5, the newest.
	// Balances:
	//   alice    70.00
	//   bob      37.50
	//   carol    20.00
	//
	// Writing 3 more events while the consumer runs...
	//   3 new events.
	// The running consumer applied them live: the read model is at Sequence 8, the newest.
	// Balances:
	//   alice    50.00
	//   bob      37.50
	//   carol    25.00
	//   dave      1.00
	//
	// Stopped the consumer: cancelling its ctx made Consume return nil.
	// Run the program again on the same directory (-dir): it will show the same balances.
	// === Run 2 ===
	// The read model was kept by an earlier run: it has applied the events up to Sequence 8.
	//
	// Writing 5 events...
	//   No new event: the store already had all 5 (by their IDs), so it skipped them.
	// Started the consumer "balances"; waiting for the read model to catch up...
	// The read model has caught up: it has applied the events up to Sequence 8, the newest.
	// Balances:
	//   alice    50.00
	//   bob      37.50
	//   carol    25.00
	//   dave      1.00
	//
	// Writing 3 more events while the consumer runs...
	//   No new event: the store already had all 3 (by their IDs), so it skipped them.
	// The read model is still at Sequence 8, the newest.
	// Balances:
	//   alice    50.00
	//   bob      37.50
	//   carol    25.00
	//   dave      1.00
	//
	// Stopped the consumer: cancelling its ctx made Consume return nil.
	// Nothing was applied twice: this run's writes added no event, and the consumer went on after
	// Sequence 8, where the read model's position said it had stopped. The balances are the earlier run's.
}

// TestDeletedAccountErased: when an account's stream is deleted, the
// projector erases the account's row as its tombstone arrives.
func TestDeletedAccountErased(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "balances.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE balances (account TEXT PRIMARY KEY, cents INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	p, err := readmodel.New(ctx, db, "balances", apply)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"account-zoe", "account-yan"} {
		st, err := store.Stream(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Deposited", Data: []byte(`{"cents":500}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	zoe, err := store.Stream(ctx, "account-zoe")
	if err != nil {
		t.Fatal(err)
	}
	var r evstore.WriteReport
	if _, err := zoe.Delete(ctx, evstore.Report(&r)); err != nil {
		t.Fatal(err)
	}
	c := startConsumer(ctx, store, p)
	defer c.stop()
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := store.WaitConsumer(wait, "balances", r.Last); err != nil {
		t.Fatal(err)
	}
	var accounts []string
	rows, err := db.QueryContext(ctx, `SELECT account FROM balances ORDER BY account`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, a)
	}
	if len(accounts) != 1 || accounts[0] != "yan" {
		t.Errorf("balances after zoe's stream was deleted: %q, want only yan", accounts)
	}
}
