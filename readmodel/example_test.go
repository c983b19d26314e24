package readmodel_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
	_ "modernc.org/sqlite"
)

// openBalances opens a read model of account balances in a SQLite file in
// dir, with the settings doc.go recommends, and returns its Projector.
func openBalances(ctx context.Context, dir string) (*sql.DB, *readmodel.Projector) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "balances.db")+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, balance BIGINT NOT NULL)`); err != nil {
		log.Fatal(err)
	}
	p, err := readmodel.New(ctx, db, "balances", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
		var d struct{ Amount int64 }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		if e.Type == "Withdrawn" {
			d.Amount = -d.Amount
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO balances (account, balance) VALUES ($1, $2)
			ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance`, e.StreamID, d.Amount)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	return db, p
}

func printBalances(db *sql.DB) {
	rows, err := db.Query(`SELECT account, balance FROM balances ORDER BY account`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var account string
		var balance int64
		if err := rows.Scan(&account, &balance); err != nil {
			log.Fatal(err)
		}
		fmt.Println(account, balance)
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
}

// The events of the examples, as Store.Consume would deliver them.
var bank = []evstore.StoredEvent{
	{StreamID: "alice", Sequence: 1, Version: 1, Type: "Deposited", Data: []byte(`{"amount":100}`)},
	{StreamID: "bob", Sequence: 2, Version: 1, Type: "Deposited", Data: []byte(`{"amount":50}`)},
	{StreamID: "alice", Sequence: 3, Version: 2, Type: "Withdrawn", Data: []byte(`{"amount":30}`)},
}

// A projector keeps account balances. A batch delivered again, as after a
// crash between the commit and the consumer's next step, changes nothing;
// nor does a restart (a new Projector on the same file). In a service,
// store.Consume(ctx, "balances", p) delivers the batches.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "readmodel-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, p := openBalances(ctx, dir)
	if err := p.Handle(ctx, bank[:2]); err != nil {
		log.Fatal(err)
	}
	if err := p.Handle(ctx, bank); err != nil { // events 1 and 2 again, and 3
		log.Fatal(err)
	}
	db.Close()

	db, p = openBalances(ctx, dir) // a restart
	defer db.Close()
	pos, err := p.Position(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("position", pos)
	if err := p.Handle(ctx, bank[2:]); err != nil { // event 3 again
		log.Fatal(err)
	}
	printBalances(db)
	// Output:
	// position 3
	// alice 70
	// bob 50
}

// Rebuild drops the model and sets the position to 0; the events are then
// applied again from the first.
func ExampleProjector_Rebuild() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "readmodel-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, p := openBalances(ctx, dir)
	defer db.Close()
	if err := p.Handle(ctx, bank); err != nil {
		log.Fatal(err)
	}

	err = p.Rebuild(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM balances`)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	pos, err := p.Position(ctx) // Store.Consume asks, too
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("position", pos)
	printBalances(db)

	if err := p.Handle(ctx, bank); err != nil {
		log.Fatal(err)
	}
	printBalances(db)
	// Output:
	// position 0
	// alice 70
	// bob 50
}
