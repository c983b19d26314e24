package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// watch measures write-to-delivery latency for a watcher in this
// process and in another, and the CPU an idle store with 100 watchers uses.
func watch(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	store, loc, done, err := t.openPhase(ctx, "watch")
	if err != nil {
		return err
	}
	defer done()
	st, err := store.Stream(ctx, "latency")
	if err != nil {
		return err
	}
	res.PollIntervalMs = ms(pollInterval(t))

	// In-process: a watcher of @all; each write waits for its delivery.
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	arrived := make(chan time.Time, 1)
	go func() {
		for _, err := range all.Watch(wctx) {
			if err != nil {
				return
			}
			arrived <- time.Now()
		}
	}()
	event := increments(0, 1, false)
	var lat []time.Duration
	for i := range latencySamples + 10 {
		start := time.Now()
		if _, err := st.Write(ctx, event); err != nil {
			return err
		}
		select {
		case at := <-arrived:
			if i >= 10 { // the first ones warm up
				lat = append(lat, at.Sub(start))
			}
		case <-time.After(10 * time.Second):
			return fmt.Errorf("watcher did not receive event %d", i)
		}
		time.Sleep(200 * time.Microsecond)
	}
	cancel()
	res.WatchP50Ms, res.WatchP99Ms = percentiles(lat)

	// Cross-process: another process watches; each event carries its write time.
	cross, err := crossProcessLatency(ctx, store, t, loc, false)
	if err != nil {
		return fmt.Errorf("cross-process watch: %w", err)
	}
	res.CrossProcessP50Ms, res.CrossProcessP99Ms = percentiles(cross)

	// Idle: 100 watchers, no writes.
	res.IdleCPUPercent, err = idleCPU(ctx, store, 100, cfg.Idle)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n--- Watch: write-to-delivery latency and idle cost ---")
	fmt.Fprintf(out, "In-process watcher: p50 %.3f ms, p99 %.3f ms (%d writes).\n", res.WatchP50Ms, res.WatchP99Ms, len(lat))
	fmt.Fprintf(out, "Watcher in another process (poll interval %v): p50 %.3f ms, p99 %.3f ms (%d writes).\n",
		time.Duration(res.PollIntervalMs*float64(time.Millisecond)), res.CrossProcessP50Ms, res.CrossProcessP99Ms, len(cross))
	fmt.Fprintf(out, "Idle store with 100 watchers: %.2f%% of a core over %v.\n", res.IdleCPUPercent, cfg.Idle)
	return nil
}

// crossProcessLatency starts the child command (RunChild) on the same
// database and writes events stamped with their write time; the child
// prints each latency.
func crossProcessLatency(ctx context.Context, store *evstore.Store, t target, loc string, consume bool) ([]time.Duration, error) {
	const n = 300
	args := append(slices.Clone(t.child[1:]), childArgs(t, loc, n, consume)...)
	cmd := exec.CommandContext(ctx, t.child[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lat, err := readLatencies(ctx, store, bufio.NewScanner(stdout), n)
	if err != nil {
		_ = cmd.Process.Kill()
	}
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("child: %w", werr)
	}
	if err != nil && stderr.Len() > 0 {
		err = fmt.Errorf("%w (the child said: %s)", err, strings.TrimSpace(stderr.String()))
	}
	return lat, err
}

// readLatencies waits for the child to be ready, writes n stamped events
// and reads the latencies the child prints.
func readLatencies(ctx context.Context, store *evstore.Store, lines *bufio.Scanner, n int) ([]time.Duration, error) {
	if !lines.Scan() || lines.Text() != "ready" {
		return nil, fmt.Errorf("child did not start: %q", lines.Text())
	}
	st, err := store.Stream(ctx, "cross")
	if err != nil {
		return nil, err
	}
	go func() {
		for range n {
			stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
			if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Stamped", Data: []byte(stamp)}}); err != nil {
				return
			}
			time.Sleep(7 * time.Millisecond) // spread over poll phases
		}
	}()
	var lat []time.Duration
	for lines.Scan() {
		ns, err := strconv.ParseInt(lines.Text(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("child: %q", lines.Text())
		}
		lat = append(lat, time.Duration(ns))
	}
	if len(lat) != n {
		return nil, fmt.Errorf("child saw %d of %d events", len(lat), n)
	}
	return lat, nil
}

// idleCPU returns the CPU this process uses, in percent of a core, while
// watchers wait on a store nobody writes to.
func idleCPU(ctx context.Context, store *evstore.Store, watchers int, d time.Duration) (float64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range watchers {
		all, err := store.Stream(wctx, evstore.All)
		if err != nil {
			return 0, err
		}
		go func() {
			for range all.Watch(wctx) {
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // let them settle
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(d)
	return 100 * float64(cpuTime()-c0) / float64(time.Since(t0)), nil
}
