// Package groupcommit coalesces concurrent writes into shared transactions.
//
// Callers queue a request and wait. Whoever takes the token (a backend's
// writer connection, say) leads: it takes every queued call and commits
// them together, then hands the token on. The backend's commit function
// decides how the calls share the transaction (each in a savepoint, so that
// each keeps its own checks and fails alone); this package only does the
// queueing, the hand-over and the waiting.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// errPanicked is the error of the calls of a group whose commit panicked.
// The commit function is expected to have rolled its transaction back.
var errPanicked = errors.New("evstore: a write of the same commit group panicked")

// A Request is what a backend's Append or AppendStreams queues: one write
// (One), or, when Many is set, several writes under a condition.
type Request struct {
	One  evstore.AppendRequest
	Many *evstore.StreamsRequest
}

// A Call is one queued request and, once it is done, its result.
type Call[R any] struct {
	Ctx     context.Context
	Req     R
	Report  evstore.WriteReport   // what a call of one write did, once done without Err
	Reports []evstore.WriteReport // what a call of several writes did, one per write
	Err     error
	done    chan struct{}
}

// A Queue holds the calls waiting for the next group.
type Queue[R any] struct {
	// Tracer, when set (by the backend, before the first call), traces
	// each group's commit as a TraceCommit of System.
	Tracer evstore.Tracer
	System string

	mu    sync.Mutex
	calls []*Call[R]
	last  atomic.Int64 // how many calls the last group had
}

// gather lets writers that are about to queue do so before the leader
// drains the queue: while the queue is smaller than the last group and
// still growing, the leader yields. Without it, the writers a commit has
// just released come back one by one, and the first to come leads a group
// of one, so that small and full groups alternate.
func (q *Queue[R]) gather() {
	last := int(q.last.Load())
	n := q.Len()
	for range maxYields {
		if n == 0 || n >= last {
			return
		}
		yield()
		m := q.Len()
		if m <= n {
			return
		}
		n = m
	}
}

// maxYields bounds how long a leader gathers: on a busy machine a yield
// can take a while, and the other writers wait for the leader.
const maxYields = 8

// yield lets other goroutines run; tests replace it.
var yield = runtime.Gosched

// Do queues req and waits until a leader has committed it, leading itself
// when it gets a token from tokens. commit runs the calls it is given in one
// transaction, setting each call's Version and Err; it may call more to take
// the calls that queued meanwhile into the same group. The token goes back
// into tokens afterwards. If ctx ends while the call is still queued, Do
// withdraws it and returns ctx.Err(); once a leader has it, the outcome is
// the leader's.
func Do[R, T any](ctx context.Context, q *Queue[R], req R, tokens chan T, commit func(token T, calls []*Call[R], more func() []*Call[R])) (evstore.WriteReport, error) {
	call, err := do(ctx, q, req, tokens, commit)
	if err != nil {
		return evstore.WriteReport{}, err
	}
	return call.Report, nil
}

// DoMany is Do for a call of several writes: it returns the call's
// Reports.
func DoMany[R, T any](ctx context.Context, q *Queue[R], req R, tokens chan T, commit func(token T, calls []*Call[R], more func() []*Call[R])) ([]evstore.WriteReport, error) {
	call, err := do(ctx, q, req, tokens, commit)
	if err != nil {
		return nil, err
	}
	return call.Reports, nil
}

func do[R, T any](ctx context.Context, q *Queue[R], req R, tokens chan T, commit func(token T, calls []*Call[R], more func() []*Call[R])) (*Call[R], error) {
	call := &Call[R]{Ctx: ctx, Req: req, done: make(chan struct{})}
	q.mu.Lock()
	q.calls = append(q.calls, call)
	q.mu.Unlock()
	for {
		select {
		case <-call.done:
			return call, call.Err
		case token := <-tokens:
			lead(ctx, q, token, tokens, commit)
		case <-ctx.Done():
			if q.withdraw(call) {
				return nil, ctx.Err()
			}
			<-call.done
			return call, call.Err
		}
	}
}

// lead commits the queued calls as one group.
// ctx is the leader's own call's, which the commit's trace descends from.
func lead[R, T any](ctx context.Context, q *Queue[R], token T, tokens chan T, commit func(T, []*Call[R], func() []*Call[R])) {
	defer func() { tokens <- token }()
	q.gather()
	calls := q.Drain()
	if len(calls) == 0 {
		return
	}
	joined := [][]*Call[R]{calls}
	if q.Tracer != nil {
		end := q.trace(ctx, len(calls))
		defer func() { end(joined) }()
	}
	defer func() {
		// If commit panics, the calls it had not finished must not look
		// successful: each gets an error, then the panic goes on up the
		// leader's own call.
		p := recover()
		n := 0
		for _, group := range joined {
			n += len(group)
			for _, c := range group {
				if p != nil {
					c.Report, c.Reports, c.Err = evstore.WriteReport{}, nil, fmt.Errorf("%w: %v", errPanicked, p)
				}
				close(c.done)
			}
		}
		q.last.Store(int64(n))
		if p != nil {
			panic(p)
		}
	}()
	commit(token, calls, func() []*Call[R] {
		more := q.Drain()
		joined = append(joined, more)
		return more
	})
}

// trace starts the trace of a group's commit; the function it returns
// ends it, once the group's calls are done.
func (q *Queue[R]) trace(ctx context.Context, writes int) func([][]*Call[R]) {
	t := evstore.Trace{Op: evstore.TraceCommit, System: q.System, Start: time.Now(), Writes: writes}
	ctx = q.Tracer.TraceStart(ctx, t)
	return func(joined [][]*Call[R]) {
		// The commit failed if every call of it failed, and not on its
		// own expectation (a conflict is that write's, not the commit's).
		t.Writes = 0
		var failed, conflicts int
		var first error
		for _, group := range joined {
			for _, c := range group {
				t.Writes++
				t.Events += c.Report.Appended
				for _, r := range c.Reports {
					t.Events += r.Appended
				}
				switch {
				case errors.Is(c.Err, evstore.ErrConflict):
					conflicts++
				case c.Err != nil:
					if failed++; first == nil {
						first = c.Err
					}
				}
			}
		}
		switch {
		case failed == t.Writes:
			t.Err, t.Outcome = first, evstore.OutcomeError
		case t.Events > 0:
			t.Outcome = evstore.OutcomeAppended
		case conflicts > 0:
			t.Outcome = evstore.OutcomeConflict
		default:
			t.Outcome = evstore.OutcomeDuplicate
		}
		q.Tracer.TraceEnd(ctx, t)
	}
}

// Context returns a context for the work of a group of calls: it ends
// once every call's own context has ended, since then nobody waits for the
// outcome, and never while one of them still waits. stop releases it.
func Context[R any](calls []*Call[R]) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	waiting := int64(len(calls))
	var mu sync.Mutex
	stops := make([]func() bool, len(calls))
	for i, c := range calls {
		stops[i] = context.AfterFunc(c.Ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if waiting--; waiting == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// Drain takes the queued calls.
func (q *Queue[R]) Drain() []*Call[R] {
	q.mu.Lock()
	defer q.mu.Unlock()
	calls := q.calls
	q.calls = nil
	return calls
}

// Len returns how many calls are queued.
func (q *Queue[R]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.calls)
}

func (q *Queue[R]) withdraw(call *Call[R]) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.calls, call)
	if i < 0 {
		return false
	}
	q.calls = slices.Delete(q.calls, i, i+1)
	return true
}
