// Package eventjson is the JSON shape of an event that evstore's tools
// print and read: the lines of "evstore export" (and of read --json,
// find --json and tail --json, which import reads back), and the events
// of "evstore serve"'s HTTP API. Scripts in other languages read this
// shape, so its field names are fixed; fields may be added.
//
//	{"sequence":3,"stream_id":"payment-9","version":1,"id":"cmd-7",
//	 "timestamp":"2026-11-26T18:00:36.790412Z","type":"PaymentTaken",
//	 "data":{"amount":10},"metadata":{"region":"EMEA"},"tags":["order:o1"]}
//
// A payload that is JSON (UTF-8 text) travels as JSON in "data", so that
// a script reads it as a value, whoever wrote it; any other payload goes
// as base64 in "data_base64". JSON that is not compact (a Python-written
// {"total": 10}) is printed compact in "data" and, byte for byte, in
// "data_base64" as well, so that an import or a client that wants the
// stored bytes has them exactly. Reading an event back, "data_base64"
// wins and "data" must then hold the same JSON; "data" alone is stored
// as its compact encoding.
package eventjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/go-event-sourcing/evstore"
)

// Event is a stored event in JSON. A keyless event has no "id", an
// untagged one no "tags", one without metadata no "metadata", an empty
// payload neither "data" nor "data_base64".
type Event struct {
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

// FromStored returns e in JSON.
func FromStored(e evstore.StoredEvent) Event {
	j := Event{ID: e.ID, Sequence: e.Sequence, StreamID: e.StreamID, Version: e.Version, Timestamp: e.Timestamp, Type: e.Type, Metadata: e.Metadata, Tags: e.Tags}
	j.Data, j.DataBase64 = EncodeData(e.Data)
	return j
}

// Candidate turns an event read back (an import's line) into an event to
// write.
func (j Event) Candidate() (evstore.CandidateEvent, error) {
	return Candidate{ID: j.ID, Type: j.Type, Data: j.Data, DataBase64: j.DataBase64, Metadata: j.Metadata, Tags: j.Tags}.Event()
}

// Candidate is an event to append in JSON, as a client posts it: the
// writable fields of Event.
type Candidate struct {
	ID         string          `json:"id,omitempty"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data,omitempty"`
	DataBase64 string          `json:"data_base64,omitempty"`
	Metadata   map[string]any  `json:"metadata,omitempty"`
	Tags       []string        `json:"tags,omitempty"`
}

// Event returns the event to write, or an error wrapping
// evstore.ErrInvalidEvent that names what is wrong with the payload or
// the tags. The rest (type, key, metadata) Write checks.
func (c Candidate) Event() (evstore.CandidateEvent, error) {
	e := evstore.CandidateEvent{ID: c.ID, Type: c.Type, Metadata: c.Metadata, Tags: c.Tags}
	if err := evstore.CheckTags(c.Tags); err != nil {
		return e, err
	}
	data, err := DecodeData(c.Data, c.DataBase64)
	if err != nil {
		return e, err
	}
	e.Data = data
	return e, nil
}

// EncodeData returns a payload as the "data" and "data_base64" fields
// print it: JSON text as JSON (and, when it is not compact, as base64
// too, byte for byte), other bytes as base64, nothing as neither.
func EncodeData(data []byte) (asJSON json.RawMessage, asBase64 string) {
	if len(data) == 0 {
		return nil, ""
	}
	compact, ok := compactJSON(data)
	switch {
	case !ok:
		return nil, base64.StdEncoding.EncodeToString(data)
	case bytes.Equal(compact, data):
		return data, ""
	}
	return data, base64.StdEncoding.EncodeToString(data)
}

// DecodeData returns the payload that the "data" and "data_base64"
// fields give: data_base64's bytes when it is there (and then data, if
// given too, must be the same JSON), else data's compact encoding. Its
// errors wrap evstore.ErrInvalidEvent.
func DecodeData(data json.RawMessage, dataBase64 string) ([]byte, error) {
	b, err := DecodePayload("data", data, dataBase64)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", evstore.ErrInvalidEvent, err)
	}
	return b, nil
}

// DecodePayload is DecodeData for any pair of fields, name and
// name_base64 (a snapshot's "state" and "state_base64"), with errors that
// name them.
func DecodePayload(name string, asJSON json.RawMessage, asBase64 string) ([]byte, error) {
	var compact []byte
	if len(asJSON) > 0 {
		var ok bool
		if compact, ok = compactJSON(asJSON); !ok {
			return nil, fmt.Errorf("%s is not JSON text (send other bytes as %s_base64)", name, name)
		}
	}
	if asBase64 == "" {
		return compact, nil
	}
	raw, err := base64.StdEncoding.DecodeString(asBase64)
	if err != nil {
		return nil, fmt.Errorf("%s_base64: %v", name, err)
	}
	if compact != nil {
		if c, ok := compactJSON(raw); !ok || !bytes.Equal(c, compact) {
			return nil, fmt.Errorf("%s and %s_base64 are both given and differ (give one)", name, name)
		}
	}
	return raw, nil
}

// compactJSON returns data compact, and whether data is JSON text: valid
// JSON in valid UTF-8 (JSON's strings may hold other bytes, which no
// reader in another language would take).
func compactJSON(data []byte) ([]byte, bool) {
	if !utf8.Valid(data) {
		return nil, false
	}
	var buf bytes.Buffer
	if json.Compact(&buf, data) != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// NewEncoder returns a JSON encoder that leaves <, > and & as they are,
// so that compact JSON payloads print byte for byte.
func NewEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
