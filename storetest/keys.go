package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// keysTests are about telling a retry from a fresh write: Report, and
// Lookup of an idempotency key.
func (k *kit) keysTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"Report":       k.testReport,
		"ReportFailed": k.testReportFailed,
		"Lookup":       k.testLookup,
		"MaxEventSize": k.testMaxEventSize,
	}
}

func (k *kit) testReport(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, stream(t, s, "other"), events("E", 2))
	report := func(events []evstore.CandidateEvent, opts ...evstore.WriteOption) evstore.WriteReport {
		t.Helper()
		var r evstore.WriteReport
		v := write(t, st, events, append(opts, evstore.Report(&r))...)
		if r.Version != v {
			t.Errorf("Report.Version %d, Write returned %d", r.Version, v)
		}
		return r
	}
	check := func(what string, got, want evstore.WriteReport) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %+v, want %+v", what, got, want)
		}
	}
	check("fresh write", report(keyed("a", "b", "c")), evstore.WriteReport{Version: 3, Appended: 3, First: 3, Last: 5})
	check("retry", report(keyed("a", "b", "c"), evstore.ExpectVersion(0)), evstore.WriteReport{Version: 3})
	check("part retry", report(keyed("b", "d", "c"), evstore.ExpectVersion(3)), evstore.WriteReport{Version: 4, Appended: 1, First: 6, Last: 6})
	check("keyless", report(events("E", 2)), evstore.WriteReport{Version: 6, Appended: 2, First: 7, Last: 8})
	check("empty write", report(nil), evstore.WriteReport{Version: 6})
	got := readAll(t, stream(t, s, evstore.All), evstore.After(2))
	if seqs := sequences(got); !slices.Equal(seqs, span(3, 8)) {
		t.Errorf("@all after the writes: got sequences %v, want 3..8", seqs)
	}
}

// testReportFailed: a failed Write leaves a zero report, not a stale one.
func (k *kit) testReportFailed(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	write(t, st, events("E", 1))
	r := evstore.WriteReport{Version: 7, Appended: 7, First: 7, Last: 7}
	_, err := st.Write(ctx(t), events("E", 1), evstore.ExpectVersion(0), evstore.Report(&r))
	wantErr(t, "conflicting write", err, evstore.ErrConflict)
	if r != (evstore.WriteReport{}) {
		t.Errorf("after a conflict: got report %+v, want zero", r)
	}
}

func (k *kit) testLookup(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	if _, _, err := st.Lookup(ctx(t), "a"); errors.Is(err, evstore.ErrUnsupported) {
		t.Skip("the backend does not implement evstore.KeyLookup: Stream.Lookup returns ErrUnsupported")
	}
	write(t, st, append(events("E", 1), keyed("a", "b")...))
	write(t, stream(t, s, "other"), keyed("c", "a"))
	write(t, st, append(keyed("c"), events("E", 1)...))
	cases := []struct {
		stream, key string
		version     int64
		found       bool
	}{
		{"s", "a", 2, true}, {"s", "b", 3, true}, {"s", "c", 4, true},
		{"other", "c", 1, true}, {"other", "a", 2, true}, {"other", "b", 0, false},
		{"s", "missing", 0, false}, {"never-written", "a", 0, false},
		{"s", "1", 0, false}, // the Sequence of a keyless event is not its key
	}
	for _, c := range cases {
		v, found, err := stream(t, s, c.stream).Lookup(ctx(t), c.key)
		if err != nil || v != c.version || found != c.found {
			t.Errorf("%s: Lookup(%q): got %d, %v, %v; want %d, %v", c.stream, c.key, v, found, err, c.version, c.found)
		}
	}
	for _, c := range []struct {
		stream, key string
	}{{"s", ""}, {"s", "nul\x00"}, {"s", "bad\xff"}, {evstore.All, "a"}} {
		_, found, err := stream(t, s, c.stream).Lookup(ctx(t), c.key)
		if found {
			t.Errorf("%s: Lookup(%q) found something", c.stream, c.key)
		}
		wantErr(t, "Lookup("+c.stream+", "+c.key+")", err, evstore.ErrInvalidArgument)
	}
}

// testMaxEventSize: an event of Data plus metadata over MaxEventSize is
// refused, and nothing of its Write is stored; one at the limit is kept.
func (k *kit) testMaxEventSize(t *testing.T) {
	s := k.store(t)
	st := stream(t, s, "s")
	meta := map[string]any{"k": "v"} // {"k":"v"}: 9 bytes
	over := []evstore.CandidateEvent{
		{Type: "Small"},
		{Type: "Big", Data: make([]byte, evstore.MaxEventSize-8), Metadata: meta},
	}
	_, err := st.Write(ctx(t), over)
	wantErr(t, "an event one byte over MaxEventSize", err, evstore.ErrInvalidEvent)
	if err != nil && !strings.Contains(err.Error(), "MaxEventSize") {
		t.Errorf("error %q does not name MaxEventSize", err)
	}
	if got := readAll(t, st); len(got) != 0 {
		t.Fatalf("a refused Write stored %d events", len(got))
	}
	at := []evstore.CandidateEvent{{Type: "Big", Data: make([]byte, evstore.MaxEventSize-9), Metadata: meta}}
	write(t, st, at)
	got := readAll(t, st)
	if len(got) != 1 || len(got[0].Data) != evstore.MaxEventSize-9 {
		t.Errorf("an event at MaxEventSize: read back %d events", len(got))
	}
}
