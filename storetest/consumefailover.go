package storetest

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ConsumeFailoverDrill is the failover drill, in child processes: two of
// them run the same consumer, one active and one standby, while the test
// keeps writing events. The test kills the active one with SIGKILL,
// failovers times, at a random moment (every other round right after a
// batch was handled, when its checkpoint is being saved, or with readModel
// right after a Handle began), and checks that the standby takes over and
// goes on from the checkpoint; each time it starts a new standby.
//
// Without readModel, the consumer is a Handler with store-kept checkpoints
// that appends each batch's Sequences to a file of the child's own (one
// write and an fsync per batch). No event may be skipped, and the events
// delivered twice must be at most the killed instance's last batch,
// delivered again by its successor, which starts either with that batch or
// right after it.
//
// With readModel, the consumer is a readmodel.Projector that inserts a row
// (Sequence, pid) per event: every event must be applied exactly once, and
// each successor's first event right after the killed instance's last.
//
// It logs the takeover times, from the kill to the successor's first
// batch handled (and, with readModel, to its Position: the lease taken),
// and the redeliveries. On a backend whose leases expire, takeover takes
// up to d.LeaseTime. It skips under the race detector, as ConsumeKillDrill
// does.
func ConsumeFailoverDrill(t *testing.T, d ConsumeDrill, readModel bool, failovers int) {
	skipUnderRace(t)
	began := time.Now()
	role, killOn := drillCheckpoint, "batch"
	if readModel {
		role, killOn = drillReadModel, "begin"
	}
	logDir := t.TempDir()
	s, db := openDrill(t, d)
	w := startDrillWriter(t, s)
	var procs []*drillProc
	startReady := func() *drillProc {
		p := d.start(t, role, logDir)
		p.await(t, time.Minute, 0, "ready", lineKind("ready"))
		procs = append(procs, p)
		return p
	}
	active, standby := startReady(), startReady()
	if !awaitFirstBatch(t, active, standby) {
		active, standby = standby, active
	}
	var fos []failover
	for round := range failovers {
		if round%2 == 0 {
			time.Sleep(200*time.Millisecond + rand.N(300*time.Millisecond))
		} else {
			active.await(t, time.Minute, len(active.lines()), "a batch "+killOn, lineKind(killOn))
		}
		for _, k := range []string{"position", "begin"} {
			if l, ok := standby.first(k); ok {
				t.Fatalf("standby %d told %q while %d was active (two active instances, or the active one went a lease time without renewing)", standby.pid, l.text, active.pid)
			}
		}
		at := active.kill(t)
		lines := active.lines()
		fo := failover{killed: active, next: standby, inHandle: lines[len(lines)-1].kind == "begin"}
		l, _ := standby.await(t, time.Minute, 0, "a batch", lineKind("batch"))
		fo.takeover = l.at.Sub(at)
		if p, ok := standby.first("position"); ok {
			fo.leased = p.at.Sub(at)
		}
		fos = append(fos, fo)
		active, standby = standby, startReady()
	}
	w.stop(t)
	seqs := drillSequences(t, s)
	last := seqs[len(seqs)-1]
	active.await(t, time.Minute, 0, fmt.Sprintf("a batch ending at %d", last), func(l drillLine) bool { return l.kind == "batch" && l.b == last })
	standby.stop(t) // first, so that it does not take over
	active.stop(t)
	if l, ok := standby.first("begin"); ok {
		t.Errorf("the last standby %d handled events (%q) while %d was active", standby.pid, l.text, active.pid)
	}

	var takeovers, leased []time.Duration
	inHandle := 0
	for _, fo := range fos {
		takeovers = append(takeovers, fo.takeover)
		if fo.leased > 0 {
			leased = append(leased, fo.leased)
		}
		if fo.inHandle {
			inHandle++
		}
	}
	if readModel {
		checkFailoverReadModel(t, db, seqs, fos)
		t.Logf("%d failovers (%d kills during a Handle); %d events, each applied once, none redelivered", len(fos), inHandle, len(seqs))
		t.Logf("takeover, kill to the standby's Position: %s; to its first batch committed: %s", spread(leased), spread(takeovers))
	} else {
		redelivered := checkFailoverCheckpoint(t, logDir, seqs, fos)
		t.Logf("%d failovers (%d kills during a Handle); %d events, none skipped; redelivered after each kill: %v (batch size %d)",
			len(fos), inHandle, len(seqs), redelivered, drillBatch)
		t.Logf("takeover, kill to the standby's first batch handled: %s", spread(takeovers))
	}
	t.Logf("lease time %v; drill %v", d.LeaseTime, time.Since(began).Round(100*time.Millisecond))
}

// A failover is one kill of a failover drill.
type failover struct {
	killed, next *drillProc
	inHandle     bool          // the killed one had begun a Handle it had not finished
	takeover     time.Duration // from the kill to next's first batch
	leased       time.Duration // from the kill to next's Position (readmodel only)
}

