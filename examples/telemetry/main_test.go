package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
)

// The JSON the stdout exporters write, as far as the test reads it.
type (
	attr struct {
		Key   string
		Value struct{ Value any }
	}
	span struct {
		Name        string
		SpanContext struct{ SpanID string }
		Parent      struct{ SpanID string }
		Attributes  []attr
	}
	resourceMetrics struct {
		ScopeMetrics []struct {
			Metrics []struct {
				Name string
				Data struct {
					DataPoints []struct {
						Attributes []attr
						Value      any // a sum's or a gauge's; none for a histogram
					}
				}
			}
		}
	}
)

// value returns the value of the attribute key in attrs, or nil.
func value(attrs []attr, key string) any {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value.Value
		}
	}
	return nil
}

// decode decodes the JSON values of text, one after the other, into
// values of T.
func decode[T any](t *testing.T, text string) []T {
	t.Helper()
	var all []T
	dec := json.NewDecoder(strings.NewReader(text))
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return all
		}
		if err != nil {
			t.Fatalf("decoding the exporters' output: %v", err)
		}
		all = append(all, v)
	}
}

// TestRun runs the program and reads the spans and metrics it prints:
// those of every operation, with the outcomes of the writes, and the
// parentage the otelevstore's doc promises. Without the Tracer given to
// the store, there is none of them.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	summary, rest, ok := strings.Cut(out.String(), spansHeader+"\n")
	if !ok {
		t.Fatalf("no %q in the output:\n%s", spansHeader, out.String())
	}
	spansText, metricsText, ok := strings.Cut(rest, metricsHeader+"\n")
	if !ok {
		t.Fatalf("no %q in the output:\n%s", metricsHeader, out.String())
	}
	for _, want := range []string{"Wrote 3 events", "appended 0 (duplicate)", "version conflict", `consumer "tally" handled 3`} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q does not say %q", summary, want)
		}
	}

	spans := decode[span](t, spansText)
	byID := map[string]span{}
	names := map[string]int{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID] = s
		names[s.Name]++
	}
	for _, want := range []string{"checkout", "write", "commit", "read", "consume tally", "tally batch"} {
		if names[want] == 0 {
			t.Errorf("no span %q; spans: %v", want, names)
		}
	}
	if names["write"] != 4 {
		t.Errorf("%d write spans, want 4", names["write"])
	}
	outcomes := map[any]int{}
	for _, s := range spans {
		parent := byID[s.Parent.SpanID].Name
		switch s.Name {
		case "write":
			outcomes[value(s.Attributes, "evstore.outcome")]++
			if parent != "checkout" {
				t.Errorf("a write's parent is %q, want the caller's span, checkout", parent)
			}
			if got := value(s.Attributes, "evstore.stream.id"); got != "cart-42" {
				t.Errorf("a write's evstore.stream.id is %v, want cart-42", got)
			}
		case "commit":
			if parent != "write" {
				t.Errorf("a commit's parent is %q, want write", parent)
			}
		case "tally batch":
			if parent != "consume tally" {
				t.Errorf("the Handler's span's parent is %q, want consume tally", parent)
			}
		case "consume tally":
			if got := value(s.Attributes, "evstore.consumer.name"); got != "tally" {
				t.Errorf("consume span's evstore.consumer.name is %v, want tally", got)
			}
		}
	}
	if want := map[any]int{"appended": 2, "duplicate": 1, "conflict": 1}; !maps.Equal(outcomes, want) {
		t.Errorf("the writes' evstore.outcome: %v, want %v", outcomes, want)
	}

	metrics := map[string]bool{}
	writes := map[any]any{} // evstore.writes by outcome
	for _, rm := range decode[resourceMetrics](t, metricsText) {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				metrics[m.Name] = true
				if m.Name != "evstore.writes" {
					continue
				}
				for _, p := range m.Data.DataPoints {
					writes[value(p.Attributes, "evstore.outcome")] = p.Value
				}
			}
		}
	}
	for _, want := range []string{"evstore.writes", "db.client.operation.duration", "evstore.consumer.lag", "evstore.events.appended", "evstore.commit.group.size"} {
		if !metrics[want] {
			t.Errorf("no metric %q; metrics: %v", want, slices.Sorted(maps.Keys(metrics)))
		}
	}
	if want := map[any]any{"appended": 2.0, "duplicate": 1.0, "conflict": 1.0}; !maps.Equal(writes, want) {
		t.Errorf("evstore.writes by outcome: %v, want %v", writes, want)
	}
}
