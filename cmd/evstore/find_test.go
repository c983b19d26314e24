package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestFind: --type and --tag build a criterion (any of the types, every
// one of the tags), --or starts another, and find prints the events that
// match any, in Sequence order, as read prints them, with --after,
// --limit, --backwards and --json.
func TestFind(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	for _, w := range [][]string{
		{"c1", "--type", "CourseDefined", "--tag", "course:c1"},                         // 1
		{"e1", "--type", "Enrolled", "--tag", "course:c1", "--tag", "student:s7"},       // 2
		{"e2", "--type", "Enrolled", "--tag", "course:c2", "--tag", "student:s7"},       // 3
		{"e3", "--type", "Left", "--tag", "course:c1", "--tag", "student:s7"},           // 4
		{"x", "--type", "Enrolled"},                                                     // 5
		{"c2", "--type", "CourseDefined", "--tag", "course:c2", "--data", `{"cap":30}`}, // 6
	} {
		mustCLI(t, db, append([]string{"write"}, w...)...)
	}
	cases := []struct {
		args []string
		want []string // stream ids
	}{
		{[]string{"--tag", "course:c1"}, []string{"c1", "e1", "e3"}},
		{[]string{"--tag", "student:s7", "--tag", "course:c1"}, []string{"e1", "e3"}},
		{[]string{"--type", "Enrolled"}, []string{"e1", "e2", "x"}},
		{[]string{"--type", "Enrolled", "--type", "Left", "--tag", "student:s7"}, []string{"e1", "e2", "e3"}},
		{[]string{"--tag", "course:c1", "--type", "Enrolled", "--or", "--type", "CourseDefined"}, []string{"c1", "e1", "c2"}},
		{[]string{"--type", "CourseDefined", "--or", "--tag", "course:c2", "--or", "--tag", "nope"}, []string{"c1", "e2", "c2"}},
		{[]string{"--tag", "course:c1", "--or", "--type", "Enrolled"}, []string{"c1", "e1", "e2", "e3", "x"}}, // e1 matches both, printed once
		{[]string{"--tag", "course:c1", "--after", "1"}, []string{"e1", "e3"}},
		{[]string{"--tag", "course:c1", "--limit", "2"}, []string{"c1", "e1"}},
		{[]string{"--tag", "course:c1", "--backwards"}, []string{"e3", "e1", "c1"}},
		{[]string{"--backwards", "--after", "2", "--limit", "1", "--tag", "student:s7"}, []string{"e3"}},
		{[]string{"--tag", "nope"}, nil},
		{[]string{"--type", "Enrolled", "--tag", "course:c3"}, nil},
	}
	for _, c := range cases {
		if got := streamIDs(t, mustCLI(t, db, append([]string{"find", "--json"}, c.args...)...)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("find %q: got %q, want %q", c.args, got, c.want)
		}
	}
	out := mustCLI(t, db, "find", "--type", "CourseDefined")
	for _, want := range []string{"SEQ  STREAM  VERSION", "TAGS", "c1      1        ", "CourseDefined  course:c2  {\"cap\":30}"} {
		if !strings.Contains(out, want) {
			t.Errorf("find's table lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 3 {
		t.Errorf("find's table has %d lines, want a header and 2 events:\n%s", lines, out)
	}
	if out := mustCLI(t, db, "find", "--tag", "nope"); !strings.HasPrefix(out, "SEQ") || strings.Count(out, "\n") != 1 {
		t.Errorf("find of nothing printed %q, want the header alone", out)
	}
}

// TestFindBadInput: a criterion needs a type or a tag (status 2, as for
// bad flags); what the store refuses is status 1, with nothing printed.
func TestFindBadInput(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cli.db")
	mustCLI(t, db, "write", "s", "--type", "T", "--tag", "a")
	cases := []struct {
		args   []string
		status int
		says   string
	}{
		{[]string{"find"}, 2, "need a criterion: --type T, --tag X or both"},
		{[]string{"find", "--json"}, 2, "need a criterion"},
		{[]string{"find", "--or", "--tag", "a"}, 2, "--or stands between two criteria"},
		{[]string{"find", "--tag", "a", "--or"}, 2, "--or stands between two criteria"},
		{[]string{"find", "--tag", "a", "--or", "--or", "--type", "T"}, 2, "--or stands between two criteria"},
		{[]string{"find", "--tag", "a", "s"}, 2, "unexpected arguments: [s]"},
		{[]string{"find", "--tag"}, 2, "flag needs an argument"},
		{[]string{"find", "--tag", "a", "--filter", "tag=a"}, 2, "flag provided but not defined"},
		{[]string{"find", "--tag", "a", "--limit", "-1"}, 1, "must not be negative"},
		{[]string{"find", "--tag", "a", "--after", "-1"}, 1, "must not be negative"},
		{[]string{"find", "--tag", ""}, 1, "empty tag"},
		{[]string{"find", "--type", "T", "--or", "--tag", strings.Repeat("x", 256)}, 1, "over the limit of 255"},
		{[]string{"find", "--type", ""}, 1, "invalid argument: criterion 0: type"},
		{[]string{"find", "--help"}, 0, "start another criterion"},
	}
	for _, c := range cases {
		out, errOut, status := cli(t, db, c.args...)
		if status != c.status || !strings.Contains(errOut, c.says) {
			t.Errorf("evstore %q: status %d, stderr %q; want %d and %q", c.args, status, errOut, c.status, c.says)
		}
		if out != "" {
			t.Errorf("evstore %q printed %q", c.args, out)
		}
	}
	if _, errOut, status := runCLI(t, "help"); status != 0 || !strings.Contains(errOut, "find ") {
		t.Errorf("the command list lacks find: %q", errOut)
	}
}
