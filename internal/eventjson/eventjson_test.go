package eventjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// line prints e as one line, as export and the server do.
func line(t testing.TB, e Event) string {
	t.Helper()
	var buf bytes.Buffer
	if err := NewEncoder(&buf).Encode(e); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestEncode(t *testing.T) {
	ts := time.Date(2026, 11, 26, 18, 0, 36, 790412000, time.UTC)
	for _, c := range []struct {
		name string
		data string
		want string // the line's data fields
	}{
		{"compact", `{"total":10}`, `"data":{"total":10}`},
		{"Python-written", `{"total": 10}`, `"data":{"total":10},"data_base64":"eyJ0b3RhbCI6IDEwfQ=="`},
		{"HTML kept", `"<b>&</b>"`, `"data":"<b>&</b>"`},
		{"binary", "\x00\x01", `"data_base64":"AAE="`},
		{"JSON with bytes that are not UTF-8", "\"\xff\"", `"data_base64":"Iv8i"`},
		{"not JSON", `total=10`, `"data_base64":"dG90YWw9MTA="`},
		{"empty", ``, `"type":"T"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := evstore.StoredEvent{Sequence: 3, StreamID: "s", Version: 1, Timestamp: ts, Type: "T", Data: []byte(c.data)}
			got := line(t, FromStored(e))
			if !strings.Contains(got, c.want) || !strings.HasPrefix(got, `{"sequence":3,"stream_id":"s","version":1,"timestamp":"2026-11-26T18:00:36.790412Z","type":"T"`) {
				t.Errorf("got %s, want it to hold %s", got, c.want)
			}
			var back Event
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatal(err)
			}
			ce, err := back.Candidate()
			if err != nil || !bytes.Equal(ce.Data, e.Data) {
				t.Errorf("read back: data %q, %v; want %q", ce.Data, err, e.Data)
			}
		})
	}
}

func TestDecodeData(t *testing.T) {
	for _, c := range []struct {
		name, data, base64 string
		want               string
		err                string
	}{
		{"JSON is stored compact", `{"total": 10, "items": [1, 2]}`, "", `{"total":10,"items":[1,2]}`, ""},
		{"base64", ``, "AAE=", "\x00\x01", ""},
		{"both, the same JSON", `{"total":10}`, "eyJ0b3RhbCI6IDEwfQ==", `{"total": 10}`, ""},
		{"both, different", `{"total":11}`, "eyJ0b3RhbCI6IDEwfQ==", "", "data and data_base64 are both given and differ"},
		{"both, base64 not JSON", `1`, "AAE=", "", "differ"},
		{"bad base64", ``, "!!", "", "data_base64: illegal base64"},
		{"neither", ``, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeData(json.RawMessage(c.data), c.base64)
			switch {
			case c.err != "":
				if !errors.Is(err, evstore.ErrInvalidEvent) || !strings.Contains(err.Error(), c.err) {
					t.Errorf("got %v, want ErrInvalidEvent saying %q", err, c.err)
				}
			case err != nil || string(got) != c.want:
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestCandidateChecksTags(t *testing.T) {
	_, err := Candidate{Type: "T", Tags: []string{""}}.Event()
	if !errors.Is(err, evstore.ErrInvalidEvent) || !strings.Contains(err.Error(), "empty tag") {
		t.Errorf("an empty tag: got %v, want ErrInvalidEvent naming it", err)
	}
}

// FuzzRoundTrip: any payload printed and read back is the same bytes,
// and the line is valid JSON.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a": 1}`, "\x00", "", `"<>&"`, " 1 ", "\"\xff\"", "null", `"\u2028"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := line(t, FromStored(evstore.StoredEvent{Type: "T", Data: data}))
		if !json.Valid([]byte(l)) {
			t.Fatalf("not JSON: %s", l)
		}
		var back Event
		if err := json.Unmarshal([]byte(l), &back); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeData(back.Data, back.DataBase64)
		if err != nil || !bytes.Equal(got, data) && len(data) > 0 {
			t.Fatalf("%q came back as %q, %v", data, got, err)
		}
	})
}
