package memory

import (
	"context"
	"slices"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
)

// Append implements evstore.Backend. Holding the lock exclusively is its
// transaction: it reads the stream's version and keys, lets
// evstore.PlanAppend apply the append rule to them, and appends what the
// plan says, with nothing able to change the stream in between.
//
// The stream's keys are always at hand in its index, so Append always
// passes them to PlanAppend, which then never asks to look keys up and
// never answers optimistically: the plan's Events are exactly the ones to
// append.
func (b *backend) Append(ctx context.Context, req evstore.AppendRequest) (evstore.WriteReport, error) {
	if err := ctx.Err(); err != nil {
		return evstore.WriteReport{}, errs.Wrapf("evstore/memory", err, "append to %s", req.StreamID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()

	s := b.stream(req.StreamID)
	// s.keys is never a nil KeySet, even for a new stream whose map is
	// nil (a nil keyIndex has no keys), so PlanAppend takes the keys as
	// looked up.
	plan, err := evstore.PlanAppend(req, s.version(), s.keys)
	if err != nil {
		return evstore.WriteReport{}, err // the *ConflictError, as it is
	}
	if len(plan.Events) == 0 {
		// A retry of a write that went through: nothing to append.
		return evstore.WriteReport{Version: plan.Version}, nil
	}

	return b.insert(req.StreamID, s, plan, time.Now()), nil
}

// insert appends the events of plan to the stream s (named id), with the
// lock held exclusively, and reports them. Nothing in it can fail, so a
// write is whole or not at all.
func (b *backend) insert(id string, s *stream, plan evstore.AppendPlan, now time.Time) evstore.WriteReport {
	report := evstore.WriteReport{Version: plan.Version, Appended: len(plan.Events)}
	if len(plan.Events) == 0 {
		return report // a retry, or a write that only checks
	}
	// The events of one write share a timestamp, as in the other
	// backends: UTC, to the microsecond.
	now = now.UTC().Truncate(time.Microsecond)
	if s.keys == nil {
		s.keys = make(keyIndex)
	}
	for i, e := range plan.Events {
		seq := int64(len(b.events)) + 1
		version := plan.Head + int64(i) + 1
		b.events = append(b.events, record{
			event: evstore.StoredEvent{
				ID:        e.ID, // "" for an event without a key
				StreamID:  id,
				Sequence:  seq,
				Version:   version,
				Timestamp: now,
				Type:      e.Type,
				Data:      clone(e.Data),        // not the caller's memory
				Tags:      slices.Clone(e.Tags), // sorted by the Store
			},
			metadata: clone(e.Metadata),
		})
		s.seqs = append(s.seqs, seq)
		if e.ID != "" {
			s.keys[e.ID] = version
		}
		if i == 0 {
			report.First = seq
		}
		report.Last = seq
	}
	b.streams[id] = s // a new stream exists from its first event
	return report
}

// AppendStreams implements evstore.MultiAppender. Holding the lock
// exclusively is its transaction, as for Append: the streams' versions
// and keys, and the condition's match, cannot change before the events
// are in.
func (b *backend) AppendStreams(ctx context.Context, req evstore.StreamsRequest) ([]evstore.WriteReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrapf("evstore/memory", err, "append to %d streams", len(req.Writes))
	}
	b.mu.Lock()
	defer b.mu.Unlock()

	streams := make([]*stream, len(req.Writes))
	heads := make([]int64, len(req.Writes))
	keys := make([]evstore.KeySet, len(req.Writes))
	for i, w := range req.Writes {
		streams[i] = b.stream(w.StreamID)
		heads[i], keys[i] = streams[i].version(), streams[i].keys
	}
	var match int64
	if c := req.Condition; c != nil {
		match = b.firstMatch(c.Criteria, c.After)
	}
	plan, err := evstore.PlanStreams(req, heads, keys, match)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]evstore.WriteReport, len(req.Writes))
	for i, w := range req.Writes {
		out[i] = b.insert(w.StreamID, streams[i], plan.Writes[i], now)
	}
	return out, nil
}

// clone returns a copy of p that shares no memory with it, or nil when p
// is empty: a stored event's Data is nil when it has none.
func clone(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}
