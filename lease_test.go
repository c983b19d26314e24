package evstore

import (
	"testing"
	"time"
)

func TestInheritCheckpoint(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name  string
		rows  []CheckpointRow
		want  int64
		found bool
	}{
		{"no other split", nil, 0, false},
		{"unpartitioned before", []CheckpointRow{{0, 0, 40, true, at(1)}}, 40, true},
		{"every partition saved: the lowest", []CheckpointRow{{0, 2, 40, true, at(1)}, {1, 2, 30, true, at(2)}}, 30, true},
		{"a partition never saved", []CheckpointRow{{0, 2, 40, true, at(1)}, {1, 2, 0, false, at(0)}}, 0, false},
		{"a partition never ran", []CheckpointRow{{0, 2, 40, true, at(1)}}, 0, false},
		{"the newest complete split wins", []CheckpointRow{
			{0, 0, 10, true, at(1)},
			{0, 3, 50, true, at(5)}, {1, 3, 45, true, at(6)}, {2, 3, 60, true, at(4)},
		}, 45, true},
		{"an incomplete newer split falls back on a complete older one", []CheckpointRow{
			{0, 0, 10, true, at(1)},
			{0, 2, 50, true, at(5)}, {1, 2, 0, false, time.Time{}},
		}, 10, true},
	}
	for _, tt := range tests {
		got, found := InheritCheckpoint(tt.rows)
		if got != tt.want || found != tt.found {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.name, got, found, tt.want, tt.found)
		}
	}
}
