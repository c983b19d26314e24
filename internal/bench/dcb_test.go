package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dcbConfig is a Config that runs the DCB workload alone, quickly.
func dcbConfig() Config {
	cfg := DefaultConfig()
	cfg.Reference = false
	cfg.DCB = true
	cfg.Clients = []int{1, 4}
	cfg.Courses, cfg.Capacity, cfg.Students, cfg.StudentLimit = 5, 3, 20, 2 // courses fill: refusals and retries
	cfg.Prefill, cfg.Rounds, cfg.Duration = 25_000, 2, 100*time.Millisecond
	return cfg
}

// TestDCB runs the DCB workload small, on SQLite and, with
// EVSTORE_POSTGRES_DSN, on PostgreSQL: every figure is there, and the
// workload's own check (no course over its capacity, no student over the
// limit) passed.
func TestDCB(t *testing.T) {
	targets := map[string]string{"sqlite": ""}
	if dsn := os.Getenv("EVSTORE_POSTGRES_DSN"); dsn != "" && !testing.Short() {
		targets["postgres"] = dsn
	}
	for name, dsn := range targets {
		t.Run(name, func(t *testing.T) {
			cfg := dcbConfig()
			cfg.Store = dsn
			var out bytes.Buffer
			res, err := Run(context.Background(), cfg, &out)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				WriteEventsPerSec float64        `json:"write_events_per_sec"`
				DCB               map[string]any `json:"dcb"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.WriteEventsPerSec != 0 {
				t.Errorf("the reference workload ran with Reference false")
			}
			for key, v := range got.DCB {
				if key == "clients" {
					continue
				}
				if n, ok := v.(float64); !ok || n <= 0 {
					t.Errorf("dcb.%s = %v, want a positive figure", key, v)
				}
			}
			clients, _ := got.DCB["clients"].([]any)
			if len(clients) != 2 {
				t.Fatalf("dcb.clients = %v, want one object per count of clients", got.DCB["clients"])
			}
			var refused float64
			for _, c := range clients {
				for key, v := range c.(map[string]any) {
					n, ok := v.(float64)
					switch {
					case !ok:
						t.Errorf("dcb.clients[].%s = %v, not a number", key, v)
					case key == "refused" || key == "retries":
						refused += n
					case n <= 0:
						t.Errorf("dcb.clients[].%s = %v, want a positive figure", key, v)
					}
				}
			}
			if refused == 0 {
				t.Errorf("no decision refused with 5 courses of 3 places: %v", clients)
			}
			if s := got.DCB["store_events"].(float64); s < 25_000 {
				t.Errorf("store_events = %v, want the prefill's 25,000 at least", s)
			}
			for _, want := range []string{"--- DCB: enrolments in 5 courses of 3 places", "decisions/sec", "conditional/plain"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestDCBConfigRefused(t *testing.T) {
	for _, change := range []func(*Config){
		func(c *Config) { c.Clients = nil },
		func(c *Config) { c.Clients = []int{1, 0} },
		func(c *Config) { c.Courses = 0 },
		func(c *Config) { c.StudentLimit = 0 },
		func(c *Config) { c.Rounds = 0 },
		func(c *Config) { c.Prefill = -1 },
	} {
		cfg := dcbConfig()
		change(&cfg)
		if _, err := Run(context.Background(), cfg, &bytes.Buffer{}); err == nil || !strings.HasPrefix(err.Error(), "a Config") {
			t.Errorf("Run(%+v): %v, want it refused", cfg, err)
		}
	}
}

// BenchmarkDCB measures the DCB workload's operations on a small SQLite
// store (and PostgreSQL, with EVSTORE_POSTGRES_DSN) of 10,000 tagged
// events: writes of 1,000 events untagged and with two tags each (an
// operation is a write); an enrolment decision (Find, decide, Append with
// FailIfMatch) by 1 and 16 clients; and single-event writes of each kind
// by 1 and 16 writers, b.N of them shared among the clients. Compare kinds
// within one run:
//
//	go test ./internal/bench -run '^$' -bench DCB -benchtime 2000x -count 5
//
// "evstore bench --dcb" measures the same at any size of the store.
func BenchmarkDCB(b *testing.B) {
	targets := []struct{ name, dsn string }{{"sqlite", ""}}
	if dsn := os.Getenv("EVSTORE_POSTGRES_DSN"); dsn != "" {
		targets = append(targets, struct{ name, dsn string }{"postgres", dsn})
	}
	kinds := map[appendKind]string{appendUntagged: "untagged", appendPlain: "plain", appendUnconditional: "unconditional", appendConditional: "conditional"}
	ctx := context.Background()
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			t := target{dir: b.TempDir(), dsn: tg.dsn, poll: time.Second}
			store, _, done, err := t.openPhase(ctx, "dcb")
			if err != nil {
				b.Fatal(err)
			}
			defer done()
			if _, err := prefill(ctx, store, 10_000, &bytes.Buffer{}); err != nil {
				b.Fatal(err)
			}
			cfg := DefaultConfig()
			w := newDCBWorkload(store, cfg)
			round := 0
			// take shares b.N operations among the clients.
			take := func(b *testing.B) func() bool {
				var left atomic.Int64
				left.Store(int64(b.N))
				return func() bool { return left.Add(-1) >= 0 }
			}
			for _, tagged := range []bool{false, true} {
				name := map[bool]string{false: "untagged", true: "tagged"}[tagged]
				b.Run("bulk/"+name, func(b *testing.B) {
					round++
					more := take(b)
					rate, err := bulkBy(ctx, store, tagged, "b"+strconv.Itoa(round), more)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(rate, "events/s")
				})
			}
			for _, n := range []int{1, 16} {
				b.Run("decide/clients="+strconv.Itoa(n), func(b *testing.B) {
					round++
					ns := "b" + strconv.Itoa(round)
					if err := w.defineCourses(ctx, ns); err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					r, err := w.decideBy(ctx, n, ns, uint64(round), take(b))
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(r.retries)/float64(b.N), "retries/op")
				})
				for kind := range appendKinds {
					b.Run("append/"+kinds[kind]+"/writers="+strconv.Itoa(n), func(b *testing.B) {
						round++
						if _, err := appendsBy(ctx, store, kind, n, "b"+strconv.Itoa(round), take(b)); err != nil {
							b.Fatal(err)
						}
					})
				}
			}
		})
	}
}
