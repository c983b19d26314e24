package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchDCB(t *testing.T) {
	stdout, stderr, status := runCLI(t, "bench", "--reference=false", "--dcb", "--clients", "1,3", "--courses", "4",
		"--capacity", "2", "--students", "6", "--student-limit", "1", "--prefill", "500", "--rounds", "1", "--duration", "100ms", "--json")
	if status != 0 {
		t.Fatalf("status %d, stderr:\n%s", status, stderr)
	}
	var got struct {
		WriteEventsPerSec float64 `json:"write_events_per_sec"`
		DCB               struct {
			Prefill     int   `json:"prefill"`
			StoreEvents int64 `json:"store_events"`
			Courses     int   `json:"courses"`
			Clients     []struct {
				Clients          int     `json:"clients"`
				DecisionsPerSec  float64 `json:"decisions_per_sec"`
				ConditionalRatio float64 `json:"conditional_ratio"`
				TagsRatio        float64 `json:"tags_ratio"`
			} `json:"clients"`
			BulkTagsRatio float64 `json:"bulk_tags_ratio"`
		} `json:"dcb"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout)
	}
	d := got.DCB
	if got.WriteEventsPerSec != 0 || d.Prefill != 500 || d.StoreEvents < 500 || d.Courses != 4 || d.BulkTagsRatio <= 0 || len(d.Clients) != 2 {
		t.Fatalf("unexpected figures: %s", stdout)
	}
	for i, c := range d.Clients {
		if c.Clients != []int{1, 3}[i] || c.DecisionsPerSec <= 0 || c.ConditionalRatio <= 0 || c.TagsRatio <= 0 {
			t.Errorf("clients[%d] = %+v, want positive figures", i, c)
		}
	}
}

func TestBenchDCBUsage(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		says   string
	}{
		{[]string{"bench", "--dcb", "--clients", "1,x"}, 2, "want positive integers"},
		{[]string{"bench", "--dcb", "--clients", "0"}, 2, "want positive integers"},
		{[]string{"bench", "--dcb", "--courses", "0"}, 1, "must be positive"},
		{[]string{"bench", "--dcb", "--prefill", "-1"}, 1, "--prefill not negative"},
		{[]string{"bench", "--dcb", "--rounds", "0"}, 1, "must be positive"},
	} {
		_, stderr, status := runCLI(t, c.args...)
		if status != c.status || !strings.Contains(stderr, c.says) {
			t.Errorf("evstore %v: status %d, stderr %q; want %d and %q", c.args, status, stderr, c.status, c.says)
		}
	}
}
