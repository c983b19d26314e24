// Command bank is the write side of a small bank built on package
// aggregate, with a read model kept beside it by a consumer.
//
// account.go holds the business logic: typed events (Opened, Deposited,
// Withdrawn), commands, the Account state, and a decider whose Decide
// refuses a withdrawal beyond the balance. This file runs it: requests
// come in with request ids, an aggregate.Handler turns each into events on
// the account's stream ("account-alice", ...), and a readmodel.Projector,
// run by Store.Consume, keeps a table of balances.
//
// The events live in DIR/events.db; the read model, a table balances
// (account, owner, cents), in DIR/balances.db. Run it with:
//
//	go run ./examples/bank
//
// which uses a new temporary directory and prints its name, and then once
// more on that directory:
//
//	go run ./examples/bank -dir DIR
//
// The second run sends every request again, as a client that never got
// the replies would: each accepted command comes back as a duplicate,
// decided and written once, and the read model applies nothing twice.
//
// # Command ids
//
// Each request's id is its command id (aggregate.CommandID): the events a
// command appends get idempotency keys derived from it (the first event's
// key is the id itself), and Handle looks that key up before deciding.
// A request whose events are in the stream is not decided again: Handle
// returns Duplicate, even when Decide would now refuse it. Without that, a
// withdrawal retried after a lost reply is decided against the balance it
// left behind, and the client is told "insufficient funds" for money it
// did withdraw.
//
// # Why the read model is separate
//
// The Account state is what Decide needs for one account, rebuilt from
// that account's stream (and a snapshot) for each command. Questions
// across accounts, such as a list of balances, are answered by a read
// model instead: tables shaped for the question, kept from the events of
// every stream by a consumer, and rebuilt from them whenever their shape
// changes. The read model follows the commands a moment later (it is
// eventually consistent), so the program waits for it to catch up before
// showing it. Its position commits in the same transaction as its rows,
// so each event changes the balances exactly once, even across a crash.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
	"github.com/go-event-sourcing/evstore/readmodel"
	"github.com/go-event-sourcing/evstore/sqlite"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite", for the read model
)

func main() {
	dir := flag.String("dir", "", "keep the event store and the read model in `DIR` (created if missing), so that a rerun goes on with them; by default, a new temporary directory")
	flag.Parse()
	if err := start(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
}

// start runs the example in dir, or in a new temporary directory.
func start(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "evstore-bank-")
		if err != nil {
			return err
		}
		dir = d
		fmt.Printf("Using a new directory, %s (kept: run again with -dir %s to retry every request).\n\n", d, d)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return run(context.Background(), os.Stdout, dir)
}

// A request is a command sent to an account, under the id the client gave
// the request. A client that retries sends the same id again.
type request struct {
	id      string
	account string
	cmd     Command
	note    string // what happens to the request, for the output
}

var requests = []request{
	{"req-1", "alice", Deposit{Cents: 25_00}, ""},
	{"req-2", "bob", Open{Owner: "Bob"}, ""},
	{"req-3", "bob", Deposit{Cents: 40_00}, ""},
	{"req-4", "alice", Withdraw{Cents: 100_00}, "the reply is lost"},
	{"req-4", "alice", Withdraw{Cents: 100_00}, "the client retries"},
	{"req-5", "alice", Withdraw{Cents: 50_00}, ""},
	{"req-6", "carol", Deposit{Cents: 10_00}, ""},
}

