// Command cmd measures evstore serve over HTTP on loopback: appends per
// second from concurrent clients, Server-Sent Events delivery latency,
// and the server's resident memory with idle SSE clients
// (docs/server.md, "Figures"). Each measurement starts an evstore serve
// process of its own on 127.0.0.1, on a new SQLite file (or, with
// --store postgres://..., a new PostgreSQL schema, dropped afterwards),
// so the memory read from /proc/PID/status is the server's alone.
//
//	go run ./internal/server/loadtest/cmd --run append --batch 1,100 --runs 5
//	go run ./internal/server/loadtest/cmd --run sse,idle --runs 3
//
// It prints each run's figures, then the medians.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/go-event-sourcing/evstore/internal/server/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	measure  []string
	runs     int
	bin      string
	store    string
	keep     bool
	append   loadtest.AppendConfig
	batches  []int
	sse      loadtest.SSEConfig
	idle     loadtest.IdleConfig
	tmp      string
	servers  int // started so far, to name their databases
	progress io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	measure := fs.String("run", "append,sse,idle", "the measurements, comma-separated: append, sse, idle")
	fs.IntVar(&o.runs, "runs", 1, "runs of each measurement, interleaved; the medians are printed at the end")
	fs.StringVar(&o.bin, "bin", "", "the evstore binary; default: go build ./cmd/evstore into a temporary directory")
	fs.StringVar(&o.store, "store", "", "a postgres://... URL for evstore serve --store (each measurement in a new schema, dropped afterwards); default: a new SQLite file each")
	fs.BoolVar(&o.keep, "keep", false, "keep the SQLite files and PostgreSQL schemas")
	fs.IntVar(&o.append.Clients, "clients", 16, "append: concurrent clients, each to a stream of its own")
	batches := fs.String("batch", "1,100", "append: events a request, comma-separated for several measurements")
	fs.DurationVar(&o.append.Duration, "duration", 10*time.Second, "append: how long to count requests")
	fs.DurationVar(&o.append.Warmup, "warmup", 2*time.Second, "append: how long to run first, uncounted")
	fs.IntVar(&o.append.MaxRequests, "requests", 1_000_000, "append: the most requests a client sends, warmup included")
	fs.IntVar(&o.append.Payload, "payload", 100, "append, sse: bytes of padding in each event's data")
	fs.BoolVar(&o.append.Keys, "keys", false, "append: give every event an idempotency key")
	fs.IntVar(&o.sse.Clients, "sse-clients", 100, "sse: SSE clients of @all")
	fs.IntVar(&o.sse.Writers, "writers", 4, "sse: writers, each to a stream of its own, one event a request")
	fs.Float64Var(&o.sse.Rate, "rate", 200, "sse: events a second, between the writers")
	fs.DurationVar(&o.sse.Duration, "sse-duration", 10*time.Second, "sse: how long the writers write")
	fs.IntVar(&o.sse.MaxEvents, "max-events", 100_000, "sse: the most events written")
	fs.IntVar(&o.idle.Clients, "idle-clients", 1000, "idle: idle SSE clients of @all")
	fs.IntVar(&o.idle.Events, "idle-events", 0, "idle: events written, and received by every client, before the clients go idle")
	fs.DurationVar(&o.idle.Settle, "settle", 3*time.Second, "idle: how long to wait once they are connected (and have the events)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.measure = strings.Split(*measure, ",")
	for _, m := range o.measure {
		if m != "append" && m != "sse" && m != "idle" {
			return fmt.Errorf("--run: unknown measurement %q (want append, sse, idle)", m)
		}
	}
	for b := range strings.SplitSeq(*batches, ",") {
		n, err := strconv.Atoi(b)
		if err != nil || n <= 0 {
			return fmt.Errorf("--batch: %q is not a count", b)
		}
		o.batches = append(o.batches, n)
	}
	if o.store != "" && !strings.HasPrefix(o.store, "postgres://") && !strings.HasPrefix(o.store, "postgresql://") {
		return errors.New("--store: only postgres://... URLs (SQLite is the default)")
	}
	o.sse.Payload = o.append.Payload
	o.progress = stderr

	var err error
	if o.tmp, err = os.MkdirTemp("", "loadtest-*"); err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(o.tmp)
	}
	if o.bin == "" {
		o.bin = filepath.Join(o.tmp, "evstore")
		fmt.Fprintf(stderr, "building %s\n", o.bin)
		build := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "github.com/go-event-sourcing/evstore/cmd/evstore")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}

	figures := newFigures()
	for r := 1; r <= o.runs; r++ {
		for _, m := range o.measure {
			var err error
			switch m {
			case "append":
				for _, b := range o.batches {
					if err = o.runAppend(ctx, stdout, figures, r, b); err != nil {
						break
					}
				}
			case "sse":
				err = o.runSSE(ctx, stdout, figures, r)
			case "idle":
				err = o.runIdle(ctx, stdout, figures, r)
			}
			if err != nil {
				return fmt.Errorf("run %d, %s: %w", r, m, err)
			}
		}
	}
	fmt.Fprintf(stdout, "\nmedians of %d runs (%s):\n", o.runs, o.storeName())
	figures.print(stdout)
	return nil
}

