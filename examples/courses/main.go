// Command courses enforces two rules that span streams — a course takes
// at most its capacity of students, a student takes at most two courses —
// with no saga and no reservation stream: a Dynamic Consistency Boundary
// (dcb.events) on an embedded SQLite file.
//
// courses.go holds the business logic, an aggregate.BoundaryDecider: an
// enrolment is decided on the events tagged with its course and with its
// student, wherever they are stored, and appended on the condition that
// no such event arrived meanwhile (evstore.FailIfMatch). This file runs
// it: three courses of three places, then ten students who each try to
// enrol in all three at once, thirty concurrent commands. Run it with:
//
//	go run ./examples/courses
//
// Every course ends full, no student takes more than two courses, and the
// commands that met a concurrent enrolment of the same course or student
// were read and decided again (Handle retries them), while enrolments of
// different courses and students never got in each other's way.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/sqlite"
)

func main() {
	dir, err := os.MkdirTemp("", "evstore-courses-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "courses:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	if err := run(context.Background(), os.Stdout, filepath.Join(dir, "events.db")); err != nil {
		fmt.Fprintln(os.Stderr, "courses:", err)
		os.Exit(1)
	}
}

// run defines the courses, sends the enrolments concurrently, and prints
// what the store holds.
func run(ctx context.Context, w io.Writer, path string) error {
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	events, err := newCodec()
	if err != nil {
		return err
	}
	h := aggregate.NewBoundary(store, decider, events)

	courses := []string{"algebra", "biology", "chemistry"}
	for _, c := range courses {
		if _, err := h.Handle(ctx, DefineCourse{Course: c, Capacity: 3}, aggregate.CommandID("define-"+c)); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%d courses of 3 places; each student may take %d.\n", len(courses), MaxCoursesPerStudent)

	var (
		mu      sync.Mutex
		refused = map[error]int{}
		wg      sync.WaitGroup
		failure error
	)
	for i := range 10 {
		student := fmt.Sprintf("s%02d", i)
		for _, c := range courses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := h.Handle(ctx, Enroll{Course: c, Student: student}, aggregate.CommandID("enrol-"+c+"-"+student))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrCourseFull), errors.Is(err, ErrStudentLimit):
					refused[err]++
				case err != nil:
					failure = err
				}
			}()
		}
	}
	wg.Wait()
	if failure != nil {
		return failure
	}
	fmt.Fprintf(w, "30 enrolments sent at once: %d refused, as the course was full or the student at the limit.\n",
		refused[ErrCourseFull]+refused[ErrStudentLimit])

	// What the store holds, read back by tag.
	perStudent := map[string]int{}
	taken, err := enrolments(ctx, store, courses)
	if err != nil {
		return err
	}
	most := 0
	for _, c := range courses {
		fmt.Fprintf(w, "  %-9s %d/3 enrolled\n", c, len(taken[c]))
		for _, s := range taken[c] {
			perStudent[s]++
			most = max(most, perStudent[s])
		}
	}
	fmt.Fprintf(w, "The most courses any student takes: %d.\n", most)
	return nil
}

// enrolments returns the students enrolled in each course, found by the
// course's tag.
func enrolments(ctx context.Context, store *evstore.Store, courses []string) (map[string][]string, error) {
	events, err := newCodec()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, c := range courses {
		for e, err := range store.Find(ctx, evstore.Criteria{{Types: []string{"StudentEnrolled"}, Tags: []string{courseTag(c)}}}) {
			if err != nil {
				return nil, err
			}
			ev, err := events.Decode(e)
			if err != nil {
				return nil, err
			}
			out[c] = append(out[c], ev.(StudentEnrolled).Student)
		}
	}
	return out, nil
}
