package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/go-event-sourcing/evstore"
)

// eventJSON is an event as read --json, tail --json and export print it,
// and import reads it. Data that is valid JSON is printed as JSON, other
// data as base64; a keyless event has no "id", an untagged one no "tags"
// (so that exports from before tags, which have none, import as they did).
type eventJSON struct {
	Sequence   int64           `json:"sequence"`
	StreamID   string          `json:"stream_id"`
	Version    int64           `json:"version"`
	ID         string          `json:"id,omitempty"`
	Timestamp  time.Time       `json:"timestamp"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data,omitempty"`
	DataBase64 string          `json:"data_base64,omitempty"`
	Metadata   map[string]any  `json:"metadata,omitempty"`
	Tags       []string        `json:"tags,omitempty"`
}

func toJSON(e evstore.StoredEvent) eventJSON {
	j := eventJSON{ID: e.ID, Sequence: e.Sequence, StreamID: e.StreamID, Version: e.Version, Timestamp: e.Timestamp, Type: e.Type, Metadata: e.Metadata, Tags: e.Tags}
	switch {
	case len(e.Data) == 0:
	case isCompactJSON(e.Data):
		j.Data = e.Data
	default:
		j.DataBase64 = base64.StdEncoding.EncodeToString(e.Data)
	}
	return j
}

// isCompactJSON reports whether data is compact JSON, which newEncoder
// prints back byte for byte, so that export and import keep it exactly;
// other data goes as base64.
func isCompactJSON(data []byte) bool {
	var buf bytes.Buffer
	return json.Compact(&buf, data) == nil && bytes.Equal(buf.Bytes(), data)
}

// newEncoder returns a JSON-lines encoder that leaves <, > and & as they are.
func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// candidate turns an imported line back into an event to write.
func (j eventJSON) candidate() (evstore.CandidateEvent, error) {
	e := evstore.CandidateEvent{ID: j.ID, Type: j.Type, Metadata: j.Metadata, Tags: j.Tags}
	if err := evstore.CheckTags(j.Tags); err != nil {
		return e, err
	}
	switch {
	case j.DataBase64 != "":
		data, err := base64.StdEncoding.DecodeString(j.DataBase64)
		if err != nil {
			return e, fmt.Errorf("%w: data_base64: %v", evstore.ErrInvalidEvent, err)
		}
		e.Data = data
	case len(j.Data) > 0:
		e.Data = []byte(j.Data)
	}
	return e, nil
}

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
