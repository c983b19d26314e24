package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// confirmWith makes the next commands read answer from a terminal.
func confirmWith(t *testing.T, answer string) {
	t.Helper()
	oldIn, oldTerm := stdin, stdinIsTerminal
	stdin, stdinIsTerminal = strings.NewReader(answer), func() bool { return true }
	t.Cleanup(func() { stdin, stdinIsTerminal = oldIn, oldTerm })
}

func TestDeleteTruncateErase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	for range 3 {
		mustCLI(t, db, "write", "acct-1", "--type", "Deposited", "--data", `{"cents":5}`)
	}
	mustCLI(t, db, "write", "acct-2", "--type", "Deposited", "--data", `{"cents":7}`)

	// Without a terminal to ask on, --yes is required.
	if _, errOut, status := cli(t, db, "delete", "acct-1"); status == 0 || !strings.Contains(errOut, "--yes") {
		t.Errorf("delete without --yes and without a terminal: status %d, %q; want a refusal naming --yes", status, errOut)
	}
	// A wrong answer deletes nothing.
	confirmWith(t, "acct-2\n")
	if _, errOut, status := cli(t, db, "delete", "acct-1"); status == 0 || !strings.Contains(errOut, "not confirmed") {
		t.Errorf("delete answered with another id: status %d, %q; want not confirmed", status, errOut)
	}
	if out := mustCLI(t, db, "read", "acct-1", "--json"); strings.Count(out, "\n") != 3 {
		t.Fatalf("after refused deletes acct-1 has:\n%s", out)
	}
	confirmWith(t, "acct-1\n")
	out := mustCLI(t, db, "delete", "acct-1")
	if !strings.Contains(out, "removed 3 events") || !strings.Contains(out, "version 4") || !strings.Contains(out, "erased") {
		t.Errorf("delete: %q, want what it removed, the tombstone's version and the erasure", out)
	}
	if out := mustCLI(t, db, "read", "acct-1", "--json"); strings.Count(out, "\n") != 1 || !strings.Contains(out, `"$deleted"`) {
		t.Errorf("acct-1 after delete:\n%s\nwant only its tombstone", out)
	}
	if out := mustCLI(t, db, "delete", "acct-1", "--yes"); !strings.Contains(out, "nothing to delete") {
		t.Errorf("delete again: %q, want nothing to delete", out)
	}

	for range 3 {
		mustCLI(t, db, "write", "acct-2", "--type", "Deposited", "--data", `{"cents":1}`)
	}
	if out := mustCLI(t, db, "truncate", "acct-2", "--before", "3"); !strings.Contains(out, "removed 2 events") || !strings.Contains(out, "2 left") {
		t.Errorf("truncate: %q, want 2 removed, 2 left", out)
	}
	for _, args := range [][]string{{"truncate", "acct-2"}, {"truncate", "acct-2", "--before", "9"}, {"truncate", "@all", "--before", "1"}, {"delete", "@all", "--yes"}} {
		if _, _, status := cli(t, db, args...); status == 0 {
			t.Errorf("evstore %v: status 0, want a refusal", args)
		}
	}
	if out := mustCLI(t, db, "erase"); !strings.Contains(out, "erased") {
		t.Errorf("erase: %q", out)
	}
}
