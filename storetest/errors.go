package storetest

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

func (k *kit) errorTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"StreamIDs":    k.testBadStreamIDs,
		"Events":       k.testBadEvents,
		"WriteOptions": k.testBadWriteOptions,
		"OnePrefix":    k.testErrorsOnePrefix,
	}
}

// prefix matches the name a package of evstore puts before its messages.
var prefix = regexp.MustCompile(`evstore(/[a-z]+)?: `)

// testErrorsOnePrefix: an error names evstore (or its backend) once, at
// the start, however many layers wrapped it.
func (k *kit) testErrorsOnePrefix(t *testing.T) {
	s := k.open(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 1))
	var errs []error
	_, err := st.Write(ctx(t), events("E", 1), evstore.ExpectVersion(7))
	errs = append(errs, err)
	errs = append(errs, st.Snapshot(ctx(t), nil, evstore.AtVersion(9)))
	_, err = s.Stream(ctx(t), "")
	errs = append(errs, err)
	_, err = collect(st.Read(ctx(t), evstore.WithFilter(evstore.Filter{evstore.Equals("nope", 1)})))
	errs = append(errs, err)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Stream(ctx(t), "s")
	errs = append(errs, err)
	_, err = st.Write(ctx(t), events("E", 1))
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		msg := err.Error()
		if n := len(prefix.FindAllStringIndex(msg, -1)); n != 1 || prefix.FindStringIndex(msg)[0] != 0 {
			t.Errorf("case %d: %q: want one evstore prefix, at the start", i, msg)
		}
	}
}

func (k *kit) testBadStreamIDs(t *testing.T) {
	s := k.store(t)
	cases := []struct {
		name string
		id   string
		ok   bool
	}{
		{"empty", "", false},
		{"256 bytes", strings.Repeat("x", 256), false},
		{"NUL byte", "a\x00b", false},
		{"invalid UTF-8", "a\xffb", false},
		{"255 bytes", strings.Repeat("x", 255), true},
		{"255 bytes of runes", strings.Repeat("é", 127) + "x", true},
		{"unicode", "Zoë-ストリーム", true},
		{"spaces and quotes", `a 'b' "c"; DROP TABLE events`, true},
	}
	for _, c := range cases {
		st, err := s.Stream(ctx(t), c.id)
		if !c.ok {
			wantErr(t, c.name, err, evstore.ErrInvalidStreamID)
			if err != nil && !strings.Contains(err.Error(), "stream id") {
				t.Errorf("%s: error %q does not say what was wrong", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		write(t, st, events("E", 1))
		if got := readAll(t, stream(t, s, c.id)); len(got) != 1 || got[0].StreamID != c.id {
			t.Errorf("%s: read back %v", c.name, got)
		}
	}
	if n := len(readAll(t, stream(t, s, evstore.All))); n != 4 {
		t.Errorf("got %d events, want the 4 of the valid ids", n)
	}
}

func (k *kit) testBadEvents(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 1))
	cases := []struct {
		name  string
		event evstore.CandidateEvent
	}{
		{"empty type", evstore.CandidateEvent{Data: []byte("x")}},
		{"channel in metadata", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"c": make(chan int)}}},
		{"func in metadata", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"f": func() {}}}},
		{"NaN in metadata", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"n": math.NaN()}}},
		{"Inf nested in metadata", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"a": map[string]any{"b": math.Inf(1)}}}},
		{"complex in metadata", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"z": complex(1, 2)}}},
		{"number that does not read back", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"n": json.Number("1e400")}}},
		{"raw JSON that is not an object's value", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"r": json.RawMessage(`{"a":`)}}},
		{"nested too deep", evstore.CandidateEvent{Type: "T", Metadata: nested(150)}},
		{"NUL in a metadata string", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"s": "a\x00b"}}},
		{"invalid UTF-8 in a metadata string", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"s": "a\xffb"}}},
		{"NUL in a metadata key", evstore.CandidateEvent{Type: "T", Metadata: map[string]any{"a\x00": 1}}},
		{"NUL in the type", evstore.CandidateEvent{Type: "T\x00"}},
		{"invalid UTF-8 in the type", evstore.CandidateEvent{Type: "T\xff"}},
		{"NUL in the ID", evstore.CandidateEvent{Type: "T", ID: "k\x00"}},
	}
	for _, c := range cases {
		_, err := st.Write(ctx(t), []evstore.CandidateEvent{{Type: "Fine"}, c.event})
		wantErr(t, c.name, err, evstore.ErrInvalidEvent)
		if err != nil && !strings.Contains(err.Error(), "event 1") {
			t.Errorf("%s: error %q does not name the event", c.name, err)
		}
	}
	if got := versions(readAll(t, st)); len(got) != 1 {
		t.Errorf("after bad writes: got versions %v, want [1]", got)
	}
}

// nested returns metadata nested depth levels deep.
func nested(depth int) map[string]any {
	m := map[string]any{"leaf": true}
	for range depth {
		m = map[string]any{"n": m}
	}
	return m
}

func (k *kit) testBadWriteOptions(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	_, err := st.Write(ctx(t), events("E", 1), evstore.ExpectVersion(-1))
	wantErr(t, "ExpectVersion(-1)", err, evstore.ErrInvalidArgument)
	if n := len(readAll(t, st)); n != 0 {
		t.Errorf("got %d events, want 0", n)
	}
}
