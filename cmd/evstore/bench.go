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
	"time"

	"github.com/go-event-sourcing/evstore"
)

// benchConfig holds the flags of "evstore bench".
type benchConfig struct {
	events, batch int
	keys          bool
	db            string
	json          bool
	baseline      bool
	writers       int
	duration      time.Duration
	watch         bool
	watchers      int
	fanoutEvents  int
	poll          time.Duration
	idle          time.Duration
	cpuprofile    string
	store         string
	slow          int
	consume       bool
}

// benchResults are the figures "evstore bench" measures. The JSON names are
// fixed: scripts read them.
type benchResults struct {
	Events                      int     `json:"events"`
	Batch                       int     `json:"batch"`
	Keys                        bool    `json:"keys"`
	WriteSeconds                float64 `json:"write_seconds"`
	WriteEventsPerSec           float64 `json:"write_events_per_sec"`
	ReadSeconds                 float64 `json:"read_seconds"`
	ReadEventsPerSec            float64 `json:"read_events_per_sec"`
	SnapshotRebuildSeconds      float64 `json:"snapshot_rebuild_seconds"`
	SnapshotRebuildFirstSeconds float64 `json:"snapshot_rebuild_first_seconds"`
	DBBytes                     int64   `json:"db_bytes"`
	RawWriteEventsPerSec        float64 `json:"raw_write_events_per_sec,omitempty"`
	RawReadEventsPerSec         float64 `json:"raw_read_events_per_sec,omitempty"`
	RawTableScanEventsPerSec    float64 `json:"raw_table_scan_events_per_sec,omitempty"`
	WriteRatio                  float64 `json:"write_ratio,omitempty"`
	ReadRatio                   float64 `json:"read_ratio,omitempty"`
	Writers                     int     `json:"writers,omitempty"`
	GroupCommitEventsPerSec     float64 `json:"group_commit_events_per_sec,omitempty"`
	SingleWriterEventsPerSec    float64 `json:"single_writer_events_per_sec,omitempty"`
	GroupCommitSpeedup          float64 `json:"group_commit_speedup,omitempty"`
	Conflicts                   int64   `json:"conflicts,omitempty"`
	WatchP50Ms                  float64 `json:"watch_p50_ms,omitempty"`
	WatchP99Ms                  float64 `json:"watch_p99_ms,omitempty"`
	CrossProcessP50Ms           float64 `json:"cross_process_p50_ms,omitempty"`
	CrossProcessP99Ms           float64 `json:"cross_process_p99_ms,omitempty"`
	PollIntervalMs              float64 `json:"poll_interval_ms,omitempty"`
	IdleCPUPercent              float64 `json:"idle_cpu_percent,omitempty"`
	FanoutWatchers              int     `json:"fanout_watchers,omitempty"`
	FanoutEventsPerSec          float64 `json:"fanout_events_per_sec,omitempty"`
	FanoutDeliveriesPerSec      float64 `json:"fanout_deliveries_per_sec,omitempty"`
	PeakRSSBytes                int64   `json:"peak_rss_bytes,omitempty"`
	SlowWatchers                int     `json:"slow_watchers,omitempty"`
	SlowWriteRatio              float64 `json:"slow_watchers_write_ratio,omitempty"`
	SlowPeakRSSBytes            int64   `json:"slow_watchers_peak_rss_bytes,omitempty"`
	ReadAllEventsPerSec         float64 `json:"read_all_events_per_sec,omitempty"`
	ConsumeEventsPerSec         float64 `json:"consume_events_per_sec,omitempty"`
	ConsumeRatio                float64 `json:"consume_ratio,omitempty"`
	ConsumeP50Ms                float64 `json:"consume_p50_ms,omitempty"`
	ConsumeP99Ms                float64 `json:"consume_p99_ms,omitempty"`
	ConsumeTakeoverMs           float64 `json:"consume_takeover_ms,omitempty"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	fs := newFlagSet("bench", "bench [flags]", "evstore bench --events 200000 --baseline --json", stderr)
	fs.IntVar(&cfg.events, "events", 1_000_000, "events to write to one stream")
	fs.IntVar(&cfg.batch, "batch", 10_000, "events per write")
	fs.BoolVar(&cfg.keys, "keys", true, "give every event an idempotency key")
	global, _ := ctx.Value(globalKey{}).(storeFlags)
	fs.StringVar(&cfg.db, "db", global.db, "SQLite database file to keep (default: a temporary file, removed)")
	fs.StringVar(&cfg.store, "store", global.dsn, "run on PostgreSQL at this postgres:// address instead, in schemas dropped afterwards")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object with every figure")
	fs.BoolVar(&cfg.baseline, "baseline", false, "also run the same rows through the raw SQLite driver and print the ratios")
	fs.IntVar(&cfg.writers, "writers", 0, "also measure group commit: this many goroutines writing --batch events each")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long each --writers phase runs")
	fs.BoolVar(&cfg.watch, "watch", false, "also measure watch latency (in-process and cross-process) and idle CPU")
	fs.IntVar(&cfg.watchers, "watchers", 0, "also measure fan-out: this many watchers of @all")
	fs.IntVar(&cfg.fanoutEvents, "fanout-events", 100_000, "events written for the --watchers phase")
	fs.IntVar(&cfg.slow, "slow", 0, "also write --events with this many slow watchers and one stalled one, against none")
	fs.BoolVar(&cfg.consume, "consume", false, "also measure consumers: catch-up against a plain @all Read, Write-to-Handle latency, takeover")
	fs.DurationVar(&cfg.poll, "poll", 50*time.Millisecond, "poll interval for changes by other processes")
	fs.DurationVar(&cfg.idle, "idle", 5*time.Second, "how long --watch measures an idle store's CPU")
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.events < 1 || cfg.batch < 1 || cfg.writers < 0 || cfg.watchers < 0 || cfg.slow < 0 || cfg.fanoutEvents < 1 {
		return errors.New("--events, --batch and --fanout-events must be positive; --writers, --watchers and --slow not negative")
	}
	if cfg.store != "" && (!isPostgres(cfg.store) || cfg.db != "") {
		return errors.New("--store takes a postgres:// address, and does not go with --db")
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "evstore-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.db != "" {
		if _, err := os.Stat(cfg.db); err == nil {
			return fmt.Errorf("--db %s exists: the benchmark needs a new file", cfg.db)
		}
	}
	target := benchTarget{dir: dir, keep: cfg.db, dsn: cfg.store, poll: cfg.poll}

	out := stdout
	if cfg.json {
		out = io.Discard
	}
	res := &benchResults{Events: cfg.events, Batch: cfg.batch, Keys: cfg.keys}
	if err := benchReference(ctx, cfg, target, res, out, isTerminal(stdout) && !cfg.json); err != nil {
		return err
	}
	if cfg.baseline {
		if err := benchBaseline(ctx, cfg, target, res, out); err != nil {
			return err
		}
	}
	if cfg.writers > 0 {
		if err := benchWriters(ctx, cfg, target, res, out); err != nil {
			return err
		}
	}
	if cfg.watch {
		if err := benchWatch(ctx, cfg, target, res, out); err != nil {
			return err
		}
	}
	if cfg.watchers > 0 {
		if err := benchFanout(ctx, cfg, target, res, out); err != nil {
			return err
		}
	}
	if cfg.slow > 0 {
		if err := benchSlow(ctx, cfg, target, res, out); err != nil {
			return err
		}
	}
	if cfg.consume {
		if err := benchConsume(ctx, cfg, target, res, out); err != nil {
			return err
		}
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}

// benchEvents returns the events from..from+n-1 of the reference workload.
func benchEvents(from, n int, keys bool) []evstore.CandidateEvent {
	events := make([]evstore.CandidateEvent, n)
	data := []byte(`{"amount": 1}`)
	for i := range events {
		events[i] = evstore.CandidateEvent{Type: "Increment", Data: data}
		if keys {
			events[i].ID = "event-" + strconv.Itoa(from+i)
		}
	}
	return events
}

// benchReference is the Python library's benchmark: write, rebuild from
// every event, snapshot, write 100 more, rebuild from the snapshot.
func benchReference(ctx context.Context, cfg benchConfig, target benchTarget, res *benchResults, out io.Writer, progress bool) error {
	store, loc, done, err := target.openPhase(ctx, "bench")
	if err != nil {
		return err
	}
	defer done()
	st, err := store.Stream(ctx, "counter")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "--- Running benchmark with %s events ---\n", commas(int64(cfg.events)))
	fmt.Fprintf(out, "Writing %s events...\n", commas(int64(cfg.events)))
	bar := newProgress(out, progress, cfg.events)
	start := time.Now()
	for done := 0; done < cfg.events; {
		n := min(cfg.batch, cfg.events-done)
		if _, err := st.Write(ctx, benchEvents(done, n, cfg.keys)); err != nil {
			return err
		}
		done += n
		bar.set(done)
	}
	elapsed := time.Since(start)
	bar.done()
	res.WriteSeconds = elapsed.Seconds()
	res.WriteEventsPerSec = float64(cfg.events) / elapsed.Seconds()
	fmt.Fprintf(out, "\nFinished writing %s events in %.2f seconds.\n", commas(int64(cfg.events)), elapsed.Seconds())
	fmt.Fprintf(out, "Write throughput: %s events/sec.\n", commasFloat(res.WriteEventsPerSec))

	fmt.Fprintln(out, "\n--- Benchmark 1: Reconstructing state from all events ---")
	start = time.Now()
	count, err := countIncrements(ctx, st)
	if err != nil {
		return err
	}
	elapsed = time.Since(start)
	res.ReadSeconds = elapsed.Seconds()
	res.ReadEventsPerSec = float64(count) / elapsed.Seconds()
	fmt.Fprintf(out, "Reconstructed state (all events): Counter is %s.\n", commas(count))
	fmt.Fprintf(out, "Time to reconstruct from all events: %.2f seconds.\n", elapsed.Seconds())
	fmt.Fprintf(out, "Read throughput: %s events/sec.\n", commasFloat(res.ReadEventsPerSec))

	fmt.Fprintln(out, "\n--- Benchmark 2: Reconstructing state using snapshot ---")
	fmt.Fprintln(out, "Creating snapshot...")
	state, _ := json.Marshal(map[string]int64{"count": count})
	if err := st.Snapshot(ctx, state, evstore.Projection("counter"), evstore.AtVersion(count)); err != nil {
		return err
	}
	fmt.Fprintln(out, "Snapshot created.")
	fmt.Fprintln(out, "Writing 100 additional events...")
	if _, err := st.Write(ctx, benchEvents(cfg.events, 100, cfg.keys)); err != nil {
		return err
	}
	fmt.Fprintln(out, "Finished writing 100 additional events.")
	// The first rebuild prepares statements; later ones show the steady
	// state. The median of several is reported.
	var rebuilds []time.Duration
	var snap *evstore.Snapshot
	var total int64
	for range snapshotRebuilds {
		start = time.Now()
		var saved int64
		if snap, saved, err = loadCounter(ctx, st); err != nil {
			return err
		}
		more, err := countIncrements(ctx, st, evstore.After(snap.Version))
		if err != nil {
			return err
		}
		rebuilds = append(rebuilds, time.Since(start))
		total = saved + more
	}
	first := rebuilds[0]
	slices.Sort(rebuilds)
	elapsed = rebuilds[len(rebuilds)/2]
	res.SnapshotRebuildSeconds = elapsed.Seconds()
	res.SnapshotRebuildFirstSeconds = first.Seconds()
	fmt.Fprintf(out, "State restored from snapshot at version %s.\n", commas(snap.Version))
	fmt.Fprintf(out, "Reconstructed state (with snapshot): Counter is %s.\n", commas(total))
	fmt.Fprintf(out, "Time to reconstruct with snapshot: %.2f seconds (median of %d; the first took %.4f).\n",
		elapsed.Seconds(), snapshotRebuilds, first.Seconds())

	fmt.Fprintln(out, "\n--- Benchmark Summary ---")
	fmt.Fprintf(out, "Time to reconstruct from all %s events: %.2f seconds.\n", commas(count+100), res.ReadSeconds*float64(count+100)/float64(count))
	fmt.Fprintf(out, "Time to reconstruct with snapshot (after %s events): %.4f seconds.\n", commas(snap.Version), res.SnapshotRebuildSeconds)
	if err := store.Close(); err != nil {
		return err
	}
	res.DBBytes = target.size(ctx, loc)
	fmt.Fprintf(out, "\nDatabase file size: %.2f MB\n", float64(res.DBBytes)/(1<<20))
	return nil
}

// snapshotRebuilds is how many times the rebuild from the snapshot runs.
const snapshotRebuilds = 9

// loadCounter loads the counter's snapshot and decodes its state.
func loadCounter(ctx context.Context, st *evstore.Stream) (*evstore.Snapshot, int64, error) {
	snap, err := st.LoadSnapshot(ctx, "counter")
	if err != nil || snap == nil {
		return nil, 0, fmt.Errorf("load snapshot: %v", err)
	}
	var saved struct{ Count int64 }
	if err := json.Unmarshal(snap.State, &saved); err != nil {
		return nil, 0, err
	}
	return snap, saved.Count, nil
}

// countIncrements rebuilds the counter from the stream's events.
func countIncrements(ctx context.Context, st *evstore.Stream, opts ...evstore.ReadOption) (int64, error) {
	var n int64
	for e, err := range st.Read(ctx, opts...) {
		if err != nil {
			return 0, err
		}
		if e.Type == "Increment" {
			n++
		}
	}
	return n, nil
}

// benchBaseline runs the same rows through the raw driver.
func benchBaseline(ctx context.Context, cfg benchConfig, target benchTarget, res *benchResults, out io.Writer) error {
	loc := target.location("raw")
	defer target.drop(loc)
	var err error
	if target.dsn != "" {
		err = baselinePostgres(ctx, cfg, target, loc, res)
	} else {
		err = baselineSQLite(cfg, loc, res)
	}
	if err != nil {
		return err
	}
	res.WriteRatio = res.WriteEventsPerSec / res.RawWriteEventsPerSec
	res.ReadRatio = res.ReadEventsPerSec / res.RawReadEventsPerSec
	driver := "the raw SQLite driver"
	if target.dsn != "" {
		driver = "raw pgx (COPY, and one query)"
	}
	fmt.Fprintf(out, "\n--- Baseline: %s, same rows, same schema ---\n", driver)
	fmt.Fprintf(out, "Raw write throughput: %s events/sec (evstore/raw = %.2f).\n", commasFloat(res.RawWriteEventsPerSec), res.WriteRatio)
	fmt.Fprintf(out, "Raw read throughput, the stream in version order: %s events/sec (evstore/raw = %.2f).\n", commasFloat(res.RawReadEventsPerSec), res.ReadRatio)
	if res.RawTableScanEventsPerSec > 0 {
		fmt.Fprintf(out, "Raw table scan, every row in table order: %s events/sec.\n", commasFloat(res.RawTableScanEventsPerSec))
	}
	return nil
}

// commas formats n with thousands separators, as the reference prints.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func commasFloat(f float64) string {
	whole := int64(f)
	return fmt.Sprintf("%s.%02d", commas(whole), int64((f-float64(whole))*100))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a bar on a terminal, and nothing elsewhere.
type progress struct {
	w       io.Writer
	on      bool
	total   int
	lastPct int
}

func newProgress(w io.Writer, on bool, total int) *progress {
	return &progress{w: w, on: on, total: total, lastPct: -1}
}

func (p *progress) set(n int) {
	if !p.on {
		return
	}
	pct := n * 100 / p.total
	if pct == p.lastPct {
		return
	}
	p.lastPct = pct
	const width = 40
	fill := pct * width / 100
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < fill {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\r[%s] %3d%% %s/%s", bar, pct, commas(int64(n)), commas(int64(p.total)))
}

func (p *progress) done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
