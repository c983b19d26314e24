package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
)

// This file holds the test side of the consumer drills: their child
// processes, the lines those tell, and the writer that keeps adding events.

// A drillProc is a child process of a consumer drill.
type drillProc struct {
	cmd    *exec.Cmd
	pid    int
	stdin  io.WriteCloser
	out    drillOutput
	stderr bytes.Buffer
	done   chan struct{} // closed once Wait returned (and its output is all in)
	err    error         // Wait's, once done is closed
}

// start starts a child of role. It is killed, if it still runs, and waited
// for when the test ends.
func (d ConsumeDrill) start(t *testing.T, role, logDir string) *drillProc {
	t.Helper()
	cmd := d.Command([]string{ConsumeDrillEnv + "=" + role, consumeDrillLogEnv + "=" + logDir})
	p := &drillProc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // an error if it has ended already
		<-p.done
	})
	return p
}

// kill kills the child with SIGKILL, waits for it to end, and returns the
// time of the kill. The child must have been running.
func (p *drillProc) kill(t *testing.T) time.Time {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("child %d ended before it was killed: %v\n%s", p.pid, p.err, p.stderr.Bytes())
	default:
	}
	at := time.Now()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill child %d: %v", p.pid, err)
	}
	<-p.done
	return at
}

// stop closes the child's standard input, which makes it return from
// Consume, and waits for it to exit with status 0.
func (p *drillProc) stop(t *testing.T) {
	t.Helper()
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("child %d did not stop within 30s after its input closed", p.pid)
		return
	}
	if p.err != nil {
		t.Errorf("child %d: got %v, want exit status 0\n%s", p.pid, p.err, p.stderr.Bytes())
	}
}

// await waits up to timeout for the first line at index from or later for
// which match is true, and returns it and its index. It fails the test if
// none comes, or if the child ends first.
func (p *drillProc) await(t *testing.T, timeout time.Duration, from int, what string, match func(drillLine) bool) (drillLine, int) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ended := false
	for {
		lines, changed := p.out.snapshot()
		for i := from; i < len(lines); i++ {
			if match(lines[i]) {
				return lines[i], i
			}
		}
		if ended {
			t.Fatalf("child %d ended before it told %s: %v\n%s", p.pid, what, p.err, p.stderr.Bytes())
		}
		select {
		case <-changed:
		case <-p.done:
			ended = true // look at the last lines once more
		case <-deadline.C:
			t.Fatalf("child %d did not tell %s within %v", p.pid, what, timeout)
		}
	}
}

// lines returns the lines the child has told so far.
func (p *drillProc) lines() []drillLine {
	lines, _ := p.out.snapshot()
	return lines
}

// first returns the first line of kind, or false.
func (p *drillProc) first(kind string) (drillLine, bool) {
	for _, l := range p.lines() {
		if l.kind == kind {
			return l, true
		}
	}
	return drillLine{}, false
}

// lineKind matches the lines of a kind.
func lineKind(k string) func(drillLine) bool {
	return func(l drillLine) bool { return l.kind == k }
}

// A drillLine is a line a child told (see runDrillChild).
type drillLine struct {
	at   time.Time // when the test read it
	kind string    // its first word
	a, b int64     // the numbers after it, if any
	text string
}

// A drillOutput is a child's standard output, as lines.
type drillOutput struct {
	mu      sync.Mutex
	partial []byte
	lines   []drillLine
	changed chan struct{} // closed when a line comes
}

func (o *drillOutput) Write(b []byte) (int, error) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		text := string(o.partial[:i])
		o.partial = o.partial[i+1:]
		l := drillLine{at: now, text: text}
		fields := strings.Fields(text)
		if len(fields) > 0 {
			l.kind = fields[0]
		}
		if len(fields) > 1 {
			l.a, _ = strconv.ParseInt(fields[1], 10, 64)
		}
		if len(fields) > 2 {
			l.b, _ = strconv.ParseInt(fields[2], 10, 64)
		}
		o.lines = append(o.lines, l)
		added = true
	}
	if added && o.changed != nil {
		close(o.changed)
		o.changed = nil
	}
	return len(b), nil
}

// snapshot returns the lines so far and a channel closed when the next
// one comes.
func (o *drillOutput) snapshot() ([]drillLine, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.changed == nil {
		o.changed = make(chan struct{})
	}
	return o.lines[:len(o.lines):len(o.lines)], o.changed
}

