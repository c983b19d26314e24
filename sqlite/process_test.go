package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// The test binary re-runs itself as a second process when these are set.
const (
	childRole = "EVSTORE_TEST_CHILD"
	childDB   = "EVSTORE_TEST_DB"
	childN    = "EVSTORE_TEST_N"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childRole); role != "" {
		if err := child(role, os.Getenv(childDB), os.Getenv(childN)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the other process: it writes n events to stream "proc", or
// watches @all for n events and prints their versions.
func child(role, path, count string) error {
	n, err := strconv.Atoi(count)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, path, WithPollInterval(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer s.Close()
	if id, ok := strings.CutPrefix(role, "mpwriter:"); ok {
		return manyProcessWriter(ctx, s, id, n)
	}
	if role == "mpwatcher" {
		return manyProcessWatcher(ctx, s, n)
	}
	if role == "crashwriter" {
		return crashWriter(ctx, s)
	}
	if id, ok := strings.CutPrefix(role, "dcb:"); ok {
		return dcbBooker(ctx, s, id, n)
	}
	st, err := s.Stream(ctx, "proc")
	if err != nil {
		return err
	}
	switch role {
	case "writer":
		for i := range n {
			if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "FromChild"}}, evstore.ExpectVersion(int64(i))); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	case "watcher":
		fmt.Println("ready")
		seen := 0
		for e, err := range st.Watch(ctx) {
			if err != nil {
				return err
			}
			fmt.Println(e.Version, e.Type)
			if seen++; seen == n {
				return nil
			}
		}
		return ctx.Err()
	}
	return fmt.Errorf("unknown role %q", role)
}

func startChild(t *testing.T, role, path string, n int) *osexec.Cmd {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRole+"="+role, childDB+"="+path, childN+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	return cmd
}

// TestOtherProcessWrites: a watcher here sees what another process writes,
// found by polling PRAGMA data_version.
func TestOtherProcessWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "shared.db")
	s, err := Open(ctx, path, WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all := stream(t, s, evstore.All)
	const n = 50
	got := make(chan evstore.StoredEvent, n)
	go func() {
		defer close(got)
		for e, err := range all.Watch(ctx) {
			if err != nil {
				t.Errorf("watch: %v", err)
				return
			}
			got <- e
			if e.Version == n {
				return
			}
		}
	}()
	if out, err := startChild(t, "writer", path, n).Output(); err != nil {
		t.Fatalf("writer process: %v (%s)", err, out)
	}
	v := int64(0)
	for e := range got {
		v++
		if e.StreamID != "proc" || e.Version != v || e.Type != "FromChild" {
			t.Fatalf("event %d: got %s v%d %s, want proc v%d FromChild", v, e.StreamID, e.Version, e.Type, v)
		}
	}
	if v != n {
		t.Errorf("watcher saw %d of the other process's %d events", v, n)
	}
}

// TestOtherProcessWatches: another process's watcher sees what this one writes.
func TestOtherProcessWatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "shared.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 30
	cmd := startChild(t, "watcher", path, n)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("watcher process did not start: %q", lines.Text())
	}
	st := stream(t, s, "proc")
	for i := range n {
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "FromParent"}}, evstore.ExpectVersion(int64(i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // most events arrive live, not in the replay
	}
	var got []string
	for lines.Scan() {
		got = append(got, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watcher process: %v", err)
	}
	var want []string
	for v := 1; v <= n; v++ {
		want = append(want, fmt.Sprintf("%d FromParent", v))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("watcher process saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
