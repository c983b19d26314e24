package evstore_test

import (
	"errors"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

func TestPlanDelete(t *testing.T) {
	tests := []struct {
		name          string
		expect        evstore.Expectation
		head          int64
		onlyTombstone bool
		version       int64
		noop          bool
		conflict      bool
	}{
		{"no events", evstore.Expect(), 0, false, 0, true, false},
		{"no events, ExpectVersion(0)", evstore.Expect(evstore.ExpectVersion(0)), 0, false, 0, true, false},
		{"no events, ExpectExists", evstore.Expect(evstore.ExpectExists()), 0, false, 0, true, true},
		{"no events, ExpectVersion(2)", evstore.Expect(evstore.ExpectVersion(2)), 0, false, 0, true, true},
		{"events", evstore.Expect(), 3, false, 4, false, false},
		{"events, ExpectVersion(3)", evstore.Expect(evstore.ExpectVersion(3)), 3, false, 4, false, false},
		{"events, ExpectExists", evstore.Expect(evstore.ExpectExists()), 3, false, 4, false, false},
		{"events, ExpectVersion(2)", evstore.Expect(evstore.ExpectVersion(2)), 3, false, 0, false, true},
		{"only a tombstone", evstore.Expect(), 4, true, 4, true, false},
		{"only a tombstone, a stale expectation", evstore.Expect(evstore.ExpectVersion(3)), 4, true, 4, true, false},
	}
	for _, tt := range tests {
		version, noop, err := evstore.PlanDelete("s", tt.expect, tt.head, tt.onlyTombstone)
		if got := errors.Is(err, evstore.ErrConflict); got != tt.conflict {
			t.Errorf("%s: err %v, want a conflict: %v", tt.name, err, tt.conflict)
			continue
		}
		if err == nil && (version != tt.version || noop != tt.noop) {
			t.Errorf("%s: got version %d, noop %v; want %d, %v", tt.name, version, noop, tt.version, tt.noop)
		}
	}
}
