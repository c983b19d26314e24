package postgres

import (
	"strconv"
	"strings"
)

// Tags (schema version 4). Each event's tags are stored twice, in the
// transaction that appends it:
//
//   - events.tags, a text[] column (NULL for none), which every read
//     scans with the event's other columns, so that reading tags back
//     costs no lookup, and Delete and Truncate find the event's rows in
//     evstore_tags by their key;
//   - evstore_tags (tag, seq), one row per tag and event, primary key
//     (tag, seq): a B-tree that lists a tag's events in Sequence order,
//     so that Find and a condition read one page of a tag's events, from
//     any After, in index order, and the tag filter looks an event up by
//     its key.
//
// Chosen by measurement over a text[] column with a GIN index and no
// table (BenchmarkTags, tags_bench_test.go; PostgreSQL 15 on the same 2
// CPUs as the benchmark, which another job was loading, so the spread is
// wide):
//
//	go test ./postgres/ -run '^$' -bench 'Tags/append' -benchtime 5s -count 6
//	go test ./postgres/ -run '^$' -bench 'Tags/find' -benchtime 2s -count 3
//
// Appends, 16 writers, one event per Write, medians of 6 runs (range):
//
//	no tags, without evstore_events_type   13,700 events/s (12,500-16,200)
//	no tags                                15,400 events/s (10,800-16,800)
//	3 tags, evstore_tags (this)             8,500 events/s  (7,900-10,400)
//	3 tags, GIN on events.tags              7,100 events/s  (5,000-11,000)
//
// So the type index costs plain appends nothing measurable here, an
// event's tags cost about what three more index entries cost, and GIN
// costs as much, in bursts (its pending list is flushed now and then).
//
// Find, a page of 100 of one tag's events, µs per page (3 runs):
//
//	                                  100,000 events     1,000,000 events
//	tag of 100 events   evstore_tags      650-720            730-1,220
//	                    GIN, generic   28,000-43,000     340,000-410,000
//	                    GIN, custom       830-1,030        1,080-1,350
//	tag of n/500        evstore_tags      600-1,100          690-980
//	                    GIN, generic   12,800-19,700      12,900-16,600
//	                    GIN, custom       750-880         13,600-16,900
//
// evstore's statements run as generic plans (plan_cache_mode, see
// open), and a generic plan cannot use the GIN index for ORDER BY id
// LIMIT: it walks events' primary key and tests every event, so its cost
// grows with the store. Even with a custom plan GIN finds a tag's every
// event and sorts them, so a page costs what the whole tag does. The
// B-tree gives a page in key order from any After: its cost stays flat.

// arrayLiteral returns tags as the text of a PostgreSQL array, every
// element quoted, so that any text reads back as it was.
func arrayLiteral(tags []string) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, t := range tags {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('"')
		for j := 0; j < len(t); j++ {
			if t[j] == '"' || t[j] == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteByte(t[j])
		}
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}

func itoa(i int) string { return strconv.Itoa(i) }
