package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"go.uber.org/goleak"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// fillStore writes n events of size bytes each to stream "base", in
// batches, and closes the Store.
func fillStore(t *testing.T, path string, n, size int) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := stream(t, s, "base")
	batch := make([]evstore.CandidateEvent, 0, 500)
	for i := range n {
		batch = append(batch, evstore.CandidateEvent{Type: "Base", Data: []byte(fmt.Sprintf("%0*d", size, i))})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := st.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// checkCopy opens the copy at path, checks it with PRAGMA integrity_check
// and its format, and returns the versions of every stream in it, checking
// that each stream's run from 1 with no gap.
func checkCopy(t *testing.T, path string) map[string]int64 {
	t.Helper()
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	var result []string
	err = sqlitex.ExecuteTransient(conn, "PRAGMA integrity_check", &sqlitex.ExecOptions{ResultFunc: func(s *sqlite.Stmt) error {
		result = append(result, s.ColumnText(0))
		return nil
	}})
	conn.Close()
	if err != nil || !slices.Equal(result, []string{"ok"}) {
		t.Fatalf("integrity_check of the copy: %v %q", err, result)
	}
	header := make([]byte, 20)
	if f, err := os.Open(path); err != nil {
		t.Fatal(err)
	} else {
		f.ReadAt(header, 0)
		f.Close()
	}
	if header[18] != 1 || header[19] != 1 {
		t.Errorf("file format bytes %d %d, want 1 1 (rollback journal, as documented)", header[18], header[19])
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + suffix); err == nil {
			t.Errorf("the copy has a %s file beside it", suffix)
		}
	}

	ctx := context.Background()
	s, err := Open(ctx, path, ReadOnly())
	if err != nil {
		t.Fatalf("open the copy as a store: %v", err)
	}
	defer s.Close()
	versions := map[string]int64{}
	var last int64
	for e, err := range stream(t, s, evstore.All).Read(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Sequence <= last || e.Version != versions[e.StreamID]+1 {
			t.Fatalf("copy: %s v%d at sequence %d after v%d at %d", e.StreamID, e.Version, e.Sequence, versions[e.StreamID], last)
		}
		last, versions[e.StreamID] = e.Sequence, e.Version
	}
	return versions
}

// dirNames lists the names in dir but the -wal and -shm files of the
// sources: a read-only connection creates them when they are missing, and
// leaves them.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !strings.HasSuffix(n, "-wal") && !strings.HasSuffix(n, "-shm") || strings.HasPrefix(n, "inuse.db") {
			names = append(names, n)
		}
	}
	return names
}

// TestBackupUnderOtherProcessWrites: backups of a file another process
// keeps writing to open, pass integrity_check, hold every event that
// process had acknowledged before the backup started, and hold whole
// transactions only.
func TestBackupUnderOtherProcessWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	src := filepath.Join(dir, "live.db")
	const base = 8000
	fillStore(t, src, base, 400)

	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), backupWriterEnv+"="+src)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64 // the child's version, as it acknowledged it
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			v, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				t.Errorf("writer printed %q", sc.Text())
				continue
			}
			acked.Store(v)
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stdin.Close()
			<-lines
			if err := cmd.Wait(); err != nil {
				t.Errorf("writer process: %v", err)
			}
		}
	}
	defer stop()
	for acked.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the writer process acknowledged no write")
		}
		time.Sleep(5 * time.Millisecond)
	}

	overlapped := 0
	for i := range 3 {
		to := filepath.Join(dir, fmt.Sprintf("copy-%d.db", i))
		var ticks atomic.Int64
		before := acked.Load()
		err := Backup(ctx, src, to, BackupProgress(time.Millisecond, func(written, total int64) {
			if written < 0 || written > total || total <= 0 {
				t.Errorf("progress %d of %d", written, total)
			}
			ticks.Add(1)
		}))
		after := acked.Load()
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		if ticks.Load() == 0 {
			t.Errorf("backup %d: no progress reported", i)
		}
		got := checkCopy(t, to)
		if got["base"] != base {
			t.Errorf("backup %d: base at v%d, want %d", i, got["base"], base)
		}
		child := got["child"]
		if child < before {
			t.Errorf("backup %d: child at v%d, but the writer had acknowledged v%d before the backup started", i, child, before)
		}
		if child%backupBatch != 0 {
			t.Errorf("backup %d: child at v%d: part of a %d-event write", i, child, backupBatch)
		}
		t.Logf("backup %d: writer at v%d before, v%d after; copy at v%d", i, before, after, child)
		if after > before {
			overlapped++
		}
	}
	stop()
	if overlapped == 0 {
		t.Errorf("the writer process wrote nothing while any backup ran: the test proved nothing")
	}
	s, err := Open(ctx, src, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m, err := stream(t, s, "child").Metrics(ctx); err != nil || m.Version < acked.Load() {
		t.Errorf("source: child at v%d (%v), the writer acknowledged v%d", m.Version, err, acked.Load())
	}
}

