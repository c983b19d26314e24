package evstore

import (
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		name    string
		filter  Filter
		wantErr bool
		// field must appear, quoted, in the error message of a bad filter;
		// "" skips the check (the zero Clause has no field).
		field string
	}{
		// Good filters.
		{name: "nil filter", filter: nil},
		{name: "empty filter", filter: Filter{}},
		{name: "Equals stream_id", filter: Filter{Equals("stream_id", "order-1")}},
		{name: "Equals stream_id empty string", filter: Filter{Equals("stream_id", "")}},
		{name: "Equals event_type", filter: Filter{Equals("event_type", "OrderPlaced")}},
		{name: "Equals version int", filter: Filter{Equals("version", 3)}},
		{name: "Equals version int8", filter: Filter{Equals("version", int8(3))}},
		{name: "Equals version int16", filter: Filter{Equals("version", int16(3))}},
		{name: "Equals version int32", filter: Filter{Equals("version", int32(3))}},
		{name: "Equals version int64", filter: Filter{Equals("version", int64(math.MaxInt64))}},
		{name: "Equals version uint", filter: Filter{Equals("version", uint(3))}},
		{name: "Equals version uint8", filter: Filter{Equals("version", uint8(3))}},
		{name: "Equals version uint16", filter: Filter{Equals("version", uint16(3))}},
		{name: "Equals version uint32", filter: Filter{Equals("version", uint32(3))}},
		{name: "Equals version uint64", filter: Filter{Equals("version", uint64(math.MaxInt64))}},
		{name: "In stream_id", filter: Filter{In("stream_id", "a", "b")}},
		{name: "In event_type one value", filter: Filter{In("event_type", "A")}},
		{name: "In version", filter: Filter{In("version", 1, int64(2), uint8(3))}},
		{name: "Like stream_id", filter: Filter{Like("stream_id", "order-%")}},
		{name: "Like event_type", filter: Filter{Like("event_type", "_rder%")}},
		{name: "Like empty pattern", filter: Filter{Like("stream_id", "")}},
		{name: "Like metadata", filter: Filter{Like("metadata.user", "a%")}},
		{name: "metadata string", filter: Filter{Equals("metadata.user", "alice")}},
		{name: "metadata bool", filter: Filter{Equals("metadata.flag", true)}},
		{name: "metadata int", filter: Filter{Equals("metadata.n", 1)}},
		{name: "metadata int8", filter: Filter{Equals("metadata.n", int8(-1))}},
		{name: "metadata int16", filter: Filter{Equals("metadata.n", int16(1))}},
		{name: "metadata int32", filter: Filter{Equals("metadata.n", int32(1))}},
		{name: "metadata int64", filter: Filter{Equals("metadata.n", int64(math.MinInt64))}},
		{name: "metadata uint", filter: Filter{Equals("metadata.n", uint(1))}},
		{name: "metadata uint8", filter: Filter{Equals("metadata.n", uint8(1))}},
		{name: "metadata uint16", filter: Filter{Equals("metadata.n", uint16(1))}},
		{name: "metadata uint32", filter: Filter{Equals("metadata.n", uint32(1))}},
		{name: "metadata uint64", filter: Filter{Equals("metadata.n", uint64(1))}},
		{name: "metadata uint64 max", filter: Filter{Equals("metadata.n", uint64(math.MaxUint64))}},
		{name: "metadata float32", filter: Filter{Equals("metadata.n", float32(1.5))}},
		{name: "metadata float64", filter: Filter{Equals("metadata.n", 1.5)}},
		{name: "metadata float64 max", filter: Filter{Equals("metadata.n", math.MaxFloat64)}},
		{name: "metadata json.Number", filter: Filter{Equals("metadata.n", json.Number("1.5"))}},
		{name: "metadata json.Number exponent", filter: Filter{Equals("metadata.n", json.Number("-2e3"))}},
		{name: "metadata In mixed types", filter: Filter{In("metadata.n", "1", 1, true, json.Number("2"))}},
		{name: "metadata nested path", filter: Filter{Equals("metadata.a.b.c", "x")}},
		{name: "metadata unicode key", filter: Filter{Equals("metadata.ключ", "x")}},
		{name: "metadata key with space and dash", filter: Filter{Equals("metadata.a b-c", "x")}},
		{name: "metadata key with single quote", filter: Filter{Equals("metadata.it's", "x")}},
		{name: "several good clauses", filter: Filter{Equals("stream_id", "a"), In("version", 1, 2), Like("metadata.x", "%")}},

		// Unknown fields.
		{name: "unknown field", filter: Filter{Equals("foo", "x")}, wantErr: true, field: "foo"},
		{name: "empty field", filter: Filter{Equals("", "x")}, wantErr: true, field: ""},
		{name: "field case matters", filter: Filter{Equals("Stream_ID", "x")}, wantErr: true, field: "Stream_ID"},
		{name: "bare metadata", filter: Filter{Equals("metadata", "x")}, wantErr: true, field: "metadata"},
		{name: "metadata prefix typo", filter: Filter{Equals("meta.a", "x")}, wantErr: true, field: "meta.a"},
		{name: "In unknown field", filter: Filter{In("sequence", 1)}, wantErr: true, field: "sequence"},
		{name: "Like unknown field", filter: Filter{Like("data", "%")}, wantErr: true, field: "data"},

		// Bad metadata paths.
		{name: "metadata empty path", filter: Filter{Equals("metadata.", "x")}, wantErr: true, field: "metadata."},
		{name: "metadata empty middle key", filter: Filter{Equals("metadata.a..b", "x")}, wantErr: true, field: "metadata.a..b"},
		{name: "metadata empty first key", filter: Filter{Equals("metadata..a", "x")}, wantErr: true, field: "metadata..a"},
		{name: "metadata empty last key", filter: Filter{Equals("metadata.a.", "x")}, wantErr: true, field: "metadata.a."},
		{name: "metadata key with double quote", filter: Filter{Equals(`metadata.a"b`, "x")}, wantErr: true, field: `metadata.a"b`},
		{name: "metadata key with backslash", filter: Filter{Equals(`metadata.a\b`, "x")}, wantErr: true, field: `metadata.a\b`},
		{name: "metadata nested key with quote", filter: Filter{Equals(`metadata.a.") OR 1=1 --`, "x")}, wantErr: true, field: `metadata.a.") OR 1=1 --`},
		{name: "metadata key invalid UTF-8", filter: Filter{Equals("metadata.\xff", "x")}, wantErr: true, field: "metadata.\xff"},
		{name: "Like bad metadata path", filter: Filter{Like("metadata.a..b", "%")}, wantErr: true, field: "metadata.a..b"},

		// Empty In.
		{name: "In stream_id empty", filter: Filter{In("stream_id")}, wantErr: true, field: "stream_id"},
		{name: "In version empty", filter: Filter{In("version")}, wantErr: true, field: "version"},
		{name: "In metadata empty", filter: Filter{In("metadata.a")}, wantErr: true, field: "metadata.a"},
		{name: "In empty slice", filter: Filter{In("event_type", []any{}...)}, wantErr: true, field: "event_type"},

		// Wrong value types.
		{name: "stream_id int", filter: Filter{Equals("stream_id", 1)}, wantErr: true, field: "stream_id"},
		{name: "stream_id nil", filter: Filter{Equals("stream_id", nil)}, wantErr: true, field: "stream_id"},
		{name: "stream_id bytes", filter: Filter{Equals("stream_id", []byte("a"))}, wantErr: true, field: "stream_id"},
		{name: "stream_id bool", filter: Filter{Equals("stream_id", true)}, wantErr: true, field: "stream_id"},
		{name: "event_type int", filter: Filter{Equals("event_type", 1)}, wantErr: true, field: "event_type"},
		{name: "event_type In second value bad", filter: Filter{In("event_type", "A", 2)}, wantErr: true, field: "event_type"},
		{name: "version string", filter: Filter{Equals("version", "1")}, wantErr: true, field: "version"},
		{name: "version float64", filter: Filter{Equals("version", 1.0)}, wantErr: true, field: "version"},
		{name: "version float32", filter: Filter{Equals("version", float32(1))}, wantErr: true, field: "version"},
		{name: "version bool", filter: Filter{Equals("version", true)}, wantErr: true, field: "version"},
		{name: "version nil", filter: Filter{Equals("version", nil)}, wantErr: true, field: "version"},
		{name: "version uint64 overflow", filter: Filter{Equals("version", uint64(math.MaxUint64))}, wantErr: true, field: "version"},
		{name: "version uint overflow", filter: Filter{Equals("version", uint(math.MaxUint64))}, wantErr: true, field: "version"},
		{name: "version In last value bad", filter: Filter{In("version", 1, 2, "3")}, wantErr: true, field: "version"},
		{name: "metadata nil", filter: Filter{Equals("metadata.a", nil)}, wantErr: true, field: "metadata.a"},
		{name: "metadata map", filter: Filter{Equals("metadata.a", map[string]any{"b": 1})}, wantErr: true, field: "metadata.a"},
		{name: "metadata slice", filter: Filter{Equals("metadata.a", []any{1})}, wantErr: true, field: "metadata.a"},
		{name: "metadata string slice", filter: Filter{Equals("metadata.a", []string{"x"})}, wantErr: true, field: "metadata.a"},
		{name: "metadata struct", filter: Filter{Equals("metadata.a", struct{}{})}, wantErr: true, field: "metadata.a"},
		{name: "metadata pointer", filter: Filter{Equals("metadata.a", new(int))}, wantErr: true, field: "metadata.a"},
		{name: "metadata complex", filter: Filter{Equals("metadata.a", complex(1, 2))}, wantErr: true, field: "metadata.a"},
		{name: "metadata NaN", filter: Filter{Equals("metadata.a", math.NaN())}, wantErr: true, field: "metadata.a"},
		{name: "metadata +Inf", filter: Filter{Equals("metadata.a", math.Inf(1))}, wantErr: true, field: "metadata.a"},
		{name: "metadata -Inf", filter: Filter{Equals("metadata.a", math.Inf(-1))}, wantErr: true, field: "metadata.a"},
		{name: "metadata float32 NaN", filter: Filter{Equals("metadata.a", float32(math.NaN()))}, wantErr: true, field: "metadata.a"},
		{name: "metadata float32 +Inf", filter: Filter{Equals("metadata.a", float32(math.Inf(1)))}, wantErr: true, field: "metadata.a"},
		{name: "metadata json.Number not a number", filter: Filter{Equals("metadata.a", json.Number("abc"))}, wantErr: true, field: "metadata.a"},
		{name: "metadata json.Number out of range", filter: Filter{Equals("metadata.a", json.Number("1e999"))}, wantErr: true, field: "metadata.a"},
		{name: "metadata In with NaN", filter: Filter{In("metadata.a", 1, math.NaN())}, wantErr: true, field: "metadata.a"},

		// Like on version.
		{name: "Like version", filter: Filter{Like("version", "1%")}, wantErr: true, field: "version"},

		// Zero clause.
		{name: "zero clause", filter: Filter{Clause{}}, wantErr: true},
		{name: "zero clause after good one", filter: Filter{Equals("stream_id", "a"), Clause{}}, wantErr: true},

		// The first bad clause is reported, wherever it is.
		{name: "bad clause after good ones", filter: Filter{Equals("stream_id", "a"), In("version", 1), Equals("bogus", 1)}, wantErr: true, field: "bogus"},
		{name: "first of two bad clauses", filter: Filter{Equals("stream_id", "a"), Equals("first", 1), Equals("second", 1)}, wantErr: true, field: "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.filter.Validate()
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidFilter", err)
			}
			if tt.field != "" {
				if q := strconv.Quote(tt.field); !strings.Contains(err.Error(), q) {
					t.Errorf("Validate() error = %q, want it to name the field %s", err, q)
				}
			}
		})
	}
}