// run opens the event store and the read model in dir, handles the
// requests, and shows what they left, printing to w.
func run(ctx context.Context, w io.Writer, dir string) (err error) {
	store, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	events, err := newCodec()
	if err != nil {
		return err
	}
	// The Handler runs the decider on the store. SnapshotEvery(3) saves an
	// account's state every 3 versions, so that loading it reads only the
	// events after the snapshot; 3 shows one in this short run, a real
	// service would pick 100 or so. The projection names this shape of
	// Account: a changed Account gets "account.v2", and old snapshots are
	// not read.
	accounts := aggregate.New(store, account, events,
		aggregate.SnapshotEvery(3), aggregate.SnapshotProjection("account.v1"))

	db, p, err := openReadModel(ctx, dir, events)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	startPos, err := p.Position(ctx)
	if err != nil {
		return err
	}
	if startPos == 0 {
		fmt.Fprintln(w, "The read model is new: it has applied no event yet.")
	} else {
		fmt.Fprintf(w, "The read model was kept by an earlier run: it has applied the events up to Sequence %d.\n", startPos)
	}
	// The consumer runs beside the write side, as it would in a service.
	c := startConsumer(ctx, store, p)
	defer c.stop()

	appended, err := writeVersion1(ctx, w, store)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\nToday's version handles requests (the command id and the correlation id are the request id):")
	for _, req := range requests {
		n, err := handle(ctx, w, accounts, req)
		if err != nil {
			return err
		}
		appended += n
	}

	if err := showStream(ctx, w, store, events, "account-alice"); err != nil {
		return err
	}
	if err := showSnapshot(ctx, w, store, accounts, "account-alice"); err != nil {
		return err
	}

	fmt.Fprintln(w, `
Waiting for the consumer "balances" (a readmodel.Projector) to catch up...`)
	pos, err := c.waitForNewest(ctx, store, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "The read model has applied the events up to Sequence %d, the newest.\n", pos)
	if err := printBalances(ctx, w, db); err != nil {
		return err
	}
	if err := c.stop(); err != nil {
		return err
	}

	switch {
	case startPos == 0:
		fmt.Fprintln(w, "\nRun the program again on the same directory (-dir): every request is then a retry.")
	case appended == 0:
		fmt.Fprintf(w, "\nNothing was decided or applied twice: this run's requests appended no event, and the\n"+
			"read model went on after Sequence %d, where its position said it had stopped.\n", startPos)
	default:
		fmt.Fprintf(w, "\nThis run appended %d events; the read model went on after Sequence %d.\n", appended, startPos)
	}
	return nil
}

// writeVersion1 writes what the bank's first version left in the store:
// alice's account, opened, and a deposit of 100 dollars in the old shape,
// MoneyDeposited in whole dollars. Events are never rewritten; the codec's
// Upcast reads this one as a Deposited. The IDs make a rerun write nothing.
func writeVersion1(ctx context.Context, w io.Writer, store *evstore.Store) (int, error) {
	stream, err := store.Stream(ctx, "account-alice")
	if err != nil {
		return 0, err
	}
	var r evstore.WriteReport
	if _, err := stream.Write(ctx, []evstore.CandidateEvent{
		{ID: "v1-opened", Type: "Opened", Data: []byte(`{"owner":"Alice"}`)},
		{ID: "v1-deposit", Type: "MoneyDeposited", Data: []byte(`{"dollars":100}`)},
	}, evstore.Report(&r)); err != nil {
		return 0, err
	}
	fmt.Fprintln(w, "\nThe bank's first version opened alice's account and stored a deposit as MoneyDeposited {\"dollars\":100}:")
	if r.Appended == 0 {
		fmt.Fprintln(w, "  No new event: the store had both already (by their IDs).")
	} else {
		fmt.Fprintf(w, "  %d new events.\n", r.Appended)
	}
	return r.Appended, nil
}

// handle sends one request to its account and prints the outcome. It
// returns how many events the request appended.
func handle(ctx context.Context, w io.Writer, accounts *aggregate.Handler[Account, Command, Event], req request) (int, error) {
	fmt.Fprintf(w, "  %s %s: %v", req.id, req.account, req.cmd)
	if req.note != "" {
		fmt.Fprintf(w, " (%s)", req.note)
	}
	r, err := accounts.Handle(ctx, "account-"+req.account, req.cmd,
		// The request id is the command id: a retry of the request is
		// recognised in the stream, and not decided again.
		aggregate.CommandID(req.id),
		// Metadata goes on every event the command appends.
		aggregate.Metadata(map[string]any{"correlation_id": req.id}))
	switch {
	case refused(err):
		// The rules refused it: nothing was written. A refused command
		// leaves no key, so a retry is decided again.
		fmt.Fprintf(w, ": refused: %v\n", err)
		return 0, nil
	case err != nil:
		return 0, err // the store failed: the client may retry
	case r.Duplicate:
		fmt.Fprintf(w, ": a duplicate, not decided again; balance %s, version %d\n", dollars(r.State.Cents), r.Version)
		if _, err := account.Decide(r.State, req.cmd); err != nil {
			fmt.Fprintf(w, "      (deciding it now would refuse it: %v)\n", err)
		}
		return 0, nil
	}
	fmt.Fprintf(w, ": appended %s; balance %s, version %d\n", eventList(r.Events), dollars(r.State.Cents), r.Version)
	return len(r.Events), nil
}