// TestBackupBadInput: bad arguments are refused with ErrInvalidArgument
// (a source that is not an event store with ErrCorrupt) and leave every
// file as it was.
func TestBackupBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	fillStore(t, src, 3, 10)
	existing := filepath.Join(dir, "existing.db")
	os.WriteFile(existing, []byte("keep me"), 0o644)
	withWAL := filepath.Join(dir, "inuse.db")
	os.WriteFile(withWAL+"-wal", nil, 0o644)
	foreign := filepath.Join(dir, "foreign.db")
	conn, err := sqlite.OpenConn(foreign, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteTransient(conn, "CREATE TABLE t (x)", nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	dangling := filepath.Join(dir, "dangling.db")
	if err := os.Symlink(filepath.Join(dir, "nowhere.db"), dangling); err != nil {
		t.Fatal(err)
	}
	want := dirNames(t, dir)

	cases := []struct {
		name     string
		src, to  string
		opts     []BackupOption
		sentinel error
		says     string
	}{
		{"target exists", src, existing, nil, evstore.ErrInvalidArgument, "exists"},
		{"no such directory", src, filepath.Join(dir, "nope", "copy.db"), nil, evstore.ErrInvalidArgument, "does not exist"},
		{"target is the source", src, src, []BackupOption{BackupOverwrite()}, evstore.ErrInvalidArgument, "is the source"},
		{"target is a directory", src, dir, []BackupOption{BackupOverwrite()}, evstore.ErrInvalidArgument, "directory"},
		{"target has a -wal", src, withWAL, nil, evstore.ErrInvalidArgument, "-wal exists"},
		{"target is the source's -wal", src, src + "-wal", []BackupOption{BackupOverwrite()}, evstore.ErrInvalidArgument, "-wal file"},
		{"target is a -shm", src, filepath.Join(dir, "c.db-shm"), nil, evstore.ErrInvalidArgument, "-shm file"},
		{"target is a dangling link", src, dangling, nil, evstore.ErrInvalidArgument, "symbolic link"},
		{"no source", filepath.Join(dir, "missing.db"), filepath.Join(dir, "c.db"), nil, evstore.ErrInvalidArgument, "no database"},
		{"empty source", "", filepath.Join(dir, "c.db"), nil, evstore.ErrInvalidArgument, "empty"},
		{"empty target", src, "", nil, evstore.ErrInvalidArgument, "empty"},
		{"memory", ":memory:", filepath.Join(dir, "c.db"), nil, evstore.ErrInvalidArgument, "in-memory"},
		{"not an event store", foreign, filepath.Join(dir, "c.db"), nil, evstore.ErrCorrupt, "no events table"},
		{"progress without interval", src, filepath.Join(dir, "c.db"), []BackupOption{BackupProgress(0, func(int64, int64) {})}, evstore.ErrInvalidArgument, "interval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Backup(ctx, c.src, c.to, c.opts...)
			if !errors.Is(err, c.sentinel) || !strings.Contains(fmt.Sprint(err), c.says) {
				t.Errorf("got %v, want %v saying %q", err, c.sentinel, c.says)
			}
			if got := dirNames(t, dir); !slices.Equal(got, want) {
				t.Errorf("files after: %q, want %q", got, want)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("existing target changed: %q", b)
	}
}

// TestBackupOverwrite: with BackupOverwrite an existing target is
// replaced by a whole copy, and no temporary file is left.
func TestBackupOverwrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	fillStore(t, src, 20, 10)
	to := filepath.Join(dir, "copy.db")
	os.WriteFile(to, []byte("old backup"), 0o644)
	if err := Backup(ctx, src, to, BackupOverwrite()); err != nil {
		t.Fatal(err)
	}
	if got := checkCopy(t, to); got["base"] != 20 {
		t.Errorf("copy: base at v%d, want 20", got["base"])
	}
	names := dirNames(t, dir)
	for _, n := range names {
		if strings.Contains(n, ".tmp-") {
			t.Errorf("temporary file left: %s (files %q)", n, names)
		}
	}
}

// TestBackupContext: a cancelled ctx interrupts the copy, which returns
// the ctx's error and leaves no file behind, and stops its progress
// goroutine.
func TestBackupContext(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	fillStore(t, src, 4000, 400)
	want := dirNames(t, dir)
	ignore := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	to := filepath.Join(dir, "copy.db")
	if err := Backup(ctx, src, to); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: got %v, want context.Canceled", err)
	}

	// Cancelled while copying: on the first progress report.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var ticks atomic.Int64
	err := Backup(ctx, src, to, BackupProgress(time.Microsecond, func(written, total int64) {
		ticks.Add(1)
		cancel()
	}))
	switch {
	case errors.Is(err, context.Canceled):
	case err == nil && ticks.Load() <= 1: // the copy ended before the first tick
		t.Logf("the copy ended before it could be interrupted")
		os.Remove(to)
	default:
		t.Errorf("cancelled while copying: got %v after %d reports, want context.Canceled", err, ticks.Load())
	}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("files after: %q, want %q", got, want)
	}
	if err := goleak.Find(ignore); err != nil {
		t.Error(err)
	}
}

func ExampleBackup() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "backup-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	live := filepath.Join(dir, "events.db")
	store, err := Open(ctx, live)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	orders, _ := store.Stream(ctx, "order-1")
	if _, err := orders.Write(ctx, []evstore.CandidateEvent{{Type: "OrderPlaced"}, {Type: "OrderPaid"}}); err != nil {
		panic(err)
	}

	// The Store stays open: Backup reads the file through a connection of
	// its own, as it would while another process writes to it.
	copyPath := filepath.Join(dir, "events-backup.db")
	if err := Backup(ctx, live, copyPath); err != nil {
		panic(err)
	}
	err = Backup(ctx, live, copyPath)
	fmt.Println("again:", errors.Is(err, evstore.ErrInvalidArgument))

	backup, err := Open(ctx, copyPath, ReadOnly())
	if err != nil {
		panic(err)
	}
	defer backup.Close()
	all, _ := backup.Stream(ctx, evstore.All)
	m, _ := all.Metrics(ctx)
	fmt.Println("events in the copy:", m.EventCount)
	// Output:
	// again: true
	// events in the copy: 2
}
