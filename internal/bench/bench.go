// Package bench measures evstore on SQLite or PostgreSQL: the reference
// workload of py-event-sourcing's benchmark (write, rebuild from every
// event, snapshot, rebuild from the snapshot) and, as Config asks, the raw
// driver's baseline, group commit, watch latency and idle cost, fan-out,
// slow watchers, consumers and the Dynamic Consistency Boundary (tags,
// Find and conditional appends). "evstore bench" is its command line.
//
// Run prints a report for people as it goes and returns the figures as
// Results, whose JSON names scripts read.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Config says what Run measures, and where. DefaultConfig holds the
// figures "evstore bench" uses when no flag says otherwise.
type Config struct {
	// Reference runs the reference workload; DefaultConfig sets it.
	Reference bool
	// Events is how many events the reference workload writes to one
	// stream, in writes of Batch events each (and the slow-watcher phase
	// too). Keys gives every one an idempotency key.
	Events, Batch int
	Keys          bool

	// DB is an SQLite file for the reference workload to create and keep;
	// it must not exist yet. Empty: a temporary file. The other phases'
	// files are temporary in any case.
	DB string
	// Store is a postgres:// address: every phase then runs in a schema of
	// its own there, dropped afterwards. Empty: SQLite. Store and DB do
	// not go together.
	Store string
	// Poll is the stores' poll interval for other processes' writes. On
	// PostgreSQL, where notifications carry them, it is at least a second.
	Poll time.Duration
	// Progress, if not nil, hears how far the reference workload's writes
	// have got.
	Progress Progress

	// Baseline also runs the reference rows through the raw driver, and
	// reports evstore's rates against it.
	Baseline bool
	// Writers, if above zero, also measures group commit: Writers
	// goroutines writing Batch events each, half to streams of their own
	// and half contending on one, against one goroutine writing one event
	// per transaction; each for Duration.
	Writers  int
	Duration time.Duration
	// Watch also measures write-to-delivery latency for a watcher in this
	// process and in another (started with ChildCommand), and the CPU an
	// idle store with 100 watchers uses over Idle.
	Watch bool
	Idle  time.Duration
	// ChildCommand is the program, and its first arguments, that runs
	// RunChild: Run appends RunChild's flags and starts it for the
	// cross-process watch latency. Watch needs it.
	ChildCommand []string
	// Watchers, if above zero, also measures fan-out: Watchers watchers of
	// @all each receive every one of FanoutEvents events.
	Watchers     int
	FanoutEvents int
	// Slow, if above zero, also writes Events with Slow slow watchers and
	// one stalled one, against no watchers.
	Slow int
	// Consume also measures consumers: catch-up against a plain Read of
	// @all, the latency from Write to Handle, and a standby's takeover.
	Consume bool
	// DCB also measures the Dynamic Consistency Boundary, on a store of
	// its own grown first by Prefill tagged events: for each count of
	// Clients, enrolment decisions (Courses of Capacity places, Students
	// who may take StudentLimit courses each; a decision is a Find, a
	// decision and an append under FailIfMatch, retried on a
	// ConditionError), and single-event writes untagged, with two tags,
	// and with two tags under a condition nothing new matches; and bulk
	// writes untagged and tagged. Each runs for Duration, Rounds times,
	// interleaved; the medians are reported (Results.DCB).
	DCB                                       bool
	Clients                                   []int
	Courses, Capacity, Students, StudentLimit int
	Prefill, Rounds                           int
}

// A Progress hears how far the reference workload's writes have got: a
// progress bar, for instance.
type Progress interface {
	// Set says how many of Config.Events have been written.
	Set(written int)
	// Done says the writes are over.
	Done()
}

// noProgress is the Progress of a Config without one.
type noProgress struct{}

func (noProgress) Set(int) {}
func (noProgress) Done()   {}

// DefaultConfig returns the Config of "evstore bench" without flags: a
// million events in writes of 10,000, with idempotency keys, on a
// temporary SQLite file, the reference workload only; and the DCB
// workload's figures, should DCB be set.
func DefaultConfig() Config {
	return Config{
		Reference:    true,
		Events:       1_000_000,
		Batch:        10_000,
		Keys:         true,
		Poll:         50 * time.Millisecond,
		Duration:     3 * time.Second,
		Idle:         5 * time.Second,
		FanoutEvents: 100_000,
		Clients:      []int{1, 16},
		Courses:      1000,
		Capacity:     50,
		Students:     10_000,
		StudentLimit: 5,
		Rounds:       3,
	}
}

// validate reports what in c Run cannot use.
func (c Config) validate() error {
	switch {
	case c.Events < 1 || c.Batch < 1:
		return errors.New("a Config's Events and Batch must be positive")
	case c.Writers < 0 || c.Watchers < 0 || c.Slow < 0:
		return errors.New("a Config's Writers, Watchers and Slow must not be negative")
	case c.Watchers > 0 && c.FanoutEvents < 1:
		return errors.New("a Config with Watchers needs FanoutEvents above zero")
	case (c.Watch || c.Consume) && len(c.ChildCommand) == 0:
		return errors.New("a Config with Watch or Consume needs a ChildCommand")
	case c.Store != "" && c.DB != "":
		return errors.New("a Config takes Store or DB, not both")
	case c.DCB && (len(c.Clients) == 0 || slices.Min(c.Clients) < 1):
		return errors.New("a Config with DCB needs Clients, each at least 1")
	case c.DCB && (c.Courses < 1 || c.Capacity < 1 || c.Students < 1 || c.StudentLimit < 1 || c.Rounds < 1 || c.Duration <= 0):
		return errors.New("a Config with DCB needs Courses, Capacity, Students, StudentLimit, Rounds and Duration above zero")
	case c.Prefill < 0:
		return errors.New("a Config's Prefill must not be negative")
	}
	return nil
}

// A phase is one measurement of Run: it fills in its part of the results
// and prints its part of the report.
type phase func(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error

// Run runs the reference workload (unless cfg.Reference is false), then
// the measurements cfg asks for, in the order of Config's fields; it
// prints a report for people to out as it goes (io.Discard for none) and
// returns every figure. The files
// and schemas it makes are gone when it returns, DB's file excepted.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Results, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.DB != "" {
		if _, err := os.Stat(cfg.DB); err == nil {
			return nil, fmt.Errorf("%s exists: the benchmark needs a new file", cfg.DB)
		}
	}
	dir, err := os.MkdirTemp("", "evstore-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	t := target{dir: dir, keep: cfg.DB, dsn: cfg.Store, poll: cfg.Poll, child: cfg.ChildCommand}
	phases := []struct {
		on  bool
		run phase
	}{
		{cfg.Reference, reference},
		{cfg.Baseline, baseline},
		{cfg.Writers > 0, writers},
		{cfg.Watch, watch},
		{cfg.Watchers > 0, fanout},
		{cfg.Slow > 0, slowWatchers},
		{cfg.Consume, consume},
		{cfg.DCB, dcb},
	}
	res := &Results{}
	if cfg.Reference {
		res.Events, res.Batch, res.Keys = cfg.Events, cfg.Batch, cfg.Keys
	}
	for _, p := range phases {
		if !p.on {
			continue
		}
		if err := p.run(ctx, cfg, t, res, out); err != nil {
			return nil, err
		}
	}
	return res, nil
}
