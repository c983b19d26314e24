// Command projector keeps a read model, the balances of a small bank, with
// a readmodel.Projector that Store.Consume drives. It shows a consumer
// catching up with the events already written, then following new ones
// live, and a restart that applies nothing twice.
//
// The bank's events are Deposited and Withdrawn, on one stream per account
// ("account-alice", ...), with the amount in cents as JSON data. They live
// in DIR/events.db; the read model, a table balances(account, cents), lives
// in DIR/balances.db, next to it.
//
// Run it with:
//
//	go run ./examples/projector
//
// which uses a new temporary directory and prints its name, and then once
// more on that directory:
//
//	go run ./examples/projector -dir DIR
//
// The second run shows the same balances: its writes add no event (each
// event has an ID, an idempotency key, that the store already holds), and
// its consumer starts after the last event the read model applied.
//
// # At-least-once and exactly-once
//
// A consumer reads the events and hands them to its Handler in batches; it
// must remember how far it got (its position) to go on from there after a
// restart. If the position is saved apart from the Handler's work (the
// Store keeps a checkpoint for a plain Handler), a crash between the two
// delivers the last batch again: at-least-once. That is fine for work that
// can be done twice, but a balance that adds a deposit twice is wrong.
//
// A readmodel.Projector keeps its position in the read model's own
// database, and moves it in the same transaction as the batch's changes to
// the balances. A transaction commits entirely or not at all, so after a
// crash, or kill -9, the balances hold exactly the events up to the
// position, and the consumer goes on with the next one: each event changes
// the balances exactly once.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
	"github.com/go-event-sourcing/evstore/sqlite"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite", for the read model
)

func main() {
	dir := flag.String("dir", "", "keep the event store and the read model in `DIR` (created if missing), so that a rerun goes on with them; by default, a new temporary directory")
	flag.Parse()
	if err := start(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "projector:", err)
		os.Exit(1)
	}
}

// start runs the example in dir, or in a new temporary directory.
func start(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "evstore-projector-")
		if err != nil {
			return err
		}
		dir = d
		fmt.Printf("Using a new directory, %s (kept: run again with -dir %s to restart on it).\n\n", d, d)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return run(context.Background(), os.Stdout, dir)
}

// A transaction is one event of the bank: money paid into an account
// (Deposited) or taken out of it (Withdrawn).
type transaction struct {
	id      string // the event's ID, its idempotency key
	account string // the stream is "account-" + account
	kind    string // the event's type
	cents   int64
}

// amount is the JSON data of an event.
type amount struct {
	Cents int64 `json:"cents"`
}

// The events the program writes: first, before the consumer starts...
var opening = []transaction{
	{"tx-1", "alice", "Deposited", 100_00},
	{"tx-2", "bob", "Deposited", 50_00},
	{"tx-3", "alice", "Withdrawn", 30_00},
	{"tx-4", "carol", "Deposited", 20_00},
	{"tx-5", "bob", "Withdrawn", 12_50},
}

// ...then while it runs.
var later = []transaction{
	{"tx-6", "carol", "Deposited", 5_00},
	{"tx-7", "alice", "Withdrawn", 20_00},
	{"tx-8", "dave", "Deposited", 1_00},
}

// run opens the event store and the read model in dir, and shows the
// consumer at work, printing to w.
func run(ctx context.Context, w io.Writer, dir string) (err error) {
	store, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	// The read model's database, with the settings readmodel's doc
	// recommends for SQLite.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "balances.db")+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, cents INTEGER NOT NULL)`); err != nil {
		return err
	}
	// The Projector keeps its position in the same database, in table
	// readmodel.PositionTable; New creates it, or reads the position an
	// earlier run left there.
	p, err := readmodel.New(ctx, db, "balances", apply)
	if err != nil {
		return err
	}
	start, err := p.Position(ctx)
	if err != nil {
		return err
	}
	if start == 0 {
		fmt.Fprintln(w, "The read model is new: it has applied no event yet.")
	} else {
		fmt.Fprintf(w, "The read model was kept by an earlier run: it has applied the events up to Sequence %d.\n", start)
	}

	fmt.Fprintf(w, "\nWriting %d events...\n", len(opening))
	appended, err := write(ctx, w, store, opening)
	if err != nil {
		return err
	}

	// Store.Consume runs until its ctx ends; the consumer runs in the
	// background while this goroutine writes and reads the balances.
	c := startConsumer(ctx, store, p)
	defer c.stop()
	fmt.Fprintln(w, `Started the consumer "balances"; waiting for the read model to catch up...`)
	pos, err := c.waitForNewest(ctx, store, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "The read model has caught up: it has applied the events up to Sequence %d, the newest.\n", pos)
	if err := printBalances(ctx, w, db); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nWriting %d more events while the consumer runs...\n", len(later))
	more, err := write(ctx, w, store, later)
	if err != nil {
		return err
	}
	if pos, err = c.waitForNewest(ctx, store, p); err != nil {
		return err
	}
	if more > 0 {
		fmt.Fprintf(w, "The running consumer applied them live: the read model is at Sequence %d, the newest.\n", pos)
	} else {
		fmt.Fprintf(w, "The read model is still at Sequence %d, the newest.\n", pos)
	}
	if err := printBalances(ctx, w, db); err != nil {
		return err
	}

	if err := c.stop(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nStopped the consumer: cancelling its ctx made Consume return nil.")
	switch {
	case start == 0:
		fmt.Fprintln(w, "Run the program again on the same directory (-dir): it will show the same balances.")
	case appended+more == 0:
		fmt.Fprintf(w, "Nothing was applied twice: this run's writes added no event, and the consumer went on after\n"+
			"Sequence %d, where the read model's position said it had stopped. The balances are the earlier run's.\n", start)
	default:
		fmt.Fprintf(w, "Nothing was applied twice: the consumer went on after Sequence %d, where the read model's\n"+
			"position said it had stopped.\n", start)
	}
	return nil
}

