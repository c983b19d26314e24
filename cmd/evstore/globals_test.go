package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitGlobal(t *testing.T) {
	cases := []struct {
		args string
		want globals
		rest string
	}{
		{"--db a.db read s", globals{db: "a.db"}, "read s"},
		{"-db=a.db --store=postgres://x stats", globals{db: "a.db", dsn: "postgres://x"}, "stats"},
		{"read --db a.db s", globals{}, "read --db a.db s"},
		{"--help", globals{}, "--help"},
	}
	for _, c := range cases {
		g, rest, err := splitGlobal(strings.Fields(c.args))
		if err != nil || g != c.want || !reflect.DeepEqual(rest, strings.Fields(c.rest)) {
			t.Errorf("splitGlobal(%s) = %+v, %q, %v; want %+v, %q", c.args, g, rest, err, c.want, c.rest)
		}
	}
	if _, _, err := splitGlobal([]string{"--store"}); err == nil {
		t.Error("--store without a value: no error")
	}
}
