package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// childArg makes the test binary RunChild, as the cross-process watch
// latency needs.
const childArg = "bench-test-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		if err := RunChild(context.Background(), os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// smallConfig is a Config that runs every measurement, quickly.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.Events, cfg.Batch = 2000, 500
	cfg.Poll = 20 * time.Millisecond
	cfg.Baseline = true
	cfg.Writers, cfg.Duration = 4, 200*time.Millisecond
	cfg.Watch, cfg.Idle, cfg.ChildCommand = true, 200*time.Millisecond, []string{os.Args[0], childArg}
	cfg.Watchers, cfg.FanoutEvents = 10, 1000
	cfg.Slow = 2
	cfg.Consume = true
	return cfg
}

func TestRun(t *testing.T) {
	cfg := smallConfig()
	cfg.DB = filepath.Join(t.TempDir(), "kept.db")
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for key, v := range got {
		if key == "idle_cpu_percent" || key == "conflicts" || key == "keys" {
			continue
		}
		if n, ok := v.(float64); !ok || n <= 0 {
			t.Errorf("%s = %v, want a positive figure", key, v)
		}
	}
	if len(got) < 35 {
		t.Errorf("got %d figures, want every measurement's: %v", len(got), got)
	}
	for _, want := range []string{"--- Running benchmark with 2,000 events ---", "--- Baseline:", "--- Group commit:", "--- Watch:", "--- Fan-out:", "--- Slow watchers:", "--- Consume:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if fi, err := os.Stat(cfg.DB); err != nil || fi.Size() == 0 {
		t.Errorf("DB file not kept: %v", err)
	}
	if _, err := Run(context.Background(), cfg, &out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Run on an existing DB: %v, want an error", err)
	}
}

// TestChildFails: the child's own words are in Run's error.
func TestChildFails(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events, cfg.Batch, cfg.Idle = 10, 10, time.Millisecond
	cfg.Watch, cfg.ChildCommand = true, []string{os.Args[0], childArg, "--nope"}
	_, err := Run(context.Background(), cfg, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "flag provided but not defined: -nope") {
		t.Errorf("Run with a failing child: %v", err)
	}
}

// countingProgress records what Run tells a Progress.
type countingProgress struct {
	last, calls int
	done        bool
}

func (p *countingProgress) Set(n int) { p.last, p.calls = n, p.calls+1 }
func (p *countingProgress) Done()     { p.done = true }

func TestProgress(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events, cfg.Batch = 1000, 100
	p := &countingProgress{}
	cfg.Progress = p
	if _, err := Run(context.Background(), cfg, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if p.last != 1000 || p.calls != 10 || !p.done {
		t.Errorf("progress: last %d after %d calls, done %v; want 1000 after 10, done", p.last, p.calls, p.done)
	}
}

func TestConfigRefused(t *testing.T) {
	for _, change := range []func(*Config){
		func(c *Config) { c.Events = 0 },
		func(c *Config) { c.Batch = -1 },
		func(c *Config) { c.Writers = -1 },
		func(c *Config) { c.Watchers, c.FanoutEvents = 1, 0 },
		func(c *Config) { c.Watch = true },
		func(c *Config) { c.Store, c.DB = "postgres://x", "x.db" },
	} {
		cfg := DefaultConfig()
		change(&cfg)
		if _, err := Run(context.Background(), cfg, &bytes.Buffer{}); err == nil || !strings.HasPrefix(err.Error(), "a Config") {
			t.Errorf("Run(%+v): %v, want it refused", cfg, err)
		}
	}
}
