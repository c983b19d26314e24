package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5"
)

// BenchmarkTags measures what tags cost, to choose how to store them (see
// tags.go):
//
//   - Append: Writes of one event by 16 concurrent writers (group
//     commit), each event with 3 tags, with tags in evstore_tags (and
//     events.tags, which reads scan), against tags in events.tags with a
//     GIN index on it (no evstore_tags rows), and against events without
//     tags, with and without the index on (event_type, id);
//
//   - Find: a page of 100 of one tag's events, at two sizes of the
//     store, through evstore_tags (Find) and through the GIN index (tags
//     @> ARRAY[$1]), for a tag of 100 events spread across the store and
//     for one of a 500th of the store.
//
// Run it with:
//
//	go test ./postgres/ -run '^$' -bench Tags -benchtime 3s -count 3
func BenchmarkTags(b *testing.B) {
	testDSN(b)
	tags := func(w, i int) []string {
		return []string{"course:" + strconv.Itoa(i%50), "student:" + strconv.Itoa(w), "seq:" + strconv.Itoa(i)}
	}
	for _, bb := range []struct {
		name  string
		tags  bool
		setup []string // statements run on the new schema; %s is its events table
		noTab bool
	}{
		{name: "none-no-type-index", setup: []string{"DROP INDEX %s"}},
		{name: "none"},
		{name: "table", tags: true},
		{name: "gin", tags: true, noTab: true, setup: []string{"CREATE INDEX ON %s USING gin (tags)"}},
	} {
		b.Run("append/"+bb.name, func(b *testing.B) {
			var bk *backend
			s := testStore(b, testSchema(b), func(x *backend) { bk = x })
			bk.noTagTable = bb.noTab
			for _, stmt := range bb.setup {
				arg := bk.sql.events
				if stmt == "DROP INDEX %s" {
					arg = bk.sql.tags[:len(bk.sql.tags)-len("evstore_tags")] + "evstore_events_type"
				}
				if _, err := bk.pool.Exec(context.Background(), fmt.Sprintf(stmt, arg)); err != nil {
					b.Fatal(err)
				}
			}
			var writers atomic.Int64
			b.SetParallelism(8) // 16 writers on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := int(writers.Add(1))
				st, err := s.Stream(context.Background(), "w-"+strconv.Itoa(w))
				if err != nil {
					b.Error(err)
					return
				}
				for i := 0; pb.Next(); i++ {
					e := evstore.CandidateEvent{Type: "Enrolled", Data: []byte(`{"n":1}`)}
					if bb.tags {
						e.Tags = tags(w, i)
					}
					if _, err := st.Write(context.Background(), []evstore.CandidateEvent{e}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	for _, n := range []int{100_000, 1_000_000} {
		// One schema per size, kept for the Find benchmarks below.
		var bk *backend
		testStore(b, testSchema(b), func(x *backend) { bk = x })
		fill(b, bk, n)
		if _, err := bk.pool.Exec(context.Background(), "CREATE INDEX ON "+bk.sql.events+" USING gin (tags)"); err != nil {
			b.Fatal(err)
		}
		if _, err := bk.pool.Exec(context.Background(), "VACUUM ANALYZE "+bk.sql.events+", "+bk.sql.tags); err != nil {
			b.Fatal(err)
		}
		// A page of 100 (Limit) of one tag's events: a tag that has 100
		// events, wherever they are in the store (spread:*), and one
		// that has n/500 (course:*), from the start.
		for _, page := range []struct {
			name string
			tag  func(i int) string
		}{{"tag-of-100", func(i int) string { return "spread:" + strconv.Itoa(i%(n/100)) }},
			{"tag-of-n/500", func(i int) string { return "course:" + strconv.Itoa(i%500) }}} {
			b.Run("find/"+page.name+"/table/"+strconv.Itoa(n), func(b *testing.B) {
				var got []evstore.StoredEvent
				for i := 0; b.Loop(); i++ {
					var err error
					q := evstore.FindQuery{Criteria: evstore.Criteria{{Tags: []string{page.tag(i)}}}, MaxSequence: int64(n), Limit: 100}
					if got, err = bk.Find(context.Background(), q, got[:0]); err != nil || len(got) != 100 {
						b.Fatalf("got %d events, %v; want 100", len(got), err)
					}
				}
			})
			// The GIN index, in the pool's generic plan, as evstore would
			// run it; and in a custom plan (the simple protocol sends the
			// values in the text), in which the planner sees the tag.
			for _, mode := range []struct {
				name string
				args []any
			}{{"gin", nil}, {"gin-custom", []any{pgx.QueryExecModeSimpleProtocol}}} {
				b.Run("find/"+page.name+"/"+mode.name+"/"+strconv.Itoa(n), func(b *testing.B) {
					query := "SELECT " + readColumns + " FROM " + bk.sql.events + " WHERE tags @> ARRAY[$1::text] AND id > $2 AND id <= $3 ORDER BY id LIMIT $4"
					var got []evstore.StoredEvent
					for i := 0; b.Loop(); i++ {
						var err error
						args := append(mode.args[:len(mode.args):len(mode.args)], page.tag(i), 0, n, 100)
						if got, err = bk.queryEvents(context.Background(), query, args, got[:0]); err != nil || len(got) != 100 {
							b.Fatalf("got %d events, %v; want 100", len(got), err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkConditional compares Writes with FailIfMatch to the same
// Writes without it, with 1 and 16 writers: the condition (one query per
// conditional write, in the round trip that reads the heads) must keep
// group commit's throughput. Each writer's condition is on its own tag,
// after its last event, so none fails. So that load from outside the
// benchmark touches both alike, it runs them in turn on one Store, a
// second at a time, ABBA, 12 times each, and reports the medians and the
// median of each pair's ratio.
//
//	go test ./postgres/ -run '^$' -bench Conditional -benchtime 1x
func BenchmarkConditional(b *testing.B) {
	testDSN(b)
	const rounds, slice = 12, time.Second
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers-%d", writers), func(b *testing.B) {
			s := testStore(b, testSchema(b), nil)
			type writer struct {
				st   *evstore.Stream
				mine evstore.Criteria
				tag  string
				last int64
				i    int
			}
			ws := make([]*writer, writers)
			for k := range ws {
				tag := "writer:" + strconv.Itoa(k)
				st, err := s.Stream(context.Background(), "w-"+strconv.Itoa(k))
				if err != nil {
					b.Fatal(err)
				}
				ws[k] = &writer{st: st, tag: tag, mine: evstore.Criteria{{Tags: []string{tag}}}}
			}
			rate := func(cond bool) float64 {
				var n atomic.Int64
				var wg sync.WaitGroup
				deadline := time.Now().Add(slice)
				start := time.Now()
				for _, w := range ws {
					wg.Go(func() {
						for time.Now().Before(deadline) {
							var r evstore.WriteReport
							opts := []evstore.WriteOption{evstore.Report(&r)}
							if cond {
								opts = append(opts, evstore.FailIfMatch(w.mine, w.last))
							}
							w.i++
							e := evstore.CandidateEvent{Type: "Enrolled", Data: []byte(`{"n":1}`), Tags: []string{w.tag, "course:" + strconv.Itoa(w.i%50)}}
							if _, err := w.st.Write(context.Background(), []evstore.CandidateEvent{e}, opts...); err != nil {
								b.Error(err)
								return
							}
							w.last = r.Last
							n.Add(1)
						}
					})
				}
				wg.Wait()
				return float64(n.Load()) / time.Since(start).Seconds()
			}
			var plain, cond, ratio []float64
			for i := range rounds {
				var p, c float64
				if i%4 == 0 || i%4 == 3 {
					p, c = rate(false), rate(true)
				} else {
					c, p = rate(true), rate(false)
				}
				plain, cond, ratio = append(plain, p), append(cond, c), append(ratio, c/p)
			}
			b.ReportMetric(median(plain), "plain-events/s")
			b.ReportMetric(median(cond), "conditional-events/s")
			b.ReportMetric(median(ratio), "ratio")
			b.Logf("plain %.0f\nconditional %.0f\nratio %.2f", plain, cond, ratio)
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
