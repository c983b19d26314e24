package evstore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// expectationOf applies write options as Stream.Write does and returns the
// resulting Expectation.
func expectationOf(opts ...WriteOption) Expectation {
	var c writeConfig
	for _, o := range opts {
		o(&c)
	}
	return c.expect
}

func TestExpectationCheck(t *testing.T) {
	tests := []struct {
		name         string
		opts         []WriteOption
		actual       int64
		wantConflict bool
		wantExpected int64 // ConflictError.Expected, when wantConflict
	}{
		{name: "any, new stream", opts: nil, actual: 0},
		{name: "any, existing stream", opts: nil, actual: 5},
		{name: "any, large version", opts: nil, actual: math.MaxInt64},
		{name: "exact 0, new stream", opts: []WriteOption{ExpectVersion(0)}, actual: 0},
		{name: "exact 0, existing stream", opts: []WriteOption{ExpectVersion(0)}, actual: 3, wantConflict: true, wantExpected: 0},
		{name: "exact 3, at 3", opts: []WriteOption{ExpectVersion(3)}, actual: 3},
		{name: "exact 3, new stream", opts: []WriteOption{ExpectVersion(3)}, actual: 0, wantConflict: true, wantExpected: 3},
		{name: "exact 3, behind", opts: []WriteOption{ExpectVersion(3)}, actual: 2, wantConflict: true, wantExpected: 3},
		{name: "exact 3, ahead", opts: []WriteOption{ExpectVersion(3)}, actual: 4, wantConflict: true, wantExpected: 3},
		{name: "exists, new stream", opts: []WriteOption{ExpectExists()}, actual: 0, wantConflict: true, wantExpected: AnyExisting},
		{name: "exists, version 1", opts: []WriteOption{ExpectExists()}, actual: 1},
		{name: "exists, version 100", opts: []WriteOption{ExpectExists()}, actual: 100},
		{name: "last option wins: exists", opts: []WriteOption{ExpectVersion(2), ExpectExists()}, actual: 0, wantConflict: true, wantExpected: AnyExisting},
		{name: "last option wins: exact", opts: []WriteOption{ExpectExists(), ExpectVersion(2)}, actual: 2},
		{name: "last option wins: exact mismatch", opts: []WriteOption{ExpectVersion(2), ExpectVersion(5)}, actual: 2, wantConflict: true, wantExpected: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const stream = "orders-7"
			err := expectationOf(tt.opts...).Check(stream, tt.actual)
			if !tt.wantConflict {
				if err != nil {
					t.Fatalf("Check(%q, %d) = %v, want nil", stream, tt.actual, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%q, %d) = nil, want a *ConflictError", stream, tt.actual)
			}
			if !errors.Is(err, ErrConflict) {
				t.Errorf("errors.Is(%v, ErrConflict) = false, want true", err)
			}
			if errors.Is(err, ErrInvalidArgument) {
				t.Errorf("errors.Is(%v, ErrInvalidArgument) = true, want false", err)
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("Check() error = %T, want *ConflictError", err)
			}
			got := *ce
			want := ConflictError{StreamID: stream, Expected: tt.wantExpected, Actual: tt.actual}
			if got != want {
				t.Errorf("Check() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestZeroExpectationAcceptsAnyVersion(t *testing.T) {
	for _, actual := range []int64{0, 1, 42, math.MaxInt64} {
		if err := (Expectation{}).Check("s", actual); err != nil {
			t.Errorf("Expectation{}.Check(%q, %d) = %v, want nil", "s", actual, err)
		}
	}
}

func TestExpectationString(t *testing.T) {
	tests := []struct {
		name string
		e    Expectation
		want string
	}{
		{"zero", Expectation{}, "any version"},
		{"exact", expectationOf(ExpectVersion(7)), "version 7"},
		{"exact 0", expectationOf(ExpectVersion(0)), "version 0"},
		{"exists", expectationOf(ExpectExists()), "stream exists"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%s: String() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestConflictError(t *testing.T) {
	tests := []struct {
		name        string
		err         *ConflictError
		wantContain []string
		wantAbsent  []string
	}{
		{
			name:        "exact version",
			err:         &ConflictError{StreamID: "orders-7", Expected: 3, Actual: 5},
			wantContain: []string{strconv.Quote("orders-7"), "expected version 3", "actual 5"},
		},
		{
			name:        "expected new stream",
			err:         &ConflictError{StreamID: "cart", Expected: 0, Actual: 2},
			wantContain: []string{strconv.Quote("cart"), "expected version 0", "actual 2"},
		},
		{
			name:        "exists",
			err:         &ConflictError{StreamID: "users", Expected: AnyExisting, Actual: 0},
			wantContain: []string{strconv.Quote("users"), "exist"},
			wantAbsent:  []string{"-1", "version -1"},
		},
		{
			name:        "stream id with quote is quoted",
			err:         &ConflictError{StreamID: `a"b`, Expected: 1, Actual: 2},
			wantContain: []string{strconv.Quote(`a"b`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.err.Error()
			for _, s := range tt.wantContain {
				if !strings.Contains(msg, s) {
					t.Errorf("Error() = %q, want it to contain %q", msg, s)
				}
			}
			for _, s := range tt.wantAbsent {
				if strings.Contains(msg, s) {
					t.Errorf("Error() = %q, want it not to contain %q", msg, s)
				}
			}
			if got := errors.Is(tt.err, ErrConflict); !got {
				t.Errorf("errors.Is(err, ErrConflict) = %v, want true", got)
			}
			wrapped := fmt.Errorf("write: %w", tt.err)
			if got := errors.Is(wrapped, ErrConflict); !got {
				t.Errorf("errors.Is(wrapped, ErrConflict) = %v, want true", got)
			}
			var ce *ConflictError
			if got := errors.As(wrapped, &ce) && ce == tt.err; !got {
				t.Errorf("errors.As(wrapped, *ConflictError) = %v, want true", got)
			}
			for _, other := range []error{ErrReadOnly, ErrInvalidEvent, ErrInvalidFilter, ErrInvalidArgument, ErrClosed} {
				if got := errors.Is(tt.err, other); got {
					t.Errorf("errors.Is(err, %v) = %v, want false", other, got)
				}
			}
		})
	}
}

func TestNewReadConfig(t *testing.T) {
	tests := []struct {
		name    string
		opts    []ReadOption
		wantErr error  // nil for success
		wantMsg string // a substring of the error message
		// the config, checked on success
		after      int64
		limit      int
		limitSet   bool
		backwards  bool
		filterLen  int
		afterIsSet bool
	}{
		{name: "no options"},
		{name: "After(0)", opts: []ReadOption{After(0)}, afterIsSet: true},
		{name: "After(7)", opts: []ReadOption{After(7)}, after: 7, afterIsSet: true},
		{name: "After max", opts: []ReadOption{After(math.MaxInt64)}, after: math.MaxInt64, afterIsSet: true},
		{name: "Limit(1)", opts: []ReadOption{Limit(1)}, limit: 1, limitSet: true},
		{name: "Limit(1000)", opts: []ReadOption{Limit(1000)}, limit: 1000, limitSet: true},
		{name: "Backwards", opts: []ReadOption{Backwards()}, backwards: true},
		{name: "all at once", opts: []ReadOption{After(2), Limit(3), Backwards(), WithFilter(Filter{Equals("stream_id", "a")})}, after: 2, afterIsSet: true, limit: 3, limitSet: true, backwards: true, filterLen: 1},
		{name: "filters accumulate", opts: []ReadOption{WithFilter(Filter{Equals("stream_id", "a")}), WithFilter(Filter{Equals("version", 1), Like("event_type", "%")})}, filterLen: 3},
		{name: "nil filter", opts: []ReadOption{WithFilter(nil)}},
		{name: "last After wins", opts: []ReadOption{After(-1), After(4)}, after: 4, afterIsSet: true},
		{name: "last Limit wins", opts: []ReadOption{Limit(0), Limit(2)}, limit: 2, limitSet: true},

		{name: "After(-1)", opts: []ReadOption{After(-1)}, wantErr: ErrInvalidArgument, wantMsg: "-1"},
		{name: "After min", opts: []ReadOption{After(math.MinInt64)}, wantErr: ErrInvalidArgument, wantMsg: strconv.FormatInt(math.MinInt64, 10)},
		{name: "Limit(0)", opts: []ReadOption{Limit(0)}, wantErr: ErrInvalidArgument, wantMsg: "Limit(0)"},
		{name: "Limit(-3)", opts: []ReadOption{Limit(-3)}, wantErr: ErrInvalidArgument, wantMsg: "-3"},
		{name: "Limit(-3) with good options", opts: []ReadOption{After(1), Limit(-3), Backwards()}, wantErr: ErrInvalidArgument, wantMsg: "-3"},
		{name: "unknown filter field", opts: []ReadOption{WithFilter(Filter{Equals("nope", 1)})}, wantErr: ErrInvalidFilter, wantMsg: "nope"},
		{name: "bad metadata path", opts: []ReadOption{WithFilter(Filter{Equals("metadata.a..b", 1)})}, wantErr: ErrInvalidFilter, wantMsg: "metadata.a..b"},
		{name: "empty In", opts: []ReadOption{WithFilter(Filter{In("event_type")})}, wantErr: ErrInvalidFilter, wantMsg: "event_type"},
		{name: "zero clause", opts: []ReadOption{WithFilter(Filter{Clause{}})}, wantErr: ErrInvalidFilter},
		{name: "bad filter in second WithFilter", opts: []ReadOption{WithFilter(Filter{Equals("stream_id", "a")}), WithFilter(Filter{Like("version", "1")})}, wantErr: ErrInvalidFilter, wantMsg: "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newReadConfig(tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("newReadConfig() error = %v, want an error wrapping %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("newReadConfig() error = %q, want it to contain %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("newReadConfig() error = %v, want nil", err)
			}
			if c.after != tt.after {
				t.Errorf("after = %d, want %d", c.after, tt.after)
			}
			if c.afterSet != tt.afterIsSet {
				t.Errorf("afterSet = %v, want %v", c.afterSet, tt.afterIsSet)
			}
			if c.limit != tt.limit {
				t.Errorf("limit = %d, want %d", c.limit, tt.limit)
			}
			if c.limitSet != tt.limitSet {
				t.Errorf("limitSet = %v, want %v", c.limitSet, tt.limitSet)
			}
			if c.backwards != tt.backwards {
				t.Errorf("backwards = %v, want %v", c.backwards, tt.backwards)
			}
			if len(c.filter) != tt.filterLen {
				t.Errorf("len(filter) = %d, want %d", len(c.filter), tt.filterLen)
			}
		})
	}
}

// TestWithFilterDoesNotAlias checks that WithFilter copies the caller's
// clauses: appending to the config must not write into the caller's array.
func TestWithFilterDoesNotAlias(t *testing.T) {
	base := make(Filter, 1, 4)
	base[0] = Equals("stream_id", "a")
	extra := Filter{Equals("stream_id", "b")}
	if _, err := newReadConfig([]ReadOption{WithFilter(base), WithFilter(extra)}); err != nil {
		t.Fatalf("newReadConfig() error = %v, want nil", err)
	}
	if got := base[:cap(base)][1].Op(); got != 0 {
		t.Errorf("caller's spare capacity was written: Op() = %v, want %v", got, Op(0))
	}
}
