// Package logtest records log/slog records, for tests that check what a
// Store logs.
package logtest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// A Recorder is a slog.Handler that keeps every record it is given.
type Recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

// Logger returns a logger that records into r.
func (r *Recorder) Logger() *slog.Logger { return slog.New(r) }

// Enabled implements slog.Handler: every level is recorded.
func (r *Recorder) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// WithAttrs implements slog.Handler. evstore does not use it: the
// attributes are dropped.
func (r *Recorder) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup implements slog.Handler; groups are not kept apart.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Find returns the first record whose message contains msg, at level, and
// whether there is one.
func (r *Recorder) Find(level slog.Level, msg string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Level == level && strings.Contains(rec.Message, msg) {
			return rec, true
		}
	}
	return slog.Record{}, false
}

// Count returns how many records have a message that contains msg, at
// level.
func (r *Recorder) Count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Level == level && strings.Contains(rec.Message, msg) {
			n++
		}
	}
	return n
}

// Wait waits up to d for a record that Find finds.
func (r *Recorder) Wait(level slog.Level, msg string, d time.Duration) (slog.Record, bool) {
	deadline := time.Now().Add(d)
	for {
		if rec, ok := r.Find(level, msg); ok || time.Now().After(deadline) {
			return rec, ok
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Attr returns the value of rec's attribute key, and whether it has one.
func Attr(rec slog.Record, key string) (slog.Value, bool) {
	var v slog.Value
	found := false
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v, found = a.Value, true
			return false
		}
		return true
	})
	return v, found
}
