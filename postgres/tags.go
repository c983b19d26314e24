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
// Measured, rather than a GIN index on events.tags (tags_bench_test.go,
// BenchmarkTags): TODO numbers.

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
