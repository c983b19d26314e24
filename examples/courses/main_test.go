package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/sqlite"
)

func Example() {
	dir, err := os.MkdirTemp("", "evstore-courses-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := run(context.Background(), os.Stdout, filepath.Join(dir, "events.db")); err != nil {
		panic(err)
	}
	// Output:
	// 3 courses of 3 places; each student may take 2.
	// 30 enrolments sent at once: 21 refused, as the course was full or the student at the limit.
	//   algebra   3/3 enrolled
	//   biology   3/3 enrolled
	//   chemistry 3/3 enrolled
	// The most courses any student takes: 2.
}

// TestLimitsHold sends many concurrent enrolments, each student to every
// course, several times over (retries with the same command ids among
// them), and checks both rules in what the store holds: no course over its
// capacity, no student over the limit, and no enrolment twice.
func TestLimitsHold(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	h := aggregate.NewBoundary(store, decider, events)
	courses := []string{"c1", "c2", "c3", "c4", "c5"}
	const capacity, students = 4, 24
	for _, c := range courses {
		if _, err := h.Handle(ctx, DefineCourse{Course: c, Capacity: capacity}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Handle(ctx, DefineCourse{Course: "c1", Capacity: 9}); !errors.Is(err, ErrCourseExists) {
		t.Fatalf("defining c1 again: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*students*len(courses))
	for round := range 2 { // the second round retries every command
		for i := range students {
			for _, c := range courses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := fmt.Sprintf("s%d", i)
					_, err := h.Handle(ctx, Enroll{Course: c, Student: s}, aggregate.CommandID(fmt.Sprintf("%s-%s", c, s)))
					if err != nil && !errors.Is(err, ErrCourseFull) && !errors.Is(err, ErrStudentLimit) {
						errs <- fmt.Errorf("round %d: %s in %s: %w", round, s, c, err)
					}
				}()
			}
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	taken, err := enrolments(ctx, store, courses)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	seen := map[string]bool{}
	for _, c := range courses {
		if n := len(taken[c]); n != capacity {
			t.Errorf("course %s has %d students, want %d (full: demand exceeds places)", c, n, capacity)
		}
		for _, s := range taken[c] {
			if seen[c+"/"+s] {
				t.Errorf("%s enrolled in %s twice", s, c)
			}
			seen[c+"/"+s] = true
			if per[s]++; per[s] > MaxCoursesPerStudent {
				t.Errorf("%s takes %d courses, over the limit of %d", s, per[s], MaxCoursesPerStudent)
			}
		}
	}
}