// awaitFirstBatch waits for a or b to handle a batch, and reports whether
// a did.
func awaitFirstBatch(t *testing.T, a, b *drillProc) bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, ok := a.first("batch"); ok {
			return true
		}
		if _, ok := b.first("batch"); ok {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("neither child %d nor %d handled a batch within a minute", a.pid, b.pid)
	return false
}

// checkFailoverReadModel checks that every event was applied once, and
// that after each kill the successor applied the events right after the
// killed one's last.
func checkFailoverReadModel(t *testing.T, db *sql.DB, seqs []int64, fos []failover) {
	t.Helper()
	applied := checkExactlyOnce(t, db, seqs)
	first, last := map[int64]int64{}, map[int64]int64{}
	for seq, pids := range applied {
		for _, pid := range pids {
			if f, ok := first[pid]; !ok || seq < f {
				first[pid] = seq
			}
			last[pid] = max(last[pid], seq)
		}
	}
	for i, fo := range fos {
		k, n := int64(fo.killed.pid), int64(fo.next.pid)
		if _, ok := last[k]; !ok {
			t.Errorf("failover %d: the killed child %d applied nothing", i, k)
			continue
		}
		if got, want := first[n], after(seqs, last[k]); got != want {
			t.Errorf("failover %d: the successor %d applied first %d, want %d (after %d, the last the killed %d applied)", i, n, got, want, last[k], k)
		}
	}
}

// checkFailoverCheckpoint checks the children's logs: no event skipped,
// each child's events in increasing order, and the events delivered twice
// at most the killed one's last batch, each time. It returns how many
// events were delivered again after each kill.
func checkFailoverCheckpoint(t *testing.T, logDir string, seqs []int64, fos []failover) []int {
	t.Helper()
	entries, err := os.ReadDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	logs := map[int][][]int64{} // pid: batches
	count := map[int64]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".log"))
		if err != nil {
			continue
		}
		batches := readDrillLog(t, filepath.Join(logDir, e.Name()))
		logs[pid] = batches
		var prev int64
		for _, b := range batches {
			for _, seq := range b {
				if seq <= prev {
					t.Errorf("child %d: got %d after %d, want increasing Sequences", pid, seq, prev)
				}
				prev = seq
				count[seq]++
			}
		}
	}
	var missing []string
	want := make(map[int64]bool, len(seqs))
	for _, seq := range seqs {
		want[seq] = true
		if count[seq] == 0 {
			missing = append(missing, strconv.FormatInt(seq, 10))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d events never delivered, want every one: %s", len(missing), len(seqs), abridge(missing))
	}
	allowed := map[int64]bool{} // may be delivered twice
	redelivered := make([]int, len(fos))
	for i, fo := range fos {
		killed, next := logs[fo.killed.pid], logs[fo.next.pid]
		if len(killed) == 0 || len(next) == 0 {
			t.Errorf("failover %d: the killed child %d logged %d batches and its successor %d %d, want some", i, fo.killed.pid, len(killed), fo.next.pid, len(next))
			continue
		}
		lastBatch, start := killed[len(killed)-1], next[0][0]
		switch {
		case start == lastBatch[0]:
			for _, seq := range lastBatch {
				allowed[seq] = true
				redelivered[i]++
			}
		case start == after(seqs, lastBatch[len(lastBatch)-1]):
		default:
			t.Errorf("failover %d: the successor %d started at %d, want %d (the killed %d's last batch again) or %d (after it)",
				i, fo.next.pid, start, lastBatch[0], fo.killed.pid, after(seqs, lastBatch[len(lastBatch)-1]))
		}
	}
	var extra, twice []string
	for seq, n := range count {
		switch {
		case !want[seq]:
			extra = append(extra, strconv.FormatInt(seq, 10))
		case n > 2 || (n == 2 && !allowed[seq]):
			twice = append(twice, fmt.Sprintf("%d (%d times)", seq, n))
		}
	}
	slices.Sort(twice)
	if len(extra) > 0 {
		t.Errorf("%d Sequences delivered that the store does not have: %s", len(extra), abridge(extra))
	}
	if len(twice) > 0 {
		t.Errorf("%d events delivered more than once, outside a killed child's last batch: %s", len(twice), abridge(twice))
	}
	return redelivered
}

// readDrillLog reads a child's log: a line per batch. A last line without
// its newline was being written when the child was killed, and is left
// out: that Handle did not return.
func readDrillLog(t *testing.T, path string) [][]int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var batches [][]int64
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		var batch []int64
		for _, f := range strings.Fields(string(b[:i])) {
			seq, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			batch = append(batch, seq)
		}
		if len(batch) > 0 {
			batches = append(batches, batch)
		}
		b = b[i+1:]
	}
	return batches
}

// after returns the Sequence after seq in seqs, or seq+1 if none.
func after(seqs []int64, seq int64) int64 {
	i, found := slices.BinarySearch(seqs, seq)
	if found {
		i++
	}
	if i < len(seqs) {
		return seqs[i]
	}
	return seq + 1
}
