package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestMain lets "bench --watch" re-run this test binary as its child process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == benchChildName {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	if os.Getenv("EVSTORE_TEST_MAIN") == "1" { // the test binary as the evstore command
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("EVSTORE_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), status
}

func TestBenchJSON(t *testing.T) {
	stdout, stderr, status := runCLI(t, "bench", "--events", "3000", "--batch", "500", "--baseline", "--json",
		"--writers", "4", "--duration", "200ms", "--watch", "--watchers", "20", "--fanout-events", "2000", "--poll", "20ms", "--idle", "1s", "--slow", "3")
	if status != 0 {
		t.Fatalf("status %d, stderr:\n%s", status, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout)
	}
	for _, key := range []string{
		"write_events_per_sec", "read_events_per_sec", "snapshot_rebuild_seconds", "db_bytes",
		"raw_write_events_per_sec", "raw_read_events_per_sec",
		"group_commit_events_per_sec", "single_writer_events_per_sec",
		"watch_p50_ms", "watch_p99_ms", "cross_process_p99_ms", "poll_interval_ms", "idle_cpu_percent",
		"fanout_events_per_sec", "peak_rss_bytes",
		"slow_watchers_write_ratio", "slow_watchers_peak_rss_bytes",
	} {
		v, ok := got[key].(float64)
		if !ok {
			t.Errorf("%s: missing or not a number (%v)", key, got[key])
			continue
		}
		if v < 0 || (v == 0 && key != "idle_cpu_percent") {
			t.Errorf("%s = %v, want a positive figure", key, v)
		}
	}
	if got["events"] != 3000.0 {
		t.Errorf("events = %v, want 3000", got["events"])
	}
}

func TestBenchText(t *testing.T) {
	stdout, stderr, status := runCLI(t, "bench", "--events", "2000", "--batch", "300")
	if status != 0 {
		t.Fatalf("status %d, stderr:\n%s", status, stderr)
	}
	for _, want := range []string{
		"--- Running benchmark with 2,000 events ---",
		"Finished writing 2,000 events in",
		"Write throughput:",
		"--- Benchmark 1: Reconstructing state from all events ---",
		"Reconstructed state (all events): Counter is 2,000.",
		"Read throughput:",
		"--- Benchmark 2: Reconstructing state using snapshot ---",
		"State restored from snapshot at version 2,000.",
		"Reconstructed state (with snapshot): Counter is 2,100.",
		"Database file size:",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "\r") {
		t.Errorf("progress bar drawn on a non-terminal")
	}
}

func TestBenchKeepsDB(t *testing.T) {
	path := t.TempDir() + "/kept.db"
	if _, stderr, status := runCLI(t, "bench", "--events", "100", "--batch", "10", "--keys=false", "--db", path); status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("--db file: %v", err)
	}
	// A second run refuses to reuse it.
	if _, stderr, status := runCLI(t, "bench", "--events", "100", "--db", path); status != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("reusing --db: status %d, stderr %q; want 1 and a message", status, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args   []string
		status int
		says   string
	}{
		{nil, 2, "usage: evstore [--db FILE | --store URL] COMMAND"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"bench", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"bench", "--events", "0"}, 1, "must be positive"},
		{[]string{"bench", "extra"}, 2, "unexpected arguments"},
		{[]string{"bench", "--help"}, 0, "example:"},
		{[]string{"help"}, 0, "bench"},
	}
	for _, c := range cases {
		_, stderr, status := runCLI(t, c.args...)
		if status != c.status || !strings.Contains(stderr, c.says) {
			t.Errorf("evstore %v: status %d, stderr %q; want %d and %q", c.args, status, stderr, c.status, c.says)
		}
	}
	stdout, _, status := runCLI(t, "version")
	if status != 0 || !strings.HasPrefix(stdout, "evstore ") {
		t.Errorf("version: %d %q", status, stdout)
	}
}
