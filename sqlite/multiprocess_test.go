package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// manyProcessWriter is a child of TestManyProcesses: it appends n events to
// its own stream and n to "shared", with ExpectVersion, retrying conflicts,
// and prints how many conflicts it met.
func manyProcessWriter(ctx context.Context, s *evstore.Store, id string, n int) error {
	own, err := s.Stream(ctx, "own-"+id)
	if err != nil {
		return err
	}
	shared, err := s.Stream(ctx, "shared")
	if err != nil {
		return err
	}
	conflicts := 0
	for i := range n {
		if _, err := own.Write(ctx, []evstore.CandidateEvent{{Type: "Own"}}, evstore.ExpectVersion(int64(i))); err != nil {
			return err
		}
		expected := shared.Version()
		for {
			_, err := shared.Write(ctx, []evstore.CandidateEvent{{Type: "Shared", Data: []byte(id + "/" + strconv.Itoa(i))}}, evstore.ExpectVersion(expected))
			var conflict *evstore.ConflictError
			if errors.As(err, &conflict) {
				conflicts++
				expected = conflict.Actual
				continue
			}
			if err != nil {
				return err
			}
			break
		}
	}
	fmt.Println("conflicts", conflicts)
	return nil
}

// manyProcessWatcher is the watching child of TestManyProcesses: it
// watches @all from the start until it has n events, checks their order,
// and prints how many it saw.
func manyProcessWatcher(ctx context.Context, s *evstore.Store, n int) error {
	all, err := s.Stream(ctx, evstore.All)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var last int64
	versions := map[string]int64{}
	seen := 0
	for e, err := range all.Watch(ctx, evstore.After(0)) {
		if err != nil {
			return err
		}
		if e.Sequence <= last {
			return fmt.Errorf("sequence %d after %d", e.Sequence, last)
		}
		if e.Version != versions[e.StreamID]+1 {
			return fmt.Errorf("%s: version %d after %d", e.StreamID, e.Version, versions[e.StreamID])
		}
		last, versions[e.StreamID] = e.Sequence, e.Version
		if seen++; seen == n {
			fmt.Println("seen", seen)
			return nil
		}
	}
	return ctx.Err()
}

// TestManyProcesses: four processes append to shared and private streams
// with ExpectVersion while a fifth watches @all.
func TestManyProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.db")
	const writers, each = 4, 200
	total := writers * each * 2
	watcher := startChild(t, "mpwatcher", path, total)
	watchOut, err := watcher.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Create the file first, so that the processes do not race to.
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := watcher.Start(); err != nil {
		t.Fatal(err)
	}
	watchLines := bufio.NewScanner(watchOut)
	if !watchLines.Scan() || watchLines.Text() != "ready" {
		t.Fatalf("watcher did not start: %q", watchLines.Text())
	}
	type result struct {
		out string
		err error
	}
	results := make(chan result, writers)
	for w := range writers {
		cmd := startChild(t, fmt.Sprintf("mpwriter:%d", w), path, each)
		go func() {
			out, err := cmd.Output()
			results <- result{string(out), err}
		}()
	}
	conflicts := 0
	for range writers {
		r := <-results
		if r.err != nil {
			t.Fatalf("writer: %v", r.err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(r.out, "conflicts")))
		if err != nil {
			t.Fatalf("writer said %q", r.out)
		}
		conflicts += n
	}
	var watched []string
	for watchLines.Scan() {
		watched = append(watched, watchLines.Text())
	}
	if err := watcher.Wait(); err != nil {
		t.Fatalf("watcher: %v", err)
	}
	if len(watched) != 1 || watched[0] != fmt.Sprintf("seen %d", total) {
		t.Errorf("watcher said %q, want it to see all %d events", watched, total)
	}

	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"shared", "own-0", "own-1", "own-2", "own-3"} {
		want := each
		if id == "shared" {
			want = writers * each
		}
		got := readAll(t, stream(t, s, id))
		seen := map[string]bool{}
		for i, e := range got {
			if e.Version != int64(i+1) {
				t.Fatalf("%s: event %d has version %d", id, i, e.Version)
			}
			if id == "shared" {
				if seen[string(e.Data)] {
					t.Errorf("shared: %s written twice", e.Data)
				}
				seen[string(e.Data)] = true
			}
		}
		if len(got) != want {
			t.Errorf("%s: %d events, want %d", id, len(got), want)
		}
	}
	t.Logf("%d events by %d processes, %d conflicts detected and retried", total, writers, conflicts)
}

// TestBusyTimeout: a write that cannot get the lock in time returns
// ErrBusy, promptly, having changed nothing.
func TestBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	s, err := Open(context.Background(), path, WithBusyTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := exec(context.Background(), other, "BEGIN IMMEDIATE"); err != nil { // another writer holds the lock
		t.Fatal(err)
	}
	start := time.Now()
	_, err = stream(t, s, "s").Write(context.Background(), []evstore.CandidateEvent{{Type: "T"}})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("got %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the write took %v with a 200ms busy timeout", d)
	}
	if err := exec(context.Background(), other, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if v, err := stream(t, s, "s").Write(context.Background(), []evstore.CandidateEvent{{Type: "T"}}); err != nil || v != 1 {
		t.Errorf("after the lock is released: got %d, %v; want 1, nil", v, err)
	}
}
