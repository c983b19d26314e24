package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/sqlite"
)

func TestConsumers(t *testing.T) {
	db := filepath.Join(t.TempDir(), "consumers.db")
	for range 5 {
		mustCLI(t, db, "write", "a", "--type", "E")
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// "projector" handles 3 of the 5 events, then stops; "live" runs.
	seen := make(chan int64, 10)
	h := evstore.HandlerFunc(func(ctx context.Context, events []evstore.StoredEvent) error {
		seen <- events[len(events)-1].Sequence
		return nil
	})
	if err := store.ResetConsumer(ctx, "projector", 3); err != nil {
		t.Fatal(err)
	}
	live, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- store.Consume(live, "live", h) }()
	select {
	case <-seen:
	case <-time.After(time.Minute):
		t.Fatal("the consumer handled nothing")
	}

	// The checkpoint is saved after Handle returns: wait for it.
	var got map[string]map[string]any
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		out := mustCLI(t, db, "consumers", "--json")
		got = map[string]map[string]any{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var c map[string]any
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			got[c["name"].(string)] = c
		}
		if got["live"]["position"] == 5.0 || time.Now().After(deadline) {
			break
		}
	}
	if p, ok := got["projector"]; !ok || p["position"] != 3.0 || p["lag"] != 2.0 {
		t.Errorf("projector: got %v, want position 3, lag 2", p)
	}
	if l, ok := got["live"]; !ok || l["position"] != 5.0 || l["lag"] != 0.0 {
		t.Errorf("live: got %v, want position 5, lag 0", l)
	}
	table := mustCLI(t, db, "consumers")
	if !strings.Contains(table, "CONSUMER") || !strings.Contains(table, "projector") {
		t.Errorf("table: %q", table)
	}

	// A reset of a running consumer is refused, and says why.
	_, errOut, status := cli(t, db, "consumers", "reset", "live", "--to", "0")
	if status == 0 || !strings.Contains(errOut, "is running") {
		t.Errorf("reset of a running consumer: status %d, %q; want a refusal saying it is running", status, errOut)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, db, "consumers", "reset", "live", "--to", "1"); !strings.Contains(out, "after sequence 1") {
		t.Errorf("reset: %q", out)
	}
	for c, err := range store.Consumers(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if c.Name == "live" && c.Position != 1 {
			t.Errorf("after the reset: live at %d, want 1", c.Position)
		}
	}
	if _, _, status := cli(t, db, "consumers", "reset", "live"); status != 2 {
		t.Errorf("reset without --to: status %d, want 2", status)
	}
	// A name that never ran is a typo unless --create says otherwise.
	if _, errOut, status := cli(t, db, "consumers", "reset", "typo", "--to", "1"); status == 0 || !strings.Contains(errOut, "--create") {
		t.Errorf("reset of an unknown consumer: status %d, %q; want a refusal naming --create", status, errOut)
	}
	if out := mustCLI(t, db, "consumers", "reset", "new", "--to", "2", "--create"); !strings.Contains(out, "after sequence 2") {
		t.Errorf("reset --create: %q", out)
	}
}

// TestConsumersLagAfterDeletes: a consumer's lag counts the events left
// after its position in its partition, not the Sequences that Delete and
// Truncate removed; when counting them would read more than lagScanMax
// events it says the count is a lower bound.
func TestConsumersLagAfterDeletes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "consumers.db")
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	write := func(id string, n int) *evstore.Stream {
		t.Helper()
		st, err := store.Stream(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	write("a", 3) // Sequences 1-3
	write("b", 3) // 4-6
	// "split" runs in two partitions over the six events, then stops.
	run, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	for m := range 2 {
		go func() {
			done <- store.Consume(run, "split", evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error { return nil }), evstore.Partition(m, 2))
		}()
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	err = store.WaitConsumer(wait, "split", 6)
	cancel()
	stop()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	mustCLI(t, db, "consumers", "reset", "proj", "--to", "2", "--create")
	mustCLI(t, db, "consumers", "reset", "zero", "--to", "0", "--create")

	a := write("a", 2)                       // 7-8
	b := write("b", 1)                       // 9
	c := write("c", 2)                       // 10-11
	if _, err := a.Delete(ctx); err != nil { // removes 1-3, 7-8; tombstone at 12
		t.Fatal(err)
	}
	if err := b.Truncate(ctx, 4); err != nil { // removes 4-6
		t.Fatal(err)
	}
	if err := c.Truncate(ctx, 2); err != nil { // removes 10
		t.Fatal(err)
	}
	// Left: b@4 (9), c@2 (11) and a's tombstone (12).
	left := []struct {
		stream string
		seq    int64
	}{{"b", 9}, {"c", 11}, {"a", 12}}

	consumers := func() map[string]map[string]any {
		t.Helper()
		got := map[string]map[string]any{}
		for _, line := range strings.Split(strings.TrimSpace(mustCLI(t, db, "consumers", "--json")), "\n") {
			var c map[string]any
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			key := c["name"].(string)
			if c["members"] != 0.0 {
				key += fmt.Sprintf("/%v", c["partition"])
			}
			got[key] = c
		}
		return got
	}
	got := consumers()
	want := map[string]int64{"proj": 3, "zero": 3}
	for m := range 2 {
		pos := int64(got[fmt.Sprintf("split/%d", m)]["position"].(float64))
		n := int64(0)
		for _, e := range left {
			if e.seq > pos && evstore.PartitionOf(e.stream, 2) == m {
				n++
			}
		}
		want[fmt.Sprintf("split/%d", m)] = n
	}
	for key, lag := range want {
		c, ok := got[key]
		if !ok || c["lag"] != float64(lag) || c["lag_exact"] != true || c["sequences_behind"] != 12-c["position"].(float64) {
			t.Errorf("%s: got %v, want lag %d (exact) and sequences_behind 12 - position", key, c, lag)
		}
	}
	table := mustCLI(t, db, "consumers")
	if !regexp.MustCompile(`(?m)^proj +- +2 +3 `).MatchString(table) {
		t.Errorf("table: proj's line should show position 2, lag 3:\n%s", table)
	}

	// Reading at most two events: a lower bound, said as one.
	defer func(n int) { lagScanMax = n }(lagScanMax)
	lagScanMax = 2
	got = consumers()
	if p := got["proj"]; p["lag"] != 2.0 || p["lag_exact"] != false {
		t.Errorf("proj with lagScanMax 2: got %v, want lag 2, not exact", p)
	}
	if z := got["zero"]; z["lag"] != 3.0 || z["lag_exact"] != true {
		t.Errorf("zero with lagScanMax 2: got %v, want lag 3 (the store's event count), exact", z)
	}
	if table := mustCLI(t, db, "consumers"); !regexp.MustCompile(`(?m)^proj +- +2 +2\+ `).MatchString(table) {
		t.Errorf("table: proj's line should show lag 2+:\n%s", table)
	}
}
