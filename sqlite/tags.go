package sqlite

import (
	"slices"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// Tags live in evstore_tags, a table of evstore's own (schema version 3):
// one row per (event, tag), keyed by (seq, tag) to read a page's tags, and
// indexed by (tag, seq) for Find and FailIfMatch, so that finding one
// tag's events costs the same in a store of any size. py-event-sourcing
// never reads the table; an event it reads has no tags. Delete and
// Truncate remove an event's tags with it.

// attachTags reads the tags of events, a page in Sequence order (either
// way), after its rows: nothing when the file has no tags at all (one
// probe); one range of the primary key when the page's Sequences are
// dense (a read of @all); else lookups of its Sequences, 32 a statement.
// Reading them with each row instead (a correlated subquery) halved the
// read rate, even of a store without any tag.
func (b *backend) attachTags(conn *sqlite.Conn, events []evstore.StoredEvent) error {
	if len(events) == 0 || b.noTags {
		return nil
	}
	tagged, err := queryInt(conn, "SELECT EXISTS (SELECT 1 FROM evstore_tags)")
	if err != nil || tagged == 0 {
		return err
	}
	var a tagAttacher
	a.init(events)
	lo, hi := events[a.order[0]].Sequence, events[a.order[len(a.order)-1]].Sequence
	if hi-lo < int64(4*len(events)) {
		stmt, err := conn.Prepare("SELECT seq, tag FROM evstore_tags WHERE seq >= ? AND seq <= ? ORDER BY seq, tag")
		if err != nil {
			return err
		}
		stmt.BindInt64(1, lo)
		stmt.BindInt64(2, hi)
		return a.rows(stmt)
	}
	for start := 0; start < len(a.order); start += tagChunk {
		stmt, err := conn.Prepare(inTagsSQL)
		if err != nil {
			return err
		}
		for j := range tagChunk {
			seq := int64(-1) // matches nothing
			if start+j < len(a.order) {
				seq = events[a.order[start+j]].Sequence
			}
			stmt.BindInt64(j+1, seq)
		}
		if err := a.rows(stmt); err != nil {
			return err
		}
	}
	return nil
}

// tagChunk is how many Sequences one lookup of tags takes.
const tagChunk = 32

// inTagsSQL reads the tags of up to tagChunk Sequences.
var inTagsSQL = "SELECT seq, tag FROM evstore_tags WHERE seq IN (" + placeholders(tagChunk) + ") ORDER BY seq, tag"

// A tagAttacher hands rows of (seq, tag), in Sequence order, to the
// events of a page.
type tagAttacher struct {
	events []evstore.StoredEvent
	order  []int // indexes of events by ascending Sequence
	next   int   // in order: the first event that may still get tags
}

func (a *tagAttacher) init(events []evstore.StoredEvent) {
	a.events = events
	a.order = make([]int, len(events))
	for i := range events {
		a.order[i] = i
	}
	if len(events) > 1 && events[0].Sequence > events[1].Sequence {
		slices.Reverse(a.order) // a backwards page
	}
}

// rows reads stmt's rows, then resets it.
func (a *tagAttacher) rows(stmt *sqlite.Stmt) error {
	defer stmt.Reset()
	for {
		row, err := stmt.Step()
		if err != nil || !row {
			return err
		}
		seq := stmt.ColumnInt64(0)
		for a.next < len(a.order) && a.events[a.order[a.next]].Sequence < seq {
			a.next++
		}
		if a.next < len(a.order) {
			if e := &a.events[a.order[a.next]]; e.Sequence == seq {
				e.Tags = append(e.Tags, stmt.ColumnText(1))
			}
		}
	}
}

// insertTags writes the tags of events, whose Sequences are first,
// first+1, ...
func insertTags(conn *sqlite.Conn, first int64, events []evstore.EncodedEvent) error {
	for i, e := range events {
		for _, tag := range e.Tags {
			stmt, err := conn.Prepare("INSERT INTO evstore_tags (seq, tag) VALUES (?, ?)")
			if err != nil {
				return err
			}
			stmt.BindInt64(1, first+int64(i))
			stmt.BindText(2, tag)
			_, err = stmt.Step()
			stmt.Reset()
			if err != nil {
				return err
			}
		}
	}
	return nil
}
