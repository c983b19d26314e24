package aggregate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/sqlite"
	"go.uber.org/goleak"
)

// The test binary runs as a second process of TestTwoProcessesSQLite when
// these are set.
const (
	childEnv   = "EVSTORE_AGGREGATE_CHILD" // the SQLite file
	childSeed  = "EVSTORE_AGGREGATE_SEED"
	childReady = "ready"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		if err := child(path, os.Getenv(childSeed)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// A tally is what a group of senders had accepted.
type tally struct {
	Deposited, Withdrawn int64 // sums of the accepted commands
	Accepted, Refused    int   // commands accepted, and refused for funds
	GaveUp               int   // commands that conflicted MaxAttempts times
}

func (t *tally) add(o tally) {
	t.Deposited += o.Deposited
	t.Withdrawn += o.Withdrawn
	t.Accepted += o.Accepted
	t.Refused += o.Refused
	t.GaveUp += o.GaveUp
}

// hammer sends perWorker random deposits and withdrawals from each of
// workers goroutines to stream id, each with a command id of its own, and
// returns what was accepted.
func hammer(ctx context.Context, h *aggregate.Handler[Account, Command, Event], id, prefix string, workers, perWorker int, seed uint64) (tally, error) {
	var (
		mu    sync.Mutex
		total tally
		first error
		wg    sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var t tally
			for i := range perWorker {
				amount := rng.Int64N(10) + 1
				var cmd Command = Deposit{Amount: amount}
				if rng.IntN(2) == 0 {
					cmd = Withdraw{Amount: amount + 3} // withdrawals outweigh deposits: the rule is tested
				}
				r, err := h.Handle(ctx, id, cmd, aggregate.CommandID(fmt.Sprintf("%s-%d-%d", prefix, w, i)))
				switch {
				case errors.Is(err, ErrInsufficientFunds):
					t.Refused++
				case errors.Is(err, evstore.ErrConflict):
					t.GaveUp++
				case err != nil:
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				case r.Duplicate || len(r.Events) != 1:
					mu.Lock()
					first = errors.Join(first, fmt.Errorf("worker %d command %d: got %+v, want one fresh event", w, i, r))
					mu.Unlock()
					return
				default:
					t.Accepted++
					switch c := cmd.(type) {
					case Deposit:
						t.Deposited += c.Amount
					case Withdraw:
						t.Withdrawn += c.Amount
					}
					if r.State.Balance < 0 {
						mu.Lock()
						first = errors.Join(first, fmt.Errorf("worker %d command %d: balance %d", w, i, r.State.Balance))
						mu.Unlock()
					}
				}
			}
			mu.Lock()
			total.add(t)
			mu.Unlock()
		})
	}
	wg.Wait()
	return total, first
}

// openAccount opens the account with an initial deposit, once.
func openAccount(ctx context.Context, h *aggregate.Handler[Account, Command, Event], id string, initial int64) error {
	if _, err := h.Handle(ctx, id, Open{Owner: "shared"}, aggregate.CommandID("open")); err != nil {
		return err
	}
	_, err := h.Handle(ctx, id, Deposit{Amount: initial}, aggregate.CommandID("initial"))
	return err
}

// checkAccount replays the stream: no lost update (the final balance is
// the initial one plus what was accepted, one event per accepted command)
// and the invariant held at every version.
func checkAccount(t *testing.T, s *evstore.Store, id string, initial int64, got tally) {
	t.Helper()
	c := newCodec(t)
	var a Account
	events := storedEvents(t, s, id)
	for _, e := range events {
		ev, err := c.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		if a = account.Evolve(a, ev); a.Balance < 0 {
			t.Fatalf("version %d: balance %d, below zero", e.Version, a.Balance)
		}
	}
	want := initial + got.Deposited - got.Withdrawn
	if a.Balance != want || len(events) != 2+got.Accepted {
		t.Errorf("final balance %d in %d events; want %d in %d: %+v", a.Balance, len(events), want, 2+got.Accepted, got)
	}
	if got.Accepted == 0 || got.Refused == 0 {
		t.Errorf("%+v: want both accepted and refused commands, or the rule is not tested", got)
	}
	t.Logf("%d events, balance %d, %+v", len(events), a.Balance, got)
}

// TestConcurrentCommands: 32 goroutines on one account, on each store.
func TestConcurrentCommands(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s := b.open(t)
			h := aggregate.New(s, account, newCodec(t), aggregate.MaxAttempts(100), aggregate.SnapshotEvery(16))
			const initial = 20
			if err := openAccount(ctx, h, "acc-1", initial); err != nil {
				t.Fatal(err)
			}
			perWorker := 12
			if testing.Short() {
				perWorker = 4
			}
			got, err := hammer(ctx, h, "acc-1", "g", 32, perWorker, 1)
			if err != nil {
				t.Fatal(err)
			}
			checkAccount(t, s, "acc-1", initial, got)
		})
	}
}

// TestTwoProcessesSQLite: two processes, 16 goroutines each, on one
// account in one SQLite file.
func TestTwoProcessesSQLite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "shared.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := aggregate.New(s, account, newCodec(t), aggregate.MaxAttempts(100), aggregate.SnapshotEvery(16))
	const initial = 20
	if err := openAccount(ctx, h, "acc-1", initial); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path, childSeed+"=2")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != childReady {
		t.Fatalf("child: got %q, want %q", lines.Text(), childReady)
	}
	got, err := hammer(ctx, h, "acc-1", "parent", 16, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	var theirs tally
	if !lines.Scan() {
		t.Fatalf("child said nothing: %v", lines.Err())
	}
	if err := json.Unmarshal(lines.Bytes(), &theirs); err != nil {
		t.Fatalf("child: %v in %q", err, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if theirs.Accepted == 0 {
		t.Errorf("the child had no command accepted: %+v", theirs)
	}
	t.Logf("parent %+v, child %+v", got, theirs)
	got.add(theirs)
	checkAccount(t, s, "acc-1", initial, got)
}

// child is the other process of TestTwoProcessesSQLite: it hammers the
// account and prints its tally as JSON.
func child(path, seed string) error {
	n, err := strconv.ParseUint(seed, 10, 64)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	c, err := accountCodec()
	if err != nil {
		return err
	}
	h := aggregate.New(s, account, c, aggregate.MaxAttempts(100), aggregate.SnapshotEvery(16))
	fmt.Println(childReady)
	got, err := hammer(ctx, h, "acc-1", "child", 16, 12, n)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(got)
}
