package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// readCommands are the commands that only read, with their arguments.
var readCommands = [][]string{
	{"stats"},
	{"stats", "--json"},
	{"read", "@all"},
	{"read", "users", "--json"},
	{"streams"},
	{"snapshot", "users"},
	{"export"},
	{"tail", "@all"},
	{"find", "--tag", "x"},
}

// TestReadCommandsLeaveForeignFiles: the commands that only read refuse
// another application's database, and leave it exactly as it was.
func TestReadCommandsLeaveForeignFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "app.db")
	conn, err := sqlite.OpenConn(db, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteScript(conn, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ann'), ('bob');", nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	want := db + " is not an evstore/py-event-sourcing database: it has no events table"
	for _, args := range readCommands {
		out, errOut, status := cli(t, db, args...)
		if status != 1 || !strings.Contains(errOut, want) {
			t.Errorf("evstore %v on another application's file: status %d, stderr %q; want 1 and %q", args, status, errOut, want)
		}
		if out != "" {
			t.Errorf("evstore %v on another application's file printed %q", args, out)
		}
		if after, _ := os.ReadFile(db); !bytes.Equal(after, before) {
			t.Fatalf("evstore %v changed the file", args)
		}
		if got := dirNames(t, dir); !reflect.DeepEqual(got, []string{"app.db"}) {
			t.Fatalf("after evstore %v the directory holds %v, want only app.db", args, got)
		}
	}
	// Writing commands still add evstore's tables to a file, as
	// py-event-sourcing does.
	mustCLI(t, db, "write", "s", "--type", "T")
	if out := mustCLI(t, db, "read", "s", "--json"); strings.Count(out, "\n") != 1 {
		t.Errorf("read after write: %q", out)
	}
}

// TestReadCommandsLeaveEventStores: the commands that only read change
// nothing in an event store either.
func TestReadCommandsLeaveEventStores(t *testing.T) {
	db := filepath.Join(t.TempDir(), "events.db")
	mustCLI(t, db, "write", "users", "--type", "UserAdded", "--data", `{"name":"ann"}`)
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range readCommands {
		if args[0] == "tail" || args[0] == "snapshot" {
			continue // tail runs until interrupted (TestTail); users has no snapshot
		}
		mustCLI(t, db, args...)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(after, before) {
		t.Error("the reading commands changed the file")
	}
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