// apply is the read model's ApplyFunc: it applies one event to the
// balances, through tx, the transaction that also moves the Projector's
// position. An error rolls the whole batch back, position included, and
// Consume retries it: no event is ever skipped.
func apply(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
	account, ok := strings.CutPrefix(e.StreamID, "account-")
	if !ok {
		return nil // not an account's event: nothing to do
	}
	if e.Type == evstore.Deleted {
		// The account's stream was deleted (the person asked to be
		// forgotten): what the read model copied of it goes too.
		_, err := tx.ExecContext(ctx, `DELETE FROM balances WHERE account = ?`, account)
		return err
	}
	var a amount
	switch e.Type {
	case "Deposited", "Withdrawn":
		if err := json.Unmarshal(e.Data, &a); err != nil {
			return err
		}
		if e.Type == "Withdrawn" {
			a.Cents = -a.Cents
		}
	default:
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO balances (account, cents) VALUES (?, ?)
		ON CONFLICT (account) DO UPDATE SET cents = cents + excluded.cents`, account, a.Cents)
	return err
}

// write writes the transactions to their accounts' streams, and returns
// how many events it appended. Each event has an ID, so writing it again (a
// retry, or a rerun of this program) adds nothing: the store skips an event
// whose ID the stream already holds.
func write(ctx context.Context, w io.Writer, store *evstore.Store, txs []transaction) (int, error) {
	appended := 0
	for _, t := range txs {
		stream, err := store.Stream(ctx, "account-"+t.account)
		if err != nil {
			return 0, err
		}
		data, err := json.Marshal(amount{Cents: t.cents})
		if err != nil {
			return 0, err
		}
		var r evstore.WriteReport
		if _, err := stream.Write(ctx, []evstore.CandidateEvent{{ID: t.id, Type: t.kind, Data: data}}, evstore.Report(&r)); err != nil {
			return 0, err
		}
		appended += r.Appended
	}
	switch appended {
	case len(txs):
		fmt.Fprintf(w, "  %d new events.\n", appended)
	case 0:
		fmt.Fprintf(w, "  No new event: the store already had all %d (by their IDs), so it skipped them.\n", len(txs))
	default:
		fmt.Fprintf(w, "  %d new events; %d skipped, as the store already had them (by their IDs).\n", appended, len(txs)-appended)
	}
	return appended, nil
}

// A consumer is Store.Consume running in the background.
type consumer struct {
	cancel  context.CancelFunc
	stopped chan struct{} // closed when Consume has returned
	err     error         // what Consume returned
}

func startConsumer(ctx context.Context, store *evstore.Store, p *readmodel.Projector) *consumer {
	ctx, cancel := context.WithCancel(ctx)
	c := &consumer{cancel: cancel, stopped: make(chan struct{})}
	go func() {
		defer close(c.stopped)
		// p is a Positioner: Consume starts it after its own Position and
		// keeps no checkpoint for it.
		c.err = store.Consume(ctx, "balances", p)
	}()
	return c
}

// stop cancels the consumer's ctx, waits for Consume to return, and
// returns its error: nil, for a consumer stopped this way.
func (c *consumer) stop() error {
	c.cancel()
	<-c.stopped
	return c.err
}

// waitForNewest waits until the read model has applied every event in the
// store (Store.WaitConsumer, up to the newest Sequence), and returns its
// position.
func (c *consumer) waitForNewest(ctx context.Context, store *evstore.Store, p *readmodel.Projector) (int64, error) {
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return 0, err
	}
	m, err := all.Metrics(ctx) // m.Version is All's version: the newest Sequence
	if err != nil {
		return 0, err
	}
	// The timeout only keeps the example from waiting forever should the
	// consumer be stuck (an event its ApplyFunc keeps failing on, say).
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := store.WaitConsumer(wait, "balances", m.Version); err != nil {
		select {
		case <-c.stopped:
			return 0, fmt.Errorf("the consumer stopped before Sequence %d: %v", m.Version, c.err)
		default:
			return 0, fmt.Errorf("the read model did not reach Sequence %d: %w", m.Version, err)
		}
	}
	return p.Position(ctx)
}

// printBalances prints the read model, which the application can query
// while the Projector writes (WAL lets readers run alongside the writer).
func printBalances(ctx context.Context, w io.Writer, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT account, cents FROM balances ORDER BY account`)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Fprintln(w, "Balances:")
	for rows.Next() {
		var account string
		var cents int64
		if err := rows.Scan(&account, &cents); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-6s %7s\n", account, dollars(cents))
	}
	return rows.Err()
}

// dollars formats cents as dollars and cents: 1250 is "12.50".
func dollars(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}
