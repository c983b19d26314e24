package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitLen waits until n calls are queued.
func waitLen(t *testing.T, q *Queue[int], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.Len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", q.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCoalesces: calls queued while the token is held commit as one group,
// each getting its own result.
func TestCoalesces(t *testing.T) {
	var q Queue[int]
	tokens := make(chan string, 1)
	var groups [][]int
	var mu sync.Mutex
	commit := func(token string, calls []*Call[int], more func() []*Call[int]) {
		mu.Lock()
		defer mu.Unlock()
		var group []int
		for _, c := range calls {
			group = append(group, c.Req)
			c.Report.Version = int64(c.Req * 10)
			if c.Req == 3 {
				c.Err = errors.New("three fails alone")
			}
		}
		groups = append(groups, group)
	}
	type result struct {
		v   int64
		err error
	}
	results := make([]chan result, 5)
	for i := range results {
		results[i] = make(chan result, 1)
		go func() {
			r, err := Do(context.Background(), &q, i, tokens, commit)
			results[i] <- result{r.Version, err}
		}()
		waitLen(t, &q, i+1)
	}
	tokens <- "conn" // the token comes free: one caller leads them all
	for i, r := range results {
		got := <-r
		if i == 3 {
			if got.err == nil {
				t.Errorf("call 3: got no error, want its own")
			}
			continue
		}
		if got.err != nil || got.v != int64(i*10) {
			t.Errorf("call %d: got %d, %v; want %d, nil", i, got.v, got.err, i*10)
		}
	}
	if len(groups) != 1 || len(groups[0]) != 5 {
		t.Errorf("got groups %v, want one group of 5 in queue order", groups)
	}
	if got := <-tokens; got != "conn" {
		t.Errorf("token %q not handed back", got)
	}
}

// TestLatecomersJoin: calls queued while a group is being committed can
// join it through more.
func TestLatecomersJoin(t *testing.T) {
	var q Queue[int]
	tokens := make(chan struct{}, 1)
	tokens <- struct{}{}
	joined := make(chan int, 1)
	second := make(chan error, 1)
	commit := func(_ struct{}, calls []*Call[int], more func() []*Call[int]) {
		if calls[0].Req == 1 {
			go func() {
				_, err := Do(context.Background(), &q, 2, tokens, func(struct{}, []*Call[int], func() []*Call[int]) {
					t.Error("the latecomer led a group of its own")
				})
				second <- err
			}()
			waitLen(t, &q, 1)
			late := more()
			joined <- len(late)
			for _, c := range late {
				c.Report.Version = 2
			}
		}
		calls[0].Report.Version = 1
	}
	if r, err := Do(context.Background(), &q, 1, tokens, commit); err != nil || r.Version != 1 {
		t.Fatalf("first: %d, %v", r.Version, err)
	}
	if n := <-joined; n != 1 {
		t.Errorf("%d latecomers joined, want 1", n)
	}
	if err := <-second; err != nil {
		t.Errorf("latecomer: %v", err)
	}
}

// TestWithdraw: a call whose ctx ends while it is queued leaves the queue
// and is never committed.
func TestWithdraw(t *testing.T) {
	var q Queue[int]
	tokens := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Do(ctx, &q, 7, tokens, func(struct{}, []*Call[int], func() []*Call[int]) {
			t.Error("a withdrawn call was committed")
		})
		done <- err
	}()
	waitLen(t, &q, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if q.Len() != 0 {
		t.Errorf("%d calls left queued", q.Len())
	}
}

// TestLeaderGathers: writers released by a commit come back one by one;
// the first to take the token waits while the others queue, so the group
// stays whole instead of splitting into a group of one and the rest. Here
// each time the leader yields, one more writer queues.
func TestLeaderGathers(t *testing.T) {
	for _, c := range []struct {
		name             string
		last, arriving   int
		groups           []int
		yields, recorded int
	}{
		{"others arrive", 5, 4, []int{5}, 4, 5},
		{"fewer arrive than last time", 5, 2, []int{3}, 3, 3},
		{"none arrives", 5, 0, []int{1}, 1, 1},
		{"alone last time too", 1, 0, []int{1}, 0, 1},
		{"at most maxYields", 20, 15, []int{maxYields + 1}, maxYields, maxYields + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var q Queue[int]
			tokens := make(chan struct{}, 1)
			var groups []int
			commit := func(_ struct{}, calls []*Call[int], _ func() []*Call[int]) {
				groups = append(groups, len(calls))
			}
			q.last.Store(int64(c.last))
			var wg sync.WaitGroup
			yields := 0
			defer func(old func()) { yield = old }(yield)
			yield = func() {
				yields++
				if yields > c.arriving {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := Do(context.Background(), &q, yields, tokens, commit); err != nil {
						t.Error(err)
					}
				}()
				waitLen(t, &q, yields+1) // the leader's call is queued too
			}
			tokens <- struct{}{}
			if _, err := Do(context.Background(), &q, 0, tokens, commit); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if !slices.Equal(groups, c.groups) || yields != c.yields {
				t.Errorf("got groups of %v calls after %d yields, want %v after %d", groups, yields, c.groups, c.yields)
			}
			if got := q.last.Load(); got != int64(c.recorded) {
				t.Errorf("last group recorded as %d calls, want %d", got, c.recorded)
			}
		})
	}
}

// TestCommitPanics: when the commit function panics, the panic reaches the
// leader's caller, every other call of the group fails with errPanicked
// instead of looking committed, and the token comes back.
func TestCommitPanics(t *testing.T) {
	var q Queue[int]
	tokens := make(chan struct{}, 1)
	commit := func(_ struct{}, calls []*Call[int], _ func() []*Call[int]) {
		for _, c := range calls {
			c.Report.Version = 1 // as if written, before the commit
		}
		panic("boom")
	}
	results := make([]chan error, 3)
	for i := range results {
		results[i] = make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					results[i] <- fmt.Errorf("panic: %v", p)
				}
			}()
			_, err := Do(context.Background(), &q, i, tokens, commit)
			results[i] <- err
		}()
		waitLen(t, &q, i+1)
	}
	tokens <- struct{}{}
	panics := 0
	for i, r := range results {
		err := <-r
		switch {
		case err != nil && err.Error() == "panic: boom":
			panics++
		case !errors.Is(err, errPanicked):
			t.Errorf("call %d: got %v, want errPanicked or the panic", i, err)
		}
	}
	if panics != 1 {
		t.Errorf("the panic reached %d callers, want 1 (the leader)", panics)
	}
	select {
	case <-tokens:
	default:
		t.Error("the token was not handed back")
	}
}

// TestContext: a group's context ends once every call's context has ended,
// not before.
func TestContext(t *testing.T) {
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	calls := []*Call[int]{{Ctx: ctx1}, {Ctx: ctx2}, {Ctx: ctx1}}
	ctx, stop := Context(calls)
	defer stop()
	cancel1()
	select {
	case <-ctx.Done():
		t.Fatal("the group's context ended while a call still waits")
	case <-time.After(20 * time.Millisecond):
	}
	cancel2()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the group's context did not end after every call's had")
	}

	background, stop := Context([]*Call[int]{{Ctx: context.Background()}})
	stop()
	if background.Err() == nil {
		t.Error("stop did not release the context")
	}
}
