package main

import (
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
)

// Events.
type (
	// CourseDefined opens a course with a capacity.
	CourseDefined struct {
		Course   string `json:"course"`
		Capacity int    `json:"capacity"`
	}
	// StudentEnrolled enrols a student in a course.
	StudentEnrolled struct {
		Course  string `json:"course"`
		Student string `json:"student"`
	}
)

// Commands.
type (
	// DefineCourse opens a course.
	DefineCourse struct {
		Course   string
		Capacity int
	}
	// Enroll enrols a student in a course: refused when the course is
	// full or the student has reached MaxCoursesPerStudent.
	Enroll struct{ Course, Student string }
)

// MaxCoursesPerStudent is how many courses a student may take.
const MaxCoursesPerStudent = 2

// Refusals.
var (
	ErrNoCourse       = errors.New("no such course")
	ErrCourseExists   = errors.New("course already defined")
	ErrCourseFull     = errors.New("course full")
	ErrStudentLimit   = errors.New("student takes the most courses allowed")
	ErrAlreadyEnroled = errors.New("already enrolled")
)

// Enrolments is the state a decision is made on: what the events of its
// query say about the courses and students involved.
type Enrolments struct {
	Capacity  map[string]int     // by course, once defined
	InCourse  map[string]int     // students, by course
	OfStudent map[string]int     // courses, by student
	Pairs     map[[2]string]bool // (course, student) enrolled
}

func courseTag(c string) string  { return "course:" + c }
func studentTag(s string) string { return "student:" + s }

// decider is the business logic. Its consistency boundary is dynamic: for
// an enrolment, the course's definition and enrolments (tag course:C)
// and the student's enrolments (tag student:S) — events of many streams.
// Two enrolments conflict only when their queries overlap: the same
// course, or the same student.
var decider = aggregate.BoundaryDecider[Enrolments, any, any]{
	Query: func(cmd any) evstore.Criteria {
		switch c := cmd.(type) {
		case DefineCourse:
			return evstore.Criteria{{Types: []string{"CourseDefined"}, Tags: []string{courseTag(c.Course)}}}
		case Enroll:
			return evstore.Criteria{
				{Types: []string{"CourseDefined", "StudentEnrolled"}, Tags: []string{courseTag(c.Course)}},
				{Types: []string{"StudentEnrolled"}, Tags: []string{studentTag(c.Student)}},
			}
		}
		return nil
	},
	Initial: func() Enrolments {
		return Enrolments{Capacity: map[string]int{}, InCourse: map[string]int{}, OfStudent: map[string]int{}, Pairs: map[[2]string]bool{}}
	},
	Evolve: func(s Enrolments, e any) Enrolments {
		switch e := e.(type) {
		case CourseDefined:
			s.Capacity[e.Course] = e.Capacity
		case StudentEnrolled:
			s.InCourse[e.Course]++
			s.OfStudent[e.Student]++
			s.Pairs[[2]string{e.Course, e.Student}] = true
		}
		return s
	},
	Decide: func(s Enrolments, cmd any) ([]any, error) {
		switch c := cmd.(type) {
		case DefineCourse:
			if _, ok := s.Capacity[c.Course]; ok {
				return nil, ErrCourseExists
			}
			return []any{CourseDefined(c)}, nil
		case Enroll:
			capacity, ok := s.Capacity[c.Course]
			switch {
			case !ok:
				return nil, ErrNoCourse
			case s.Pairs[[2]string{c.Course, c.Student}]:
				return nil, ErrAlreadyEnroled
			case s.InCourse[c.Course] >= capacity:
				return nil, ErrCourseFull
			case s.OfStudent[c.Student] >= MaxCoursesPerStudent:
				return nil, ErrStudentLimit
			}
			return []any{StudentEnrolled(c)}, nil
		}
		return nil, fmt.Errorf("unknown command %T", cmd)
	},
	// A course's definition goes to the course's stream, an enrolment to
	// the student's; the tags are what the queries above find them by.
	Place: func(e any) (string, []string) {
		switch e := e.(type) {
		case CourseDefined:
			return "course-" + e.Course, []string{courseTag(e.Course)}
		case StudentEnrolled:
			return "student-" + e.Student, []string{courseTag(e.Course), studentTag(e.Student)}
		}
		return "other", nil
	},
}

// newCodec returns the codec of the example's events.
func newCodec() (*codec.JSON[any], error) {
	return codec.NewJSON[any](
		codec.Type[CourseDefined]("CourseDefined"),
		codec.Type[StudentEnrolled]("StudentEnrolled"),
	)
}
