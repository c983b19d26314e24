package bench

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
	_ "modernc.org/sqlite" // the read model's database/sql driver
)

// killLease is the lease time of the kill-takeover measurement, so that a
// takeover on SQLite (which waits for the lease) takes a second, not five.
const killLease = time.Second

// consumeKillTakeover runs the consumer name in a child process and a
// standby in this one, kills the child with SIGKILL, writes an event and
// returns the time from the kill to the standby's Handle of it.
func consumeKillTakeover(ctx context.Context, store *evstore.Store, t target, loc string, st *evstore.Stream) (time.Duration, error) {
	const name = "bench-kill-takeover"
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return 0, err
	}
	if err := store.ResetConsumer(ctx, name, all.Version()); err != nil {
		return 0, err
	}
	args := append(slices.Clone(t.child[1:]), childArgs(t, loc, 0, false)...)
	cmd := exec.CommandContext(ctx, t.child[0], append(args, "--hold", name, "--lease", killLease.String())...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		return 0, fmt.Errorf("kill takeover: the child did not start (%q)", lines.Text())
	}
	// The child handles events: it holds the lease.
	if _, err := st.Write(ctx, increments(0, 1, false)); err != nil {
		return 0, err
	}
	if !lines.Scan() || lines.Text() != "handled" {
		return 0, fmt.Errorf("kill takeover: the child handled nothing (%q)", lines.Text())
	}
	got := make(chan time.Time, 16)
	h := evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error {
		got <- time.Now()
		return nil
	})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	serr := make(chan error, 1)
	go func() { serr <- store.Consume(sctx, name, h, evstore.LeaseTime(killLease)) }()
	time.Sleep(200 * time.Millisecond) // the standby waits
	if err := cmd.Process.Kill(); err != nil {
		return 0, err
	}
	killed := time.Now()
	_ = cmd.Wait()
	if _, err := st.Write(ctx, increments(0, 1, false)); err != nil {
		return 0, err
	}
	var took time.Duration
	select {
	case at := <-got:
		took = at.Sub(killed)
	case err := <-serr:
		return 0, fmt.Errorf("kill takeover: the standby ended: %v", err)
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("kill takeover: the standby did not take over")
	}
	stop()
	return took, <-serr
}

// childHold is the child of consumeKillTakeover: it runs the consumer
// name, prints "ready" when it has started and "handled" after each
// batch, until it is killed.
func childHold(ctx context.Context, store *evstore.Store, name string, lease time.Duration, lines *bufio.Writer) error {
	h := evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error {
		fmt.Fprintln(lines, "handled")
		return lines.Flush()
	})
	done := make(chan error, 1)
	go func() { done <- store.Consume(ctx, name, h, evstore.LeaseTime(lease)) }()
	time.Sleep(200 * time.Millisecond) // the consumer takes its lease
	fmt.Fprintln(lines, "ready")
	if err := lines.Flush(); err != nil {
		return err
	}
	return <-done
}

// consumeReadModel runs a readmodel.Projector that inserts one row per
// event into a SQLite read model under Consume, and returns its rate over
// the store's events up to head.
func consumeReadModel(ctx context.Context, store *evstore.Store, dir string, head int64) (float64, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "readmodel.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS applied (seq INTEGER NOT NULL, stream TEXT NOT NULL, type TEXT NOT NULL)"); err != nil {
		return 0, err
	}
	p, err := readmodel.New(ctx, db, "bench", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO applied (seq, stream, type) VALUES (?, ?, ?)", e.Sequence, e.StreamID, e.Type)
		return err
	})
	if err != nil {
		return 0, err
	}
	caughtUp := make(chan struct{})
	var once sync.Once // batches after head may come before Consume stops
	h := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		if err := p.Handle(ctx, events); err != nil {
			return err
		}
		if events[len(events)-1].Sequence >= head {
			once.Do(func() { close(caughtUp) })
		}
		return nil
	})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- store.Consume(cctx, "bench-readmodel", positioned{h, p}) }()
	select {
	case <-caughtUp:
	case err := <-errc:
		return 0, fmt.Errorf("read model: consume ended before catching up: %v", err)
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(head) / elapsed.Seconds(), nil
}

// positioned is a Handler with its Projector's Position: a Positioner.
type positioned struct {
	evstore.HandlerFunc
	p *readmodel.Projector
}

func (p positioned) Position(ctx context.Context) (int64, error) { return p.p.Position(ctx) }
