package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/storetest"
	"zombiezen.com/go/sqlite"
)

// TestCrashSafety kills a writing process at random moments, 20 times (see
// storetest.Crash), and checks the file with PRAGMA integrity_check too.
func TestCrashSafety(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	storetest.Crash(t, 20,
		func() *osexec.Cmd { return startChild(t, "crashwriter", path, 0) },
		func(t *testing.T) *evstore.Store {
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatalf("open after the crash: %v", err)
			}
			return s
		},
		func(t *testing.T) {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return // killed before it created the file (a slow start under -race)
			}
			conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer conn.Close()
			stmt := conn.Prep("PRAGMA integrity_check")
			defer stmt.Reset()
			if _, err := stmt.Step(); err != nil || stmt.ColumnText(0) != "ok" {
				t.Errorf("integrity_check: %q, %v", stmt.ColumnText(0), err)
			}
		})
}

// crashWriter runs storetest.CrashWriter in the child process.
func crashWriter(ctx context.Context, s *evstore.Store) error {
	return storetest.CrashWriter(ctx, s, os.Stdout)
}