// storeName says which store the servers ran on.
func (o *options) storeName() string {
	if o.store != "" {
		return "PostgreSQL"
	}
	return "SQLite"
}

// serve starts an evstore serve process on a new store, and returns it
// with a func that stops it and removes the store.
func (o *options) serve(ctx context.Context) (*loadtest.Process, func() error, error) {
	o.servers++
	var args []string
	var drop func() error
	if o.store != "" {
		schema := fmt.Sprintf("loadtest_%d_%d_%d", os.Getpid(), time.Now().Unix(), o.servers)
		args = []string{"--store", o.store, "--schema", schema}
		drop = func() error { return dropSchema(o.store, schema) }
	} else {
		db := filepath.Join(o.tmp, fmt.Sprintf("serve-%d.db", o.servers))
		args = []string{"--db", db}
		drop = func() error {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			return nil
		}
	}
	p, err := loadtest.Start(ctx, o.bin, args...)
	if err != nil {
		return nil, nil, err
	}
	stop := func() error {
		err := p.Stop()
		if !o.keep {
			err = errors.Join(err, drop())
		}
		return err
	}
	return p, stop, nil
}

// dropSchema drops a PostgreSQL schema and what it holds.
func dropSchema(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

func (o *options) runAppend(ctx context.Context, stdout io.Writer, f *figures, run, batch int) (err error) {
	p, stop, err := o.serve(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop()) }()
	cfg := o.append
	cfg.URL, cfg.Batch = p.URL, batch
	cpu := startCPU(p)
	r, err := loadtest.Appends(ctx, cfg)
	if err != nil {
		return err
	}
	u := cpu.use()
	fmt.Fprintf(stdout, "run %d append: %d clients, batch %d: %v; %v; %s\n", run, cfg.Clients, batch, r, u, loadavg())
	name := fmt.Sprintf("append, %d clients, batch %d", cfg.Clients, batch)
	f.add(name, "events/s", r.EventsPerSec())
	f.add(name, "requests/s", r.RequestsPerSec())
	f.add(name, "request p50 ms", msf(r.Latency.P50))
	f.add(name, "request p99 ms", msf(r.Latency.P99))
	u.add(f, name)
	return nil
}

func (u cpuUse) add(f *figures, name string) {
	f.add(name, "server CPU cores", u.server)
	f.add(name, "server CPU wait cores", u.serverWait)
	f.add(name, "load tool CPU cores", u.tool)
}

func (o *options) runSSE(ctx context.Context, stdout io.Writer, f *figures, run int) (err error) {
	p, stop, err := o.serve(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop()) }()
	cfg := o.sse
	cfg.URL = p.URL
	cpu := startCPU(p)
	r, err := loadtest.SSELatency(ctx, cfg)
	if err != nil {
		return err
	}
	u := cpu.use()
	fmt.Fprintf(stdout, "run %d sse: %v; %v; %s\n", run, r, u, loadavg())
	name := fmt.Sprintf("sse, %d clients of @all, %.0f events/s", cfg.Clients, cfg.Rate)
	f.add(name, "samples", float64(r.Latency.N))
	f.add(name, "delivery p50 ms", msf(r.Latency.P50))
	f.add(name, "delivery p99 ms", msf(r.Latency.P99))
	f.add(name, "delivery p99.9 ms", msf(r.Latency.P999))
	f.add(name, "delivery max ms", msf(r.Latency.Max))
	f.add(name, "write p50 ms", msf(r.Write.P50))
	f.add(name, "write p99 ms", msf(r.Write.P99))
	f.add(name, "after response p50 ms", msf(r.AfterAck.P50))
	f.add(name, "after response p99 ms", msf(r.AfterAck.P99))
	f.add(name, "missing", float64(r.Missing))
	u.add(f, name)
	return nil
}

