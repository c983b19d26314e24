package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// TestBackup: "evstore backup" copies a store that is being written to,
// refuses an existing target without --force and a missing directory, and
// leaves nothing behind when it refuses.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stream(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Before"}}); err != nil {
			t.Fatal(err)
		}
	}
	// A writer goes on while the backups run.
	stop := make(chan struct{})
	writer := make(chan error, 1)
	go func() {
		defer close(writer)
		for i := 0; i < 5000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "During"}}); err != nil {
				writer <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-writer; err != nil {
			t.Errorf("writer: %v", err)
		}
	}()

	to := filepath.Join(dir, "copy.db")
	out := mustCLI(t, db, "backup", "--to", to)
	if !strings.HasPrefix(out, fmt.Sprintf("backed up %s to %s: ", db, to)) || !strings.Contains(out, "newest sequence") {
		t.Errorf("backup printed %q", out)
	}
	var events int64
	if _, err := fmt.Sscanf(out[strings.Index(out, ": ")+2:], "%d events", &events); err != nil || events < 5 {
		t.Errorf("backup printed %q: want at least the 5 events written before it", out)
	}

	before, _ := os.ReadFile(to)
	_, errOut, status := cli(t, db, "backup", "--to", to)
	if status != 1 || !strings.Contains(errOut, "exists") || !strings.Contains(errOut, "--force") {
		t.Errorf("existing target: status %d, stderr %q; want 1 and a message naming --force", status, errOut)
	}
	if after, _ := os.ReadFile(to); string(after) != string(before) {
		t.Errorf("a refused backup changed the existing target")
	}
	if out := mustCLI(t, db, "backup", "--to", to, "--force"); !strings.HasPrefix(out, "backed up") {
		t.Errorf("--force printed %q", out)
	}

	missing := filepath.Join(dir, "nope", "copy.db")
	_, errOut, status = cli(t, db, "backup", "--to", missing)
	if status != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("missing directory: status %d, stderr %q; want 1 and a message", status, errOut)
	}
	if strings.Contains(errOut, "\r") {
		t.Errorf("progress drawn on a non-terminal")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") || e.Name() == "nope" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestBackupUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	cases := []struct {
		args   []string
		status int
		says   string
	}{
		{[]string{"backup"}, 2, "need --to FILE"},
		{[]string{"backup", "--to", db + ".copy"}, 1, "no database at"},
		{[]string{"backup", "--store", "postgres://localhost/x", "--db", "", "--to", db}, 1, "pg_dump"},
		{[]string{"backup", "--store", "memory:", "--db", "", "--to", db}, 1, "in-memory"},
		{[]string{"backup", "--store", "file:" + db, "--db", "", "--to", db + ".copy"}, 1, "no database at"},
		{[]string{"backup", "--help"}, 0, "-force"},
	}
	for _, c := range cases {
		_, stderr, status := cli(t, db, c.args...)
		if status != c.status || !strings.Contains(stderr, c.says) {
			t.Errorf("evstore %v: status %d, stderr %q; want %d and %q", c.args, status, stderr, c.status, c.says)
		}
	}
}
