package memory

import (
	"context"
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

	// From here on nothing can fail, so the write is whole or not at all.
	// The events of one write share a timestamp, as in the other
	// backends: UTC, to the microsecond.
	now := time.Now().UTC().Truncate(time.Microsecond)
	if s.keys == nil {
		s.keys = make(keyIndex)
	}
	report := evstore.WriteReport{Version: plan.Version, Appended: len(plan.Events)}
	for i, e := range plan.Events {
		seq := int64(len(b.events)) + 1
		version := plan.Head + int64(i) + 1
		b.events = append(b.events, record{
			event: evstore.StoredEvent{
				ID:        e.ID, // "" for an event without a key
				StreamID:  req.StreamID,
				Sequence:  seq,
				Version:   version,
				Timestamp: now,
				Type:      e.Type,
				Data:      clone(e.Data), // not the caller's memory
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
	b.streams[req.StreamID] = s // a new stream exists from its first event
	return report, nil
}

// clone returns a copy of p that shares no memory with it, or nil when p
// is empty: a stored event's Data is nil when it has none.
func clone(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}
