package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime/pprof"

	"github.com/go-event-sourcing/evstore/internal/bench"
)

// runBench is "evstore bench": its flags make a bench.Config; it prints
// bench.Run's report, or with --json the results alone.
func runBench(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	fs := newFlagSet("bench", "bench [flags]", "evstore bench --events 200000 --baseline --json", stderr)
	fs.IntVar(&cfg.Events, "events", cfg.Events, "events to write to one stream")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "events per write")
	fs.BoolVar(&cfg.Keys, "keys", cfg.Keys, "give every event an idempotency key")
	fs.StringVar(&cfg.DB, "db", g.db, "SQLite database file to keep (default: a temporary file, removed)")
	fs.StringVar(&cfg.Store, "store", g.dsn, "run on PostgreSQL at this postgres:// address instead, in schemas dropped afterwards")
	asJSON := fs.Bool("json", false, "print one JSON object with every figure")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "also run the same rows through the raw SQLite driver and print the ratios")
	fs.IntVar(&cfg.Writers, "writers", 0, "also measure group commit: this many goroutines writing --batch events each")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long each --writers phase runs")
	fs.BoolVar(&cfg.Watch, "watch", false, "also measure watch latency (in-process and cross-process) and idle CPU")
	fs.IntVar(&cfg.Watchers, "watchers", 0, "also measure fan-out: this many watchers of @all")
	fs.IntVar(&cfg.FanoutEvents, "fanout-events", cfg.FanoutEvents, "events written for the --watchers phase")
	fs.IntVar(&cfg.Slow, "slow", 0, "also write --events with this many slow watchers and one stalled one, against none")
	fs.BoolVar(&cfg.Consume, "consume", false, "also measure consumers: catch-up against a plain @all Read, Write-to-Handle latency, takeover")
	fs.DurationVar(&cfg.Poll, "poll", cfg.Poll, "poll interval for changes by other processes")
	fs.DurationVar(&cfg.Idle, "idle", cfg.Idle, "how long --watch measures an idle store's CPU")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.Events < 1 || cfg.Batch < 1 || cfg.Writers < 0 || cfg.Watchers < 0 || cfg.Slow < 0 || cfg.FanoutEvents < 1 {
		return errors.New("--events, --batch and --fanout-events must be positive; --writers, --watchers and --slow not negative")
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
