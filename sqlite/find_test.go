package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// TestFindPlans shows, with SQLite's own EXPLAIN QUERY PLAN on a store
// of 20,000 events, that Find and the FailIfMatch check read through
// indexes: evstore_tags_tag for a tag, the (seq, tag) key for each further
// tag, events_event_type for types, events by rowid to fetch the rows,
// and never a scan of events or of the tags. The cost of one tag's events
// thus does not grow with the store.
func TestFindPlans(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "plans.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		batch := make([]evstore.CandidateEvent, 100)
		for j := range batch {
			batch[j] = evstore.CandidateEvent{Type: fmt.Sprintf("T%d", j%7), Tags: []string{fmt.Sprintf("course:%d", j%50), fmt.Sprintf("student:%d", i)}}
		}
		if _, err := stream(t, s, fmt.Sprintf("s-%d", i)).Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := exec(ctx, conn, "ANALYZE"); err != nil { // plans as a long-lived file would have them
		t.Log("ANALYZE:", err)
	}

	cases := []struct {
		name string
		c    evstore.Criterion
		want []string // in the plan
	}{
		{"one tag", evstore.Criterion{Tags: []string{"course:3"}}, []string{"evstore_tags_tag"}},
		{"two tags", evstore.Criterion{Tags: []string{"course:3", "student:7"}}, []string{"evstore_tags_tag", "PRIMARY KEY"}},
		{"tag and types", evstore.Criterion{Tags: []string{"course:3"}, Types: []string{"T1", "T2"}}, []string{"evstore_tags_tag", "INTEGER PRIMARY KEY"}},
		{"types", evstore.Criterion{Types: []string{"T1", "T2"}}, []string{"events_event_type"}},
	}
	for _, c := range cases {
		for _, backwards := range []bool{false, true} {
			q := evstore.FindQuery{Criteria: evstore.Criteria{c.c}, After: 1000, MaxSequence: 15000, Limit: 100, Backwards: backwards}
			query, args, ok := buildFind(q, true)
			if !ok {
				t.Fatal("buildFind found nothing to query")
			}
			plan := explain(t, conn, query, args)
			for _, w := range c.want {
				if !strings.Contains(plan, w) {
					t.Errorf("%s (backwards %v): plan lacks %q:\n%s", c.name, backwards, w, plan)
				}
			}
			for _, line := range strings.Split(plan, "\n") {
				// SCAN (subquery-N) reads a subquery's own at most
				// Limit rows; SCAN of a table would read the table.
				if l := strings.TrimSpace(line); strings.HasPrefix(l, "SCAN ") && !strings.HasPrefix(l, "SCAN (subquery") {
					t.Errorf("%s (backwards %v): plan scans a table: %q\n%s", c.name, backwards, line, plan)
				}
			}
			if testing.Verbose() {
				t.Logf("%s (backwards %v):\n%s", c.name, backwards, plan)
			}
		}
	}
}

// explain returns the lines of EXPLAIN QUERY PLAN for query.
func explain(t *testing.T, conn *sqlite.Conn, query string, args []any) string {
	t.Helper()
	stmt, _, err := conn.PrepareTransient("EXPLAIN QUERY PLAN " + query)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Finalize()
	bind(stmt, args)
	var lines []string
	for {
		row, err := stmt.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !row {
			return strings.Join(lines, "\n")
		}
		lines = append(lines, stmt.ColumnText(3))
	}
}