// TestFilterValidateEmptyField checks that the message of an unknown empty
// field shows the empty name, as the table test cannot tell it from "no check".
func TestFilterValidateEmptyField(t *testing.T) {
	err := Filter{Equals("", "x")}.Validate()
	if got, want := err != nil && strings.Contains(err.Error(), `""`), true; got != want {
		t.Errorf("Validate() error = %v names the empty field: got %v, want %v", err, got, want)
	}
}

// TestFilterFloat32 checks that a float32 filter value matches the same
// float32 written in metadata: encoding/json writes it with 32-bit
// precision, so the stored number is not float64(f).
func TestFilterFloat32(t *testing.T) {
	tests := []struct {
		name string
		f    float32
	}{
		{"one tenth", 0.1},
		{"negative", -0.3},
		{"exact", 1.5},
		{"integer", 16777216},
		{"large", 3.4e38},
		{"max", math.MaxFloat32},
		{"small", 1e-30},
		{"smallest denormal", math.SmallestNonzeroFloat32},
		{"zero", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(map[string]any{"ratio": tt.f})
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			e := StoredEvent{StreamID: "s", Version: 1, Type: "T", Metadata: m}
			for _, f := range []Filter{
				{Equals("metadata.ratio", tt.f)},
				{In("metadata.ratio", "x", tt.f)},
			} {
				if err := f.Validate(); err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if !f.Match(e) {
					t.Errorf("metadata %s: Match(%v) = false, want true (filter value %v)", raw, tt.f, f[0].Values())
				}
			}
		})
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		if err := (Filter{Equals("metadata.x", bad)}).Validate(); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("Equals(metadata.x, %v): Validate() = %v, want ErrInvalidFilter", bad, err)
		}
	}
}

