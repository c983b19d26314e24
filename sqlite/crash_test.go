package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
)

// crashWriter is the child of TestCrashSafety: it appends batches of 1 to
// 50 events to "proc", each event keyed "<batch>/<i>/<size>", and prints
// the version each acknowledged write returned, until it is killed.
func crashWriter(ctx context.Context, st *evstore.Stream) error {
	out := bufio.NewWriter(os.Stdout)
	for batch := int(st.Version()); ; batch++ {
		size := 1 + rand.IntN(50)
		events := make([]evstore.CandidateEvent, size)
		for i := range events {
			events[i] = evstore.CandidateEvent{ID: fmt.Sprintf("%d/%d/%d", batch, i, size), Type: "Crash", Data: make([]byte, 200)}
		}
		v, err := st.Write(ctx, events, evstore.ExpectVersion(st.Version()))
		if err != nil {
			return err
		}
		fmt.Fprintln(out, v)
		out.Flush()
	}
}

// TestCrashSafety kills a writing process at random moments, 20 times.
// After each kill, every acknowledged write is there, no batch is there in
// part, versions have no gap, the file passes integrity_check, and the
// store takes writes again.
func TestCrashSafety(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	var acked int64
	for round := range 20 {
		cmd := startChild(t, "crashwriter", path, 0)
		lines, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		got := make(chan int64, 1024)
		go func() {
			defer close(got)
			scan := bufio.NewScanner(lines)
			for scan.Scan() {
				if v, err := strconv.ParseInt(scan.Text(), 10, 64); err == nil {
					got <- v
				}
			}
		}()
		time.Sleep(time.Duration(20+rand.IntN(120)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for v := range got {
			acked = max(acked, v)
		}
		cmd.Wait()
		checkAfterCrash(t, round, path, acked)
	}
	if acked < 100 {
		t.Errorf("the writers acknowledged only %d events in 20 rounds: the drill did not run", acked)
	}
	t.Logf("20 kills; %d events acknowledged, all present", acked)
}

func checkAfterCrash(t *testing.T, round int, path string, acked int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	stmt := conn.Prep("PRAGMA integrity_check")
	if _, err := stmt.Step(); err != nil || stmt.ColumnText(0) != "ok" {
		t.Errorf("round %d: integrity_check: %q, %v", round, stmt.ColumnText(0), err)
	}
	stmt.Reset()
	conn.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("round %d: open: %v", round, err)
	}
	defer s.Close()
	st, err := s.Stream(ctx, "proc")
	if err != nil {
		t.Fatal(err)
	}
	if st.Version() < acked {
		t.Fatalf("round %d: version %d, but %d was acknowledged", round, st.Version(), acked)
	}
	batches := map[string][2]int{} // batch -> events seen, size
	var want int64 = 1
	for e, err := range st.Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Version != want {
			t.Fatalf("round %d: version %d follows %d", round, e.Version, want-1)
		}
		want++
		parts := strings.Split(e.ID, "/")
		if len(parts) != 3 {
			continue // the writes checkAfterCrash makes
		}
		size, _ := strconv.Atoi(parts[2])
		b := batches[parts[0]]
		batches[parts[0]] = [2]int{b[0] + 1, size}
	}
	for id, b := range batches {
		if b[0] != b[1] {
			t.Errorf("round %d: batch %s has %d of its %d events", round, id, b[0], b[1])
		}
	}
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "AfterCrash"}}, evstore.ExpectVersion(st.Version())); err != nil {
		t.Errorf("round %d: write after the crash: %v", round, err)
	}
}
