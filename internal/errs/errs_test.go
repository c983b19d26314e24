package errs

import (
	"errors"
	"testing"
)

func TestWrap(t *testing.T) {
	closed := errors.New("evstore: store closed")
	tests := []struct {
		prefix, op string
		err        error
		want       string
	}{
		{"evstore", `open stream "x"`, closed, `evstore: open stream "x": store closed`},
		{"evstore/sqlite", "read a", errors.New("evstore/sqlite: busy"), "evstore/sqlite: read a: busy"},
		{"evstore/sqlite", "read a", errors.New("sqlite: no such table"), "evstore/sqlite: read a: sqlite: no such table"},
		{"evstore", "x", errors.New("evstorefoo: y"), "evstore: x: evstorefoo: y"},
		{"evstore", "x", errors.New("evstore/a b: y"), "evstore: x: evstore/a b: y"},
		{"evstore", "x", errors.New("evstore"), "evstore: x: evstore"},
	}
	for _, tt := range tests {
		got := Wrap(tt.prefix, tt.op, tt.err)
		if got.Error() != tt.want {
			t.Errorf("Wrap(%q, %q, %q) = %q, want %q", tt.prefix, tt.op, tt.err, got, tt.want)
		}
		if !errors.Is(got, tt.err) {
			t.Errorf("Wrap(%q, %q, %q) does not wrap the error", tt.prefix, tt.op, tt.err)
		}
	}
	if Wrap("evstore", "x", nil) != nil || Wrapf("evstore", nil, "x %d", 1) != nil {
		t.Error("Wrap of nil is not nil")
	}
	if got := Wrapf("evstore", closed, "stream %q", "s").Error(); got != `evstore: stream "s": store closed` {
		t.Errorf("Wrapf: got %q", got)
	}
}
