package main

import (
	"context"
	"encoding/json"
	"path/filepath"
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