func (o *options) runIdle(ctx context.Context, stdout io.Writer, f *figures, run int) (err error) {
	p, stop, err := o.serve(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop()) }()
	cfg := o.idle
	cfg.URL, cfg.Memory = p.URL, p.Memory
	r, err := loadtest.Idle(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %d idle: %v; %s\n", run, r, loadavg())
	name := fmt.Sprintf("idle, %d SSE clients of @all", cfg.Clients)
	if cfg.Events > 0 {
		name += fmt.Sprintf(", after %d events", cfg.Events)
	}
	f.add(name, "RSS MiB", float64(r.After.RSS)/(1<<20))
	f.add(name, "RSS before MiB", float64(r.Before.RSS)/(1<<20))
	f.add(name, "KiB a client", r.PerClient()/1024)
	f.add(name, "peak RSS MiB", float64(r.After.Peak)/(1<<20))
	for _, m := range []struct{ key, name string }{
		{"go_goroutines", "goroutines"},
		{"go_memstats_heap_inuse_bytes", "heap in use MiB"},
		{"go_memstats_stack_inuse_bytes", "stacks MiB"},
	} {
		if v, ok := r.MetricsAfter[m.key]; ok {
			if strings.HasSuffix(m.name, "MiB") {
				v /= 1 << 20
			}
			f.add(name, m.name, v)
		}
	}
	return nil
}

// A cpuClock measures the CPU the server and this process use, and how
// long the server's threads waited for one.
type cpuClock struct {
	p                 *loadtest.Process
	wall              time.Time
	server, me, delay time.Duration
}

func startCPU(p *loadtest.Process) *cpuClock {
	c := &cpuClock{p: p, wall: time.Now()}
	c.server, _ = p.CPU()
	c.me, _ = loadtest.ReadCPU(os.Getpid())
	c.delay, _ = loadtest.ReadRunDelay(p.PID)
	return c
}

// A cpuUse is what a cpuClock measured, each in cores (seconds a second)
// on average.
type cpuUse struct {
	server, tool float64 // CPU used
	serverWait   float64 // the server's threads runnable, waiting for a CPU
}

func (u cpuUse) String() string {
	return fmt.Sprintf("CPU: server %.2f cores (and %.2f waiting for one), load tool %.2f", u.server, u.serverWait, u.tool)
}

// use returns the CPU used since startCPU.
func (c *cpuClock) use() cpuUse {
	wall := time.Since(c.wall).Seconds()
	s, _ := c.p.CPU()
	m, _ := loadtest.ReadCPU(os.Getpid())
	d, _ := loadtest.ReadRunDelay(c.p.PID)
	return cpuUse{server: (s - c.server).Seconds() / wall, tool: (m - c.me).Seconds() / wall, serverWait: (d - c.delay).Seconds() / wall}
}

// loadavg returns the machine's load averages (Linux), which say how
// much other work competed for its CPUs.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// figures collects each run's values of each figure, in order.
type figures struct {
	names  []string
	keys   map[string][]string
	values map[string]map[string][]float64
}

func newFigures() *figures {
	return &figures{keys: map[string][]string{}, values: map[string]map[string][]float64{}}
}

func (f *figures) add(name, key string, v float64) {
	if f.values[name] == nil {
		f.names = append(f.names, name)
		f.values[name] = map[string][]float64{}
	}
	if f.values[name][key] == nil {
		f.keys[name] = append(f.keys[name], key)
	}
	f.values[name][key] = append(f.values[name][key], v)
}

func (f *figures) print(w io.Writer) {
	for _, name := range f.names {
		fmt.Fprintf(w, "%s:\n", name)
		for _, key := range f.keys[name] {
			vs := f.values[name][key]
			fmt.Fprintf(w, "  %-22s %s   (runs: %s)\n", key, num(median(vs)), nums(vs))
		}
	}
}

// median returns the median of vs (the mean of the middle two of an
// even count).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func num(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

func nums(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = num(v)
	}
	return strings.Join(s, ", ")
}
