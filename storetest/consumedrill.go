package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
)

// This file holds what the consumer drills (ConsumeKillDrill and
// ConsumeFailoverDrill) share, and the child process they kill.

// ConsumeDrillEnv is the environment variable that makes a re-run test
// binary a child of the consumer drills. When it is set, the test binary
// must call ConsumeDrillChild (from the test that ConsumeDrill.Command
// selects, say) and exit with its result.
const ConsumeDrillEnv = "EVSTORE_TEST_CONSUME_DRILL"

// consumeDrillLogEnv names the directory where a child of the
// "checkpoint" role keeps its log.
const consumeDrillLogEnv = "EVSTORE_TEST_CONSUME_DRILL_LOG"

// The children's roles: the value of ConsumeDrillEnv.
const (
	// drillReadModel runs a readmodel.Projector that inserts a row
	// (seq, pid) into drillTable for every event: exactly once.
	drillReadModel = "readmodel"
	// drillCheckpoint runs a plain Handler, with store-kept checkpoints,
	// that appends each batch's Sequences to a file of its own: at least
	// once.
	drillCheckpoint = "checkpoint"
)

const (
	// drillConsumer is the consumer's name, and the Projector's.
	drillConsumer = "drill"
	// drillTable is the read model: one row per event applied, with no
	// unique constraint, so that an event applied twice shows as two rows.
	drillTable = "drill_applied"
	// drillBatch is the consumers' BatchSize.
	drillBatch = 32
)

// A ConsumeDrill is what the consumer drills need of a backend: how to
// open its store and a read-model database, and how to start a child
// process. The children are the test binary run again; they run
// Store.Consume until the test kills them (SIGKILL) or closes their
// standard input.
type ConsumeDrill struct {
	// Open opens a new Store on the drill's event database, the same for
	// every call: in the test process, to write and check, and in each
	// child, to consume. The caller closes it.
	Open func(ctx context.Context) (*evstore.Store, error)

	// ReadModel opens a new *sql.DB on the drill's read-model database
	// (empty at the start of the drill), with modernc.org/sqlite's driver
	// or pgx's stdlib driver and the settings package readmodel
	// recommends. The caller closes it.
	ReadModel func() (*sql.DB, error)

	// Command returns an unstarted command that runs the test binary again
	// with env (NAME=VALUE pairs, ConsumeDrillEnv among them) added to its
	// environment, and whatever the backend needs to build the same
	// ConsumeDrill there, where it calls ConsumeDrillChild. The drills set
	// its standard input, output and error.
	Command func(env []string) *exec.Cmd

	// LeaseTime is the consumers' LeaseTime: on a backend whose leases
	// expire, how soon a standby takes over from a killed instance.
	LeaseTime time.Duration
}

// ConsumeDrillChild runs the child that ConsumeDrillEnv names, in a test
// binary that a consumer drill started through d.Command, and returns its
// exit status. It runs Store.Consume on a Store from d.Open until its
// standard input ends (the test closed it, or died), and tells the test
// what it does on its standard output, a line at a time.
func ConsumeDrillChild(d ConsumeDrill) int {
	if err := runDrillChild(d, os.Getenv(ConsumeDrillEnv), os.Getenv(consumeDrillLogEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "consume drill child:", err)
		return 1
	}
	return 0
}

// A child tells the test, one line each:
//
//	ready              it is about to call Consume
//	position P         Consume asked the Projector its Position (P): it is active
//	begin F L          a Handle of events F to L starts
//	batch F L          that Handle returned nil (its log is synced, or its transaction committed)
//	error MESSAGE      that Handle failed
func runDrillChild(d ConsumeDrill, role, logDir string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	s, err := d.Open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	out := &drillTeller{w: os.Stdout}
	var h evstore.Handler
	switch role {
	case drillReadModel:
		db, err := d.ReadModel()
		if err != nil {
			return err
		}
		defer db.Close()
		pid := int64(os.Getpid())
		p, err := readmodel.New(ctx, db, drillConsumer, func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO "+drillTable+" (seq, pid) VALUES ($1, $2)", e.Sequence, pid)
			return err
		})
		if err != nil {
			return err
		}
		h = &drillProjector{p: p, out: out}
	case drillCheckpoint:
		f, err := os.OpenFile(filepath.Join(logDir, strconv.Itoa(os.Getpid())+".log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		h = evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
			first, last := events[0].Sequence, events[len(events)-1].Sequence
			out.tell("begin %d %d", first, last)
			var line []byte
			for i, e := range events {
				if i > 0 {
					line = append(line, ' ')
				}
				line = strconv.AppendInt(line, e.Sequence, 10)
			}
			// One write per batch, so that a batch is a line.
			if _, err := f.Write(append(line, '\n')); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			out.tell("batch %d %d", first, last)
			return nil
		})
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	out.tell("ready")
	return s.Consume(ctx, drillConsumer, h, evstore.BatchSize(drillBatch), evstore.LeaseTime(d.LeaseTime))
}

// A drillTeller writes a child's lines to the test, one write each.
type drillTeller struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *drillTeller) tell(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, format+"\n", args...)
}

// A drillProjector is the child's readmodel.Projector, telling the test
// what it does.
type drillProjector struct {
	p   *readmodel.Projector
	out *drillTeller
}

func (d *drillProjector) Position(ctx context.Context) (int64, error) {
	pos, err := d.p.Position(ctx)
	if err == nil {
		d.out.tell("position %d", pos)
	}
	return pos, err
}

func (d *drillProjector) Handle(ctx context.Context, events []evstore.StoredEvent) error {
	first, last := events[0].Sequence, events[len(events)-1].Sequence
	d.out.tell("begin %d %d", first, last)
	if err := d.p.Handle(ctx, events); err != nil {
		d.out.tell("error %s", strings.ReplaceAll(err.Error(), "\n", " "))
		return err
	}
	d.out.tell("batch %d %d", first, last)
	return nil
}

// skipUnderRace skips a drill under the race detector, saying why.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("a drill of child processes that runs for seconds: it runs in the pass without the race detector (CI runs go test twice)")
	}
}
