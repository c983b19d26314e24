package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

func TestErrorText(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{evstore.ErrClosed, "store closed"},
		{errors.New(`evstore: open stream "x": store closed`), `open stream "x": store closed`},
		{errors.New(`evstore: open stream "x": evstore: store closed`), `open stream "x": store closed`},
		{errors.New("evstore/sqlite: open a.db: database is corrupt or not an event store: table events has no column id"),
			"open a.db: database is corrupt or not an event store: table events has no column id"},
		{fmt.Errorf("line %d: %w", 3, evstore.ErrInvalidEvent), "line 3: invalid event"},
		{errors.New("--type is required"), "--type is required"},
		{errors.New("a.db is not an evstore/py-event-sourcing database: it has no events table"),
			"a.db is not an evstore/py-event-sourcing database: it has no events table"},
		{errors.New("open evstore: no such file or directory"), "open evstore: no such file or directory"},
		{errors.New("evstorefoo: x"), "evstorefoo: x"},
	}
	for _, c := range cases {
		if got := errorText(c.err); got != c.want {
			t.Errorf("errorText(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

// libraryPrefix is a prefix of evstore's packages where a message part
// begins.
var libraryPrefix = regexp.MustCompile(`(^|: )evstore(/[a-z]+)?: `)

// TestOnePrefix: a failing command's message names the command, and no
// evstore prefix after it.
func TestOnePrefix(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	foreign := filepath.Join(dir, "foreign.db")
	conn, err := sqlite.OpenConn(foreign, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(sqlitex.ExecuteScript(conn, "CREATE TABLE events (x INTEGER);", nil), conn.Close()); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"stream_id":"s","type":"","version":1}`+"\n"), 0o644)
	for _, args := range [][]string{
		{"--db", db, "write", "@all", "--type", "T"},
		{"--db", db, "write", "", "--type", "T"},
		{"--db", db, "read", "s", "--filter", "nope=1"},
		{"--db", db, "import", bad},
		{"--db", foreign, "read", "@all"},
		{"--db", foreign, "write", "s", "--type", "T"},
	} {
		_, errOut, status := runCLI(t, args...)
		cmd := "evstore " + args[2] + ": "
		msg, ok := strings.CutPrefix(errOut, cmd)
		if status != 1 || !ok || libraryPrefix.MatchString(msg) {
			t.Errorf("evstore %v: status %d, stderr %q; want 1 and one prefix, %q", args, status, errOut, cmd)
		}
	}
}