// TestFilterPathObjectsOnly checks that a path steps into objects only:
// a numeric key never indexes an array.
func TestFilterPathObjectsOnly(t *testing.T) {
	tests := []struct {
		name   string
		meta   string
		filter Filter
		want   bool
	}{
		{"array element", `{"tags":["x"]}`, Filter{Equals("metadata.tags.0", "x")}, false},
		{"array element In", `{"tags":["x"]}`, Filter{In("metadata.tags.0", "y", "x")}, false},
		{"array element Like", `{"tags":["x"]}`, Filter{Like("metadata.tags.0", "%")}, false},
		{"nested array element", `{"a":[{"b":"x"}]}`, Filter{Equals("metadata.a.0.b", "x")}, false},
		{"object key 0", `{"tags":{"0":"x"}}`, Filter{Equals("metadata.tags.0", "x")}, true},
		{"object key 0 In", `{"tags":{"0":"x"}}`, Filter{In("metadata.tags.0", "y", "x")}, true},
		{"object key 0 Like", `{"tags":{"0":"x"}}`, Filter{Like("metadata.tags.0", "X")}, true},
		{"object in array in object", `{"a":{"0":[{"b":"x"}]}}`, Filter{Equals("metadata.a.0.0.b", "x")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(tt.meta), &m); err != nil {
				t.Fatal(err)
			}
			e := StoredEvent{StreamID: "s", Version: 1, Type: "T", Metadata: m}
			if got := tt.filter.Match(e); got != tt.want {
				t.Errorf("metadata %s: Match() = %v, want %v", tt.meta, got, tt.want)
			}
		})
	}
}

