package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/go-event-sourcing/evstore/internal/bench"
)

// runBench is "evstore bench": its flags make a bench.Config; it prints
// bench.Run's report, or with --json the results alone.
func runBench(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	fs := newFlagSet("bench", "bench [flags]", "evstore bench --events 200000 --baseline --json\n  evstore bench --reference=false --dcb --clients 1,16 --prefill 1000000", stderr)
	fs.IntVar(&cfg.Events, "events", cfg.Events, "events to write to one stream")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "events per write")
	fs.BoolVar(&cfg.Keys, "keys", cfg.Keys, "give every event an idempotency key")
	fs.StringVar(&cfg.DB, "db", g.db, "SQLite database file to keep (default: a temporary file, removed)")
	fs.StringVar(&cfg.Store, "store", g.dsn, "run on PostgreSQL at this postgres:// address instead, in schemas dropped afterwards")
	asJSON := fs.Bool("json", false, "print one JSON object with every figure")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "also run the same rows through the raw SQLite driver and print the ratios")
	fs.IntVar(&cfg.Writers, "writers", 0, "also measure group commit: this many goroutines writing --batch events each")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long each --writers phase, and each --dcb measurement, runs")
	fs.BoolVar(&cfg.Watch, "watch", false, "also measure watch latency (in-process and cross-process) and idle CPU")
	fs.IntVar(&cfg.Watchers, "watchers", 0, "also measure fan-out: this many watchers of @all")
	fs.IntVar(&cfg.FanoutEvents, "fanout-events", cfg.FanoutEvents, "events written for the --watchers phase")
	fs.IntVar(&cfg.Slow, "slow", 0, "also write --events with this many slow watchers and one stalled one, against none")
	fs.BoolVar(&cfg.Consume, "consume", false, "also measure consumers: catch-up against a plain @all Read, Write-to-Handle latency, takeover")
	fs.BoolVar(&cfg.DCB, "dcb", false, "also measure the Dynamic Consistency Boundary: enrolment decisions (Find, decide, Append with FailIfMatch), and writes with tags and conditions against plain ones")
	fs.Var((*intList)(&cfg.Clients), "clients", "with --dcb: the counts of concurrent clients (and writers) to measure, comma-separated")
	fs.IntVar(&cfg.Courses, "courses", cfg.Courses, "with --dcb: courses in each round's decisions")
	fs.IntVar(&cfg.Capacity, "capacity", cfg.Capacity, "with --dcb: places in each course")
	fs.IntVar(&cfg.Students, "students", cfg.Students, "with --dcb: students in each round's decisions")
	fs.IntVar(&cfg.StudentLimit, "student-limit", cfg.StudentLimit, "with --dcb: courses a student may take")
	fs.IntVar(&cfg.Prefill, "prefill", 0, "with --dcb: first grow the store by this many tagged events, in writes of 10,000")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "with --dcb: rounds of every measurement, interleaved, each --duration long (medians reported)")
	fs.BoolVar(&cfg.Reference, "reference", cfg.Reference, "run the reference workload (--reference=false: only the phases other flags ask for)")
	fs.DurationVar(&cfg.Poll, "poll", cfg.Poll, "poll interval for changes by other processes")
	fs.DurationVar(&cfg.Idle, "idle", cfg.Idle, "how long --watch measures an idle store's CPU")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.Events < 1 || cfg.Batch < 1 || cfg.Writers < 0 || cfg.Watchers < 0 || cfg.Slow < 0 || cfg.FanoutEvents < 1 {
		return errors.New("--events, --batch and --fanout-events must be positive; --writers, --watchers and --slow not negative")
	}
	if cfg.DCB && (len(cfg.Clients) == 0 || slices.Min(cfg.Clients) < 1 || cfg.Courses < 1 || cfg.Capacity < 1 ||
		cfg.Students < 1 || cfg.StudentLimit < 1 || cfg.Rounds < 1 || cfg.Duration <= 0 || cfg.Prefill < 0) {
		return errors.New("with --dcb, --clients (each), --courses, --capacity, --students, --student-limit, --rounds and --duration must be positive; --prefill not negative")
	}
	if cfg.Store != "" && (!isPostgres(cfg.Store) || cfg.DB != "") {
		return errors.New("--store takes a postgres:// address, and does not go with --db")
	}
	if cfg.Watch || cfg.Consume {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.ChildCommand = []string{self, benchChildName}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	report := stdout
	if *asJSON {
		report = io.Discard
	} else {
		cfg.Progress = newProgress(stdout, isTerminal(stdout), cfg.Events)
	}
	res, err := bench.Run(ctx, cfg, report)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}

// intList is a flag of comma-separated positive integers ("1,16").
type intList []int

func (l *intList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q: want positive integers separated by commas", v)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}
