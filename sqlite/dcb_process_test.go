package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// dcbSeats is how many bookings each room of TestConditionAcrossProcesses
// takes.
const dcbSeats = 5

// dcbBooker is a child of TestConditionAcrossProcesses: it tries to book
// every seat of n rooms, each attempt a Find of the room's bookings and a
// Write under FailIfMatch, and prints how many bookings it made and how
// many conditions failed.
func dcbBooker(ctx context.Context, s *evstore.Store, id string, n int) error {
	booked, failed := 0, 0
	for room := range n {
		tag := fmt.Sprintf("room:%d", room)
		crit := evstore.Criteria{{Types: []string{"Booked"}, Tags: []string{tag}}}
		st, err := s.Stream(ctx, "booker-"+id)
		if err != nil {
			return err
		}
		for {
			taken, pos := 0, int64(0)
			for e, err := range s.Find(ctx, crit) {
				if err != nil {
					return err
				}
				taken, pos = taken+1, e.Sequence
			}
			if taken >= dcbSeats {
				break
			}
			_, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Booked", Tags: []string{tag}, Data: []byte(id)}}, evstore.FailIfMatch(crit, pos))
			var ce *evstore.ConditionError
			switch {
			case errors.As(err, &ce):
				failed++
			case err != nil:
				return err
			default:
				booked++
			}
		}
	}
	fmt.Printf("booked %d failed %d\n", booked, failed)
	return nil
}

// TestConditionAcrossProcesses: processes that book the seats of the same
// rooms on one file, each deciding on what it Finds and appending under
// FailIfMatch, never book a room beyond its seats: the condition is
// checked in the write's transaction, under SQLite's write lock, whatever
// process holds it.
func TestConditionAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dcb.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	const procs, rooms = 3, 20
	type result struct {
		out string
		err error
	}
	results := make(chan result, procs)
	for p := range procs {
		cmd := startChild(t, fmt.Sprintf("dcb:%d", p), path, rooms)
		go func() {
			out, err := cmd.Output()
			results <- result{string(out), err}
		}()
	}
	booked, failed := 0, 0
	for range procs {
		r := <-results
		if r.err != nil {
			t.Fatalf("booker: %v", r.err)
		}
		var b, f int
		if _, err := fmt.Sscanf(strings.TrimSpace(r.out), "booked %d failed %d", &b, &f); err != nil {
			t.Fatalf("booker said %q", r.out)
		}
		booked, failed = booked+b, failed+f
	}
	if booked != rooms*dcbSeats {
		t.Errorf("the processes say they booked %d seats, want %d", booked, rooms*dcbSeats)
	}
	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for room := range rooms {
		n := 0
		for _, err := range s.Find(context.Background(), evstore.Criteria{{Tags: []string{"room:" + strconv.Itoa(room)}}}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != dcbSeats {
			t.Errorf("room %d has %d bookings, want %d", room, n, dcbSeats)
		}
	}
	t.Logf("%d seats booked by %d processes; %d conditions failed and were decided again", booked, procs, failed)
}
