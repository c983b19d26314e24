package postgres

import (
	"slices"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5"
)

// Conditions. A commit group checks the conditions of all its calls with
// one statement, in the round trip that reads the streams' versions,
// under the append lock: a statement per condition would cost each
// conditional write tens of microseconds of the group's time. Its text
// does not depend on the conditions, which come as arrays of probes, so
// it is prepared once per connection. Each Criterion becomes probes, as
// it becomes branches in Find (find.go), walking the same indexes in key
// order from the condition's After, for the first event only:
//
//   - a Criterion with tags: one probe that walks evstore_tags from its
//     first tag, checks its other tags by key (their count), and the
//     event's type;
//   - one with types only: one probe per type, on evstore_events_type;
//   - one with neither: one probe on events' primary key.
//
// The statement returns, for each probe that found an event, the index
// of its condition and the event's Sequence; a condition's match is the
// smallest.

// matchSQL returns the statement that runs the probes (see probes.args).
func matchSQL(events, tags string) string {
	const top = "9223372036854775807"
	return "SELECT p.c, m.id FROM (SELECT c, a, g, o::text[] AS other, t::text[] AS types " +
		"FROM unnest($1::int[], $2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(c, a, g, o, t)) p " +
		"CROSS JOIN LATERAL (SELECT t0.seq AS id FROM " + tags + " t0 " +
		"WHERE (t0.tag, t0.seq) > (p.g, p.a) AND (t0.tag, t0.seq) <= (p.g, " + top + ") " +
		"AND (p.other IS NULL OR (SELECT count(*) FROM " + tags + " t1 WHERE t1.tag = ANY(p.other) AND t1.seq = t0.seq) = cardinality(p.other)) " +
		"AND EXISTS (SELECT 1 FROM " + events + " e WHERE e.id = t0.seq AND (p.types IS NULL OR e.event_type = ANY(p.types)) OFFSET 0) " +
		"ORDER BY t0.tag, t0.seq LIMIT 1) m " +
		"UNION ALL " +
		"SELECT q.c, m.id FROM unnest($6::int[], $7::bigint[], $8::text[]) AS q(c, a, t) " +
		"CROSS JOIN LATERAL (SELECT e.id FROM " + events + " e " +
		"WHERE (e.event_type, e.id) > (q.t, q.a) AND (e.event_type, e.id) <= (q.t, " + top + ") " +
		"ORDER BY e.event_type, e.id LIMIT 1) m " +
		"UNION ALL " +
		"SELECT r.c, m.id FROM unnest($9::int[], $10::bigint[]) AS r(c, a) " +
		"CROSS JOIN LATERAL (SELECT e.id FROM " + events + " e WHERE e.id > r.a ORDER BY e.id LIMIT 1) m"
}

// probes collect the conditions of a group, as matchSQL takes them.
type probes struct {
	n int // conditions added
	// Criteria with tags: the condition, its After, the first tag, the
	// other tags and the types (as array text; nil for none).
	tagC              []int32
	tagAfter          []int64
	tag               []string
	tagOther, tagType []*string
	// Types of Criteria of types only.
	typeC     []int32
	typeAfter []int64
	typ       []string
	// Criteria with neither.
	allC     []int32
	allAfter []int64
}

// add adds the probes of cond, the condition numbered c.
func (p *probes) add(c int, cond *evstore.Condition) {
	p.n++
	lit := func(s []string) *string {
		if len(s) == 0 {
			return nil
		}
		l := arrayLiteral(s)
		return &l
	}
	for _, cr := range cond.Criteria {
		switch {
		case len(cr.Tags) > 0:
			p.tagC, p.tagAfter = append(p.tagC, int32(c)), append(p.tagAfter, cond.After)
			p.tag = append(p.tag, cr.Tags[0])
			p.tagOther, p.tagType = append(p.tagOther, lit(cr.Tags[1:])), append(p.tagType, lit(cr.Types))
		case len(cr.Types) > 0:
			for _, t := range slices.Compact(slices.Sorted(slices.Values(cr.Types))) {
				p.typeC, p.typeAfter, p.typ = append(p.typeC, int32(c)), append(p.typeAfter, cond.After), append(p.typ, t)
			}
		default:
			p.allC, p.allAfter = append(p.allC, int32(c)), append(p.allAfter, cond.After)
		}
	}
}

// args returns matchSQL's arguments.
func (p *probes) args() []any {
	return []any{p.tagC, p.tagAfter, p.tag, p.tagOther, p.tagType, p.typeC, p.typeAfter, p.typ, p.allC, p.allAfter}
}

// scan reads the statement's rows into matches, the match of each
// condition (0 for none).
func (p *probes) scan(results pgx.BatchResults, matches []int64) error {
	var c int32
	var id int64
	return forEachRow(results, []any{&c, &id}, func() {
		if matches[c] == 0 || id < matches[c] {
			matches[c] = id
		}
	})
}