// showStream prints a stream's events as stored, and what the codec
// decodes each into.
func showStream(ctx context.Context, w io.Writer, store *evstore.Store, events codec.Codec[Event], id string) error {
	stream, err := store.Stream(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nThe stream %s, as stored, and as Decode reads it:\n", id)
	for e, err := range stream.Read(ctx) {
		if err != nil {
			return err
		}
		ev, err := events.Decode(e)
		if err != nil {
			return err
		}
		meta := ""
		if cid, ok := e.Metadata["correlation_id"]; ok {
			meta = fmt.Sprintf(" correlation_id=%v", cid)
		}
		fmt.Fprintf(w, "  v%d %-14s key %-10s %-17s -> %s%s\n", e.Version, e.Type, e.ID, e.Data, eventString(ev), meta)
	}
	return nil
}

// showSnapshot prints the account's snapshot and what Load reads.
func showSnapshot(ctx context.Context, w io.Writer, store *evstore.Store, accounts *aggregate.Handler[Account, Command, Event], id string) error {
	stream, err := store.Stream(ctx, id)
	if err != nil {
		return err
	}
	snap, err := stream.LoadSnapshot(ctx, "account.v1")
	if err != nil || snap == nil {
		return fmt.Errorf("snapshot of %s: %v, %v", id, snap, err)
	}
	after := 0
	for _, err := range stream.Read(ctx, evstore.After(snap.Version)) {
		if err != nil {
			return err
		}
		after++
	}
	a, version, err := accounts.Load(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Its snapshot %q, saved by SnapshotEvery(3), is at version %d: %s.\n", snap.Projection, snap.Version, snap.State)
	fmt.Fprintf(w, "Load starts from it and reads only the events after it (%d here): balance %s, version %d.\n", after, dollars(a.Cents), version)
	return nil
}

// eventString prints an event as its Go type and fields: Deposited{Cents:2500}.
func eventString(e Event) string { return strings.TrimPrefix(fmt.Sprintf("%T%+v", e, e), "main.") }

// eventList prints events as eventString does, in brackets.
func eventList(events []Event) string {
	parts := make([]string, len(events))
	for i, e := range events {
		parts[i] = eventString(e)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// openReadModel opens the read model's database in dir, with the settings
// readmodel's doc recommends for SQLite, and returns its Projector.
func openReadModel(ctx context.Context, dir string, events codec.Codec[Event]) (*sql.DB, *readmodel.Projector, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "balances.db")+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS balances
		(account TEXT PRIMARY KEY, owner TEXT NOT NULL, cents INTEGER NOT NULL)`); err != nil {
		return nil, nil, errors.Join(err, db.Close())
	}
	// The Projector keeps its position in this database, and moves it in
	// the transaction that applies the events: exactly once.
	p, err := readmodel.New(ctx, db, "balances", applyTo(events))
	if err != nil {
		return nil, nil, errors.Join(err, db.Close())
	}
	return db, p, nil
}

// applyTo returns the read model's ApplyFunc: it decodes each event with
// the codec (upcasts included) and changes the balances through tx.
func applyTo(events codec.Codec[Event]) readmodel.ApplyFunc {
	return func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
		account, ok := strings.CutPrefix(e.StreamID, "account-")
		if !ok {
			return nil // not an account's event
		}
		ev, err := events.Decode(e)
		if errors.Is(err, codec.ErrUnknownType) {
			return nil // an event type this model does not use (a newer version's, say)
		} else if err != nil {
			return err // rolls the batch back; Consume retries it
		}
		switch ev := ev.(type) {
		case Opened:
			_, err = tx.ExecContext(ctx, `INSERT INTO balances (account, owner, cents) VALUES (?, ?, 0)`, account, ev.Owner)
		case Deposited:
			_, err = tx.ExecContext(ctx, `UPDATE balances SET cents = cents + ? WHERE account = ?`, ev.Cents, account)
		case Withdrawn:
			_, err = tx.ExecContext(ctx, `UPDATE balances SET cents = cents - ? WHERE account = ?`, ev.Cents, account)
		}
		return err
	}
}

// printBalances prints the read model.
func printBalances(ctx context.Context, w io.Writer, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT account, owner, cents FROM balances ORDER BY account`)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Fprintln(w, "Balances:")
	for rows.Next() {
		var account, owner string
		var cents int64
		if err := rows.Scan(&account, &owner, &cents); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-6s %-6s %7s\n", account, owner, dollars(cents))
	}
	return rows.Err()
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
