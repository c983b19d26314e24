package evstore

import (
	"context"
	"fmt"
)

// This file holds Store.Append: one transaction across several streams.

// A StreamWrite is one stream's part of a Store.Append.
type StreamWrite struct {
	StreamID string
	Events   []CandidateEvent
	// Options may hold ExpectVersion or ExpectExists for this stream, and
	// Report; FailIfMatch belongs to the Append.
	Options []WriteOption
}

// A MultiAppender is a Backend that writes to several streams in one
// transaction, under a condition. Store.Append and FailIfMatch need one.
type MultiAppender interface {
	// AppendStreams writes req's writes in one transaction, all or none,
	// following the rule of PlanStreams, which it calls inside the
	// transaction with the streams' versions and the condition's match
	// read there, and returns the error it gives. The events get
	// Sequences in the order of the writes. It returns one report per
	// write; once it returns, every event it appended is visible to
	// readers.
	AppendStreams(ctx context.Context, req StreamsRequest) ([]WriteReport, error)
}

// A StreamsRequest is a validated Store.Append, or a Write with
// FailIfMatch, as a MultiAppender receives it.
type StreamsRequest struct {
	// Writes are the writes, to distinct streams (never All); a write may
	// have no events, and then only checks its expectation.
	Writes []AppendRequest
	// Condition is FailIfMatch's, or nil.
	Condition *Condition
}

// Append writes to several streams in one transaction: every write or
// none. Each StreamWrite may carry its own ExpectVersion or ExpectExists;
// opts may hold FailIfMatch, checked against the whole store. A write with
// no events appends nothing and only checks its expectation: a condition
// on a stream the call does not write. The events are numbered in the
// order of the writes (the first write's get the lowest Sequences).
//
// Retries are safe, as with Write: a write whose events all exist already
// (by key) is skipped, its expectation unchecked, and when every event of
// the call exists already the call succeeds as a no-op whatever its
// conditions. Otherwise a failed expectation returns that stream's
// *ConflictError, and a failed condition a *ConditionError, with nothing
// written. Append returns one report per write, in order.
//
// An empty writes, the same stream twice, All (ErrReadOnly), an
// expectation among opts or FailIfMatch in a StreamWrite's Options are
// refused, with nothing written.
func (s *Store) Append(ctx context.Context, writes []StreamWrite, opts ...WriteOption) ([]WriteReport, error) {
	cfg := newWriteConfig(opts)
	if cfg.expect.kind != expectAny {
		return nil, fmt.Errorf("%w: Append: ExpectVersion and ExpectExists go in a StreamWrite's Options", ErrInvalidArgument)
	}
	if len(writes) == 0 {
		return nil, fmt.Errorf("%w: Append: no writes", ErrInvalidArgument)
	}
	cond, err := cfg.cond.check()
	if err != nil {
		return nil, err
	}
	req := StreamsRequest{Writes: make([]AppendRequest, len(writes)), Condition: cond}
	reports := make([]*WriteReport, len(writes))
	seen := make(map[string]int, len(writes))
	for i, w := range writes {
		if w.StreamID == All {
			return nil, fmt.Errorf("%w: Append: write %d: cannot write to %s", ErrReadOnly, i, All)
		}
		if err := checkStreamID(w.StreamID); err != nil {
			return nil, fmt.Errorf("Append: write %d: %w", i, err)
		}
		if j, dup := seen[w.StreamID]; dup {
			return nil, fmt.Errorf("%w: Append: writes %d and %d are both to stream %q: put their events in one write", ErrInvalidArgument, j, i, w.StreamID)
		}
		seen[w.StreamID] = i
		wc := newWriteConfig(w.Options)
		if wc.cond != nil {
			return nil, fmt.Errorf("%w: Append: write %d (%s): FailIfMatch goes in Append's options", ErrInvalidArgument, i, w.StreamID)
		}
		if wc.expect.kind == expectExact && wc.expect.version < 0 {
			return nil, fmt.Errorf("%w: Append: write %d (%s): ExpectVersion(%d) is negative", ErrInvalidArgument, i, w.StreamID, wc.expect.version)
		}
		enc, err := encodeEvents(w.Events)
		if err != nil {
			return nil, fmt.Errorf("Append: write %d (%s): %w", i, w.StreamID, err)
		}
		req.Writes[i] = AppendRequest{StreamID: w.StreamID, Events: enc, Expect: wc.expect}
		reports[i] = wc.report
	}
	out, err := s.appendStreams(ctx, req, "")
	if err != nil {
		return nil, err
	}
	for i, r := range reports {
		if r != nil {
			*r = out[i]
		}
	}
	if cfg.report != nil {
		*cfg.report = total(out)
	}
	return out, nil
}

// appendStreams runs req through the Backend's MultiAppender, traced as a
// write of stream (or of several streams, "").
func (s *Store) appendStreams(ctx context.Context, req StreamsRequest, stream string) ([]WriteReport, error) {
	ma, ok := s.b.(MultiAppender)
	if !ok {
		return nil, fmt.Errorf("%w: appending to several streams or with FailIfMatch", ErrUnsupported)
	}
	events := 0
	for _, w := range req.Writes {
		events += len(w.Events)
	}
	out, err := traced(s, ctx, Trace{Op: TraceWrite, StreamID: stream, Events: events, Writes: len(req.Writes)},
		func(ctx context.Context) ([]WriteReport, error) { return ma.AppendStreams(ctx, req) },
		func(t *Trace, out []WriteReport) { endWrite(t, total(out)) })
	if err != nil {
		return nil, err
	}
	if r := total(out); r.Appended > 0 {
		s.notifier.kick(r.Last)
	}
	return out, nil
}

// total sums reports: the events appended, the lowest First and highest
// Last, and the Version of the last write.
func total(reports []WriteReport) WriteReport {
	var t WriteReport
	for _, r := range reports {
		t.Appended += r.Appended
		if r.Appended > 0 {
			if t.First == 0 || r.First < t.First {
				t.First = r.First
			}
			t.Last = max(t.Last, r.Last)
		}
		t.Version = r.Version
	}
	return t
}