func TestFilterClauseAccessors(t *testing.T) {
	tests := []struct {
		name       string
		clause     Clause
		wantOp     Op
		wantField  string
		wantPath   []string
		wantValues []any
	}{
		{"Equals stream_id", Equals("stream_id", "a"), OpEquals, "stream_id", nil, []any{"a"}},
		{"In version normalised to int64", In("version", 1, uint8(2), int32(3)), OpIn, "version", nil, []any{int64(1), int64(2), int64(3)}},
		{"Like event_type", Like("event_type", "A%"), OpLike, "event_type", nil, []any{"A%"}},
		{"metadata numbers normalised to float64", In("metadata.a.b", 1, uint64(2), float32(0.5), json.Number("4")), OpIn, "metadata", []string{"a", "b"}, []any{1.0, 2.0, 0.5, 4.0}},
		{"metadata string and bool", In("metadata.x", "s", false), OpIn, "metadata", []string{"x"}, []any{"s", false}},
		{"metadata float32 as its JSON text reads back", Equals("metadata.x", float32(0.1)), OpEquals, "metadata", []string{"x"}, []any{0.1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.clause.Op(); got != tt.wantOp {
				t.Errorf("Op() = %v, want %v", got, tt.wantOp)
			}
			if got := tt.clause.Field(); got != tt.wantField {
				t.Errorf("Field() = %q, want %q", got, tt.wantField)
			}
			if got := tt.clause.Path(); !equalSlices(got, tt.wantPath) {
				t.Errorf("Path() = %q, want %q", got, tt.wantPath)
			}
			got := tt.clause.Values()
			if len(got) != len(tt.wantValues) {
				t.Fatalf("Values() = %#v, want %#v", got, tt.wantValues)
			}
			for i := range got {
				if got[i] != tt.wantValues[i] {
					t.Errorf("Values()[%d] = %#v (%T), want %#v (%T)", i, got[i], got[i], tt.wantValues[i], tt.wantValues[i])
				}
			}
		})
	}
}