// A drillWriter writes events to the drill's store until stopped: 1 to 8
// events at a time to one of 8 streams, about every millisecond.
type drillWriter struct {
	cancel context.CancelFunc
	done   chan struct{}
	writes int
	err    error
}

// It stops when the test ends, if not before.
func startDrillWriter(t *testing.T, s *evstore.Store) *drillWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &drillWriter{cancel: cancel, done: make(chan struct{})}
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			st, err := s.Stream(ctx, fmt.Sprintf("drill-%d", rand.IntN(8)))
			if err == nil {
				events := make([]evstore.CandidateEvent, 1+rand.IntN(8))
				for i := range events {
					events[i] = evstore.CandidateEvent{Type: "Drilled", Data: []byte(`{"n":1}`)}
				}
				_, err = st.Write(ctx, events)
			}
			if err != nil {
				if ctx.Err() == nil {
					w.err = err
				}
				return
			}
			w.writes++
			if !drillSleep(ctx, time.Millisecond) {
				return
			}
		}
	}()
	return w
}

// stop stops the writer, and fails the test if a write failed.
func (w *drillWriter) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	<-w.done
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
}

func drillSleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// drillSequences returns the Sequence of every event in the store, in
// order.
func drillSequences(t *testing.T, s *evstore.Store) []int64 {
	t.Helper()
	all, err := s.Stream(context.Background(), evstore.All)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for e, err := range all.Read(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, e.Sequence)
	}
	if len(seqs) == 0 {
		t.Fatal("the writer wrote no events")
	}
	return seqs
}

// openDrill opens the drill's store and read model, with the read model's
// table created; both are closed when the test ends.
func openDrill(t *testing.T, d ConsumeDrill) (*evstore.Store, *sql.DB) {
	t.Helper()
	s, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := d.ReadModel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE TABLE " + drillTable + " (seq BIGINT NOT NULL, pid BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return s, db
}

// drillApplied returns the rows of the read model: for each Sequence, the
// pids of the children that applied it.
func drillApplied(t *testing.T, db *sql.DB) map[int64][]int64 {
	t.Helper()
	rows, err := db.Query("SELECT seq, pid FROM " + drillTable + " ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	applied := map[int64][]int64{}
	for rows.Next() {
		var seq, pid int64
		if err := rows.Scan(&seq, &pid); err != nil {
			t.Fatal(err)
		}
		applied[seq] = append(applied[seq], pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return applied
}

// checkExactlyOnce checks that the read model applied every event of seqs
// once, and nothing else, both with the GROUP BY the drill is about and
// against the list; and that the Projector's position is the last event.
func checkExactlyOnce(t *testing.T, db *sql.DB, seqs []int64) map[int64][]int64 {
	t.Helper()
	rows, err := db.Query("SELECT seq, COUNT(*) FROM " + drillTable + " GROUP BY seq HAVING COUNT(*) > 1 ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	var dups []string
	for rows.Next() {
		var seq, n int64
		if err := rows.Scan(&seq, &n); err != nil {
			t.Fatal(err)
		}
		dups = append(dups, fmt.Sprintf("%d (%d times)", seq, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(dups) > 0 {
		t.Errorf("%d events applied more than once, want none: %s", len(dups), abridge(dups))
	}
	applied := drillApplied(t, db)
	want := make(map[int64]bool, len(seqs))
	var missing, extra []string
	for _, seq := range seqs {
		want[seq] = true
		if len(applied[seq]) == 0 {
			missing = append(missing, strconv.FormatInt(seq, 10))
		}
	}
	for seq := range applied {
		if !want[seq] {
			extra = append(extra, strconv.FormatInt(seq, 10))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d events never applied, want every one: %s", len(missing), len(seqs), abridge(missing))
	}
	if len(extra) > 0 {
		t.Errorf("%d Sequences applied that the store does not have: %s", len(extra), abridge(extra))
	}
	var pos int64
	if err := db.QueryRow("SELECT position FROM "+readmodel.PositionTable+" WHERE name = $1", drillConsumer).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	if last := seqs[len(seqs)-1]; pos != last {
		t.Errorf("projector position %d, want %d (the last event)", pos, last)
	}
	return applied
}

// abridge joins the first items of a list.
func abridge(items []string) string {
	if len(items) > 10 {
		return strings.Join(items[:10], ", ") + fmt.Sprintf(", ... (%d more)", len(items)-10)
	}
	return strings.Join(items, ", ")
}
