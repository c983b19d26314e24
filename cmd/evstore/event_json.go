package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/go-event-sourcing/evstore"
)

// eventTable prints events as aligned columns for people.
type eventTable struct{ w *tabwriter.Writer }

func newEventTable(out io.Writer) *eventTable {
	t := &eventTable{w: tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(t.w, "SEQ\tSTREAM\tVERSION\tTIME\tTYPE\tTAGS\tDATA")
	return t
}

func (t *eventTable) add(e evstore.StoredEvent) {
	fmt.Fprintf(t.w, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", e.Sequence, e.StreamID, e.Version, human(e.Timestamp), e.Type, strings.Join(e.Tags, ","), preview(e.Data))
}

func (t *eventTable) flush() { t.w.Flush() }

// preview shows the start of a payload on one line.
func preview(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	if !utf8.Valid(data) {
		return fmt.Sprintf("(%s of binary data)", humanBytes(int64(len(data))))
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}