func equalSlices(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// filterTestEvent returns an event whose metadata is decoded by
// encoding/json, as a backend decodes it: numbers are float64.
func filterTestEvent(t *testing.T) StoredEvent {
	t.Helper()
	const meta = `{
		"user": "alice",
		"n": 1,
		"s": "1",
		"b": true,
		"f": 1.5,
		"zero": 0,
		"big": 9007199254740992,
		"nested": {"a": {"b": "deep"}, "n": 2, "t": "x"},
		"list": [1, 2],
		"nul": null,
		"name": "Émile",
		"greek": "αβγ",
		"empty": "",
		"pct": "100%",
		"dotted.key": "dk"
	}`
	var m map[string]any
	if err := json.Unmarshal([]byte(meta), &m); err != nil {
		t.Fatalf("json.Unmarshal() = %v, want nil", err)
	}
	return StoredEvent{
		ID:       "k1",
		StreamID: "order-42",
		Sequence: 10,
		Version:  3,
		Type:     "OrderPlaced",
		Data:     []byte(`{}`),
		Metadata: m,
	}
}

func TestFilterMatch(t *testing.T) {
	ev := filterTestEvent(t)
	noMeta := ev
	noMeta.Metadata = nil
	emptyMeta := ev
	emptyMeta.Metadata = map[string]any{}

	tests := []struct {
		name   string
		filter Filter
		event  *StoredEvent // nil means ev
		want   bool
	}{
		// Empty filters.
		{name: "nil filter", filter: nil, want: true},
		{name: "empty filter", filter: Filter{}, want: true},
		{name: "empty filter, event without metadata", filter: Filter{}, event: &noMeta, want: true},

		// stream_id, event_type, version.
		{name: "stream_id equals", filter: Filter{Equals("stream_id", "order-42")}, want: true},
		{name: "stream_id differs", filter: Filter{Equals("stream_id", "order-43")}, want: false},
		{name: "stream_id Equals is case-sensitive", filter: Filter{Equals("stream_id", "ORDER-42")}, want: false},
		{name: "stream_id prefix is not equal", filter: Filter{Equals("stream_id", "order")}, want: false},
		{name: "stream_id In hit", filter: Filter{In("stream_id", "x", "order-42")}, want: true},
		{name: "stream_id In miss", filter: Filter{In("stream_id", "x", "y")}, want: false},
		{name: "event_type equals", filter: Filter{Equals("event_type", "OrderPlaced")}, want: true},
		{name: "event_type differs", filter: Filter{Equals("event_type", "OrderShipped")}, want: false},
		{name: "event_type In hit", filter: Filter{In("event_type", "OrderPlaced", "OrderShipped")}, want: true},
		{name: "event_type In miss", filter: Filter{In("event_type", "A", "B")}, want: false},
		{name: "version equals int", filter: Filter{Equals("version", 3)}, want: true},
		{name: "version equals int64", filter: Filter{Equals("version", int64(3))}, want: true},
		{name: "version equals uint8", filter: Filter{Equals("version", uint8(3))}, want: true},
		{name: "version differs", filter: Filter{Equals("version", 4)}, want: false},
		{name: "version is not sequence", filter: Filter{Equals("version", 10)}, want: false},
		{name: "version In hit", filter: Filter{In("version", 1, 2, 3)}, want: true},
		{name: "version In miss", filter: Filter{In("version", 4, 5)}, want: false},

		// Metadata values and type strictness.
		{name: "metadata string", filter: Filter{Equals("metadata.user", "alice")}, want: true},
		{name: "metadata string case-sensitive", filter: Filter{Equals("metadata.user", "Alice")}, want: false},
		{name: "metadata number as int", filter: Filter{Equals("metadata.n", 1)}, want: true},
		{name: "metadata number as float64", filter: Filter{Equals("metadata.n", 1.0)}, want: true},
		{name: "metadata number as uint16", filter: Filter{Equals("metadata.n", uint16(1))}, want: true},
		{name: "metadata number as json.Number", filter: Filter{Equals("metadata.n", json.Number("1"))}, want: true},
		{name: "metadata number as json.Number 1.0", filter: Filter{Equals("metadata.n", json.Number("1.0"))}, want: true},
		{name: "metadata number other", filter: Filter{Equals("metadata.n", 2)}, want: false},
		{name: "metadata number vs string", filter: Filter{Equals("metadata.n", "1")}, want: false},
		{name: "metadata number vs bool", filter: Filter{Equals("metadata.n", true)}, want: false},
		{name: "metadata string vs number", filter: Filter{Equals("metadata.s", 1)}, want: false},
		{name: "metadata string vs string", filter: Filter{Equals("metadata.s", "1")}, want: true},
		{name: "metadata bool vs bool", filter: Filter{Equals("metadata.b", true)}, want: true},
		{name: "metadata bool vs false", filter: Filter{Equals("metadata.b", false)}, want: false},
		{name: "metadata bool vs string", filter: Filter{Equals("metadata.b", "true")}, want: false},
		{name: "metadata bool vs number", filter: Filter{Equals("metadata.b", 1)}, want: false},
		{name: "metadata zero vs false", filter: Filter{Equals("metadata.zero", false)}, want: false},
		{name: "metadata zero vs empty string", filter: Filter{Equals("metadata.zero", "")}, want: false},
		{name: "metadata zero vs 0", filter: Filter{Equals("metadata.zero", 0)}, want: true},
		{name: "metadata empty string", filter: Filter{Equals("metadata.empty", "")}, want: true},
		{name: "metadata float", filter: Filter{Equals("metadata.f", 1.5)}, want: true},
		{name: "metadata float32 exact", filter: Filter{Equals("metadata.f", float32(1.5))}, want: true},
		{name: "metadata float vs int", filter: Filter{Equals("metadata.f", 1)}, want: false},
		{name: "metadata big number as int64", filter: Filter{Equals("metadata.big", int64(1)<<53)}, want: true},
		{name: "metadata In mixed hit", filter: Filter{In("metadata.s", 1, true, "1")}, want: true},
		{name: "metadata In mixed miss", filter: Filter{In("metadata.s", 1, true, "2")}, want: false},

		// Paths.
		{name: "nested path", filter: Filter{Equals("metadata.nested.a.b", "deep")}, want: true},
		{name: "nested number", filter: Filter{Equals("metadata.nested.n", 2)}, want: true},
		{name: "nested wrong value", filter: Filter{Equals("metadata.nested.a.b", "shallow")}, want: false},
		{name: "missing top key", filter: Filter{Equals("metadata.missing", "x")}, want: false},
		{name: "missing nested key", filter: Filter{Equals("metadata.nested.missing", "x")}, want: false},
		{name: "missing deeper key", filter: Filter{Equals("metadata.nested.missing.deeper", "x")}, want: false},
		{name: "string intermediate", filter: Filter{Equals("metadata.nested.a.b.c", "deep")}, want: false},
		{name: "number intermediate", filter: Filter{Equals("metadata.n.x", 1)}, want: false},
		{name: "array intermediate", filter: Filter{Equals("metadata.list.0", 1)}, want: false},
		{name: "null intermediate", filter: Filter{Equals("metadata.nul.x", "x")}, want: false},
		{name: "object value vs string", filter: Filter{Equals("metadata.nested", "x")}, want: false},
		{name: "array value vs number", filter: Filter{Equals("metadata.list", 1)}, want: false},
		{name: "null value vs string", filter: Filter{Equals("metadata.nul", "null")}, want: false},
		{name: "null value vs false", filter: Filter{Equals("metadata.nul", false)}, want: false},
		{name: "null value vs 0", filter: Filter{Equals("metadata.nul", 0)}, want: false},
		{name: "dot splits keys", filter: Filter{Equals("metadata.dotted.key", "dk")}, want: false},
		{name: "no metadata", filter: Filter{Equals("metadata.user", "alice")}, event: &noMeta, want: false},
		{name: "empty metadata", filter: Filter{Equals("metadata.user", "alice")}, event: &emptyMeta, want: false},
		{name: "Like no metadata", filter: Filter{Like("metadata.user", "%")}, event: &noMeta, want: false},

		// Like.
		{name: "Like prefix", filter: Filter{Like("stream_id", "order-%")}, want: true},
		{name: "Like suffix", filter: Filter{Like("stream_id", "%42")}, want: true},
		{name: "Like suffix miss", filter: Filter{Like("stream_id", "%43")}, want: false},
		{name: "Like infix", filter: Filter{Like("stream_id", "%der%")}, want: true},
		{name: "Like percent alone", filter: Filter{Like("stream_id", "%")}, want: true},
		{name: "Like exact", filter: Filter{Like("stream_id", "order-42")}, want: true},
		{name: "Like is anchored", filter: Filter{Like("stream_id", "order")}, want: false},
		{name: "Like underscore", filter: Filter{Like("stream_id", "order-_2")}, want: true},
		{name: "Like underscore is one char", filter: Filter{Like("stream_id", "order-_")}, want: false},
		{name: "Like underscores", filter: Filter{Like("stream_id", "________")}, want: true},
		{name: "Like too many underscores", filter: Filter{Like("stream_id", "_________")}, want: false},
		{name: "Like ASCII case-insensitive upper", filter: Filter{Like("stream_id", "ORDER-%")}, want: true},
		{name: "Like ASCII case-insensitive event_type", filter: Filter{Like("event_type", "orderplaced")}, want: true},
		{name: "Like ASCII case-insensitive mixed", filter: Filter{Like("event_type", "%pLaCeD")}, want: true},
		{name: "Like metadata string", filter: Filter{Like("metadata.user", "A%")}, want: true},
		{name: "Like metadata nested", filter: Filter{Like("metadata.nested.a.b", "d__p")}, want: true},
		{name: "Like literal percent in value", filter: Filter{Like("metadata.pct", "100%")}, want: true},
		{name: "Like empty value", filter: Filter{Like("metadata.empty", "%")}, want: true},
		{name: "Like empty value vs underscore", filter: Filter{Like("metadata.empty", "_")}, want: false},
		{name: "Like non-ASCII rune is one _", filter: Filter{Like("metadata.name", "_mile")}, want: true},
		{name: "Like non-ASCII rune is not two _", filter: Filter{Like("metadata.name", "__mile")}, want: false},
		{name: "Like non-ASCII not case-folded", filter: Filter{Like("metadata.name", "émile")}, want: false},
		{name: "Like non-ASCII exact", filter: Filter{Like("metadata.name", "ÉMILE")}, want: true},
		{name: "Like greek three runes", filter: Filter{Like("metadata.greek", "___")}, want: true},
		{name: "Like greek not six bytes", filter: Filter{Like("metadata.greek", "______")}, want: false},
		{name: "Like greek not folded", filter: Filter{Like("metadata.greek", "ΑΒΓ")}, want: false},
		{name: "Like on number", filter: Filter{Like("metadata.n", "1")}, want: false},
		{name: "Like percent on number", filter: Filter{Like("metadata.n", "%")}, want: false},
		{name: "Like on bool", filter: Filter{Like("metadata.b", "true")}, want: false},
		{name: "Like on object", filter: Filter{Like("metadata.nested", "%")}, want: false},
		{name: "Like on array", filter: Filter{Like("metadata.list", "%")}, want: false},
		{name: "Like on null", filter: Filter{Like("metadata.nul", "%")}, want: false},
		{name: "Like on missing", filter: Filter{Like("metadata.missing", "%")}, want: false},

		// AND.
		{name: "AND all true", filter: Filter{Equals("stream_id", "order-42"), Equals("version", 3), Equals("metadata.user", "alice")}, want: true},
		{name: "AND last false", filter: Filter{Equals("stream_id", "order-42"), Equals("version", 3), Equals("metadata.user", "bob")}, want: false},
		{name: "AND first false", filter: Filter{Equals("stream_id", "x"), Equals("version", 3)}, want: false},
		{name: "AND Like and In", filter: Filter{Like("event_type", "order%"), In("version", 2, 3)}, want: true},
		{name: "AND same field contradicting", filter: Filter{Equals("version", 3), Equals("version", 4)}, want: false},

		// Invalid filters match nothing.
		{name: "invalid unknown field", filter: Filter{Equals("nope", "x")}, want: false},
		{name: "invalid zero clause", filter: Filter{Clause{}}, want: false},
		{name: "invalid empty In", filter: Filter{In("stream_id")}, want: false},
		{name: "invalid bad path after good clause", filter: Filter{Equals("stream_id", "order-42"), Equals("metadata.", "x")}, want: false},
		{name: "invalid value type", filter: Filter{Equals("version", "3")}, want: false},
		{name: "invalid metadata value type", filter: Filter{Equals("metadata.nested", map[string]any{})}, want: false},
		{name: "invalid Like on version", filter: Filter{Like("version", "%")}, want: false},
		{name: "invalid In with a matching good value", filter: Filter{In("version", 3, "x")}, want: false},
		{name: "invalid metadata In with a matching good value", filter: Filter{In("metadata.user", "alice", nil)}, want: false},
		{name: "invalid before good clause", filter: Filter{Equals("metadata.a..b", "x"), Equals("stream_id", "order-42")}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ev
			if tt.event != nil {
				e = *tt.event
			}
			if got := tt.filter.Match(e); got != tt.want {
				t.Errorf("Match() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		s, pattern string
		want       bool
	}{
		{"", "", true},
		{"", "%", true},
		{"", "%%", true},
		{"", "_", false},
		{"", "%_", false},
		{"", "a", false},
		{"a", "", false},
		{"a", "%", true},
		{"abc", "%", true},
		{"a", "_", true},
		{"ab", "_", false},
		{"_", "_", true},
		{"%", "%", true},
		{"%", "_", true},
		{"a", "%%", true},
		{"a", "a", true},
		{"a", "A", true},
		{"A", "a", true},
		{"a", "b", false},
		{"ab", "a", false},
		{"a", "ab", false},
		{"ab", "ab%", true},
		{"ab", "ab_", false},
		{"ab", "%ab", true},
		{"ab", "%%ab%%", true},

		// Backtracking.
		{"ab", "%a%b%", true},
		{"xaybz", "%a%b%", true},
		{"aaab", "%a%b%", true},
		{"ba", "%a%b%", false},
		{"bbba", "%a%b%", false},
		{"", "%a%b%", false},
		{"a", "a%%", true},
		{"abc", "a%%", true},
		{"ba", "a%%", false},
		{"abcbd", "a%bd", true},
		{"abcbc", "a%bd", false},
		{"abcabd", "%abd", true},
		{"aab", "%ab", true},
		{"aaa", "a%a%a", true},
		{"aa", "a%a%a", false},
		{"mississippi", "%iss%ppi", true},
		{"mississippi", "m%s%s%ppi", true},
		{"mississippi", "m%s%s%s%s%ppi", true},
		{"mississippi", "m%s%s%s%s%s%ppi", false},
		{"mississippi", "%sip%", true},
		{"mississippi", "%ssix%", false},
		{"abc", "a_c", true},
		{"ac", "a_c", false},
		{"abbc", "a_c", false},
		{"xyz", "%_", true},
		{"xyz", "_%_%_", true},
		{"xy", "_%_%_", false},
		{"abab", "%_b", true},
		{"abac", "%_b", false},
		{"aXbXc", "%x%X%", true},
		{strings.Repeat("a", 40), strings.Repeat("%a", 20) + "b", false},
		{strings.Repeat("a", 40) + "b", strings.Repeat("%a", 20) + "b", true},

		// Case folding is ASCII only.
		{"HeLLo", "hello", true},
		{"hello", "H%O", true},
		{"É", "é", false},
		{"é", "É", false},
		{"k", "\u212a", false}, // Kelvin sign folds to k in Unicode, not here
		{"\u212a", "k", false},
		{"s", "\u017f", false}, // long s
		{"ß", "SS", false},
		{"@", "`", false}, // neighbours of the letter ranges
		{"[", "{", false},

		// Runes.
		{"é", "_", true},
		{"é", "__", false},
		{"日本", "_本", true},
		{"日本", "__", true},
		{"日本", "_", false},
		{"日本語", "%語", true},
		{"日本語", "日%", true},
		{"a日b", "a_b", true},
		{"😀", "_", true},

		// No escape character: backslash is an ordinary character.
		{`a\b`, `a\b`, true},
		{`a%b`, `a\%b`, false},
		{`a\xb`, `a\%b`, true},
	}
	for _, tt := range tests {
		if got := likeMatch(tt.s, tt.pattern); got != tt.want {
			t.Errorf("likeMatch(%q, %q) = %v, want %v", tt.s, tt.pattern, got, tt.want)
		}
	}
}

// likeReference is a plain dynamic-programming LIKE over runes (each byte of
// invalid UTF-8 counts as one U+FFFD, as a range over a string gives it).
func likeReference(s, pattern string) bool {
	sr := []rune(s)
	// m[j] reports whether the pattern so far matches sr[:j].
	m := make([]bool, len(sr)+1)
	m[0] = true
	for _, pc := range pattern {
		next := make([]bool, len(sr)+1)
		switch pc {
		case '%':
			for j := range next {
				next[j] = m[j] || (j > 0 && next[j-1])
			}
		case '_':
			for j := 1; j <= len(sr); j++ {
				next[j] = m[j-1]
			}
		default:
			for j := 1; j <= len(sr); j++ {
				next[j] = m[j-1] && lowerASCIIRune(sr[j-1]) == lowerASCIIRune(pc)
			}
		}
		m = next
	}
	return m[len(sr)]
}

func lowerASCIIRune(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + ('a' - 'A')
	}
	return r
}

// lowerASCII lowers the ASCII letters of s and leaves every other byte alone.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// likeRegexp translates a valid UTF-8 LIKE pattern into a regexp over
// ASCII-lowered text. Go's (?i) would fold non-ASCII letters too, so the
// folding is done by lowering both sides instead.
func likeRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range lowerASCII(pattern) {
		switch r {
		case '%':
			b.WriteString(`.*`)
		case '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.Compile(b.String())
}

func TestLikeReference(t *testing.T) {
	// The references must agree with each other and with the table above,
	// or the fuzz target would prove nothing.
	tests := []struct {
		s, pattern string
		want       bool
	}{
		{"", "", true},
		{"", "%", true},
		{"a", "", false},
		{"abc", "A_C", true},
		{"xaybz", "%a%b%", true},
		{"bbba", "%a%b%", false},
		{"é", "_", true},
		{"É", "é", false},
		{"k", "\u212a", false},
		{"a\nb", "a_b", true},
		{"a\nb", "%", true},
		{"a.b", "a.b", true},
		{"axb", "a.b", false},
	}
	for _, tt := range tests {
		if got := likeReference(tt.s, tt.pattern); got != tt.want {
			t.Errorf("likeReference(%q, %q) = %v, want %v", tt.s, tt.pattern, got, tt.want)
		}
		re, err := likeRegexp(tt.pattern)
		if err != nil {
			t.Fatalf("likeRegexp(%q) error = %v, want nil", tt.pattern, err)
		}
		if got := re.MatchString(lowerASCII(tt.s)); got != tt.want {
			t.Errorf("likeRegexp(%q).MatchString(%q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func FuzzLike(f *testing.F) {
	seeds := []struct{ s, pattern string }{
		{"", ""},
		{"", "%"},
		{"a", "_"},
		{"abc", "a%%"},
		{"xaybz", "%a%b%"},
		{"bbba", "%a%b%"},
		{"abcbd", "a%bd"},
		{"mississippi", "m%s%s%ppi"},
		{"HeLLo", "h_l%O"},
		{"Émile", "_mile"},
		{"日本語", "%_語"},
		{"k", "\u212a"},
		{"a\nb", "a_b"},
		{"\xff", "_"},
		{"\xef\xbf\xbd", "\xff"},
		{"a.b*c", "a._*%"},
		{`a\b`, `a\%`},
		{strings.Repeat("a", 30), strings.Repeat("%a", 10) + "b"},
	}
	for _, s := range seeds {
		f.Add(s.s, s.pattern)
	}
	f.Fuzz(func(t *testing.T, s, pattern string) {
		if len(s) > 1000 || len(pattern) > 1000 {
			return
		}
		got := likeMatch(s, pattern)
		if want := likeReference(s, pattern); got != want {
			t.Fatalf("likeMatch(%q, %q) = %v, want %v (reference)", s, pattern, got, want)
		}
		if !utf8.ValidString(pattern) {
			return
		}
		re, err := likeRegexp(pattern)
		if err != nil {
			t.Fatalf("likeRegexp(%q) error = %v, want nil", pattern, err)
		}
		if want := re.MatchString(lowerASCII(s)); got != want {
			t.Fatalf("likeMatch(%q, %q) = %v, want %v (regexp %s)", s, pattern, got, want, re)
		}
	})
}
