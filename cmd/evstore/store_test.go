package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestStoreURLs: --store takes every string package open takes, and read
// commands still open SQLite files read-only.
func TestStoreURLs(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	u := "file://" + filepath.ToSlash(db)
	if !strings.HasPrefix(u, "file:///") { // Windows: file:///C:/...
		u = "file:///" + filepath.ToSlash(db)
	}
	for _, args := range [][]string{
		{"--store", u, "write", "s", "--type", "A"},
		{"write", "s", "--type", "B", "--store", db},
	} {
		if _, errOut, status := runCLI(t, args...); status != 0 {
			t.Fatalf("evstore %v: status %d: %s", args, status, errOut)
		}
	}
	if out := mustCLI(t, db, "read", "s", "--json"); strings.Count(out, "\n") != 2 {
		t.Errorf("read after writes through --store: %q", out)
	}
	// stats on a file named by --store shows its size.
	if out, errOut, status := runCLI(t, "--store", u, "stats"); status != 0 || !strings.Contains(out, "file size") {
		t.Errorf("stats --store %s: status %d, %q, %q", u, status, out, errOut)
	}
	// A file URL's readonly holds for writing commands too.
	if _, errOut, status := runCLI(t, "--store", u+"?readonly=1", "write", "s", "--type", "C"); status != 1 || !strings.Contains(errOut, "read-only") {
		t.Errorf("write through readonly=1: status %d, %q", status, errOut)
	}
	// memory: opens an empty store.
	if out, errOut, status := runCLI(t, "--store", "memory:", "write", "s", "--type", "A"); status != 0 || out != "1\n" {
		t.Errorf("write --store memory:: status %d, %q, %q", status, out, errOut)
	}
	if out, errOut, status := runCLI(t, "--store", "memory:", "stats"); status != 0 || !strings.Contains(out, "events           0") || strings.Contains(out, "file size") {
		t.Errorf("stats --store memory:: status %d, %q, %q", status, out, errOut)
	}
	// Bad strings are refused, and create nothing.
	missing := filepath.Join(dir, "missing.db")
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--store", "memroy:", "write", "s", "--type", "A"}, `unknown store URL scheme "memroy:"`},
		{[]string{"--store", "file:" + filepath.ToSlash(missing) + "?poll=-1s", "write", "s", "--type", "A"}, `poll="-1s"`},
		{[]string{"--store", "file:" + filepath.ToSlash(missing) + "?nope=1", "write", "s", "--type", "A"}, `unknown parameter "nope"`},
		{[]string{"--store", "file:" + filepath.ToSlash(missing), "read", "@all"}, "no database at " + missing},
		{[]string{"--store", db, "--db", db, "read", "@all"}, "not both"},
	} {
		if _, errOut, status := runCLI(t, c.args...); status != 1 || !strings.Contains(errOut, c.says) {
			t.Errorf("evstore %v: status %d, %q; want 1 and %q", c.args, status, errOut, c.says)
		}
	}
	for _, name := range dirNames(t, dir) {
		if strings.HasPrefix(name, "missing") {
			t.Errorf("bad --store created %s", name)
		}
	}
}

// TestStorePostgres: --store postgres://... with --schema, or with the
// URL's evstore_schema.
func TestStorePostgres(t *testing.T) {
	dsn := os.Getenv("EVSTORE_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PostgreSQL tests need a server: set EVSTORE_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	schema := fmt.Sprintf("evstore_clistore_%d", os.Getpid())
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	if _, errOut, status := runCLI(t, "--store", dsn, "write", "s", "--type", "A", "--schema", schema); status != 0 {
		t.Fatalf("write --schema: status %d: %s", status, errOut)
	}
	out, errOut, status := runCLI(t, "--store", dsn+sep+"evstore_schema="+schema, "read", "s", "--json")
	if status != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("read with evstore_schema: status %d, %q, %q", status, out, errOut)
	}
	// --schema, when given, wins over evstore_schema.
	out, errOut, status = runCLI(t, "--store", dsn+sep+"evstore_schema=elsewhere", "read", "s", "--json", "--schema", schema)
	if status != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("read with --schema over evstore_schema: status %d, %q, %q", status, out, errOut)
	}
}
