package storetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// CrashStream is the stream CrashWriter writes to.
const CrashStream = "crash"

// CrashWriter is the process that Crash kills. Run it in a child process
// (the test binary re-run, say) on the store Crash reopens: it appends
// batches of 1 to 50 events to CrashStream, each event keyed
// "<batch>/<i>/<size>", and writes to out the version each acknowledged
// write returned, one a line, until it is killed or fails.
func CrashWriter(ctx context.Context, s *evstore.Store, out io.Writer) error {
	st, err := s.Stream(ctx, CrashStream)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
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
		fmt.Fprintln(w, v)
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// Crash is the crash-safety drill. Each round, start returns a command
// running CrashWriter, which Crash starts and kills with SIGKILL at a random
// moment. After each kill it opens the store with open and checks that
// every acknowledged write is there, that no batch is there in part, that
// versions have no gap and that the store takes writes again; check, if not
// nil, adds the backend's own checks (an integrity check, say).
func Crash(t *testing.T, rounds int, start func() *exec.Cmd, open func(t *testing.T) *evstore.Store, check func(t *testing.T)) {
	var acked int64
	for round := range rounds {
		cmd := start()
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
		time.Sleep(time.Duration(50+rand.IntN(150)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for v := range got {
			acked = max(acked, v)
		}
		cmd.Wait()
		if check != nil {
			check(t)
		}
		checkCrash(t, round, open(t), acked)
	}
	if acked < 100 {
		t.Errorf("the writers acknowledged only %d events in %d rounds: the drill did not run", acked, rounds)
	}
	t.Logf("%d kills; %d events acknowledged, all present", rounds, acked)
}

func checkCrash(t *testing.T, round int, s *evstore.Store, acked int64) {
	t.Helper()
	defer s.Close()
	ctx := context.Background()
	st, err := s.Stream(ctx, CrashStream)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version() < acked {
		t.Fatalf("round %d: version %d, but %d was acknowledged", round, st.Version(), acked)
	}
	batches := map[string][2]int{} // batch: events seen, size
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
			continue // the writes checkCrash makes
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
